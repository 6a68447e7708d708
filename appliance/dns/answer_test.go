package dns

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rrStrings lists a section's records without TTLs ("name TYPE data").
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		f := strings.Fields(rr.String())
		out = append(out, f[0]+" "+strings.Join(f[2:], " "))
	}
	return out
}

func has(rrs []dns.RR, want string) bool {
	for _, s := range rrStrings(rrs) {
		if s == want {
			return true
		}
	}
	return false
}

// TestAnswerClasses asks the running server (miekg's client, UDP) one
// question of every answer class and checks rcode, flags and sections.
func TestAnswerClasses(t *testing.T) {
	ts := startServer(t, zoneRecords)
	type want struct {
		rcode  int
		aa     bool
		answer []string // exact, in order
		ns     string   // a record the authority section must hold ("" none at all)
		extra  []string // records the additional section must hold
	}
	soa := "innovatetech.test. IN SOA ns.innovatetech.test. hostmaster.innovatetech.test."
	for _, c := range []struct {
		name  string
		qtype uint16
		want  want
	}{
		{"www.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"www.innovatetech.test. IN A 192.0.2.10"}}},
		{"ftp.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"ftp.innovatetech.test. IN A 192.0.2.10"}}},
		{"live.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"live.innovatetech.test. IN A 192.0.2.10"}}},
		{"innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"innovatetech.test. IN A 192.0.2.10"}}},
		// the question's case does not matter
		{"WwW.InnovateTech.TEST.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"www.innovatetech.test. IN A 192.0.2.10"}}},
		{"innovatetech.test.", dns.TypeNS, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"innovatetech.test. IN NS ns.innovatetech.test."},
			extra:  []string{"ns.innovatetech.test. IN A 192.0.2.10"}}},
		{"innovatetech.test.", dns.TypeMX, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"innovatetech.test. IN MX 10 mail.innovatetech.test."},
			extra:  []string{"mail.innovatetech.test. IN A 192.0.2.25", "mail.innovatetech.test. IN AAAA 2001:db8::25"}}},
		{"_sip._tcp.innovatetech.test.", dns.TypeSRV, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"_sip._tcp.innovatetech.test. IN SRV 10 5 5060 mail.innovatetech.test."},
			extra:  []string{"mail.innovatetech.test. IN A 192.0.2.25"}}},
		{"innovatetech.test.", dns.TypeCAA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{`innovatetech.test. IN CAA 0 issue "letsencrypt.org"`}}},
		{"innovatetech.test.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{`innovatetech.test. IN TXT "v=spf1 mx -all"`}}},
		{"mail.innovatetech.test.", dns.TypeAAAA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"mail.innovatetech.test. IN AAAA 2001:db8::25"}}},
		// CNAME chasing inside the zone, two hops
		{"chain.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{
			"chain.innovatetech.test. IN CNAME alias.innovatetech.test.",
			"alias.innovatetech.test. IN CNAME www.innovatetech.test.",
			"www.innovatetech.test. IN A 192.0.2.10"}}},
		// asking for the CNAME itself does not chase
		{"alias.innovatetech.test.", dns.TypeCNAME, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"alias.innovatetech.test. IN CNAME www.innovatetech.test."}}},
		// a CNAME out of the zone: the CNAME alone, the resolver goes on
		{"ext.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"ext.innovatetech.test. IN CNAME cdn.example.net."}}},
		// a CNAME to a missing name in the zone: NXDOMAIN with the CNAME (RFC 6604)
		{"dangling.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true,
			answer: []string{"dangling.innovatetech.test. IN CNAME gone.innovatetech.test."}, ns: soa}},
		// NXDOMAIN: SOA in the authority section
		{"nope.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: soa}},
		{"a.b.c.nope.innovatetech.test.", dns.TypeTXT, want{rcode: dns.RcodeNameError, aa: true, ns: soa}},
		// NODATA: the name exists, not that type
		{"www.innovatetech.test.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true, ns: soa}},
		{"www.innovatetech.test.", dns.TypeAAAA, want{rcode: dns.RcodeSuccess, aa: true, ns: soa}},
		// an empty non-terminal exists (names below it do): NODATA
		{"_tcp.innovatetech.test.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true, ns: soa}},
		// DS belongs to the parent: NODATA here
		{"innovatetech.test.", dns.TypeDS, want{rcode: dns.RcodeSuccess, aa: true, ns: soa}},
		// other zones: REFUSED, no data, no AA: never an open resolver
		{"example.com.", dns.TypeA, want{rcode: dns.RcodeRefused}},
		{"test.", dns.TypeSOA, want{rcode: dns.RcodeRefused}},
		{".", dns.TypeNS, want{rcode: dns.RcodeRefused}},
		{"innovatetech.test.evil.", dns.TypeA, want{rcode: dns.RcodeRefused}},
	} {
		t.Run(dns.TypeToString[c.qtype]+" "+c.name, func(t *testing.T) {
			in := ask(t, ts.udp, "udp", c.name, c.qtype, func(m *dns.Msg) { m.RecursionDesired = true })
			if in.Rcode != c.want.rcode {
				t.Errorf("rcode %s, want %s\n%s", dns.RcodeToString[in.Rcode], dns.RcodeToString[c.want.rcode], in)
			}
			if in.Authoritative != c.want.aa {
				t.Errorf("AA %v, want %v", in.Authoritative, c.want.aa)
			}
			if in.RecursionAvailable {
				t.Error("RA set: this server never recurses")
			}
			if !in.RecursionDesired {
				t.Error("RD not copied from the question")
			}
			if in.Truncated {
				t.Error("TC set on a small answer")
			}
			if got := rrStrings(in.Answer); strings.Join(got, "\n") != strings.Join(c.want.answer, "\n") {
				t.Errorf("answer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want.answer, "\n"))
			}
			switch {
			case c.want.ns == "" && len(in.Ns) > 0:
				t.Errorf("authority section %v, want it empty", in.Ns)
			case c.want.ns != "":
				if len(in.Ns) != 1 || !strings.HasPrefix(rrStrings(in.Ns)[0], c.want.ns) {
					t.Errorf("authority %v, want %s ...", rrStrings(in.Ns), c.want.ns)
				} else if s := in.Ns[0].(*dns.SOA); s.Hdr.Ttl != 300 || s.Minttl != 300 || s.Serial != ts.srv.Serial() {
					t.Errorf("SOA ttl %d minimum %d serial %d, want 300, 300, %d", s.Hdr.Ttl, s.Minttl, s.Serial, ts.srv.Serial())
				}
			}
			for _, e := range c.want.extra {
				if !has(in.Extra, e) {
					t.Errorf("additional %v lacks %s", rrStrings(in.Extra), e)
				}
			}
			if c.want.rcode == dns.RcodeRefused && (len(in.Answer)+len(in.Ns)+len(in.Extra) > 0) {
				t.Errorf("REFUSED with records: %v", in)
			}
		})
	}
	if got := ts.counter(t, "queries", "A", "NXDOMAIN"); got != 2 {
		t.Errorf("thecure_dns_queries_total{type=A,rcode=NXDOMAIN} = %v, want 2", got)
	}
	if got := ts.counter(t, "queries", "A", "REFUSED"); got != 2 {
		t.Errorf("thecure_dns_queries_total{type=A,rcode=REFUSED} = %v, want 2", got)
	}
}

// TestEDNSAndOddQueries: EDNS0 size and DO echoed, BADVERS, classes,
// opcodes, ANY, the SRV record's own TTL.
func TestEDNSAndOddQueries(t *testing.T) {
	ts := startServer(t, zoneRecords)

	in := ask(t, ts.udp, "udp", "www.innovatetech.test.", dns.TypeA, withEDNS(4096, true))
	opt := in.IsEdns0()
	if opt == nil || opt.UDPSize() != udpSize || !opt.Do() || opt.Version() != 0 {
		t.Errorf("OPT %v: want udp size %d, DO echoed, version 0", opt, udpSize)
	}
	if in = ask(t, ts.udp, "udp", "www.innovatetech.test.", dns.TypeA); in.IsEdns0() != nil {
		t.Error("OPT in the reply to a query without EDNS")
	}

	in = ask(t, ts.udp, "udp", "www.innovatetech.test.", dns.TypeA, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
	})
	if in.Rcode != dns.RcodeBadVers || in.IsEdns0() == nil || len(in.Answer) > 0 {
		t.Errorf("EDNS version 1: rcode %s, answer %v; want BADVERS with an OPT", dns.RcodeToString[in.Rcode], in.Answer)
	}

	in = ask(t, ts.udp, "udp", "version.bind.", dns.TypeTXT, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS })
	if in.Rcode != dns.RcodeRefused || len(in.Answer) > 0 {
		t.Errorf("CH version.bind: %s %v, want REFUSED", dns.RcodeToString[in.Rcode], in.Answer)
	}

	in = ask(t, ts.udp, "udp", zoneName, dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify })
	if in.Rcode != dns.RcodeRefused || in.Opcode != dns.OpcodeNotify {
		t.Errorf("NOTIFY to the primary: %s opcode %d, want REFUSED", dns.RcodeToString[in.Rcode], in.Opcode)
	}
	in = ask(t, ts.udp, "udp", zoneName, dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate })
	if in.Rcode != dns.RcodeNotImplemented {
		t.Errorf("UPDATE: %s, want NOTIMP", dns.RcodeToString[in.Rcode])
	}

	// ANY: over UDP an empty truncated answer (no amplification), over TCP all.
	in = ask(t, ts.udp, "udp", zoneName, dns.TypeANY)
	if !in.Truncated || len(in.Answer) != 0 {
		t.Errorf("ANY over UDP: TC %v, %d answers; want TC and none", in.Truncated, len(in.Answer))
	}
	in = ask(t, ts.tcp, "tcp", zoneName, dns.TypeANY)
	for _, w := range []string{"IN\tSOA", "IN\tNS", "IN\tMX", "IN\tTXT", "IN\tCAA", "IN\tA"} {
		if !strings.Contains(in.String(), w) {
			t.Errorf("ANY over TCP lacks %s:\n%s", w, in)
		}
	}

	in = ask(t, ts.udp, "udp", "_sip._tcp.innovatetech.test.", dns.TypeSRV)
	if len(in.Answer) != 1 || in.Answer[0].Header().Ttl != 3600 {
		t.Errorf("SRV with ttl = \"1h\": %v", in.Answer)
	}
}

// TestTCPFallback: a TXT larger than a UDP answer comes truncated (TC) over
// UDP, whole over TCP; with a 512-byte client too.
func TestTCPFallback(t *testing.T) {
	ts := startServer(t, zoneRecords)
	for _, edit := range []func(*dns.Msg){withEDNS(4096, false), func(*dns.Msg) {}} {
		in := ask(t, ts.udp, "udp", "big.innovatetech.test.", dns.TypeTXT, edit)
		if !in.Truncated {
			t.Fatalf("big TXT over UDP not truncated: %d bytes", in.Len())
		}
		if n := in.Len(); n > udpSize {
			t.Errorf("UDP reply of %d bytes, above %d", n, udpSize)
		}
	}
	in := ask(t, ts.tcp, "tcp", "big.innovatetech.test.", dns.TypeTXT)
	if in.Truncated || len(in.Answer) != 1 {
		t.Fatalf("over TCP: TC %v, %d answers", in.Truncated, len(in.Answer))
	}
	if got := strings.Join(in.Answer[0].(*dns.TXT).Txt, ""); got != bigTXT {
		t.Errorf("TXT over TCP is %d bytes, want %d", len(got), len(bigTXT))
	}
}

// TestReplyCache: a repeated UDP question is answered from the packed reply
// with the asker's id, RD and CD bits and question (letter case kept); a
// reload starts a new cache.
func TestReplyCache(t *testing.T) {
	ts := startServer(t, zoneRecords)
	first := ask(t, ts.udp, "udp", "mail.innovatetech.test.", dns.TypeA, withEDNS(1232, false))
	z := ts.srv.zone.Load()
	if z.cache.n.Load() != 1 {
		t.Fatalf("%d replies cached after one question", z.cache.n.Load())
	}
	again := ask(t, ts.udp, "udp", "MAIL.innovatetech.TEST.", dns.TypeA, withEDNS(1232, false), func(m *dns.Msg) {
		m.RecursionDesired, m.CheckingDisabled = true, true
		// a resolver's cookie: not echoed, the same reply
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	})
	if z.cache.n.Load() != 1 {
		t.Errorf("the same question in other letters was cached again")
	}
	if !again.RecursionDesired || !again.CheckingDisabled || first.RecursionDesired || first.CheckingDisabled {
		t.Errorf("RD/CD not those of each question: first %v/%v, again %v/%v", first.RecursionDesired, first.CheckingDisabled, again.RecursionDesired, again.CheckingDisabled)
	}
	if again.Question[0].Name != "MAIL.innovatetech.TEST." || !again.Authoritative || again.Rcode != dns.RcodeSuccess {
		t.Errorf("cached reply: question %q AA %v rcode %d", again.Question[0].Name, again.Authoritative, again.Rcode)
	}
	if strings.Join(rrStrings(again.Answer), "") != strings.Join(rrStrings(first.Answer), "") || again.IsEdns0() == nil {
		t.Errorf("cached answer %v, first %v", again, first)
	}
	// A reload with a changed record: the new zone answers, not the cache.
	cfg := testConfig(t, strings.Replace(zoneRecords, "192.0.2.25", "192.0.2.99", 1))
	if err := ts.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if in := ask(t, ts.udp, "udp", "mail.innovatetech.test.", dns.TypeA, withEDNS(1232, false)); !has(in.Answer, "mail.innovatetech.test. IN A 192.0.2.99") {
		t.Errorf("after reload: %v", in.Answer)
	}
	if got := ts.counter(t, "queries", "A", "NOERROR"); got != 3 {
		t.Errorf("queries counted %v, want 3 (cached ones too)", got)
	}
}

// TestWildcardListen: on a wildcard socket (as ":53"), replies leave from
// the address each query was sent to, over IPv4 and IPv6: the client's
// connected socket takes nothing else.
func TestWildcardListen(t *testing.T) {
	ts := newServer(t, testConfig(t, ""), "", nil)
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		p, err := net.ListenPacket("udp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		port := p.LocalAddr().(*net.UDPAddr).Port
		if l, err := net.Listen("tcp", ":"+strconv.Itoa(port)); err == nil {
			pc, ln = p, l
			break
		}
		p.Close()
	}
	if pc == nil {
		t.Fatal("no port")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(ctx, pc, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	addrs := []string{"127.0.0.1", "127.0.0.2"} // 127.0.0.2: the kernel alone would answer from 127.0.0.1
	if c, err := net.ListenPacket("udp", "[::1]:0"); err == nil {
		c.Close()
		addrs = append(addrs, "::1")
	} else {
		t.Logf("no IPv6 loopback here: %v", err)
	}
	for _, a := range addrs {
		in := ask(t, net.JoinHostPort(a, port), "udp", "www.innovatetech.test.", dns.TypeA)
		if !has(in.Answer, "www.innovatetech.test. IN A 192.0.2.10") {
			t.Errorf("via %s: %v", a, in)
		}
	}
}

// TestStopAtOnce: a server cancelled as it starts returns.
func TestStopAtOnce(t *testing.T) {
	ts := newServer(t, testConfig(t, ""), "", nil)
	for range 20 {
		pc, ln := listenPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- ts.srv.Serve(ctx, pc, ln) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after an early cancel")
		}
	}
}
