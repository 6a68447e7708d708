package dns

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"thecure/appliance/config"
)

// TestRRL floods the running server from one UDP socket: responses beyond
// the rate come back truncated (one in slip) or not at all, and are counted;
// TCP answers regardless.
func TestRRL(t *testing.T) {
	ts := newServer(t, testConfig(t, "[dns.rrl]\nresponses_per_second = 5\nslip = 2\n"), "", nil)
	frozen := time.Now() // no bucket refills during the test, however slow the machine
	ts.srv.now = func() time.Time { return frozen }
	ts.serve(t)
	c, err := net.Dial("udp", ts.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 40
	for i := range sent {
		m := new(dns.Msg)
		m.SetQuestion("www.innovatetech.test.", dns.TypeA)
		m.Id = uint16(i + 1)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	full, truncated := 0, 0
	buf := make([]byte, 65535)
	for {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		in := new(dns.Msg)
		if err := in.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		switch {
		case in.Truncated && len(in.Answer) == 0:
			truncated++
		case len(in.Answer) == 1:
			full++
		default:
			t.Errorf("unexpected reply %v", in)
		}
	}
	if full != 5 {
		t.Errorf("%d full answers out of %d, want the burst of 5", full, sent)
	}
	limited := sent - full
	if truncated != limited/2 {
		t.Errorf("%d truncated of %d limited, want one in 2", truncated, limited)
	}
	dropped := ts.counter(t, "rrl", "dropped")
	slipped := ts.counter(t, "rrl", "slipped")
	if int(dropped+slipped) != limited || int(slipped) != truncated {
		t.Errorf("counted %v dropped + %v slipped, want %d limited, %d slipped", dropped, slipped, limited, truncated)
	}
	// TCP is never limited.
	if in := ask(t, ts.tcp, "tcp", "www.innovatetech.test.", dns.TypeA); len(in.Answer) != 1 {
		t.Errorf("TCP during the limit: %v", in)
	}
}

// TestRRLTable: clients are grouped by network; the table is bounded and
// idle networks are forgotten.
func TestRRLTable(t *testing.T) {
	r := newRRL(config.DNSRRL{ResponsesPerSecond: 1, Slip: 1, IPv4Prefix: 24, IPv6Prefix: 56})
	now := time.Now()
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.200") // same /24
	if r.check(a, now) != send || r.check(b, now) != slip {
		t.Error("two addresses of one /24 do not share a limit")
	}
	if r.check(netip.MustParseAddr("198.51.100.1"), now) != send {
		t.Error("another network is limited")
	}
	if r.check(netip.MustParseAddr("2001:db8:0:1::1"), now) != send || r.check(netip.MustParseAddr("2001:db8:0:2::1"), now) != slip {
		t.Error("IPv6 /56 not shared")
	}
	for i := range rrlMaxClients {
		r.check(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), now)
	}
	if len(r.clients) > rrlMaxClients {
		t.Errorf("table grew to %d", len(r.clients))
	}
	// A second later every bucket is full again: the sweep makes room.
	later := now.Add(2 * time.Second)
	if r.check(netip.MustParseAddr("203.0.113.1"), later) != send {
		t.Error("a new network is limited after the table was swept")
	}
	if len(r.clients) > 10 {
		t.Errorf("%d networks kept after the sweep", len(r.clients))
	}
	if newRRL(config.DNSRRL{}).check(a, now) != send {
		t.Error("responses_per_second = 0 limits")
	}
}
