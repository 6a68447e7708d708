package dns

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkQueryUDP measures the whole UDP query path on loopback (one
// client socket, 32 queries in flight): miekg/dns's server loop, the
// handler and the reply. .ci/bench-dns compares it with NSD.
func BenchmarkQueryUDP(b *testing.B) {
	ts := startServer(b, "[dns.rrl]\nresponses_per_second = 0\n"+zoneRecords)
	c, err := net.Dial("udp", ts.udp)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var qs [][]byte
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.innovatetech.test.", dns.TypeA}, {"nope.innovatetech.test.", dns.TypeA}, {zoneName, dns.TypeMX}, {"chain.innovatetech.test.", dns.TypeA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		p, err := m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		qs = append(qs, p)
	}
	const window = 32
	buf := make([]byte, 4096)
	b.ResetTimer()
	sent, got := 0, 0
	for got < b.N {
		for sent < b.N && sent-got < window {
			if _, err := c.Write(qs[sent%len(qs)]); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf); err != nil {
			b.Fatalf("after %d answers: %v", got, err)
		}
		got++
	}
}

// BenchmarkHandleUDP is the work per UDP query without the sockets: header
// check, unpack, answer, pack (www A, EDNS).
func BenchmarkHandleUDP(b *testing.B) {
	ts := newServer(b, testConfig(b, "[dns.rrl]\nresponses_per_second = 0\n"+zoneRecords), "", nil)
	m := new(dns.Msg)
	m.SetQuestion("www.innovatetech.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	q, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	a := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	buf := make([]byte, udpSize)
	b.ReportAllocs()
	for b.Loop() {
		if ts.srv.handleUDP(q, a, buf[:0], time.Now()) == nil {
			b.Fatal("no reply")
		}
	}
}
