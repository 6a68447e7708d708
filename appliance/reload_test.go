package appliance

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"thecure/appliance/config"
)

func TestChangedKeys(t *testing.T) {
	a, b := config.Default(), config.Default()
	if got := changedKeys(a, b); len(got) != 0 {
		t.Errorf("defaults against defaults: %v", got)
	}
	b.Log.Level = "debug"
	b.HTTP.Listen = ":9999"
	b.RTMP.Streams = map[string]config.RTMPStream{"studio": {Key: "k"}}
	b.FTP.Folders[0].WriteGroups = []string{"admin"}
	got := changedKeys(a, b)
	want := []string{"log.level", "http.listen", "ftp.folders", "rtmp.streams"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("changed keys %v, want %v", got, want)
	}
	copyKey(b, a, "http.listen")
	if b.HTTP.Listen != a.HTTP.Listen {
		t.Errorf("copyKey: http.listen %q", b.HTTP.Listen)
	}
	for key, want := range map[string]bool{"rtmp.streams": true, "rtmp.streams.studio": true, "rtmp.streamsx": false, "ftp.folders[1].name": true, "log": false} {
		if got := coveredBy(key, []string{"rtmp.streams", "ftp.folders", "log.level"}); got != want {
			t.Errorf("coveredBy(%s) = %v", key, got)
		}
	}
}

// TestReloadOnSIGHUP: SIGHUP applies what can change live (the log level
// here: debug request lines appear), names what needs a restart, and a file
// with problems is refused, each problem logged, the appliance running on.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	p := start(t, dir, "run", "-c", cfg)
	addr := p.waitLine(t, `msg=listening svc=http key=http.listen addr=(\S+)`)[1]
	p.waitLine(t, `thecure is running`)
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}

	edited := strings.Replace(string(orig), "[http]\n", "[log]\nlevel = \"debug\"\n[http]\n", 1)
	edited = strings.Replace(edited, "[ftp]\n", "[ftp]\nmax_clients = 7\n", 1)
	edited += "require_key = true\n[rtmp.streams.studio]\nkey = \"s3cret\"\n"
	if err := os.WriteFile(cfg, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	m := p.waitLine(t, `msg="configuration reloaded" applied="([^"]*)"`)
	for _, k := range []string{"log.level", "rtmp.require_key", "rtmp.streams"} {
		if !strings.Contains(m[1], k) {
			t.Errorf("applied %q lacks %s", m[1], k)
		}
	}
	if m := p.waitLine(t, `take effect only after a restart.* keys=(\S+)`); m[1] != "ftp.max_clients" {
		t.Errorf("restart keys %q, want ftp.max_clients", m[1])
	}
	// The new level is in force: request lines are logged at debug.
	if code := getJSON(t, "http://"+addr+"/healthz", nil); code != 200 {
		t.Errorf("/healthz after the reload: %d", code)
	}
	p.waitLine(t, `level=DEBUG msg=request .*method=GET path=/healthz`)

	// A bad file: every problem logged, the old config kept.
	bad := strings.Replace(edited, "level = \"debug\"", "level = \"loud\"", 1) + "[nosuch]\nkey = 1\n"
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLine(t, `reload refused: .*log\.level`)
	p.waitLine(t, `reload refused; thecure runs on with the configuration it had`)
	if !strings.Contains(p.output(), "nosuch") {
		t.Errorf("not every problem was logged:\n%s", p.output())
	}
	if code := getJSON(t, "http://"+addr+"/readyz", nil); code != 200 {
		t.Errorf("/readyz after a refused reload: %d", code)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
