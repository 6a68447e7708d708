package appliance

// Data safety on the operator's day-one paths (issue 14), against the real
// binary: root-run commands on a service user's data dir, restores that
// fail, restores without media, uploads cut short.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/apptest"
)

// serviceUser makes a system user and group like the package's `thecure`
// (removed when the test ends) and returns its ids and name.
func serviceUser(t *testing.T) (uid, gid int, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test makes a system user and runs commands as root: run it as root (`sudo make test`, as make test is meant to run)")
	}
	name = "tcsafe" + rand.Text()[:6]
	name = strings.ToLower(name)
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(string(out), &uid)
	out, err = exec.Command("id", "-g", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(string(out), &gid)
	return uid, gid, name
}

// ownerOf returns a path's uid, gid and permission bits.
func ownerOf(t *testing.T, p string) (int, int, fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), fi.Mode().Perm()
}

// notOwnedBy lists what under dir does not belong to uid.
func notOwnedBy(t *testing.T, dir string, uid int) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if u, _, _ := ownerOf(t, p); u != uid {
			bad = append(bad, fmt.Sprintf("%s (uid %d)", p, u))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// asUser runs a command as uid:gid, from bin.
func asUser(bin string, uid, gid int) func(*exec.Cmd) {
	return func(c *exec.Cmd) {
		c.Path, c.Args[0] = bin, bin
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
}

// stopProc stops a running appliance with SIGINT and wants exit status 0.
func stopProc(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("appliance exit status %d\n%s", code, p.output())
	}
}

// logValue is the first submatch of re in everything p logged so far.
func logValue(t *testing.T, p *proc, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(p.output())
	if m == nil {
		t.Fatalf("no %q in the log:\n%s", re, p.output())
	}
	return m[1]
}

// Case 1 and 2: `sudo thecure backup run` and `sudo thecure restore` on a
// data dir owned by the service user leave every file to that user (the
// config keeps root:GROUP 0640), say that they do so, and the service then
// starts and prunes cleanly. A repository folder it may not write makes
// the backup service degraded, saying how to fix it.
func TestRootCommandsKeepTheServiceUsersFiles(t *testing.T) {
	uid, gid, name := serviceUser(t)
	tmp := t.TempDir()
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(tmp, "thecure")
	b, err := os.ReadFile(thecureBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	box := filepath.Join(tmp, "var-lib-thecure") // as the package makes it: the service user's, 0750
	if err := os.Mkdir(box, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(box, uid, gid); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(tmp, "config.toml")
	conf := fmt.Sprintf(`data_dir = %q
shutdown_timeout = "5s"
[http]
listen = "127.0.0.1:0"
[ftp]
listen = "127.0.0.1:0"
[rtmp]
listen = "127.0.0.1:0"
[backup]
include_media = true
[backup.retention]
keep_last = 1
`, box)
	if err := os.WriteFile(cfg, []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cfg, 0, gid); err != nil { // root:thecure 0640, as the package ships it
		t.Fatal(err)
	}
	svc := startCmd(t, tmp, asUser(bin, uid, gid), "run", "-c", cfg)
	svc.waitLine(t, `thecure is running`)
	stopProc(t, svc)
	putFile(t, filepath.Join(box, "media", "admin", "notes.txt"), []byte("notes"))
	if err := os.Chown(filepath.Join(box, "media", "admin"), uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(box, "media", "admin", "notes.txt"), uid, gid); err != nil {
		t.Fatal(err)
	}

	// Root backs up with the service stopped: every file it writes is the service user's.
	out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg)
	if code != 0 {
		t.Fatalf("root backup run: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "running as root on "+box+", owned by "+name) {
		t.Errorf("root backup run does not say it writes as root into the service user's dir:\n%s", errOut)
	}
	if bad := notOwnedBy(t, box, uid); len(bad) > 0 {
		t.Errorf("after a root backup run, not the service user's: %q", bad)
	}
	// The objects holding the store (in pieces) and the TLS key keep their 0600.
	m := onlyManifest(t, filepath.Join(box, "backups"))
	var secret []string
	for _, f := range m.Files {
		switch {
		case f.Kind == "store":
			secret = append(secret, f.Chunks...)
		case f.Path == "tls/selfsigned.key":
			secret = append(secret, f.SHA256)
		}
	}
	if len(secret) < 2 {
		t.Fatalf("no store or key in the manifest: %+v", m)
	}
	for _, sum := range secret {
		if _, _, mode := ownerOf(t, filepath.Join(box, "backups", "objects", sum[:2], sum)); mode != 0o600 {
			t.Errorf("backup object %s (store or TLS key) has mode %o, want 0600 like the original", sum[:12], mode)
		}
	}

	// Root restores in place: the same, and the config keeps root:GROUP 0640.
	out, errOut, code = runCmd(t, tmp, "restore", "latest", "-c", cfg)
	if code != 0 {
		t.Fatalf("root restore: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "running as root on "+box) {
		t.Errorf("root restore does not say it writes as root into the service user's dir:\n%s", errOut)
	}
	if bad := notOwnedBy(t, box, uid); len(bad) > 0 {
		t.Errorf("after a root restore, not the service user's: %q", bad)
	}
	if u, g, mode := ownerOf(t, cfg); u != 0 || g != gid || mode != 0o640 {
		t.Errorf("restored config is %d:%d %o, want 0:%d 0640", u, g, mode, gid)
	}
	if u, _, mode := ownerOf(t, filepath.Join(box, "thecure.db")); u != uid || mode != 0o600 {
		t.Errorf("restored store is uid %d mode %o, want %d 0600", u, mode, uid)
	}
	if entries, _ := filepath.Glob(filepath.Join(box, ".thecure-restore-*")); len(entries) > 0 {
		t.Errorf("restore left its staging behind: %q", entries)
	}

	// The service user starts cleanly; its backup prunes the one root made.
	svc = startCmd(t, tmp, asUser(bin, uid, gid), "run", "-c", cfg)
	svc.waitLine(t, `thecure is running`)
	rootMade, _, _ := runCmd(t, tmp, "backup", "list", "-c", cfg)
	out, errOut, code = runCmd(t, tmp, "backup", "run", "-c", cfg)
	if code != 0 {
		t.Fatalf("backup run through the service: %d\n%s%s", code, out, errOut)
	}
	svc.waitLine(t, `msg="backup done"`)
	list, _, _ := runCmd(t, tmp, "backup", "list", "-c", cfg)
	if strings.Contains(svc.output(), "prune failed") || strings.Count(list, "\n") != 2 {
		t.Errorf("the service's backup did not prune the root-made one (keep_last 1):\nbefore:\n%s\nafter:\n%s\n%s", rootMade, list, svc.output())
	}

	// A folder of the repository the service may not write (what an old
	// root-run backup left): degraded, with the fix, until fixed.
	stuck := filepath.Join(box, "backups", "objects", "zz")
	putFile(t, filepath.Join(stuck, strings.Repeat("z", 64)), []byte("old"))
	if out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg); code != 0 || !strings.Contains(errOut, "warning: pruning") {
		t.Fatalf("backup run with a prune refused: %d\n%s%s", code, out, errOut)
	}
	status, _, _ := runCmd(t, tmp, "status", "-c", cfg)
	if !regexp.MustCompile(`backup\s+degraded`).MatchString(status) || !strings.Contains(status, "chown -R "+name+": ") {
		t.Errorf("a prune refused permission: status\n%s", status)
	}
	// And one it may not write into at all: the backup fails, degraded too.
	snaps := filepath.Join(box, "backups", "snapshots")
	if err := os.Chown(snaps, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg); code == 0 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("backup run into a folder the service may not write: %d\n%s", code, errOut)
	}
	status, _, _ = runCmd(t, tmp, "status", "-c", cfg)
	if !regexp.MustCompile(`backup\s+degraded.*last backup failed`).MatchString(status) || !strings.Contains(status, "chown -R "+name+": ") {
		t.Errorf("a backup refused permission: status\n%s", status)
	}
	for _, d := range []string{stuck, snaps} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg); code != 0 {
		t.Fatalf("backup run: %d\n%s%s", code, out, errOut)
	}
	status, _, _ = runCmd(t, tmp, "status", "-c", cfg)
	if !regexp.MustCompile(`backup\s+up`).MatchString(status) {
		t.Errorf("fixed, the backup service is not up again:\n%s", status)
	}
	stopProc(t, svc)
}

// putFile writes data to p, making its folders.
func putFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// randomFile writes size random bytes to p (a big file that takes a
// backup a moment to copy), making its folders.
func randomFile(t *testing.T, p string, size int64) {
	t.Helper()
	putFile(t, p, nil)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// manifest is what these tests read of a backup's manifest.
type manifest struct {
	Files []struct {
		Kind, Path, SHA256 string
		Chunks             []string
	}
}

// onlyManifest reads the manifest of the one backup in repo.
func onlyManifest(t *testing.T, repo string) manifest {
	t.Helper()
	manifests, _ := filepath.Glob(filepath.Join(repo, "snapshots", "*", "manifest.json"))
	if len(manifests) != 1 {
		t.Fatalf("manifests: %q", manifests)
	}
	var m manifest
	if err := json.Unmarshal(must(os.ReadFile(manifests[0])), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// treeState is every path under dir with its type, mode, owner and content hash.
func treeState(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			u, g, mode := ownerOf(t, p)
			v := fmt.Sprintf("%v %o %d:%d", d.Type(), mode, u, g)
			if d.Type().IsRegular() {
				v += " " + sha256File(t, p)
			}
			out[p] = v
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return out
}

func diffStates(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q -> %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	return d
}

// Case 3: a restore that fails (a corrupted object, or a corrupted piece of
// the store) changes nothing: the data dir, the config and the media are
// byte-identical, and a restore into a new dir leaves no dir.
func TestFailedRestoreChangesNothing(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	cfg := writeConfig(t, tmp, "[backup]\ninclude_media = true\n")
	doc := filepath.Join(data, "media", "admin", "doc.bin")
	docData := bytes.Repeat([]byte("the document "), 10000)
	putFile(t, doc, docData)
	p := start(t, tmp, "run", "-c", cfg)
	p.waitLine(t, `thecure is running`)
	if out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg); code != 0 {
		t.Fatalf("backup run: %d\n%s%s", code, out, errOut)
	}
	stopProc(t, p)
	// Changed since the backup: a restore would rewrite these.
	if err := os.WriteFile(cfg, append(must(os.ReadFile(cfg)), "# edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "tls", "selfsigned.crt"), []byte("a new certificate"), 0o644); err != nil {
		t.Fatal(err)
	}

	objects := filepath.Join(data, "backups", "objects")
	m := onlyManifest(t, filepath.Join(data, "backups"))
	objectOf := func(kind string) string {
		for _, f := range m.Files {
			if f.Kind == kind && len(f.Chunks) > 0 {
				return f.Chunks[len(f.Chunks)-1]
			}
			if f.Kind == kind {
				return f.SHA256
			}
		}
		t.Fatalf("no %s in the manifest", kind)
		return ""
	}
	corrupt := func(sum string) (undo func()) {
		obj := filepath.Join(objects, sum[:2], sum)
		orig := must(os.ReadFile(obj))
		bad := bytes.Clone(orig)
		bad[len(bad)/2] ^= 0xff
		if err := os.WriteFile(obj, bad, 0o640); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.WriteFile(obj, orig, 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name string
		obj  string
	}{{"a media object", objectOf("media")}, {"a piece of the store", objectOf("store")}} {
		undo := corrupt(c.obj)
		before := treeState(t, tmp)
		_, errOut, code := runCmd(t, tmp, "restore", "latest", "-c", cfg)
		if code != 1 || !strings.Contains(errOut, "corrupted") {
			t.Errorf("%s: in-place restore of a corrupted backup: exit %d\n%s", c.name, code, errOut)
		}
		if d := diffStates(before, treeState(t, tmp)); len(d) > 0 {
			t.Errorf("%s: a failed in-place restore changed files:\n%s", c.name, strings.Join(d, "\n"))
		}
		fresh := filepath.Join(tmp, "fresh")
		_, errOut, code = runCmd(t, tmp, "restore", "latest", "-c", cfg, "-to", fresh)
		if code != 1 || !strings.Contains(errOut, "corrupted") {
			t.Errorf("%s: restore -to of a corrupted backup: exit %d\n%s", c.name, code, errOut)
		}
		if _, err := os.Stat(fresh); !os.IsNotExist(err) {
			t.Errorf("%s: a failed restore -to left %s behind (%v)", c.name, fresh, err)
		}
		undo()
	}
	// Whole again, it restores.
	if out, errOut, code := runCmd(t, tmp, "restore", "latest", "-c", cfg); code != 0 {
		t.Fatalf("restore of the intact backup: %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(doc); !bytes.Equal(b, docData) {
		t.Error("the intact restore did not put the document back")
	}
}

// readItems reads the catalogue of a stopped appliance's store.
func readItems(t *testing.T, dbPath string) map[string]map[string]any {
	t.Helper()
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]any{}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("library_items"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var it map[string]any
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			out[string(k)] = it
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// titleState is a title of /api/library as these tests read it.
type titleState struct {
	ID, State, Source, Error string
	Duration                 float64
}

// waitLibrary polls /api/library until ok says so.
func waitLibrary(t *testing.T, addr string, timeout time.Duration, ok func([]titleState) bool) []titleState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var items []titleState
		getJSON(t, "http://"+addr+"/api/library", &items)
		if ok(items) {
			return items
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/library after %s: %+v", timeout, items)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Case 4: a backup without media restored onto a new box keeps every
// title, missing (hidden from viewers) until the files are copied back;
// restore names them.
func TestRestoreWithoutMediaKeepsTheCatalogue(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	cfg := writeConfig(t, tmp, "")
	film := filepath.Join(data, "media", "pelis", "Film (2020).mp4")
	if err := os.MkdirAll(filepath.Dir(film), 0o755); err != nil {
		t.Fatal(err)
	}
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mp4", film)
	// Copied in long ago: the scan at start takes it.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(film, old, old); err != nil {
		t.Fatal(err)
	}
	p := start(t, tmp, "run", "-c", cfg)
	p.waitLine(t, `thecure is running`)
	addr := logValue(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`)
	waitLibrary(t, addr, 90*time.Second, func(it []titleState) bool { return len(it) == 1 && it[0].State == "ready" })
	if out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg); code != 0 {
		t.Fatalf("backup run: %d\n%s%s", code, out, errOut)
	}
	stopProc(t, p)

	fresh := filepath.Join(tmp, "fresh")
	out, errOut, code := runCmd(t, tmp, "restore", "latest", "-c", cfg, "-to", fresh)
	if code != 0 {
		t.Fatalf("restore: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "holds no media") || !strings.Contains(out, "pelis/Film (2020).mp4 (Film: no source, no HLS)") {
		t.Errorf("restore does not name the media the backup lacks:\n%s", out)
	}
	freshCfg := filepath.Join(fresh, "config.toml")
	conf := strings.Replace(string(must(os.ReadFile(freshCfg))), fmt.Sprintf("data_dir = %q", data), fmt.Sprintf("data_dir = %q", fresh), 1)
	if err := os.WriteFile(freshCfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p = start(t, tmp, "run", "-c", freshCfg)
	p.waitLine(t, `a title's files are missing; it is hidden until they are back`)
	addr = logValue(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`)
	waitLibrary(t, addr, 5*time.Second, func(it []titleState) bool { return len(it) == 0 })
	// Admins see it, with what it lacks and how to bring it back.
	out, errOut, code = runCmd(t, tmp, "library", "-c", freshCfg, "list", "missing")
	if code != 0 || !strings.Contains(out, "missing  pelis/Film (2020).mp4") || !strings.Contains(out, "copy pelis/Film (2020).mp4 back into media_dir") {
		t.Errorf("library list missing: %d\n%s%s", code, out, errOut)
	}
	stopProc(t, p)
	items := readItems(t, filepath.Join(fresh, "thecure.db"))
	if len(items) != 1 {
		t.Fatalf("restored catalogue: %v", items)
	}
	for _, it := range items {
		if it["state"] != "missing" || !strings.Contains(fmt.Sprint(it["missing"]), "copy pelis/Film (2020).mp4 back into media_dir") {
			t.Errorf("restored title without its files: %v", it)
		}
	}
	// The files come back: ready again.
	for _, d := range []string{"media", "hls"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(data, d)+"/.", filepath.Join(fresh, d)).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
	}
	p = start(t, tmp, "run", "-c", freshCfg)
	p.waitLine(t, `thecure is running`)
	addr = logValue(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`)
	waitLibrary(t, addr, 30*time.Second, func(it []titleState) bool { return len(it) == 1 && it[0].State == "ready" })
	if !strings.Contains(p.output(), "the files of a missing title are back") {
		t.Errorf("the title came back some other way:\n%s", p.output())
	}
	// Removing a title is an explicit act: it takes its files along, and
	// no scan brings it back.
	out, errOut, code = runCmd(t, tmp, "library", "-c", freshCfg, "rm", "pelis/Film (2020).mp4")
	if code != 0 || !strings.Contains(out, "removed ") {
		t.Fatalf("library rm: %d\n%s%s", code, out, errOut)
	}
	waitLibrary(t, addr, 5*time.Second, func(it []titleState) bool { return len(it) == 0 })
	if _, err := os.Stat(filepath.Join(fresh, "media", "pelis", "Film (2020).mp4")); !os.IsNotExist(err) {
		t.Errorf("library rm left the source: %v", err)
	}
	stopProc(t, p)
}

// Case 5: an upload the client gives up on (curl -m, TLS closed cleanly, no
// ABOR) is never published as ready (FTPS keeps it hidden when it can tell,
// else the media check fails it as truncated); resuming it completes the
// title. A cut file sent as if whole is always caught by the media check.
func TestUploadCutShortIsNotPublished(t *testing.T) {
	tmp := t.TempDir()
	cfg := writeConfig(t, tmp, "")
	src := filepath.Join(tmp, "film.mkv")
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=20", "-f", "lavfi", "-i", "sine=frequency=440:duration=20",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "matroska", src)
	size := must(os.Stat(src)).Size()
	p := start(t, tmp, "run", "-c", cfg)
	p.waitLine(t, `thecure is running`)
	password := readFirstPassword(t, logValue(t, p, firstPasswordLog))
	ftpAddr := logValue(t, p, `msg=listening svc=ftps key=ftp.listen addr=(\S+)`)
	addr := logValue(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`)
	url := "ftp://" + ftpAddr + "/pelis/film.mkv"
	// About 40 % of the file in 3 s, then curl gives up.
	rate := fmt.Sprint(size * 4 / 10 / 3)
	cmd := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password, "--limit-rate", rate, "-m", "3", "-T", src, url)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 28 {
		t.Fatalf("curl -m 3: %v (want a timeout, exit 28)\n%s", err, out)
	}
	// Whatever the server made of it, it is never ready: failed as
	// truncated with a resume hint, or kept hidden for the resume.
	deadline := time.Now().Add(20 * time.Second)
	var seen []titleState
	for time.Now().Before(deadline) {
		var items []titleState
		getJSON(t, "http://"+addr+"/api/library", &items)
		for _, it := range items {
			if it.State == "ready" {
				t.Fatalf("an upload cut short was published: %+v", it)
			}
		}
		seen = items
		if len(items) == 1 && items[0].State == "failed" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(seen) == 1 && (seen[0].State != "failed" || seen[0].Error != "truncated") {
		t.Errorf("the cut upload's title: %+v", seen[0])
	}
	t.Logf("after the cut: %+v", seen)
	// The resume (SIZE, then REST/APPE) completes it.
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password, "-C", "-", "-T", src, url).CombinedOutput(); err != nil {
		t.Fatalf("curl -C - (resume): %v\n%s", err, out)
	}
	items := waitLibrary(t, addr, 90*time.Second, func(it []titleState) bool { return len(it) == 1 && it[0].State == "ready" })
	if d := items[0].Duration; d < 19 || d > 21 {
		t.Errorf("resumed upload's duration %.1f s, want 20", d)
	}

	// What FTP cannot tell at all: a client that sends 40 % of the file as
	// if it were all of it (a script killed while it wrote the file it
	// uploads). The media tells: failed as truncated, never ready.
	cut := filepath.Join(tmp, "cut.mkv")
	if err := os.WriteFile(cut, must(os.ReadFile(src))[:size*4/10], 0o644); err != nil {
		t.Fatal(err)
	}
	url2 := "ftp://" + ftpAddr + "/pelis/film2.mkv"
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password, "-T", cut, url2).CombinedOutput(); err != nil {
		t.Fatalf("curl -T (a cut file, sent whole): %v\n%s", err, out)
	}
	items = waitLibrary(t, addr, 60*time.Second, func(it []titleState) bool {
		for _, x := range it {
			if x.Source == "pelis/film2.mkv" && x.State == "ready" {
				t.Fatalf("a cut file was published: %+v", x)
			}
			if x.Source == "pelis/film2.mkv" && x.State == "failed" {
				return true
			}
		}
		return false
	})
	for _, x := range items {
		if x.Source == "pelis/film2.mkv" && x.Error != "truncated" { // the short public reason
			t.Errorf("the cut file's title: %+v", x)
		}
	}
	// Admins get the whole reason, with the resume hint.
	list, errOut, code := runCmd(t, tmp, "library", "-c", cfg, "list", "failed")
	if code != 0 || !regexp.MustCompile(`pelis/film2\.mkv .*truncated: the file declares 20\.0 s but only \d+\.\d s of it can be read .*Resume it`).MatchString(list) {
		t.Errorf("library list failed: %d\n%s%s", code, list, errOut)
	}
	// The resume (SIZE, REST, the rest of the file) completes it.
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password, "-C", "-", "-T", src, url2).CombinedOutput(); err != nil {
		t.Fatalf("curl -C - (resume of the cut file): %v\n%s", err, out)
	}
	waitLibrary(t, addr, 90*time.Second, func(it []titleState) bool {
		return len(it) == 2 && it[0].State == "ready" && it[1].State == "ready"
	})
	stopProc(t, p)
}

// Case 7: kill -9 in the middle of `thecure backup run`: the backup is
// listed as incomplete and the next run removes its temporary objects.
func TestKilledBackupIsIncompleteAndCleanedUp(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	cfg := writeConfig(t, tmp, "[backup]\ninclude_media = true\n")
	p := start(t, tmp, "run", "-c", cfg)
	p.waitLine(t, `thecure is running`)
	stopProc(t, p)
	randomFile(t, filepath.Join(data, "media", "admin", "big.bin"), 300<<20)
	cmd := exec.Command(thecureBin, "backup", "run", "-c", cfg)
	cmd.Dir = tmp
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(data, "backups", "objects", "*", ".tmp-*"))
		return m
	}
	// Freeze the backup when a temporary object is there, and look again
	// while it is frozen: a small object may have been renamed into place
	// between the look and the stop (then it runs on and we look again).
	deadline := time.Now().Add(60 * time.Second)
	var left []string
	for {
		if time.Now().After(deadline) {
			t.Fatal("no temporary object appeared while the backup ran")
		}
		if len(temps()) > 0 {
			if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			if left = temps(); len(left) > 0 {
				break
			}
			if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if now := temps(); !slices.Equal(now, left) {
		t.Fatalf("temporary objects changed after kill -9 of a stopped process: %q, then %q", left, now)
	}
	out, _, code := runCmd(t, tmp, "backup", "list", "-c", cfg)
	if code != 0 || !regexp.MustCompile(`(?m)^\S+\s.*\sincomplete$`).MatchString(out) || len(left) == 0 {
		t.Fatalf("after kill -9: temporary files %q, list:\n%s", left, out)
	}
	if out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg); code != 0 {
		t.Fatalf("next backup: %d\n%s%s", code, out, errOut)
	}
	for _, p := range left {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("the next run kept %s (%v)", p, err)
		}
	}
	out, _, _ = runCmd(t, tmp, "backup", "list", "-c", cfg)
	if !strings.Contains(out, " complete\n") {
		t.Errorf("list after the next run:\n%s", out)
	}
	out, _, code = runCmd(t, tmp, "backup", "verify", "-c", cfg, "latest")
	if code != 0 {
		t.Fatalf("verify: %d %s", code, out)
	}
	out, _, _ = runCmd(t, tmp, "backup", "list", "-c", cfg)
	if !regexp.MustCompile(` verified \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n`).MatchString(out) {
		t.Errorf("list after verify:\n%s", out)
	}
}

// Case 7 through the appliance: it is killed while `thecure backup run`
// follows its backup; the CLI reads the outcome from the repository.
func TestBackupCLIReadsTheOutcomeWhenTheApplianceDies(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	cfg := writeConfig(t, tmp, "[backup]\ninclude_media = true\n")
	randomFile(t, filepath.Join(data, "media", "admin", "big.bin"), 300<<20)
	p := start(t, tmp, "run", "-c", cfg)
	p.waitLine(t, `thecure is running`)
	cli := exec.Command(thecureBin, "backup", "run", "-c", cfg)
	cli.Dir = tmp
	var out bytes.Buffer
	cli.Stdout, cli.Stderr = &out, &out
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(data, "backups", "objects", "*", ".tmp-*")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no temporary object appeared while the backup ran")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := cli.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !regexp.MustCompile(`thecure stopped before backup \S+ finished: it is listed as incomplete`).MatchString(out.String()) {
		t.Errorf("the CLI after the appliance died mid-backup: %v\n%s", err, out.String())
	}
}
