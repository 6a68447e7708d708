package users

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"thecure/appliance/store"
)

func open(t *testing.T) (*Users, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewWithCost(st, bcrypt.MinCost), st
}

func TestLifecycle(t *testing.T) {
	u, _ := open(t)
	if _, err := u.Add("maria", "correct horse", []string{"innovatech", "innovatech", " admin "}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Add("maria", "another one", nil); !errors.Is(err, ErrExists) {
		t.Fatalf("second add: %v, want ErrExists", err)
	}
	got, err := u.Authenticate("maria", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Groups, ",") != "admin,innovatech" || !got.InGroup("innovatech") || got.InGroup("x") {
		t.Fatalf("groups %v", got.Groups)
	}
	for _, tc := range [][2]string{{"maria", "wrong pass"}, {"nobody", "correct horse"}, {"", ""}} {
		if _, err := u.Authenticate(tc[0], tc[1]); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", tc[0], tc[1], err)
		}
	}
	if err := u.SetPassword("maria", "new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate("maria", "correct horse"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal("old password still works")
	}
	if _, err := u.Authenticate("maria", "new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.SetGroups("maria", []string{"series"}); err != nil {
		t.Fatal(err)
	}
	if g, _ := u.Get("maria"); strings.Join(g.Groups, ",") != "series" {
		t.Fatalf("groups after SetGroups: %v", g.Groups)
	}
	if _, err := u.SetGroups("ghost", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetGroups ghost: %v", err)
	}
	if _, err := u.Add("pepe", "pepe password", nil); err != nil {
		t.Fatal(err)
	}
	list, _ := u.List()
	if len(list) != 2 || list[0].Name != "maria" || list[1].Name != "pepe" {
		t.Fatalf("list %+v", list)
	}
	if err := u.Delete("maria"); err != nil {
		t.Fatal(err)
	}
	if err := u.Delete("maria"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := u.Authenticate("maria", "new password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal("deleted user still logs in")
	}
}

func TestValidation(t *testing.T) {
	u, _ := open(t)
	for _, tc := range []struct{ name, pw string }{
		{"", "long enough"}, {"-x", "long enough"}, {"a/b", "long enough"}, {"ok", "short"},
		{"ok", "line\nbreak here"}, {strings.Repeat("a", 65), "long enough"},
	} {
		if _, err := u.Add(tc.name, tc.pw, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Add(%q, %q) = %v, want ErrInvalid", tc.name, tc.pw, err)
		}
	}
	if _, err := u.Add("ok", "long enough", []string{"bad group"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad group accepted: %v", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	u, st := open(t)
	var logbuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logbuf, nil))
	pw, err := u.EnsureAdmin(log)
	if err != nil || len(pw) < 20 {
		t.Fatalf("EnsureAdmin = %q, %v", pw, err)
	}
	// The password goes to the file (0600), not to the log (the journal
	// keeps it for ever).
	if strings.Contains(logbuf.String(), pw) {
		t.Error("the password is in the log")
	}
	dataDir := filepath.Dir(st.Path())
	got, file, ok, err := InitialPassword(dataDir)
	if err != nil || !ok || got != pw || file != filepath.Join(dataDir, InitialPasswordFile) {
		t.Fatalf("InitialPassword = %q %q %v %v, want %q", got, file, ok, err, pw)
	}
	if !strings.Contains(logbuf.String(), "password_file="+file) {
		t.Errorf("the log does not name the file:\n%s", logbuf.String())
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v, want mode 0600", file, fi.Mode(), err)
	}
	a, err := u.Authenticate("admin", pw)
	if err != nil || !a.InGroup("admin") || !a.InGroup("innovatech") {
		t.Fatalf("admin: %+v %v", a, err)
	}
	// the password is never stored in clear
	var db bytes.Buffer
	if _, err := st.Backup(&db); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db.Bytes(), []byte(pw)) {
		t.Fatal("clear password in the database")
	}
	again, err := u.EnsureAdmin(log)
	if err != nil || again != "" {
		t.Fatalf("second EnsureAdmin = %q, %v", again, err)
	}
	// Another user's new password leaves it; admin's first change removes it.
	if _, err := u.Add("maria", "correct horse", nil); err != nil {
		t.Fatal(err)
	}
	if err := u.SetPassword("maria", "another horse"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := InitialPassword(dataDir); !ok {
		t.Error("changing maria's password removed admin's initial password file")
	}
	if err := u.SetPassword(AdminName, "a chosen password"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := InitialPassword(dataDir); ok || err != nil {
		t.Errorf("after thecure user passwd admin the file is still there (%v)", err)
	}
	if err := u.SetPassword(AdminName, "and another one"); err != nil {
		t.Errorf("a second change without the file: %v", err)
	}
}

func TestVerifiedPasswordCache(t *testing.T) {
	u, _ := open(t)
	if _, err := u.Add("maria", "first password", nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := u.Authenticate("maria", "first password"); err != nil {
			t.Fatal(err)
		}
	}
	if len(u.verified) != 1 {
		t.Fatalf("cache holds %d entries", len(u.verified))
	}
	// A password change invalidates what was cached.
	if err := u.SetPassword("maria", "second password"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate("maria", "first password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal("old password accepted from the cache")
	}
	if err := u.Delete("maria"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate("maria", "second password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal("deleted user accepted")
	}
}

func TestValidNameUnicode(t *testing.T) {
	for _, ok := range []string{"josé", "jose\u0301", "Łukasz", "山田", "maría.p_1-x", "7up"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "\u0301x", "a b", "a\u200bb", "a/b", ".x", "-x", "x\x00", strings.Repeat("é", 65), "\xff"} {
		if err := ValidName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
