package rtmp_test

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"math"
	"net"
	"testing"
	"time"

	"github.com/yutopp/go-rtmp/handshake"

	"thecure/appliance/apptest"
)

// dialHandshaked opens an RTMP connection and completes the handshake.
func dialHandshaked(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := handshake.HandshakeWithServer(bufio.NewReader(c), c, &handshake.Config{}); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return c
}

// sendUntilDropped sends msg after a handshake and reads until the server
// drops the connection (or the 20 s deadline passes).
func sendUntilDropped(t *testing.T, addr string, msg []byte) {
	t.Helper()
	c := dialHandshaked(t, addr)
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// command is an AMF0 command message on chunk stream 3, in 128-byte chunks.
func command(body []byte) []byte {
	b := []byte{0x03, 0, 0, 0}
	b = append(b, byte(len(body)>>16), byte(len(body)>>8), byte(len(body)))
	b = append(b, 20, 0, 0, 0, 0)
	for i := 0; i < len(body); i += 128 {
		if i > 0 {
			b = append(b, 0xc3) // continuation chunk, same stream
		}
		b = append(b, body[i:min(i+128, len(body))]...)
	}
	return b
}

func amfString(s string) []byte {
	return append([]byte{0x02, byte(len(s) >> 8), byte(len(s))}, s...)
}

func amfNumber(f float64) []byte {
	return binary.BigEndian.AppendUint64([]byte{0x00}, math.Float64bits(f))
}

// Garbage, a hostile AMF0 array length and a silent client are dropped;
// the server still serves publishers afterwards.
func TestGarbageAndHostileClients(t *testing.T) {
	e := start(t, nil)

	// a connect command claiming an AMF0 strict array of 2^31-1 elements
	body := append(amfString("connect"), amfNumber(1)...)
	body = append(body, 0x0a, 0x7f, 0xff, 0xff, 0xff)
	sendUntilDropped(t, e.rtmpAddr, command(body))

	// the same in an unknown data message (decoded into interface{} values)
	body = append(amfString("foo"), 0x0a, 0x7f, 0xff, 0xff, 0xff)
	msg := command(body)
	msg[7] = 18 // AMF0 data message
	sendUntilDropped(t, e.rtmpAddr, msg)

	// values nested 100000 deep
	body = amfString("foo")
	for range 100000 {
		body = append(body, 0x0a, 0, 0, 0, 1)
	}
	msg = command(body)
	msg[7] = 18
	sendUntilDropped(t, e.rtmpAddr, msg)

	// random bytes instead of a handshake, and after a handshake
	for range 3 {
		c, err := net.Dial("tcp", e.rtmpAddr)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 8192)
		_, _ = rand.Read(junk)
		_, _ = c.Write(junk)
		c.Close()
		c = dialHandshaked(t, e.rtmpAddr)
		_, _ = c.Write(junk)
		c.Close()
	}

	publish(t, e.url("after"), 8)
	apptest.WaitFor(t, 30*time.Second, "a publisher after the garbage", func() bool { return e.hub.Live("after") })
}
