package appliance

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// dumpStore lists every bucket, key and value of a bbolt file.
func dumpStore(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	var walk func(prefix string, bk *bolt.Bucket) error
	walk = func(prefix string, bk *bolt.Bucket) error {
		return bk.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(prefix+string(k)+"/", bk.Bucket(k))
			}
			fmt.Fprintf(&b, "%s%q=%x\n", prefix, k, v)
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error { return walk(string(name)+"/", bk) })
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestBackupCLIEndToEnd(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	cfg := writeConfig(t, tmp, "[backup]\ninclude_media = true\n[backup.retention]\nkeep_last = 10\n")
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// In a folder of kind files: junk bytes in a movies folder would be
	// probed by the VOD pipeline, fail and be moved to quarantine.
	film := filepath.Join(data, "media", "admin", "film.mp4")
	if err := os.MkdirAll(filepath.Dir(film), 0o755); err != nil {
		t.Fatal(err)
	}
	filmData := bytes.Repeat([]byte("a film, more or less "), 20000)
	if err := os.WriteFile(film, filmData, 0o644); err != nil {
		t.Fatal(err)
	}

	// The appliance runs: `backup run` goes through it, restore refuses.
	run := start(t, tmp, "run", "-c", cfg)
	var status string
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _, code := runCmd(t, tmp, "status", "-c", cfg)
		if code == 0 && strings.Contains(out, "backup") {
			status = out
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("appliance did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg)
	if code != 0 || !strings.Contains(out, "done") {
		t.Fatalf("backup run (through the appliance): %d\n%s%s", code, out, errOut)
	}
	run.waitLine(t, `msg="backup done"`)
	if addr := regexp.MustCompile(`http\s+up\s+\S+ \S+\s+(\S+)`).FindStringSubmatch(status); addr != nil {
		resp, err := http.Get("http://" + addr[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`(?m)^thecure_backup_last_success_timestamp_seconds [1-9]`).Match(body) ||
			!regexp.MustCompile(`(?m)^thecure_backup_failures_total 0$`).Match(body) {
			t.Errorf("backup metrics missing:\n%s", body)
		}
	} else {
		t.Errorf("no http address in status:\n%s", status)
	}
	_, errOut, code = runCmd(t, tmp, "restore", "-c", cfg, "latest")
	if code != 1 || !strings.Contains(errOut, "is running") {
		t.Errorf("restore while running: exit %d, %s", code, errOut)
	}
	run.cmd.Process.Signal(syscall.SIGINT)
	if code := run.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("appliance exit status %d", code)
	}

	// Stopped: `backup run` opens the store itself.
	out, errOut, code = runCmd(t, tmp, "backup", "run", "-c", cfg)
	if code != 0 {
		t.Fatalf("backup run (direct): %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCmd(t, tmp, "backup", "list", "-c", cfg)
	if code != 0 || strings.Count(out, "complete") != 2 {
		t.Fatalf("backup list: %d\n%s", code, out)
	}
	out, _, code = runCmd(t, tmp, "backup", "verify", "-c", cfg, "latest")
	if code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("backup verify: %d\n%s", code, out)
	}

	// In place: the data dir and the config file the backup came from.
	edited := append(bytes.Clone(conf), "# edited after the backup\n"...)
	if err := os.WriteFile(cfg, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(film); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCmd(t, tmp, "restore", "-c", cfg, "latest")
	if code != 0 {
		t.Fatalf("restore in place: %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(cfg); string(b) != string(conf) {
		t.Errorf("config after restore:\n%s", b)
	}
	if b, _ := os.ReadFile(cfg + ".before-restore"); string(b) != string(edited) {
		t.Errorf("config kept before restore:\n%s", b)
	}
	if b, _ := os.ReadFile(film); !bytes.Equal(b, filmData) {
		t.Error("film not restored in place")
	}

	fresh := filepath.Join(tmp, "fresh")
	out, errOut, code = runCmd(t, tmp, "restore", "-c", cfg, "latest", "-to", fresh)
	if code != 0 {
		t.Fatalf("restore: %d\n%s%s", code, out, errOut)
	}
	if a, b := dumpStore(t, filepath.Join(data, "thecure.db")), dumpStore(t, filepath.Join(fresh, "thecure.db")); a != b || a == "" {
		t.Errorf("restored store differs:\n%s\n%s", a, b)
	}
	for _, rel := range []string{"tls/selfsigned.crt", "tls/selfsigned.key", "media/admin/film.mp4"} {
		a, _ := os.ReadFile(filepath.Join(data, rel))
		b, err := os.ReadFile(filepath.Join(fresh, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("restored %s differs (%v)", rel, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(fresh, "config.toml")); err != nil || string(b) != string(conf) {
		t.Errorf("restored config: %v\n%s", err, b)
	}
	// The restored data dir runs.
	if out, errOut, code := runCmd(t, tmp, "backup", "list", "-c", filepath.Join(fresh, "config.toml")); code != 0 {
		t.Errorf("restored config: %s%s", out, errOut)
	}

	// A corrupted object: verify exits 1 and names the file; restore refuses it.
	var obj string
	filepath.WalkDir(filepath.Join(data, "backups", "objects"), func(p string, d os.DirEntry, err error) error {
		if b, _ := os.ReadFile(p); err == nil && !d.IsDir() && bytes.Equal(b, filmData) {
			obj = p
		}
		return nil
	})
	if obj == "" {
		t.Fatal("no object holds the film")
	}
	bad := bytes.Clone(filmData)
	bad[1000] = '!'
	if err := os.WriteFile(obj, bad, 0o640); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCmd(t, tmp, "backup", "verify", "-c", cfg, "latest")
	if code != 1 || !strings.Contains(out, "admin/film.mp4") || !strings.Contains(out, "checksum mismatch") {
		t.Errorf("verify of a corrupted backup: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = runCmd(t, tmp, "restore", "-c", cfg, "latest", "-to", filepath.Join(tmp, "fresh2"))
	if code != 1 || !strings.Contains(errOut, "corrupted") {
		t.Errorf("restore of a corrupted backup: exit %d\n%s", code, errOut)
	}
}
