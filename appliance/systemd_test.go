package appliance

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"thecure/appliance/health"
)

// TestSystemdNotify runs the appliance with NOTIFY_SOCKET and WATCHDOG_USEC
// as systemd sets them for Type=notify and WatchdogSec: READY=1 comes once
// every listener answers, then STATUS= lines and WATCHDOG=1 pings; a reload
// is framed by RELOADING=1 and READY=1; SIGINT brings STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000") // pings every 200 ms
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) string {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed before %q", want)
				}
				if strings.HasPrefix(m, want) {
					return m
				}
			case <-timeout:
				t.Fatalf("no %q on the notify socket", want)
			}
		}
	}
	cfg := writeConfig(t, dir, "")
	p := start(t, dir, "run", "-c", cfg)
	next("READY=1")
	// Every listener was bound before READY=1 was sent: it answers now.
	addr := p.waitLine(t, `msg=listening svc=http key=http.listen addr=(\S+)`)[1]
	if code := getJSON(t, "http://"+addr+"/readyz", nil); code != 200 {
		t.Errorf("/readyz right after READY=1: %d", code)
	}
	if st := next("STATUS="); !strings.Contains(st, "STATUS=ok; streams 0") || !strings.Contains(st, "uploads 0") || !strings.Contains(st, "queue 0 waiting") {
		t.Errorf("status line %q", st)
	}
	next("WATCHDOG=1")
	next("WATCHDOG=1")
	p.cmd.Process.Signal(syscall.SIGHUP)
	next("RELOADING=1")
	next("READY=1")
	p.cmd.Process.Signal(syscall.SIGINT)
	next("STOPPING=1")
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestAliveForWatchdog: the watchdog is fed only while the HTTP server
// answers its own /healthz in time and no service has stopped; a service
// down for an outside cause does not stop it.
func TestAliveForWatchdog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reg := health.NewRegistry()
	a := &app{health: reg, bound: map[string][]net.Listener{"http": {ln}}, probe: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	// A listener that accepts and never answers: a hung server.
	hung := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hung <- c
		}
	}()
	start := time.Now()
	if err := a.alive(context.Background(), 300*time.Millisecond); err == nil {
		t.Error("alive with a hung HTTP server")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the probe of a hung server took %s", took)
	}
	ln.Close()

	// A server that answers.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(ln2)
	defer srv.Close()
	a.bound["http"] = []net.Listener{ln2}
	reg.Set("http", health.Up, "")
	reg.Set("transcode", health.Down, "ffmpeg not found")
	if err := a.alive(context.Background(), 2*time.Second); err != nil {
		t.Errorf("alive with a down service and a serving HTTP server: %v", err)
	}
	reg.Set("rtmp", health.Failed, "accept: too many open files")
	if err := a.alive(context.Background(), 2*time.Second); err == nil || !strings.Contains(err.Error(), "rtmp") {
		t.Errorf("alive with a failed service: %v", err)
	}
}
