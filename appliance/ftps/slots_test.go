package ftps

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"thecure/appliance/config"
)

// dialFrom opens a TCP connection to addr from the loopback address src
// (127.0.0.x: Linux routes the whole 127/8 on lo).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads from c until it is closed by the server, and says how
// long that took (or fails after limit).
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

// Issue 13, case 3: 50 silent connections from 20 addresses do not keep a
// user from logging in, and each silent one is closed at login_timeout.
func TestSilentConnectionsDoNotLockOut(t *testing.T) {
	e := start(t, func(o *Options) {
		o.FTP.MaxStartups = 32
		o.FTP.MaxPerIP = 10
		o.FTP.LoginTimeout = config.Duration(20 * time.Second)
	})
	var silent []net.Conn
	for i := range 50 {
		silent = append(silent, dialFrom(t, fmt.Sprintf("127.0.0.%d", 2+i%20), e.addr))
	}
	// Let the server accept them all (each gets its 220 banner, or is closed).
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	c, err := e.dial(uploader, pw(uploader))
	if err != nil {
		t.Fatalf("a user could not log in past 50 silent connections: %v", err)
	}
	loginTook := time.Since(start)
	if err := c.NoOp(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	evicted := e.counter("thecure_ftp_connections_refused_total", "reason", "evicted")
	refused := e.counter("thecure_ftp_connections_refused_total", "reason", "max_startups")
	e.srv.mu.Lock()
	startups, perIP := len(e.srv.startups), 0
	for _, n := range e.srv.startupsPerIP {
		perIP = max(perIP, n)
	}
	e.srv.mu.Unlock()
	t.Logf("50 silent connections from 20 addresses: %d evicted, %d refused, %d startups held (max_startups 32, at most %d per address); user logged in in %v",
		int(evicted), int(refused), startups, perIP, loginTook.Round(time.Millisecond))
	if startups > 32 || int(evicted+refused) < 50-32 {
		t.Fatalf("%d startups held, %v evicted, %v refused", startups, evicted, refused)
	}
	// The same holds when the user's own address has a silent one too (an
	// address that holds the most startups gets no more).
	dialFrom(t, "127.0.0.1", e.addr)
	time.Sleep(100 * time.Millisecond)
	if c, err := e.dial(viewer, pw(viewer)); err != nil {
		t.Fatalf("login with silent connections on the user's address: %v", err)
	} else {
		c.Quit()
	}
	_ = silent
}

// login_timeout closes connections that do not log in, TLS or not, and a
// drip of bytes does not extend it.
func TestLoginTimeout(t *testing.T) {
	e := start(t, func(o *Options) {
		o.FTP.LoginTimeout = config.Duration(2 * time.Second)
		o.FTP.ImplicitListen = "127.0.0.1:0"
		o.FTP.MaxPerIP = 3
	})
	silent := dialFrom(t, "127.0.0.5", e.addr)
	took := closedWithin(t, silent, 10*time.Second)
	t.Logf("silent explicit connection closed after %v (login_timeout 2s)", took.Round(10*time.Millisecond))

	// Issue 13, case 4: implicit FTPS with no ClientHello.
	var impl []net.Conn
	for range 3 {
		impl = append(impl, dialFrom(t, "127.0.0.6", e.implAddr))
	}
	start := time.Now()
	for _, c := range impl {
		closedWithin(t, c, 10*time.Second)
	}
	t.Logf("3 silent implicit-FTPS connections (max_per_ip 3) closed after %v", time.Since(start).Round(10*time.Millisecond))
	// Their slots are free again: a fourth connection from that address is served.
	c := dialFrom(t, "127.0.0.6", e.implAddr)
	tc := tls.Client(c, e.tlsConfig())
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") {
		t.Fatalf("after the silent ones: %q, %v", line, err)
	}

	// A drip of bytes before login: closed at login_timeout all the same.
	d := dialFrom(t, "127.0.0.7", e.addr)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				if _, err := d.Write([]byte("N")); err != nil {
					return
				}
			}
		}
	})
	took = closedWithin(t, d, 10*time.Second)
	close(stop)
	wg.Wait()
	t.Logf("pre-login drip of 1 byte per 300ms closed after %v (login_timeout 2s)", took.Round(10*time.Millisecond))
}

// Issue 13, case 3: after login, a drip of bytes that never completes a
// line does not extend idle_timeout, and nothing of it is run as a command.
func TestDripDoesNotExtendIdle(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.IdleTimeout = config.Duration(2 * time.Second) })
	r := e.raw(uploader)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			time.Sleep(300 * time.Millisecond)
			if _, err := r.conn.Write([]byte{"NOOP"[i%4]}); err != nil {
				return
			}
		}
	}()
	_ = r.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var replies []string
	for {
		line, err := r.tp.ReadLine()
		if err != nil {
			break
		}
		replies = append(replies, line)
	}
	took := time.Since(start)
	<-done
	t.Logf("logged-in drip of 1 byte per 300ms: closed after %v (idle_timeout 2s); replies %q", took.Round(10*time.Millisecond), replies)
	if took > 6*time.Second {
		t.Fatalf("the drip kept the session open for %v", took)
	}
	for _, l := range replies {
		if !strings.HasPrefix(l, "421") {
			t.Fatalf("a partial line was answered as a command: %q", replies)
		}
	}
}

// Issue 13, case 4: a plain TCP connection to the passive port that sends
// nothing (no TLS handshake) fails the transfer within
// tls_handshake_timeout, and the session goes on.
func TestSilentPassiveDataConnection(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.TLSHandshakeTimeout = config.Duration(2 * time.Second) })
	r := e.raw(uploader)
	msg := r.cmd(229, "EPSV")
	i := strings.Index(msg, "(|||")
	port, _ := strconv.Atoi(strings.TrimSuffix(msg[i+4:], "|)"))
	dc := dialFrom(t, "127.0.0.1", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	start := time.Now()
	if err := r.tp.PrintfLine("STOR /pelis/silent.mkv"); err != nil {
		t.Fatal(err)
	}
	r.expect(150)
	_ = r.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	code, reply, err := r.tp.ReadResponse(0)
	took := time.Since(start)
	if code != 425 {
		t.Fatalf("silent data connection: %d %q %v, want 425", code, reply, err)
	}
	t.Logf("silent passive data connection: %d %q after %v (tls_handshake_timeout 2s)", code, reply, took.Round(10*time.Millisecond))
	r.cmd(200, "NOOP")
	_ = dc
	if strings.Contains(reply, e.media) {
		t.Fatalf("reply holds a server path: %q", reply)
	}
}

// Issue 13, case 8: refused connections give one log line per address per
// minute, with a count.
func TestRefusalsAreLoggedRateLimited(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.MaxPerIP = 1 })
	dialFrom(t, "127.0.0.9", e.addr) // holds the address's only slot
	time.Sleep(100 * time.Millisecond)
	for range 200 {
		c := dialFrom(t, "127.0.0.9", e.addr)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		if !strings.HasPrefix(line, "421") {
			t.Fatalf("refused connection answered %q", line)
		}
		c.Close()
	}
	lines := 0
	for l := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(l, "connections refused") && strings.Contains(l, "127.0.0.9") {
			lines++
		}
	}
	refused := e.counter("thecure_ftp_connections_refused_total", "reason", "max_per_ip")
	t.Logf("%v refused connections from one address: %d log line(s)", refused, lines)
	if refused != 200 || lines != 1 {
		t.Fatalf("refused %v, log lines %d; want 200 and 1", refused, lines)
	}
}

// Issue 13, case 8: a failed login logs whether the user exists, never
// what was typed for an unknown one; client values are quoted and cut.
func TestFailedLoginLogs(t *testing.T) {
	e := start(t, nil)
	typed := "correct-horse-battery-staple"
	if _, err := e.dial(typed, "x"); err == nil {
		t.Fatal("unknown user logged in")
	}
	if _, err := e.dial(uploader, "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	logs := e.logs.String()
	if strings.Contains(logs, typed) {
		t.Fatalf("the typed name of an unknown user is logged:\n%s", logs)
	}
	if !strings.Contains(logs, "user_exists=false") || !strings.Contains(logs, `user_exists=true user=uploader`) {
		t.Fatalf("login failures not logged as expected:\n%s", logs)
	}
}

// Issue 13, case 9: STAT of a directory lists entries without a "%s".
func TestStatDirectory(t *testing.T) {
	e := start(t, nil)
	c := e.login(uploader)
	if err := c.Stor("/pelis/a.mkv", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	r := e.raw(uploader)
	if err := r.tp.PrintfLine("STAT /pelis"); err != nil {
		t.Fatal(err)
	}
	_, msg, err := r.tp.ReadResponse(212)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("STAT /pelis:\n%s", msg)
	if strings.Contains(msg, "%s") || !strings.Contains(msg, "a.mkv") {
		t.Fatalf("STAT reply %q", msg)
	}
	if err := r.tp.PrintfLine("STAT /"); err != nil {
		t.Fatal(err)
	}
	if _, msg, err = r.tp.ReadResponse(212); err != nil || strings.Contains(msg, "%s") || !strings.Contains(msg, "pelis") {
		t.Fatalf("STAT / reply %q, %v", msg, err)
	}
}

// max_clients bounds logged-in sessions, not connections: a second user is
// refused at login while one is logged in, and gets in once it has left.
func TestMaxClientsCountsLoggedIn(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.MaxClients = 1 })
	silent := dialFrom(t, "127.0.0.3", e.addr) // not logged in: takes no session slot
	first, err := e.dial(uploader, pw(uploader))
	if err != nil {
		t.Fatalf("first login with a silent connection open: %v", err)
	}
	_, err = e.dial(viewer, pw(viewer))
	if err == nil || !strings.Contains(err.Error(), "too many users") {
		t.Fatalf("second login over max_clients: %v", err)
	}
	t.Logf("second login while max_clients=1 is taken: %v", err)
	first.Quit()
	time.Sleep(100 * time.Millisecond)
	c, err := e.dial(viewer, pw(viewer))
	if err != nil {
		t.Fatalf("login after the first session left: %v", err)
	}
	c.Quit()
	_ = silent
}
