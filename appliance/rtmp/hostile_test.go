package rtmp_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/yutopp/go-rtmp/handshake"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
)

// The attacks of issue 13 as raw RTMP clients: sockets from chosen
// 127.0.0.x source addresses (Linux routes all of 127/8 on loopback), bytes
// written by hand.

// dialFrom opens a TCP connection to addr from source address src. rcvbuf,
// when positive, shrinks the socket's receive buffer (set before connect).
func dialFrom(t testing.TB, src, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	return c
}

// clientHandshake does the client side of the RTMP handshake.
func clientHandshake(c net.Conn) error {
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if err := handshake.HandshakeWithServer(bufio.NewReader(c), c, &handshake.Config{}); err != nil {
		return err
	}
	return c.SetDeadline(time.Time{})
}

// chunked frames body as one message on chunk stream csid in 128-byte chunks.
func chunked(csid byte, typ byte, streamID uint32, body []byte) []byte {
	b := []byte{csid, 0, 0, 0, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body)), typ}
	b = binary.LittleEndian.AppendUint32(b, streamID)
	for i := 0; i < len(body); i += 128 {
		if i > 0 {
			b = append(b, 0xc0|csid)
		}
		b = append(b, body[i:min(i+128, len(body))]...)
	}
	return b
}

func amfNull() []byte { return []byte{0x05} }

// amfObject encodes string-valued properties as an AMF0 object.
func amfObject(kv ...string) []byte {
	b := []byte{0x03}
	for i := 0; i+1 < len(kv); i += 2 {
		b = binary.BigEndian.AppendUint16(b, uint16(len(kv[i])))
		b = append(b, kv[i]...)
		b = append(b, amfString(kv[i+1])...)
	}
	return append(b, 0, 0, 9)
}

func connectMsg(app string) []byte {
	body := append(amfString("connect"), amfNumber(1)...)
	body = append(body, amfObject("app", app, "tcUrl", "rtmp://127.0.0.1/"+app)...)
	return chunked(3, 20, 0, body)
}

// playMsgs is createStream, then play of name on the stream it creates (1).
func playMsgs(name string) []byte {
	body := append(amfString("createStream"), amfNumber(2)...)
	b := chunked(3, 20, 0, append(body, amfNull()...))
	body = append(amfString("play"), amfNumber(0)...)
	body = append(append(body, amfNull()...), amfString(name)...)
	if len(name) > 0xffff { // AMF0 long string
		body = body[:len(body)-3-len(name)]
		body = append(body, 0x0c)
		body = binary.BigEndian.AppendUint32(body, uint32(len(name)))
		body = append(body, name...)
	}
	return append(b, chunked(8, 20, 1, body)...)
}

// winAck is a Window Acknowledgement Size message: what an idle client
// sends to look alive.
func winAck() []byte {
	return chunked(2, 5, 0, binary.BigEndian.AppendUint32(nil, 2500000))
}

// closedWithin reads (discarding) until the server closes c; it returns
// how long that took, or fails after limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(limit)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection from %s still open after %s", c.LocalAddr(), limit)
	}
	return time.Since(start)
}

// Issue 13, case 1: a client announcing 16 MiB messages on every chunk
// stream it may open, before connect, is dropped after a bounded number of
// bytes; the same on two connections at once; the server still serves.
func TestChunkFloodBounded(t *testing.T) {
	e := start(t, func(c *config.Config) { c.RTMP.HandshakeTimeout = config.Duration(60 * time.Second) })
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	flood := func(src string) (sent int64, took time.Duration) {
		c := dialFrom(t, src, e.rtmpAddr, 0)
		defer c.Close()
		if err := clientHandshake(c); err != nil {
			t.Errorf("handshake: %v", err)
			return
		}
		// chunk size 16 MiB, then a 0xffffff-byte video message opened on
		// each of 61 chunk streams, 1 MiB of each sent
		msg := chunked(2, 1, 0, binary.BigEndian.AppendUint32(nil, 0xffffff))
		start := time.Now()
		_ = c.SetWriteDeadline(start.Add(30 * time.Second))
		if n, err := c.Write(msg); err != nil {
			return int64(n), time.Since(start)
		}
		data := make([]byte, 1<<20)
		for csid := byte(3); csid < 64; csid++ {
			hdr := []byte{csid, 0, 0, 0, 0xff, 0xff, 0xff, 9, 0, 0, 0, 0}
			n, err := c.Write(append(hdr, data...))
			sent += int64(n)
			if err != nil {
				return sent, time.Since(start)
			}
		}
		closedWithin(t, c, 30*time.Second)
		return sent, time.Since(start)
	}
	var wg sync.WaitGroup
	for _, src := range []string{"127.0.0.2", "127.0.0.3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, took := flood(src)
			t.Logf("flood from %s: dropped after %d bytes written (kernel buffers included) in %s", src, sent, took.Round(time.Millisecond))
			if sent >= 61<<20 {
				t.Errorf("flood from %s: all %d bytes written without being dropped", src, sent)
			}
		}()
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("heap in use: %.1f MiB before, %.1f MiB after two floods (peak heap %.1f MiB)",
		float64(before.HeapInuse)/(1<<20), float64(after.HeapInuse)/(1<<20), float64(after.HeapSys)/(1<<20))
	if got := counterValue(t, e, "thecure_rtmp_refused_total", "limit"); got != 2 {
		t.Errorf("refused{limit} = %v, want 2\n%s", got, e.logs)
	}
	if !strings.Contains(e.logs.String(), "over the limit") {
		t.Errorf("the limit is not in the log:\n%s", e.logs)
	}

	// one message over the command limit is refused from its header alone
	c := dialFrom(t, "127.0.0.4", e.rtmpAddr, 0)
	defer c.Close()
	if err := clientHandshake(c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte{3, 0, 0, 0, 0x10, 0, 0, 20, 0, 0, 0, 0}); err != nil { // 1 MiB command
		t.Fatal(err)
	}
	closedWithin(t, c, 10*time.Second)
	if !strings.Contains(e.logs.String(), "message of 1048576 bytes is over the limit of 65536") {
		t.Errorf("the message limit is not in the log:\n%s", e.logs)
	}

	publish(t, e.url("after"), 8)
	apptest.WaitFor(t, 30*time.Second, "a publisher after the floods", func() bool { return e.hub.Live("after") })
}

// Issue 13, case 9: a handshake with version byte 6 (RTMPE) is refused;
// version 3 is answered.
func TestHandshakeVersion(t *testing.T) {
	e := start(t, nil)
	for _, v := range []byte{6, 3} {
		c := dialFrom(t, "127.0.0.1", e.rtmpAddr, 0)
		c1 := make([]byte, 1+1536)
		c1[0] = v
		if _, err := c.Write(c1); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 1)
		_, err := io.ReadFull(c, b)
		switch {
		case v == 6 && err == nil:
			t.Errorf("version 6 answered with S0 = %d", b[0])
		case v == 3 && (err != nil || b[0] != 3):
			t.Errorf("version 3: S0 = %v, %v", b, err)
		}
		c.Close()
	}
	if got := counterValue(t, e, "thecure_rtmp_refused_total", "handshake"); got != 1 {
		t.Errorf("refused{handshake} = %v, want 1", got)
	}
	if !strings.Contains(e.logs.String(), "RTMP version 6 is not supported") {
		t.Errorf("the refusal is not logged:\n%s", e.logs)
	}
}

// Issue 13, case 2: one address may hold max_connections_per_address
// connections; others are refused at accept, other addresses are not
// affected, and a closed connection frees its slot.
func TestPerAddressLimit(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.RTMP.MaxConnectionsPerAddress = 4
		c.RTMP.HandshakeTimeout = config.Duration(60 * time.Second)
	})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range 6 {
		c := dialFrom(t, "127.0.0.2", e.rtmpAddr, 0)
		err := clientHandshake(c)
		switch {
		case i < 4 && err != nil:
			t.Fatalf("connection %d from 127.0.0.2: %v", i, err)
		case i >= 4 && err == nil:
			t.Fatalf("connection %d from 127.0.0.2 was served past the limit of 4", i)
		}
		held = append(held, c)
	}
	if got := counterValue(t, e, "thecure_rtmp_refused_total", "address_connections"); got != 2 {
		t.Errorf("refused{address_connections} = %v, want 2", got)
	}
	// one line for both refusals from the address
	if n := strings.Count(e.logs.String(), "too many connections from this address"); n != 1 {
		t.Errorf("%d refusal lines, want 1:\n%s", n, e.logs)
	}
	other := dialFrom(t, "127.0.0.3", e.rtmpAddr, 0)
	defer other.Close()
	if err := clientHandshake(other); err != nil {
		t.Fatalf("another address: %v", err)
	}
	held[0].Close()
	apptest.WaitFor(t, 10*time.Second, "a slot freed for 127.0.0.2", func() bool {
		c := dialFrom(t, "127.0.0.2", e.rtmpAddr, 0)
		if clientHandshake(c) != nil {
			c.Close()
			return false
		}
		held = append(held, c)
		return true
	})
}

// Issue 13, case 2: silent clients, clients dripping handshake bytes and
// clients that connect and then only send a Window Ack now and then are
// all closed once handshake_timeout has passed since they connected.
func TestConnectDeadline(t *testing.T) {
	e := start(t, func(c *config.Config) { c.RTMP.HandshakeTimeout = config.Duration(2 * time.Second) })
	type client struct {
		what string
		c    net.Conn
	}
	var clients []client
	silent := dialFrom(t, "127.0.0.2", e.rtmpAddr, 0)
	clients = append(clients, client{"silent", silent})

	drip := dialFrom(t, "127.0.0.3", e.rtmpAddr, 0)
	clients = append(clients, client{"dripping the handshake", drip})
	go func() {
		for i := 0; i < 40; i++ {
			if _, err := drip.Write([]byte{3}); err != nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()

	idle := dialFrom(t, "127.0.0.4", e.rtmpAddr, 0)
	if err := clientHandshake(idle); err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Write(connectMsg("live")); err != nil {
		t.Fatal(err)
	}
	clients = append(clients, client{"connected, sending Window Acks", idle})
	go func() {
		for i := 0; i < 40; i++ {
			if _, err := idle.Write(winAck()); err != nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	for _, c := range clients {
		took := closedWithin(t, c.c, 20*time.Second)
		t.Logf("%s: closed after %s", c.what, took.Round(100*time.Millisecond))
		c.c.Close()
	}
	if got := counterValue(t, e, "thecure_rtmp_refused_total", "timeout"); got != 3 {
		t.Errorf("refused{timeout} = %v, want 3\n%s", got, e.logs)
	}
}

// Issue 13, case 2: idle sessions from many addresses, each address at its
// limit and the server at max_connections for players, do not lock out a
// publisher: the last slots are kept for addresses that may publish.
func TestIdleSessionsDoNotLockOutPublisher(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.RTMP.MaxConnections = 40
		c.RTMP.MaxConnectionsPerAddress = 4
		c.RTMP.HandshakeTimeout = config.Duration(60 * time.Second)
		c.RTMP.AllowPublish = []string{"127.0.0.1/32"}
		c.RTMP.AllowPlay = []string{"127.0.0.0/8"}
	})
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	served := 0
	for a := 1; a <= 20; a++ {
		for range 5 {
			c := dialFrom(t, fmt.Sprintf("127.0.1.%d", a), e.rtmpAddr, 0)
			idle = append(idle, c)
			if clientHandshake(c) != nil {
				continue
			}
			served++
			if _, err := c.Write(append(connectMsg("live"), winAck()...)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d of 100 idle sessions served (max_connections 40, 4 per address, 8 kept for publishers)", served)
	if served != 32 {
		t.Errorf("%d idle sessions served, want 32", served)
	}
	pub := publish(t, e.url("cam1"), 8)
	apptest.WaitFor(t, 30*time.Second, "the publisher to be live beside the idle sessions", func() bool { return e.hub.Live("cam1") })
	if err := pub.wait(t, 60*time.Second); err != nil {
		t.Errorf("publisher: %v\n%s", err, pub.stderr)
	}
}

// Issue 13, case 8: names from clients are clipped in the log, and
// repeated refusals from one address make one line.
func TestLogValuesClipped(t *testing.T) {
	e := start(t, nil)
	long := strings.Repeat("x", 30000)
	for range 3 {
		c := dialFrom(t, "127.0.0.2", e.rtmpAddr, 0)
		if err := clientHandshake(c); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(append(connectMsg("live"), playMsgs(long)...)); err != nil {
			t.Fatal(err)
		}
		closedWithin(t, c, 10*time.Second)
		c.Close()
	}
	// 70,000 characters: over the command size limit, dropped unread
	c := dialFrom(t, "127.0.0.3", e.rtmpAddr, 0)
	if err := clientHandshake(c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append(connectMsg("live"), playMsgs(strings.Repeat("y", 70000))...)); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, c, 10*time.Second)
	c.Close()
	if got := counterValue(t, e, "thecure_rtmp_refused_total", "not_live"); got != 3 {
		t.Errorf("refused{not_live} = %v, want 3", got)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "stream is not live"); n != 1 {
		t.Errorf("%d lines for 3 refusals from one address, want 1", n)
	}
	longest := 0
	for _, l := range strings.Split(logs, "\n") {
		longest = max(longest, len(l))
	}
	t.Logf("longest log line: %d bytes (names of 30,000 and 70,000 characters)", longest)
	if longest > 1000 || !strings.Contains(logs, strings.Repeat("x", 64)+"...") {
		t.Errorf("log lines of up to %d bytes, or the name not clipped:\n%.3000s", longest, logs)
	}
}

// Issue 13, case 9: H.264 High 4:4:4 (which browsers do not play) is
// refused with the reason, as HEVC is.
func TestHigh444Refused(t *testing.T) {
	e := start(t, nil)
	pub := publish(t, e.url("cam444"), 5, "-pix_fmt", "yuv444p", "-profile:v", "high444")
	if err := pub.wait(t, 30*time.Second); err == nil {
		t.Error("a High 4:4:4 publisher was accepted")
	}
	if e.hub.Live("cam444") {
		t.Error("the High 4:4:4 stream is live")
	}
	if !strings.Contains(e.logs.String(), "H.264 High 4:4:4 Predictive profile is not supported") {
		t.Errorf("no reason in the log:\n%s", e.logs)
	}
	if got := counterValue(t, e, "thecure_rtmp_refused_total", "media"); got != 1 {
		t.Errorf("refused{media} = %v, want 1", got)
	}
}

// Issue 13, case 9: a player that stops reading is dropped when a write to
// it times out (its queue is far from full) and counted in
// thecure_rtmp_dropped_players_total.
func TestStalledPlayerCounted(t *testing.T) {
	e := start(t, func(c *config.Config) { c.RTMP.WriteTimeout = config.Duration(2 * time.Second) })
	publish(t, e.url("cam1"), 60, "-b:v", "2M", "-minrate", "2M", "-maxrate", "2M", "-bufsize", "1M", "-x264-params", "nal-hrd=cbr")
	apptest.WaitFor(t, 30*time.Second, "the stream to be live", func() bool { return e.hub.Live("cam1") })
	c := dialFrom(t, "127.0.0.2", e.rtmpAddr, 4096)
	defer c.Close()
	if err := clientHandshake(c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append(connectMsg("live"), playMsgs("cam1")...)); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 10*time.Second, "the player", func() bool {
		ss := e.streams(t)
		return len(ss) == 1 && ss[0].Players == 1
	})
	// it never reads
	apptest.WaitFor(t, 30*time.Second, "the stalled player to be dropped and counted", func() bool {
		return counterValue(t, e, "thecure_rtmp_dropped_players_total", "") == 1
	})
	apptest.WaitFor(t, 10*time.Second, "the dropped player to leave the stream", func() bool {
		ss := e.streams(t)
		return len(ss) == 1 && ss[0].Players == 0
	})
}

func counterValue(t *testing.T, e *env, name, label string) float64 {
	t.Helper()
	return testutil.ToFloat64(mustCounter(t, e.reg, name, label))
}
