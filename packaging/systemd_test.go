package packaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What the booted root holds besides the debootstrap base (which has the
// package's dependencies): systemd as PID 1, and the clients the test drives
// inside the container (curl for FTPS and HTTP; ffmpeg, from the base, for
// RTMP and for making an HEVC clip).
const bootPackages = "systemd,systemd-sysv,dbus,ca-certificates,curl,procps,iproute2"

// restartSec is the unit's RestartSec.
const restartSec = 5 * time.Second

// TestUnderSystemd boots the Debian root with systemd as its init under
// systemd-nspawn (private network, so the production ports :21, :80, :1935
// are free), installs the package and checks the service as systemd runs it:
// active after the install, ready before `systemctl restart` returns, a
// reload that keeps an RTMP player and an FTPS upload going, a bad config
// refused by reload, kill -9 recovered with the data intact, an HEVC upload
// encoded inside the unit's sandbox, and purge.
func TestUnderSystemd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the systemd test needs root (systemd-nspawn, nsenter): `sudo make test` or `sudo make test-deb`")
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (.ci/test-deps installs systemd-container and util-linux): %v", tool, err)
		}
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	var deb string
	timed(t, "build the .deb", func() {
		deb = buildDeb(t, repo, sharedDir, "1.0.0", "pkgtest-1", filepath.Join(repo, "config.toml.example")) // TestDebianPackage's v1
	})
	var dir string
	timed(t, "systemd root", func() { dir = bootRoot(t, work) })
	if err := copyFile(deb, filepath.Join(dir, "root/thecure.deb")); err != nil {
		t.Fatal(err)
	}
	var m *machine
	timed(t, "boot", func() { m = boot(t, dir) })

	if !t.Run("install: active and ready", func(t *testing.T) {
		var took time.Duration
		start := time.Now()
		m.run(t, "apt-get", "install", "-y", "--no-install-recommends", "/root/thecure.deb")
		took = time.Since(start)
		t.Logf("timing: apt-get install (with the first start) took %s", took.Round(100*time.Millisecond))
		if out := m.out(t, "systemctl", "is-active", "thecure"); out != "active" {
			t.Fatalf("after install thecure is %q:\n%s", out, m.journal(t))
		}
		// The postinst's start returned after READY=1: the ports answer now,
		// with no retry.
		m.run(t, "curl", "-sSf", "-o", "/dev/null", "http://127.0.0.1/readyz")
		if out := m.out(t, "systemctl", "show", "-p", "Type", "-p", "WatchdogUSec", "thecure"); !strings.Contains(out, "Type=notify") || !strings.Contains(out, "WatchdogUSec=30s") {
			t.Errorf("unit settings: %s", out)
		}
		// The unit's sandbox (SystemCallFilter, ProtectProc...) lets thecure
		// read its own smaps and drop its start-up pages (appliance/exepages;
		// the warning is appliance/supervise.go's).
		if j := m.journal(t); strings.Contains(j, "cannot release the start-up pages") {
			t.Errorf("start-up pages not released under the unit:\n%s", j)
		}
	}) {
		return
	}

	t.Run("restart: ready before systemctl returns", func(t *testing.T) {
		for i := range 3 {
			start := time.Now()
			// One shell: curl runs the moment systemctl returns, no retry.
			m.run(t, "sh", "-c", "systemctl restart thecure && curl -sSf -o /dev/null http://127.0.0.1/readyz")
			t.Logf("timing: systemctl restart until ready (try %d): %s", i+1, time.Since(start).Round(time.Millisecond))
		}
		// Every port is bound, the FTP one too: a login is refused by thecure,
		// not the connection by the kernel.
		out, _ := m.cmd("curl", "-sS", "-k", "--ssl-reqd", "-u", "nobody:wrong-password", "ftp://127.0.0.1/").CombinedOutput()
		if !strings.Contains(string(out), "530") && !strings.Contains(string(out), "Access denied") {
			t.Errorf("FTP right after restart: %s", out)
		}
		if st := m.out(t, "systemctl", "show", "-p", "StatusText", "--value", "thecure"); !strings.Contains(st, "streams") || !strings.Contains(st, "queue") {
			t.Errorf("STATUS= line: %q", st)
		}
	})

	// The first admin password: in the 0600 file of the service user, shown
	// to root by status, never in the journal.
	status := m.out(t, "thecure", "status")
	mpw := regexp.MustCompile(`first admin password: (\S+)`).FindStringSubmatch(status)
	if mpw == nil {
		t.Fatalf("status does not show the first password:\n%s", status)
	}
	pw := mpw[1]
	if st := m.out(t, "stat", "-c", "%a %U", "/var/lib/thecure/initial-admin-password"); st != "600 thecure" {
		t.Errorf("initial-admin-password: %s, want 600 thecure", st)
	}
	if out, _ := m.cmd("journalctl", "--no-pager").CombinedOutput(); strings.Contains(string(out), pw) {
		t.Error("the first password is in the journal")
	}

	t.Run("reload keeps an RTMP player and an FTPS upload", func(t *testing.T) {
		pid := m.mainPID(t)
		pub := m.start(t, "ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac",
			"-t", "40", "-f", "flv", "rtmp://127.0.0.1/live/studio")
		defer pub.stop()
		m.waitHTTP(t, "http://127.0.0.1/live/studio/index.m3u8", 20*time.Second)
		play := m.start(t, "ffmpeg", "-nostdin", "-loglevel", "error", "-i", "rtmp://127.0.0.1/live/studio", "-c", "copy", "-f", "flv", "-y", "/root/play.flv")
		defer play.stop()
		// 3 MB at 400 kB/s: the upload runs across the reload.
		m.run(t, "sh", "-c", "head -c 3000000 /dev/urandom > /root/slow.bin")
		up := m.start(t, "curl", "-sS", "-k", "--ssl-reqd", "--limit-rate", "400k", "-u", "admin:"+pw, "-T", "/root/slow.bin", "ftp://127.0.0.1/admin/slow.bin")
		time.Sleep(3 * time.Second)
		before := m.size(t, "/root/play.flv")

		conf := m.read(t, "/etc/thecure/config.toml")
		edited := strings.Replace(conf, `level = "info"`, `level = "debug"`, 1)
		if edited == conf {
			t.Fatal("no log level to edit")
		}
		m.write(t, "/etc/thecure/config.toml", edited)
		m.run(t, "systemctl", "reload", "thecure")
		m.waitJournal(t, `configuration reloaded.* applied="?log\.level`, 10*time.Second)

		if err := up.wait(30 * time.Second); err != nil {
			t.Errorf("the FTPS upload across the reload failed: %v\n%s", err, up.output())
		}
		if got := m.out(t, "stat", "-c", "%s", "/var/lib/thecure/media/admin/slow.bin"); got != "3000000" {
			t.Errorf("uploaded size %s, want 3000000", got)
		}
		time.Sleep(2 * time.Second)
		if after := m.size(t, "/root/play.flv"); after <= before || play.exited() {
			t.Errorf("the RTMP player stopped at the reload: %d bytes before, %d after, exited %v\n%s", before, after, play.exited(), play.output())
		}
		if got := m.mainPID(t); got != pid {
			t.Errorf("the reload restarted thecure: pid %d -> %d", pid, got)
		}
	})

	t.Run("a bad config is refused by reload", func(t *testing.T) {
		pid := m.mainPID(t)
		good := m.read(t, "/etc/thecure/config.toml")
		m.write(t, "/etc/thecure/config.toml", strings.Replace(good, `level = "debug"`, `level = "loud"`, 1))
		if out, err := m.cmd("systemctl", "reload", "thecure").CombinedOutput(); err == nil {
			t.Errorf("systemctl reload accepted a bad config: %s", out)
		}
		// check-config (ExecReload) listed the problem as FILE:LINE: key: message.
		m.waitJournal(t, `config\.toml:\d+: log\.level: `, 10*time.Second)
		if got := m.out(t, "systemctl", "is-active", "thecure"); got != "active" {
			t.Errorf("after a refused reload thecure is %s", got)
		}
		if got := m.mainPID(t); got != pid {
			t.Errorf("a refused reload restarted thecure: pid %d -> %d", pid, got)
		}
		m.run(t, "curl", "-sSf", "-o", "/dev/null", "http://127.0.0.1/readyz")
		m.write(t, "/etc/thecure/config.toml", good)
	})

	t.Run("HEVC upload encoded in the sandbox", func(t *testing.T) {
		m.run(t, "ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=4:size=320x240:rate=25",
			"-f", "lavfi", "-i", "sine=duration=4", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
			"-c:a", "aac", "-shortest", "-y", "/root/hevc.mkv")
		m.run(t, "curl", "-sS", "-k", "--ssl-reqd", "-u", "admin:"+pw, "-T", "/root/hevc.mkv", "ftp://127.0.0.1/pelis/Sandbox%20Test%20(2024).mkv")
		deadline := time.Now().Add(120 * time.Second)
		for {
			var items []struct{ Title, State, Method, Error string }
			if err := json.Unmarshal([]byte(m.out(t, "curl", "-sSf", "http://127.0.0.1/api/library")), &items); err != nil {
				t.Fatal(err)
			}
			if len(items) == 1 && items[0].State == "ready" {
				if items[0].Method != "encode" {
					t.Errorf("HEVC title made by %q, want encode", items[0].Method)
				}
				break
			}
			if len(items) == 1 && items[0].State == "failed" || time.Now().After(deadline) {
				t.Fatalf("the HEVC upload was not encoded: %+v\n%s", items, m.journal(t))
			}
			time.Sleep(time.Second)
		}
	})

	t.Run("kill -9: back after RestartSec, data intact", func(t *testing.T) {
		pid := m.mainPID(t)
		start := time.Now()
		m.run(t, "kill", "-9", strconv.Itoa(pid))
		m.waitHTTP(t, "http://127.0.0.1/readyz", restartSec+30*time.Second)
		took := time.Since(start)
		t.Logf("timing: kill -9 until /readyz answers: %s (RestartSec %s)", took.Round(time.Millisecond), restartSec)
		if took > restartSec+10*time.Second {
			t.Errorf("back after %s, want within RestartSec (%s) plus a start", took, restartSec)
		}
		if got := m.mainPID(t); got == pid || got == 0 {
			t.Errorf("main pid %d after kill -9 of %d", got, pid)
		}
		if got := m.out(t, "stat", "-c", "%s", "/var/lib/thecure/media/admin/slow.bin"); got != "3000000" {
			t.Errorf("the upload after kill -9: %s bytes", got)
		}
		if lib := m.out(t, "curl", "-sSf", "http://127.0.0.1/api/library"); !strings.Contains(lib, `"state":"ready"`) {
			t.Errorf("the catalogue after kill -9: %s", lib)
		}
		// The store opens and the admin's first password still logs in.
		m.run(t, "curl", "-sSf", "-k", "--ssl-reqd", "-u", "admin:"+pw, "-o", "/dev/null", "ftp://127.0.0.1/admin/slow.bin")
	})

	t.Run("purge", func(t *testing.T) {
		m.run(t, "apt-get", "purge", "-y", "thecure")
		if out, _ := m.cmd("systemctl", "is-active", "thecure").CombinedOutput(); strings.TrimSpace(string(out)) == "active" {
			t.Error("thecure still active after purge")
		}
		for _, gone := range []string{"/var/lib/thecure", "/etc/thecure", "/usr/bin/thecure"} {
			if _, err := os.Lstat(filepath.Join(dir, gone)); err == nil {
				t.Errorf("%s is still there after purge", gone)
			}
		}
	})
}

// bootRoot unpacks the cached bootable root (the debootstrap root with
// bootPackages installed), making it the first time from the packaging
// tests' debootstrap tarball.
func bootRoot(t *testing.T, work string) string {
	t.Helper()
	cache := cacheDir(t)
	sum := sha256.Sum256([]byte(suite + " minbase " + rootPackages + " boot " + bootPackages))
	tarball := filepath.Join(cache, fmt.Sprintf("debian-%s-systemd-%x.tar.zst", suite, sum[:4]))
	base := filepath.Join(work, "boot")
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tarball); err == nil {
		dir := filepath.Join(base, "root")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("tar", "--zstd", "-C", dir, "-xpf", tarball).CombinedOutput(); err != nil {
			t.Fatalf("unpack %s: %v\n%s", tarball, err, out)
		}
		return dir
	}
	dir := newRoot(t, base).dir
	t.Logf("making %s (once; cached): installing %s", tarball, bootPackages)
	// nspawn without -b: /proc, /dev and the host's network and resolver.
	cmd := exec.Command("systemd-nspawn", "-q", "-D", dir, "-M", fmt.Sprintf("thecure-prep-%d", os.Getpid()),
		"--register=no", "--keep-unit", "--pipe", "-E", "DEBIAN_FRONTEND=noninteractive",
		"sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends "+strings.ReplaceAll(bootPackages, ",", " ")+
			" && apt-get clean && : > /etc/machine-id")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("installing systemd in the root: %v\n%s", err, tail(out, 4000))
	}
	tmp := fmt.Sprintf("%s.%d.tmp", tarball, os.Getpid())
	if out, err := exec.Command("tar", "--zstd", "-C", dir, "-cf", tmp, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cacheDir is $XDG_CACHE_HOME/thecure, else ~/.cache/thecure.
func cacheDir(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "thecure")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// machine is a root booted with systemd under systemd-nspawn.
type machine struct {
	dir    string
	nspawn *exec.Cmd
	done   chan struct{}
	init   int // the container's PID 1, as the host sees it
	log    bytes.Buffer
}

// boot starts systemd-nspawn -b on dir and waits until systemd is up; the
// machine is powered off when the test ends.
func boot(t *testing.T, dir string) *machine {
	t.Helper()
	m := &machine{dir: dir, done: make(chan struct{})}
	m.nspawn = exec.Command("systemd-nspawn", "-D", dir, "-b", "-M", fmt.Sprintf("thecure-test-%d", os.Getpid()),
		"--register=no", "--keep-unit", "--private-network", "--console=passive")
	m.nspawn.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	m.nspawn.Stdout, m.nspawn.Stderr = &m.log, &m.log
	if err := m.nspawn.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.nspawn.Wait(); close(m.done) }()
	t.Cleanup(func() { m.poweroff(t) })
	deadline := time.Now().Add(60 * time.Second)
	for m.init == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("systemd-nspawn started no init:\n%s", m.log.String())
		}
		select {
		case <-m.done:
			t.Fatalf("systemd-nspawn ended:\n%s", m.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		// The container's init is the child of nspawn that has become
		// systemd (before its exec it is nspawn's own helper).
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", m.nspawn.Process.Pid, m.nspawn.Process.Pid))
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			comm, err := os.ReadFile("/proc/" + string(f) + "/comm")
			if err == nil && strings.TrimSpace(string(comm)) == "systemd" {
				m.init, _ = strconv.Atoi(string(f))
			}
		}
	}
	// is-system-running --wait returns once boot is over (running, or
	// degraded when some unit of the minimal root failed: not ours); before
	// systemd's bus is up it says offline at once.
	for {
		out, _ := m.cmd("systemctl", "is-system-running", "--wait").CombinedOutput()
		s := strings.TrimSpace(string(out))
		if s == "running" || s == "degraded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd in the container: %q\n%s", s, m.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return m
}

func (m *machine) poweroff(t *testing.T) {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd("systemctl", "poweroff").Run() // the wait below tells
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		t.Errorf("the container did not power off; killing it")
		m.nspawn.Process.Kill()
		<-m.done
	}
}

// cmd runs a command inside the container, in all its namespaces.
func (m *machine) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(m.init), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w", "--"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "HOME=/root", "SYSTEMD_PAGER=", "TERM=dumb"}
	cmd.Dir = "/"
	return cmd
}

// run runs a command in the container and fails the test when it fails.
func (m *machine) run(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := m.cmd(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("in the container: %s: %v\nstdout:\n%s\nstderr:\n%s\njournal:\n%s", strings.Join(args, " "), err,
			tail(stdout.Bytes(), 3000), tail(stderr.Bytes(), 3000), m.journal(t))
	}
	return stdout.String()
}

// out is run's stdout without surrounding space.
func (m *machine) out(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(m.run(t, args...))
}

func (m *machine) journal(t *testing.T) string {
	out, _ := m.cmd("journalctl", "-u", "thecure", "--no-pager", "-n", "60").CombinedOutput()
	return string(out)
}

// waitJournal waits for a line of thecure's journal matching re.
func (m *machine) waitJournal(t *testing.T, re string, d time.Duration) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(d); ; {
		out, _ := m.cmd("journalctl", "-u", "thecure", "--no-pager", "-n", "200").CombinedOutput()
		if rx.Match(out) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no journal line %q in %s:\n%s", re, d, tail(out, 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHTTP polls url from inside the container until it answers 2xx.
func (m *machine) waitHTTP(t *testing.T, url string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; {
		if m.cmd("curl", "-sf", "-o", "/dev/null", "--max-time", "2", url).Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s\n%s", url, d, m.journal(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *machine) mainPID(t *testing.T) int {
	t.Helper()
	pid, err := strconv.Atoi(m.out(t, "systemctl", "show", "-p", "MainPID", "--value", "thecure"))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func (m *machine) size(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(m.dir, p))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func (m *machine) read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.dir, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// write replaces a file's content in place, keeping its owner and mode.
func (m *machine) write(t *testing.T, p, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(m.dir, p), os.O_WRONLY|os.O_TRUNC, 0)
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

// bg is a command running in the container in the background.
type bg struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (m *machine) start(t *testing.T, args ...string) *bg {
	t.Helper()
	b := &bg{cmd: m.cmd(args...), done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	return b
}

func (b *bg) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (b *bg) wait(d time.Duration) error {
	select {
	case <-b.done:
		return b.err
	case <-time.After(d):
		return fmt.Errorf("still running after %s", d)
	}
}

// output is what the command printed; read it only once it has exited, or
// for a message (racy while it runs, harmless for a test log).
func (b *bg) output() string {
	if b.exited() {
		return b.out.String()
	}
	return "(still running)"
}

// stop ends the command and waits for it: nsenter does not pass signals
// on, so its child (the command, in the container) gets SIGTERM, then both
// SIGKILL.
func (b *bg) stop() {
	if b.exited() {
		return
	}
	pid := b.cmd.Process.Pid
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range bytes.Fields(kids) {
		if n, err := strconv.Atoi(string(k)); err == nil {
			syscall.Kill(n, syscall.SIGTERM)
		}
	}
	if b.wait(5*time.Second) != nil {
		for _, k := range bytes.Fields(kids) {
			if n, err := strconv.Atoi(string(k)); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
		b.cmd.Process.Kill()
		<-b.done
	}
}
