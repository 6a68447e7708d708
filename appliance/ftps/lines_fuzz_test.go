package ftps

import (
	"bufio"
	"bytes"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"thecure/appliance/config"
)

var replyLine = regexp.MustCompile(`^[1-5][0-9][0-9][ -]`)

// FuzzControlLines feeds arbitrary bytes to a control connection before
// login and checks the line handling: every reply is a well-formed reply
// line, no more replies come than the banner plus one per complete line
// sent (a partial line is never run as a command), and the server ends the
// connection within its deadlines once the client stops.
func FuzzControlLines(f *testing.F) {
	for _, seed := range []string{
		"NOOP\r\n", "NOOP", "NO", "FEAT\r\nSYST\r\nNOOP\r\n", "USER a\r\nPASS b\r\n",
		"\r\n\r\n\n", "X" + strings.Repeat("A", 5000) + "\r\n", "NOOP\rNOOP\n", "QUIT\r\nNOOP\r\n",
		"STAT\r\nHELP\r\nOPTS UTF8 ON\r\nPWD\r\n", "\x00\xff\xfe\r\n", "AUTH TLS\r\n\x16\x03\x01\x00\x05hello",
		"USER \u202euser\r\nPASS x\r\n", "ABOR\r\nSTAT /\r\n",
	} {
		f.Add([]byte(seed))
	}
	e := start(f, func(o *Options) {
		o.FTP.RequireTLS = false
		o.FTP.BanAfter = 0
		o.FTP.MaxPerIP = 0
		o.FTP.LoginTimeout = config.Duration(3 * time.Second)
		o.FTP.IdleTimeout = config.Duration(2 * time.Second)
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		if _, err := c.Write(in); err != nil {
			return // the server may close early (QUIT, a line too long)
		}
		// The client stops: what it sent last may be a partial line.
		_ = c.(*net.TCPConn).CloseWrite()
		var replies []string
		sc := bufio.NewScanner(c)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			replies = append(replies, sc.Text())
		}
		if err := sc.Err(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open %v after the client stopped (login_timeout 3s)", time.Since(start))
			}
		}
		lines := bytes.Count(in, []byte("\n"))
		final := 0
		for _, r := range replies {
			if !replyLine.MatchString(r) && !strings.HasPrefix(r, " ") {
				t.Fatalf("malformed reply line %q to %q", r, in)
			}
			if replyLine.MatchString(r) && r[3] == ' ' {
				final++
			}
		}
		// banner + one per line + a closing 421 (timeout)
		if final > 1+lines+1 {
			t.Fatalf("%d replies to %d lines: %q", final, lines, replies)
		}
		if lines == 0 && final > 2 {
			t.Fatalf("a partial line was answered: %q -> %q", in, replies)
		}
	})
}
