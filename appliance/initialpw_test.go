package appliance

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"thecure/appliance/users"
)

// firstPasswordLog matches the log line of the first start; its group is the
// file that holds admin's password.
const firstPasswordLog = `msg="created the first user.*user=admin password_file=(\S+)`

// readFirstPassword reads admin's first password from the file the log named.
func readFirstPassword(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the initial admin password file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// TestInitialPasswordFile: the first start writes admin's password to
// data_dir/initial-admin-password (0600), not to the log; `thecure status`
// shows it to root while the file exists; the first `thecure user passwd
// admin` (through the running appliance) removes it.
func TestInitialPasswordFile(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	p := start(t, dir, "run", "-c", cfg)
	file := p.waitLine(t, firstPasswordLog)[1]
	p.waitLine(t, `thecure is running`)
	pw := readFirstPassword(t, file)
	if want := filepath.Join(dir, "data", users.InitialPasswordFile); file != want {
		t.Errorf("password file %s, want %s", file, want)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, want mode 0600", file, err)
	}
	if strings.Contains(p.output(), pw) {
		t.Error("the password is in the log (the journal keeps it for ever)")
	}
	out, errOut, code := runCmd(t, dir, "status", "-c", cfg)
	shown := strings.Contains(out, "first admin password: "+pw)
	if code != 0 || shown != (os.Geteuid() == 0) {
		t.Errorf("status (euid %d): code %d, password shown %v\n%s%s", os.Geteuid(), code, shown, out, errOut)
	}
	if out, code := thecure(t, "my own password\n", "user", "-c", cfg, "passwd", "admin", "-password-stdin"); code != 0 {
		t.Fatalf("passwd admin: %d %s", code, out)
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after passwd admin, %s: %v, want gone", file, err)
	}
	if out, _, _ := runCmd(t, dir, "status", "-c", cfg); strings.Contains(out, "first admin password") {
		t.Errorf("status still shows a first password:\n%s", out)
	}
}
