package packaging

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"thecure/appliance/apptest"
)

// The Debian release the package targets, and what its test root holds
// besides the minimal base: the package's dependencies, preinstalled so that
// installing the .deb needs no network.
const (
	suite         = "bookworm"
	defaultMirror = "http://deb.debian.org/debian"
	rootPackages  = "adduser,ffmpeg"
)

// maxExposure is the highest `systemd-analyze security` exposure allowed.
const maxExposure = 3.0

// TestDebianPackage builds the package twice (two versions), checks it with
// lintian and systemd-analyze, then installs, upgrades, removes and purges it
// in a debootstrap root, checking files, owners, modes, the user, the kept
// conffile and the service actions. systemd does not run in the root: a
// recording systemctl stands in for it once the test pretends it runs.
func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the Debian package tests need root (debootstrap, chroot, dpkg inside the root): " +
			"run them as root: `sudo make test`, or only these: `sudo make test-deb`")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()

	// Version 1.0.1 ships a changed config (a key's comment grew), so the
	// upgrade meets an edited conffile that the package changed too.
	example, err := os.ReadFile(filepath.Join(repo, "config.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	const newComment = "# (a comment new in 1.0.1)"
	example2 := filepath.Join(work, "config.toml.example-1.0.1")
	if err := os.WriteFile(example2, append(example, "\n"+newComment+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var v1, v2 string
	timed(t, "build two .debs", func() {
		v1 = buildDeb(t, repo, sharedDir, "1.0.0", "pkgtest-1", filepath.Join(repo, "config.toml.example")) // TestUnderSystemd's too
		v2 = buildDeb(t, repo, work, "1.0.1", "pkgtest-2", example2)
	})
	if st, err := os.Stat(v1); err == nil {
		t.Logf(".deb size: %d bytes (%.1f MiB)", st.Size(), float64(st.Size())/(1<<20))
	}

	t.Run("lintian", func(t *testing.T) {
		timed(t, "lintian", func() {
			out, err := exec.Command("lintian", "--fail-on", "error", "--info", v1).CombinedOutput()
			t.Logf("lintian:\n%s", out)
			if err != nil {
				t.Errorf("lintian failed: %v", err)
			}
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(l, "E: ") {
					t.Errorf("lintian error: %s", l)
				}
			}
		})
	})

	t.Run("systemd-analyze", func(t *testing.T) {
		out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--no-pager",
			filepath.Join(repo, "packaging", "thecure.service")).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for thecure\.service: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no exposure level in systemd-analyze output (%v):\n%s", err, out)
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("systemd-analyze security exposure: %.1f (max %.1f)", score, maxExposure)
		if score > maxExposure {
			t.Errorf("exposure %.1f > %.1f:\n%s", score, maxExposure, out)
		}
		// Typos are only warnings to systemd (the line is ignored), and cost
		// nothing in the score: verify must not report any. (It also says
		// the binary and man page are not installed here: not our concern.)
		out, _ = exec.Command("systemd-analyze", "verify", filepath.Join(repo, "packaging", "thecure.service")).CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if regexp.MustCompile(`(?i)unknown|ignoring|invalid|failed to parse|deprecated`).MatchString(l) {
				t.Errorf("systemd-analyze verify: %s", l)
			}
		}
	})

	var r *debRoot
	timed(t, "Debian root", func() { r = newRoot(t, work) })
	r.copyIn(t, v1, "/tmp/v1.deb")
	r.copyIn(t, v2, "/tmp/v2.deb")

	if !t.Run("install", func(t *testing.T) {
		// No systemd in the root (a container, or an image being built):
		// deb-systemd-helper enables the unit by itself; had the scripts
		// tried to start it, the missing systemctl would show in the output.
		var out string
		timed(t, "install", func() { out = r.run(t, "sh", "-c", "apt-get install -y --no-install-recommends /tmp/v1.deb 2>&1") })
		if strings.Contains(out, "systemctl") {
			t.Errorf("the install tried to use systemctl though systemd does not run:\n%s", out)
		}
		uid, gid := r.user(t)
		r.checkFile(t, "/usr/bin/thecure", 0o755, 0, 0)
		r.checkFile(t, "/lib/systemd/system/thecure.service", 0o644, 0, 0)
		r.checkFile(t, "/usr/share/man/man1/thecure.1.gz", 0o644, 0, 0)
		r.checkFile(t, "/usr/share/doc/thecure/copyright", 0o644, 0, 0)
		r.checkFile(t, "/etc/thecure/config.toml", 0o640, 0, gid)
		r.checkDir(t, "/var/lib/thecure", 0o750, uid, gid)
		r.checkDir(t, "/var/backups/thecure", 0o750, uid, gid)
		if out := r.run(t, "dpkg-query", "-W", "-f=${Conffiles}", "thecure"); !strings.Contains(out, "/etc/thecure/config.toml") {
			t.Errorf("config.toml is not a conffile: %q", out)
		}
		r.checkEnabled(t, true)
		// The installed binary, as the service's user, accepts the installed
		// config with its production values (what ExecStartPre runs).
		if out := r.run(t, "setpriv", "--reuid=thecure", "--regid=thecure", "--clear-groups",
			"/usr/bin/thecure", "check-config", "-c", "/etc/thecure/config.toml"); strings.TrimSpace(out) != "ok: /etc/thecure/config.toml" {
			t.Errorf("check-config: %q, want ok", out)
		}
		conf := r.read(t, "/etc/thecure/config.toml")
		for _, want := range []string{"data_dir = \"/var/lib/thecure\"", "listen = \":80\"", "listen = \":21\"",
			"listen = \":1935\"", "[backup]\n", "dir = \"/var/backups/thecure\""} {
			if !strings.Contains(conf, want) {
				t.Errorf("installed config lacks %s", want)
			}
		}
		if out := r.run(t, "/usr/bin/thecure", "version"); !strings.Contains(out, "pkgtest-1") {
			t.Errorf("version: %q", out)
		}
	}) {
		return
	}

	t.Run("runs as thecure, root reaches it", func(t *testing.T) { r.runAppliance(t) })

	const edit = "level = \"debug\""
	if !t.Run("upgrade keeps the edited config and restarts", func(t *testing.T) {
		// From here on, pretend systemd runs.
		r.fakeSystemctl(t)
		if err := os.MkdirAll(r.path("/run/systemd/system"), 0o755); err != nil {
			t.Fatal(err)
		}
		conf := r.read(t, "/etc/thecure/config.toml")
		edited := strings.Replace(conf, "level = \"info\"", edit, 1)
		if edited == conf {
			t.Fatal("no log level to edit in the installed config")
		}
		r.write(t, "/etc/thecure/config.toml", edited)
		r.run(t, "setpriv", "--reuid=thecure", "--regid=thecure", "--clear-groups", "sh", "-c", "echo data > /var/lib/thecure/keep-me")

		// Unattended, the way the README says: keep the edited file, put the
		// package's new one next to it.
		timed(t, "upgrade", func() {
			r.run(t, "apt-get", "install", "-y", "--no-install-recommends",
				"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", "/tmp/v2.deb")
		})
		if got := r.read(t, "/etc/thecure/config.toml"); got != edited {
			t.Errorf("the edited config was not kept:\n%s", got)
		}
		if dist := r.read(t, "/etc/thecure/config.toml.dpkg-dist"); !strings.Contains(dist, newComment) {
			t.Errorf("config.toml.dpkg-dist is not the package's new config")
		}
		_, gid := r.user(t)
		r.checkFile(t, "/etc/thecure/config.toml", 0o640, 0, gid)
		if out := r.run(t, "dpkg-query", "-W", "-f=${Version}", "thecure"); out != "1.0.1" {
			t.Errorf("installed version %q, want 1.0.1", out)
		}
		if out := r.run(t, "/usr/bin/thecure", "version"); !strings.Contains(out, "pkgtest-2") {
			t.Errorf("the binary was not upgraded: %q", out)
		}
		if calls := r.systemctlCalls(t); !strings.Contains(calls, "restart thecure.service") {
			t.Errorf("the upgrade did not restart the service; systemctl calls:\n%s", calls)
		}
		if out := r.run(t, "setpriv", "--reuid=thecure", "--regid=thecure", "--clear-groups",
			"/usr/bin/thecure", "check-config", "-c", "/etc/thecure/config.toml"); strings.TrimSpace(out) != "ok: /etc/thecure/config.toml" {
			t.Errorf("check-config on the edited config: %q", out)
		}
		// A config the binary rejects: check-config (ExecStartPre) fails and
		// says why on stderr, which journald records.
		r.write(t, "/tmp/bad.toml", strings.Replace(edited, edit, "level = \"loud\"", 1))
		out, err := r.cmd("/usr/bin/thecure", "check-config", "-c", "/tmp/bad.toml").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "log.level") {
			t.Errorf("check-config on a bad config: err %v, output %q; want a failure naming log.level", err, out)
		}
	}) {
		return
	}

	if !t.Run("remove keeps data and config", func(t *testing.T) {
		r.resetSystemctlCalls(t)
		timed(t, "remove", func() { r.run(t, "apt-get", "remove", "-y", "thecure") })
		for _, gone := range []string{"/usr/bin/thecure", "/lib/systemd/system/thecure.service"} {
			if _, err := os.Lstat(r.path(gone)); err == nil {
				t.Errorf("%s is still there after remove", gone)
			}
		}
		if got := r.read(t, "/etc/thecure/config.toml"); !strings.Contains(got, edit) {
			t.Errorf("the edited config is gone after remove")
		}
		if got := r.read(t, "/var/lib/thecure/keep-me"); got != "data\n" {
			t.Errorf("data after remove: %q", got)
		}
		uid, gid := r.user(t)
		r.checkDir(t, "/var/lib/thecure", 0o750, uid, gid)
		r.checkDir(t, "/var/backups/thecure", 0o750, uid, gid)
		if calls := r.systemctlCalls(t); !strings.Contains(calls, "stop thecure.service") {
			t.Errorf("remove did not stop the service; systemctl calls:\n%s", calls)
		}
	}) {
		return
	}

	t.Run("purge deletes data and config, keeps the user", func(t *testing.T) {
		timed(t, "purge", func() { r.run(t, "dpkg", "--purge", "thecure") })
		for _, gone := range []string{"/etc/thecure", "/var/lib/thecure", "/var/backups/thecure",
			"/etc/systemd/system/multi-user.target.wants/thecure.service"} {
			if _, err := os.Lstat(r.path(gone)); err == nil {
				t.Errorf("%s is still there after purge", gone)
			}
		}
		if out, err := r.cmd("dpkg-statoverride", "--list", "/etc/thecure/config.toml").CombinedOutput(); err == nil {
			t.Errorf("a statoverride is left after purge: %s", out)
		}
		if out, err := r.cmd("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "thecure").CombinedOutput(); err == nil && strings.TrimSpace(string(out)) != "" && !strings.HasPrefix(string(out), "un") {
			t.Errorf("thecure still known to dpkg after purge: %q", out)
		}
		r.user(t) // the system user stays
	})
}

// runAppliance runs the installed binary as the service does (user thecure,
// the installed data dir) on the installed config with loopback port 0
// everywhere, and checks that root's `thecure status` reaches it through
// the owner-only control socket in the 0750 data dir.
func (r *debRoot) runAppliance(t *testing.T) {
	conf := regexp.MustCompile(`(?m)^listen = ".*"`).ReplaceAllString(r.read(t, "/etc/thecure/config.toml"), `listen = "127.0.0.1:0"`)
	r.write(t, "/tmp/run.toml", conf)
	cmd := r.cmd("setpriv", "--reuid=thecure", "--regid=thecure", "--clear-groups",
		"/usr/bin/thecure", "run", "-c", "/tmp/run.toml")
	var log apptest.SyncBuffer // read while thecure may still write to it
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-done
		}
	}()
	var status []byte
	var err error
	for deadline := time.Now().Add(60 * time.Second); ; {
		status, err = r.cmd("/usr/bin/thecure", "status", "-c", "/tmp/run.toml").CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thecure status never answered: %v\n%s\nappliance log:\n%s", err, status, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !regexp.MustCompile(`(?m)^control\s+up\b`).Match(status) {
		t.Errorf("status:\n%s", status)
	}
	uid, gid := r.user(t)
	r.checkDir(t, "/var/lib/thecure", 0o750, uid, gid)
	st, err := os.Lstat(r.path("/var/lib/thecure/control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	// Only its owner may connect (control.Listen's umask 077 gives 0700).
	if sys := st.Sys().(*syscall.Stat_t); st.Mode()&fs.ModeSocket == 0 || st.Mode().Perm()&0o077 != 0 || int(sys.Uid) != uid {
		t.Errorf("control.sock: %s owner %d, want a socket only thecure (%d) may use", st.Mode(), sys.Uid, uid)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("thecure run: %v\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("thecure did not stop on SIGTERM:\n%s", log.String())
	}
}

// buildDeb runs `make deb` into its own directory and returns the package.
func buildDeb(t *testing.T, repo, work, debVersion, version, example string) string {
	t.Helper()
	dist := filepath.Join(work, "dist-"+debVersion)
	if deb := filepath.Join(dist, "thecure_"+debVersion+"_amd64.deb"); work == sharedDir {
		if _, err := os.Stat(deb); err == nil {
			return deb // built by another test of this run
		}
	}
	cmd := exec.Command("make", "-C", repo, "deb", "DIST="+dist, "DEB_VERSION="+debVersion, "VERSION="+version, "EXAMPLE="+example)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	deb := filepath.Join(dist, "thecure_"+debVersion+"_amd64.deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("make deb made no %s: %v", deb, err)
	}
	return deb
}

func timed(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	t.Logf("timing: %s took %s", what, time.Since(start).Round(100*time.Millisecond))
}

// debRoot is a minimal Debian system in a directory, entered with chroot.
type debRoot struct{ dir string }

// newRoot unpacks the cached root tarball (making it with debootstrap the
// first time) into a fresh directory under work.
func newRoot(t *testing.T, work string) *debRoot {
	t.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache")
	}
	mirror := os.Getenv("THECURE_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = defaultMirror
	}
	sum := sha256.Sum256([]byte(suite + " minbase " + rootPackages))
	tarball := filepath.Join(cache, "thecure", fmt.Sprintf("debian-%s-%x.tar.zst", suite, sum[:4]))
	dir := filepath.Join(work, "root")
	if _, err := os.Stat(tarball); err != nil {
		t.Logf("making %s with debootstrap from %s (once; cached)", tarball, mirror)
		out, err := exec.Command("debootstrap", "--variant=minbase", "--include="+rootPackages, suite, dir, mirror).CombinedOutput()
		if err != nil {
			t.Fatalf("debootstrap: %v\n%s", err, tail(out, 4000))
		}
		if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
			t.Fatal(err)
		}
		tmp := fmt.Sprintf("%s.%d.tmp", tarball, os.Getpid()) // another test run may be making it too
		if out, err := exec.Command("tar", "--zstd", "-C", dir, "-cf", tmp, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, tarball); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("tar", "--zstd", "-C", dir, "-xpf", tarball).CombinedOutput(); err != nil {
			t.Fatalf("unpack %s: %v\n%s", tarball, err, out)
		}
	}
	return &debRoot{dir: dir}
}

func (r *debRoot) path(p string) string { return filepath.Join(r.dir, p) }

func (r *debRoot) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("chroot", append([]string{r.dir}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "HOME=/root",
	}
	return cmd
}

// run runs a command in the root and returns its stdout; it fails the test
// with the command's output when it fails.
func (r *debRoot) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := r.cmd(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("in the root: %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, tail(stdout.Bytes(), 3000), tail(stderr.Bytes(), 3000))
	}
	return stdout.String()
}

func (r *debRoot) read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(r.path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// write replaces a file's content in place, keeping its owner and mode.
func (r *debRoot) write(t *testing.T, p, content string) {
	t.Helper()
	f, err := os.OpenFile(r.path(p), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func (r *debRoot) copyIn(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path(dst), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// user checks the thecure system user and group in the root and returns
// their ids.
func (r *debRoot) user(t *testing.T) (uid, gid int) {
	t.Helper()
	pw := r.lookup(t, "/etc/passwd", "thecure")
	if pw == nil {
		t.Fatal("no thecure user in /etc/passwd")
	}
	gr := r.lookup(t, "/etc/group", "thecure")
	if gr == nil {
		t.Fatal("no thecure group in /etc/group")
	}
	uid, _ = strconv.Atoi(pw[2])
	gid, _ = strconv.Atoi(gr[2])
	if uid == 0 || uid >= 1000 {
		t.Errorf("thecure uid %d is not a system uid", uid)
	}
	if pw[3] != gr[2] {
		t.Errorf("thecure's primary group is %s, want the thecure group %s", pw[3], gr[2])
	}
	if pw[5] != "/var/lib/thecure" || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("thecure home %q shell %q, want /var/lib/thecure and /usr/sbin/nologin", pw[5], pw[6])
	}
	return uid, gid
}

func (r *debRoot) lookup(t *testing.T, file, name string) []string {
	t.Helper()
	f, err := os.Open(r.path(file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Split(sc.Text(), ":"); fields[0] == name {
			return fields
		}
	}
	return nil
}

func (r *debRoot) checkFile(t *testing.T, p string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	r.check(t, p, false, mode, uid, gid)
}

func (r *debRoot) checkDir(t *testing.T, p string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	r.check(t, p, true, mode, uid, gid)
}

func (r *debRoot) check(t *testing.T, p string, dir bool, mode fs.FileMode, uid, gid int) {
	t.Helper()
	st, err := os.Lstat(r.path(p))
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if st.IsDir() != dir || (!dir && !st.Mode().IsRegular()) {
		t.Errorf("%s: mode %s, want a %s", p, st.Mode(), map[bool]string{true: "directory", false: "regular file"}[dir])
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != mode || int(sys.Uid) != uid || int(sys.Gid) != gid {
		t.Errorf("%s: %s %d:%d, want %s %d:%d", p, st.Mode().Perm(), sys.Uid, sys.Gid, mode, uid, gid)
	}
}

// checkEnabled checks the unit's enablement symlink (deb-systemd-helper
// makes it whether systemd runs or not: an image built in a chroot boots
// with the service on).
func (r *debRoot) checkEnabled(t *testing.T, want bool) {
	t.Helper()
	link := "/etc/systemd/system/multi-user.target.wants/thecure.service"
	target, err := os.Readlink(r.path(link))
	switch {
	case want && err != nil:
		t.Errorf("the service is not enabled: %v", err)
	case want && !strings.HasSuffix(target, "/systemd/system/thecure.service"):
		t.Errorf("%s -> %s", link, target)
	case !want && err == nil:
		t.Errorf("the service is still enabled: %s -> %s", link, target)
	}
}

// systemctl stands in for systemd's, which cannot run in the root: it
// records each call, reports the unit enabled when its symlink exists and
// active otherwise, like a running systemd.
const fakeSystemctl = `#!/bin/sh
echo "$*" >> /var/log/systemctl-calls
case " $* " in
*" is-enabled "*)
	if [ -e /etc/systemd/system/multi-user.target.wants/thecure.service ]; then echo enabled; else echo disabled; exit 1; fi ;;
esac
exit 0
`

func (r *debRoot) fakeSystemctl(t *testing.T) {
	t.Helper()
	// apt runs dpkg with PATH=/usr/sbin:/usr/bin:/sbin:/bin; the root has no
	// systemd package, so no systemctl of its own.
	if err := os.WriteFile(r.path("/usr/bin/systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
}

func (r *debRoot) systemctlCalls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.path("/var/log/systemctl-calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func (r *debRoot) resetSystemctlCalls(t *testing.T) {
	t.Helper()
	if err := os.Remove(r.path("/var/log/systemctl-calls")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
