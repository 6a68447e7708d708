package appliance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/cli"
)

// thecureBin is the binary built once for the process-level tests, the way
// `make build` builds it.
var thecureBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "thecure-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	thecureBin = filepath.Join(dir, "thecure")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X thecure/appliance.version=test-1.2.3 -X thecure/appliance.commit=abc1234", "-o", thecureBin, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build thecure: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `thecure run`.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
	lines  chan string
	exited chan struct{}
	err    error
}

// start runs thecure with args in dir; its stderr is collected line by line.
func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startCmd(t, dir, nil, args...)
}

// startCmd is start with setup applied to the command first (another
// binary, another user).
func startCmd(t *testing.T, dir string, setup func(*exec.Cmd), args ...string) *proc {
	t.Helper()
	p := &proc{lines: make(chan string, 1000), exited: make(chan struct{})}
	p.cmd = exec.Command(thecureBin, args...)
	p.cmd.Dir = dir
	if setup != nil {
		setup(p.cmd)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("thecure log:\n%s", p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLine waits for a log line matching re and returns its submatches.
func (p *proc) waitLine(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-p.exited:
			t.Fatalf("thecure exited (%v) before logging %q", p.err, re)
		case <-timeout:
			t.Fatalf("no log line %q in 30s", re)
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("thecure did not exit within %s", d)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// runCmd runs a thecure command to completion, with no input.
func runCmd(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runIn(t, dir, "", args...)
}

// writeConfig writes a config with loopback ports chosen by the kernel.
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	return writeConfigHTTP(t, dir, "", extra)
}

// writeConfigHTTP is writeConfig with more keys (lines) in its [http] table.
func writeConfigHTTP(t *testing.T, dir, httpKeys, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(`data_dir = %q
shutdown_timeout = "5s"
[http]
%slisten = "127.0.0.1:0"
[ftp]
listen = "127.0.0.1:0"
[rtmp]
listen = "127.0.0.1:0"
%s`, filepath.Join(dir, "data"), httpKeys, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	code, body, _ := apptest.Get(t, http.DefaultClient, url)
	if out != nil {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, body)
		}
	}
	return code
}

type healthz struct {
	Status   string
	Services []struct{ Name, State, Detail string }
}

// TestRunServeStop starts the appliance, checks /healthz, /metrics and
// status, then stops it with SIGINT and expects exit status 0.
func TestRunServeStop(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	p := start(t, dir, "run", "-c", cfg)
	addr := p.waitLine(t, `msg=listening svc=http key=http.listen addr=(\S+)`)[1]
	p.waitLine(t, `thecure is running`)

	var h healthz
	if code := getJSON(t, "http://"+addr+"/healthz", &h); code != 200 || h.Status != "ok" {
		t.Fatalf("healthz: %d %+v", code, h)
	}
	names := map[string]string{}
	for _, s := range h.Services {
		names[s.Name] = s.State
	}
	for _, n := range []string{"http", "control"} {
		if names[n] != "up" {
			t.Errorf("service %s is %q in /healthz, want up", n, names[n])
		}
	}

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`thecure_build_info{commit="abc1234"`, "go_goroutines", "process_resident_memory_bytes", "thecure_http_requests_total"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// / is the catalogue page; unknown paths and folders are 404 (no listings).
	for _, p := range []string{"/no-such-page", "/static/", "/vod/"} {
		if code := getJSON(t, "http://"+addr+p, nil); code != 404 {
			t.Errorf("GET %s = %d, want 404 (no listings)", p, code)
		}
	}

	out, errOut, code := runCmd(t, dir, "status", "-c", cfg)
	if code != 0 || !strings.Contains(out, "test-1.2.3") || !regexp.MustCompile(`(?m)^http\s+up\s+.*127\.0\.0\.1:\d+`).MatchString(out) {
		t.Errorf("status: code %d\n%s%s", code, out, errOut)
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "control.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit status after SIGINT = %d, want 0", code)
	}
	if !strings.Contains(p.output(), "msg=stopped") {
		t.Errorf("no 'stopped' log line")
	}
	if _, errOut, code := runCmd(t, dir, "status", "-c", cfg); code != 1 || !strings.Contains(errOut, "not running") {
		t.Errorf("status of a stopped appliance: code %d, %s", code, errOut)
	}
}

// TestBuiltInDefaults runs with no config at all in an empty directory, as a
// first-time user does: data in ./thecure-data, HTTP on :8080, the
// self-signed certificate created once and kept.
func TestBuiltInDefaults(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "run")
	p.waitLine(t, `config="built-in defaults"`)
	p.waitLine(t, `thecure is running`)
	var h healthz
	if code := getJSON(t, "http://127.0.0.1:8080/healthz", &h); code != 200 {
		t.Fatalf("healthz on :8080: %d", code)
	}
	cert := filepath.Join(dir, "thecure-data", "tls", "selfsigned.crt")
	first, err := os.ReadFile(cert)
	if err != nil {
		t.Fatalf("self-signed certificate: %v", err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d", code)
	}
	p = start(t, dir, "run")
	p.waitLine(t, `thecure is running`)
	second, _ := os.ReadFile(cert)
	if !bytes.Equal(first, second) {
		t.Error("the self-signed certificate changed across restarts")
	}
	if strings.Contains(p.output(), "created a self-signed") {
		t.Error("a second start created the certificate again")
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	p.wait(t, 20*time.Second)
}

func TestSecondApplianceOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	p := start(t, dir, "run", "-c", cfg)
	p.waitLine(t, `thecure is running`)
	startedAt := time.Now()
	_, errOut, code := runCmd(t, dir, "run", "-c", cfg)
	took := time.Since(startedAt)
	if code != 1 {
		t.Fatalf("second appliance: exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "another thecure is using data dir "+filepath.Join(dir, "data")) {
		t.Errorf("second appliance's last line: %q", last)
	}
	t.Logf("second appliance refused in %s", took)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Errorf("first appliance exit %d", code)
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	data, _ := os.ReadFile(cfg)
	data = bytes.Replace(data, []byte(`[http]
listen = "127.0.0.1:0"`), []byte(`[http]
listen = "`+ln.Addr().String()+`"`), 1)
	os.WriteFile(cfg, data, 0o644)
	_, errOut, code := runCmd(t, dir, "run", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "cannot listen on "+ln.Addr().String()+" (http.listen): address already in use") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if strings.Contains(errOut, "thecure is running") {
		t.Error("services started despite the port clash")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "control.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	root, _ := filepath.Abs("..")
	out, errOut, code := runCmd(t, root, "check-config", "-c", "config.toml.example")
	if code != 0 || out != "ok: config.toml.example\n" || errOut != "" {
		t.Errorf("example: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runCmd(t, root, "check-config", "-c", "testdata/config/acceptance.toml")
	want := `testdata/config/acceptance.toml:3: shutdown_timeout: invalid duration "ten seconds" (write e.g. "10s", "5m", "12h", "7d")
testdata/config/acceptance.toml:6: http.listne: unknown key (did you mean "listen"?)
testdata/config/acceptance.toml:10: ftp.passive_ports: inverted range 50100-50000: the first port must not be above the last
`
	if code != 1 || out != "" || errOut != want {
		t.Errorf("broken config: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
	// run refuses the same file with the same lines and starts nothing.
	_, errOut, code = runCmd(t, root, "run", "-c", "testdata/config/acceptance.toml")
	if code != 1 || errOut != want {
		t.Errorf("run with a broken config: exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat("/tmp/thecure-test"); err == nil {
		t.Error("run created the data dir of a broken config")
	}
	// Without -c and no ./config.toml: the built-in defaults.
	dir := t.TempDir()
	if out, _, code := runCmd(t, dir, "check-config"); code != 0 || out != "ok: built-in defaults\n" {
		t.Errorf("defaults: exit %d, %q", code, out)
	}
	// Without -c, ./config.toml is read.
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte("bogus = 1\n"), 0o644)
	if _, errOut, code := runCmd(t, dir, "check-config"); code != 1 || errOut != "config.toml:1: bogus: unknown key\n" {
		t.Errorf("./config.toml: exit %d, %q", code, errOut)
	}
}

func TestHelpAndVersion(t *testing.T) {
	dir := t.TempDir()
	out, _, code := runCmd(t, dir, "version")
	if code != 0 || !regexp.MustCompile(`^thecure test-1\.2\.3 \(commit abc1234, go1\.\d+`).MatchString(out) {
		t.Errorf("version: %d %q", code, out)
	}
	out, _, code = runCmd(t, dir, "help")
	if code != 0 || !strings.Contains(out, "check-config") {
		t.Errorf("help: %d %q", code, out)
	}
	// Every command's help: -h, --help and `help CMD` print the same, on
	// stdout, exit 0; -c is offered exactly by the commands that read a config.
	model, err := cli.Model()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range model.Leaves(true) {
		path := strings.Fields(n.FullPath())[1:]
		h, errOut, code := runCmd(t, dir, append(path, "-h")...)
		if code != 0 || errOut != "" || !strings.HasPrefix(h, "Usage: thecure "+strings.Join(path, " ")) {
			t.Errorf("%v -h: exit %d, stdout %q, stderr %q", path, code, h, errOut)
		}
		long, _, _ := runCmd(t, dir, append(path, "--help")...)
		viaHelp, _, _ := runCmd(t, dir, append([]string{"help"}, path...)...)
		if long != h || viaHelp != h {
			t.Errorf("%v: -h, --help and help CMD differ:\n%s\n---\n%s\n---\n%s", path, h, long, viaHelp)
		}
		readsConfig := !slices.Contains([]string{"version", "help"}, path[0])
		if got := strings.Contains(h, "--config=FILE"); got != readsConfig {
			t.Errorf("%v -h offers -c: %v, want %v", path, got, readsConfig)
		}
		if !strings.Contains(h, "Example") {
			t.Errorf("%v -h has no example", path)
		}
	}
	// `help help` and `help -h` are help too, not an unknown command.
	for _, args := range [][]string{{"help", "help"}, {"help", "-h"}} {
		if out, errOut, code := runCmd(t, dir, args...); code != 0 || !strings.HasPrefix(out, "Usage: thecure help") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
	}
	// The help of a command with subcommands lists them and its examples.
	for args, want := range map[string]string{
		"help user": "user passwd", "help bot": "bot tickets", "user add -h": "--group=G1,G2",
		"bot log -h": "--since=DURATION", "backup verify -h": "--s3", "help backup": "thecure backup verify latest",
	} {
		if out, errOut, code := runCmd(t, dir, strings.Fields(args)...); code != 0 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, stdout %q (want %q in it), stderr %q", args, code, out, want, errOut)
		}
	}
	if _, errOut, code := runCmd(t, dir, "frobnicate"); code != 2 || !strings.HasPrefix(errOut, `thecure: unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
}

func TestBinaryIsStatic(t *testing.T) {
	out, err := exec.Command("file", thecureBin).Output()
	if err != nil {
		t.Fatalf("file: %v", err)
	}
	if !bytes.Contains(out, []byte("statically linked")) {
		t.Errorf("file says: %s", out)
	}
}

// TestFailingServiceStopsTheRest runs the supervisor with one service that
// fails: the others must be stopped and the error returned.
func TestFailingServiceStopsTheRest(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	l, err := loadConfigFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(l, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	a.add(service{name: "doomed", run: func(ctx context.Context, _ []net.Listener) error {
		return errors.New("disk on fire")
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = a.run(ctx)
	if err == nil || !strings.Contains(err.Error(), "doomed: disk on fire") {
		t.Fatalf("run = %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("run returned only at the test's timeout")
	}
	for _, s := range a.health.Snapshot() {
		want := "stopped"
		if s.Name == "doomed" {
			want = "failed"
		}
		if string(s.State) != want {
			t.Errorf("%s is %s, want %s", s.Name, s.State, want)
		}
	}
}
