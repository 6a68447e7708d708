package appliance

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
