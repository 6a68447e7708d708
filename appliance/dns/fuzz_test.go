package dns

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fuzzWriter is the dns.ResponseWriter of one fuzzed query: it keeps what
// the handler writes.
type fuzzWriter struct {
	tcp bool
	out [][]byte
}

func (w *fuzzWriter) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *fuzzWriter) RemoteAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
}
func (w *fuzzWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	w.out = append(w.out, b)
	return nil
}
func (w *fuzzWriter) Write(b []byte) (int, error) { w.out = append(w.out, b); return len(b), nil }
func (w *fuzzWriter) Close() error                { return nil }
func (w *fuzzWriter) TsigStatus() error           { return nil }
func (w *fuzzWriter) TsigTimersOnly(bool)         {}
func (w *fuzzWriter) Hijack()                     {}

// FuzzQuery feeds raw packets through the query path on a signed zone that
// allows transfers: UDP's from the raw bytes (header check, RRL, unpack,
// answer, pack), TCP's as miekg/dns's server hands them to the handler. Every reply must unpack, answer the query's id, fit a
// UDP answer in its size, and never carry records for a name outside the
// zone.
func FuzzQuery(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
		edit  func(*dns.Msg)
	}{
		{"www.innovatetech.test.", dns.TypeA, nil},
		{"big.innovatetech.test.", dns.TypeTXT, func(m *dns.Msg) { m.SetEdns0(4096, true) }},
		{"nope.innovatetech.test.", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(512, true) }},
		{"_tcp.innovatetech.test.", dns.TypeANY, nil},
		{"chain.innovatetech.test.", dns.TypeMX, nil},
		{"example.com.", dns.TypeA, nil},
		{zoneName, dns.TypeAXFR, nil},
		{zoneName, dns.TypeIXFR, func(m *dns.Msg) { m.SetIxfr(zoneName, 1, ".", ".") }},
		{zoneName, dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }},
		{zoneName, dns.TypeDNSKEY, func(m *dns.Msg) { m.SetEdns0(1232, true); m.IsEdns0().SetVersion(2) }},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if q.edit != nil {
			q.edit(m)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	ts := newServer(f, testConfig(f, "dnssec = true\nallow_transfer = [\"127.0.0.1\"]\n[dns.rrl]\nresponses_per_second = 0\n"+zoneRecords), "", nil)
	z := ts.srv.zone.Load()
	f.Fuzz(func(t *testing.T, pkt []byte, tcp bool) {
		var out [][]byte
		if !tcp {
			// The UDP path takes the raw packet, as read from the socket.
			if b := ts.srv.handleUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, nil, time.Now()); b != nil {
				out = append(out, b)
			}
		}
		if len(pkt) < 12 {
			return // the server drops it
		}
		be := binary.BigEndian
		h := dns.Header{Id: be.Uint16(pkt), Bits: be.Uint16(pkt[2:]), Qdcount: be.Uint16(pkt[4:]),
			Ancount: be.Uint16(pkt[6:]), Nscount: be.Uint16(pkt[8:]), Arcount: be.Uint16(pkt[10:])}
		if dns.DefaultMsgAcceptFunc(h) != dns.MsgAccept {
			return // the server answers FORMERR/NOTIMP itself, or ignores it
		}
		q := new(dns.Msg)
		if err := q.Unpack(pkt); err != nil {
			return // FORMERR from the server, without our handler
		}
		if tcp {
			w := &fuzzWriter{tcp: true}
			handler{ts.srv, true}.ServeDNS(w, q)
			out = w.out
		}
		for _, b := range out {
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if r.Id != q.Id || !r.Response {
				t.Fatalf("reply id %d response %v to query %d", r.Id, r.Response, q.Id)
			}
			if !tcp {
				limit := dns.MinMsgSize
				if opt := q.IsEdns0(); opt != nil {
					limit = max(limit, min(int(opt.UDPSize()), udpSize))
				}
				if len(b) > limit {
					t.Fatalf("UDP reply of %d bytes, limit %d", len(b), limit)
				}
			}
			for _, rr := range append(append(append([]dns.RR{}, r.Answer...), r.Ns...), r.Extra...) {
				if rr.Header().Rrtype == dns.TypeOPT {
					continue
				}
				if !dns.IsSubDomain(z.origin, rr.Header().Name) {
					t.Fatalf("record outside the zone: %v", rr)
				}
			}
			if r.RecursionAvailable {
				t.Fatal("RA set")
			}
		}
	})
}
