package appliance

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"thecure/appliance/config"
	"thecure/appliance/store"
	"thecure/appliance/users"
)

func thecure(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String() + errb.String(), code
}

// TestUserCommands runs `thecure user ...` on a stopped appliance (straight
// on the store) and on a running one (through the control socket).
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeConfig(t, dir, "")
	data := filepath.Join(dir, "data")
	// stopped, before the first start: the config names the data dir, so
	// it is made
	if out, code := thecure(t, "maria-password\n", "user", "-c", cfgFile, "add", "maria", "-group", "innovatech", "-password-stdin"); code != 0 {
		t.Fatalf("add: %d %s", code, out)
	}
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("data dir not made: %v", err)
	}
	if out, code := thecure(t, "", "user", "-c", cfgFile, "add", "bad/name"); code != 2 || !strings.Contains(out, "may only hold letters") {
		t.Fatalf("bad add: %d %s", code, out)
	}

	// running
	cfg, _, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	if out, code := thecure(t, "pepe-password\n", "user", "-c", cfgFile, "add", "pepe", "-group", "admin,innovatech"); code != 0 {
		t.Fatalf("add while running: %d %s", code, out)
	}
	if out, code := thecure(t, "maria-new-password\n", "user", "-c", cfgFile, "passwd", "maria"); code != 0 {
		t.Fatalf("passwd while running: %d %s", code, out)
	}
	if out, code := thecure(t, "", "user", "-c", cfgFile, "groups", "maria", "series,innovatech"); code != 0 || !strings.Contains(out, "innovatech,series") {
		t.Fatalf("groups while running: %d %s", code, out)
	}
	out, code := thecure(t, "", "user", "-c", cfgFile, "list")
	if code != 0 || !strings.Contains(out, "maria") || !strings.Contains(out, "pepe") || strings.Contains(out, "admin  ") {
		t.Fatalf("list while running: %d %s", code, out)
	}
	if out, code := thecure(t, "", "user", "-c", cfgFile, "del", "nobody"); code == 0 || !strings.Contains(out, "no such user") {
		t.Fatalf("del nobody: %d %s", code, out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("appliance did not stop")
	}
	a.close()

	st, err := store.Open(data, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u := users.New(st)
	if _, err := u.Authenticate("maria", "maria-new-password"); err != nil {
		t.Fatalf("password changed through the socket: %v", err)
	}
	if _, err := u.Authenticate("admin", ""); err == nil {
		t.Fatal("admin exists although users did")
	}
}
