package dns

import (
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"thecure/appliance/apptest"
	"thecure/appliance/store"
)

// dig runs dig against addr (host:port) and returns its output.
func dig(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	a := append([]string{"@" + host, "-p", port, "+norec", "+time=3", "+tries=1"}, args...)
	out, err := exec.Command("dig", a...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(a, " "), err, out)
	}
	return string(out)
}

// section returns the lines of dig's SECTION (ANSWER, AUTHORITY...).
func section(out, name string) string {
	_, after, ok := strings.Cut(out, ";; "+name+" SECTION:\n")
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, "\n\n")
	return before
}

var digStatus = regexp.MustCompile(`status: ([A-Z]+),`)
var digFlags = regexp.MustCompile(`;; flags: ([a-z ]+);`)

// TestDig asks the running server with dig, Debian's client: every answer
// class, the TCP fallback on a big TXT, AXFR allowed.
func TestDig(t *testing.T) {
	ts := startServer(t, `allow_transfer = ["127.0.0.0/8"]`+"\n"+zoneRecords)
	for _, c := range []struct {
		args           []string
		status         string
		aa             bool
		answer, author string // regexps for the sections ("" must be empty)
	}{
		{[]string{"www.innovatetech.test", "A"}, "NOERROR", true, `^www\.innovatetech\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.10$`, ""},
		{[]string{"chain.innovatetech.test", "A"}, "NOERROR", true, `(?s)chain.*CNAME\s+alias.*alias.*CNAME\s+www.*www.*A\s+192\.0\.2\.10$`, ""},
		{[]string{"nope.innovatetech.test", "A"}, "NXDOMAIN", true, "", `^innovatetech\.test\.\s+300\s+IN\s+SOA\s+ns\.innovatetech\.test\. hostmaster`},
		{[]string{"www.innovatetech.test", "MX"}, "NOERROR", true, "", `IN\s+SOA`},
		{[]string{"example.com", "A"}, "REFUSED", false, "", ""},
		{[]string{"+dnssec", "innovatetech.test", "SOA"}, "NOERROR", true, `IN\s+SOA`, ""},
	} {
		out := dig(t, ts.udp, c.args...)
		m := digStatus.FindStringSubmatch(out)
		f := digFlags.FindStringSubmatch(out)
		if m == nil || m[1] != c.status || f == nil || strings.Contains(f[1], "aa") != c.aa || strings.Contains(f[1], "ra") {
			t.Errorf("dig %v: want status %s, aa %v, no ra:\n%s", c.args, c.status, c.aa, out)
			continue
		}
		for _, s := range []struct{ name, re string }{{"ANSWER", c.answer}, {"AUTHORITY", c.author}} {
			got := section(out, s.name)
			if (s.re == "" && got != "") || (s.re != "" && !regexp.MustCompile(s.re).MatchString(got)) {
				t.Errorf("dig %v: %s section %q does not match %q", c.args, s.name, got, s.re)
			}
		}
	}

	// dig retries a truncated UDP answer over TCP by itself.
	out := dig(t, ts.udp, "big.innovatetech.test", "TXT")
	if !strings.Contains(out, "Truncated, retrying in TCP mode") || !strings.Contains(out, "(TCP)") {
		t.Errorf("big TXT: dig did not fall back to TCP:\n%s", out)
	}
	if txt := strings.Join(regexp.MustCompile(`"([0-9a-f]+)"`).FindAllString(section(out, "ANSWER"), -1), ""); strings.ReplaceAll(txt, `"`, "") != bigTXT {
		t.Errorf("big TXT over TCP: got %d characters, want %d", len(txt), len(bigTXT))
	}

	out = dig(t, ts.udp, "innovatetech.test", "AXFR")
	soas := regexp.MustCompile(`(?m)^innovatetech\.test\.\s+\d+\s+IN\s+SOA`).FindAllString(out, -1)
	if len(soas) != 2 || !strings.Contains(out, "mail.innovatetech.test.") || !strings.Contains(out, "XFR size: 19 records") {
		t.Errorf("dig AXFR: want the zone between two SOAs (19 records):\n%s", out)
	}
}

// TestTransfer: AXFR and IXFR to allow_transfer only (miekg's client and
// dig), over TCP only; IXFR with the current serial gets the SOA alone.
func TestTransfer(t *testing.T) {
	ts := startServer(t, `allow_transfer = ["127.0.0.1"]`+"\n"+zoneRecords)
	tr := &dns.Transfer{DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second}
	m := new(dns.Msg)
	m.SetAxfr(zoneName)
	ch, err := tr.In(m, ts.tcp)
	if err != nil {
		t.Fatal(err)
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			t.Fatalf("AXFR: %v", env.Error)
		}
		rrs = append(rrs, env.RR...)
	}
	if len(rrs) != 19 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("AXFR: %d records, want 19 from SOA to SOA: %v", len(rrs), rrs)
	}
	if !has(rrs, "big.innovatetech.test. IN TXT \""+bigTXT[:255]+"\"") && !strings.Contains(rrs[len(rrs)/2].String()+strings.Join(rrStrings(rrs), ""), bigTXT[:100]) {
		t.Error("AXFR lacks the big TXT")
	}
	// counted after the last message is written, maybe after the client read it
	apptest.WaitFor(t, 5*time.Second, "the transfer counted", func() bool { return ts.counter(t, "xfers", "sent") == 1 })

	// IXFR from the current serial: the SOA alone (over TCP and UDP).
	serial := ts.srv.Serial()
	for _, netw := range []string{"tcp", "udp"} {
		in := ask(t, ts.tcp, netw, zoneName, dns.TypeIXFR, func(m *dns.Msg) { m.SetIxfr(zoneName, serial, ".", ".") })
		if len(in.Answer) != 1 || in.Answer[0].(*dns.SOA).Serial != serial {
			t.Errorf("IXFR %s from the current serial: %v, want our SOA alone", netw, in)
		}
	}
	// IXFR from an old serial over TCP: the whole zone, AXFR style.
	m = new(dns.Msg)
	m.SetIxfr(zoneName, serial-1, ".", ".")
	tr = &dns.Transfer{DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second}
	ch, err = tr.In(m, ts.tcp)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for env := range ch {
		if env.Error != nil {
			t.Fatalf("IXFR: %v", env.Error)
		}
		n += len(env.RR)
	}
	if n != 19 {
		t.Errorf("IXFR from an old serial: %d records, want 19", n)
	}

	// AXFR over UDP: refused.
	if in := ask(t, ts.udp, "udp", zoneName, dns.TypeAXFR); in.Rcode != dns.RcodeRefused || len(in.Answer) > 0 {
		t.Errorf("AXFR over UDP: %s with %d records, want REFUSED", dns.RcodeToString[in.Rcode], len(in.Answer))
	}
}

// TestTransferRefused: a client outside allow_transfer gets REFUSED, and the
// refusal is logged once.
func TestTransferRefused(t *testing.T) {
	ts := startServer(t, `allow_transfer = ["192.0.2.0/24"]`+"\n"+zoneRecords)
	for range 3 {
		in := ask(t, ts.tcp, "tcp", zoneName, dns.TypeAXFR)
		if in.Rcode != dns.RcodeRefused || len(in.Answer) > 0 {
			t.Fatalf("AXFR from outside allow_transfer: %s, %d records", dns.RcodeToString[in.Rcode], len(in.Answer))
		}
	}
	out := dig(t, ts.udp, "innovatetech.test", "AXFR")
	if !strings.Contains(out, "Transfer failed") || strings.Contains(out, "hostmaster") {
		t.Errorf("dig AXFR from outside allow_transfer:\n%s", out)
	}
	if got := ts.counter(t, "xfers", "refused"); got != 4 {
		t.Errorf("refused transfers counted %v, want 4", got)
	}
	if n := strings.Count(ts.log.String(), "zone transfer refused"); n != 1 {
		t.Errorf("refusal logged %d times, want once (a minute):\n%s", n, ts.log)
	}
}

// notifyListener is a secondary that records the NOTIFYs it gets.
type notifyListener struct {
	addr    string
	mu      sync.Mutex
	serials []uint32
}

func listenNotify(t *testing.T, answer bool) *notifyListener {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nl := &notifyListener{addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Opcode != dns.OpcodeNotify || len(r.Answer) != 1 {
			return
		}
		nl.mu.Lock()
		nl.serials = append(nl.serials, r.Answer[0].(*dns.SOA).Serial)
		nl.mu.Unlock()
		if answer {
			m := new(dns.Msg)
			m.SetReply(r)
			w.WriteMsg(m)
		}
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return nl
}

func (nl *notifyListener) got() []uint32 {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	return append([]uint32(nil), nl.serials...)
}

// TestNotifyAndSerial: the secondary is told at start and on each change;
// the serial rises with every change of content (reload, restart) and
// stays when nothing changed.
func TestNotifyAndSerial(t *testing.T) {
	nl := listenNotify(t, true)
	keys := `allow_transfer = ["127.0.0.1"]` + "\nnotify = [\"" + nl.addr + "\"]\n"
	dir := t.TempDir()
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := newServer(t, testConfig(t, keys+zoneRecords), dir, st).serve(t)
	s1 := ts.srv.Serial()
	apptest.WaitFor(t, 10*time.Second, "NOTIFY at start", func() bool { return len(nl.got()) == 1 })
	if got := nl.got()[0]; got != s1 {
		t.Errorf("NOTIFY carried serial %d, want %d", got, s1)
	}

	// The same config again: same serial, no NOTIFY.
	if err := ts.srv.Reload(testConfig(t, keys+zoneRecords)); err != nil {
		t.Fatal(err)
	}
	if ts.srv.Serial() != s1 {
		t.Errorf("serial moved from %d to %d with nothing changed", s1, ts.srv.Serial())
	}
	// A changed record: new serial, NOTIFY, and the answer changes.
	changed := strings.Replace(zoneRecords, "192.0.2.25", "192.0.2.26", 1)
	if err := ts.srv.Reload(testConfig(t, keys+changed)); err != nil {
		t.Fatal(err)
	}
	s2 := ts.srv.Serial()
	if !serialBefore(s1, s2) {
		t.Fatalf("serial %d after a change, was %d", s2, s1)
	}
	apptest.WaitFor(t, 10*time.Second, "NOTIFY after the change", func() bool { return len(nl.got()) == 2 })
	if got := nl.got()[1]; got != s2 {
		t.Errorf("second NOTIFY carried %d, want %d", got, s2)
	}
	if in := ask(t, ts.udp, "udp", "mail.innovatetech.test.", dns.TypeA); !has(in.Answer, "mail.innovatetech.test. IN A 192.0.2.26") {
		t.Errorf("after reload: %v", in.Answer)
	}
	if in := ask(t, ts.udp, "udp", zoneName, dns.TypeSOA); in.Answer[0].(*dns.SOA).Serial != s2 {
		t.Errorf("SOA serial %d, want %d", in.Answer[0].(*dns.SOA).Serial, s2)
	}
	// A bad config is refused and changes nothing.
	bad := testConfig(t, keys+zoneRecords)
	bad.DNS.Records[0].Value = "not-an-address"
	if err := ts.srv.Reload(bad); err == nil || !strings.Contains(err.Error(), "dns.records[0].value") {
		t.Errorf("bad reload: %v", err)
	}
	if ts.srv.Serial() != s2 {
		t.Error("a refused reload moved the serial")
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	ts.stop = func() error { return nil }

	// A restart with the changed content keeps s2; with other content, s2+1.
	ts2 := newServer(t, testConfig(t, keys+changed), dir, st)
	if ts2.srv.Serial() != s2 {
		t.Errorf("restart with the same content: serial %d, want %d", ts2.srv.Serial(), s2)
	}
	ts3 := newServer(t, testConfig(t, keys+zoneRecords), dir, st)
	if ts3.srv.Serial() != s2+1 {
		t.Errorf("restart with changed content: serial %d, want %d", ts3.srv.Serial(), s2+1)
	}
	apptest.WaitFor(t, 5*time.Second, "2 NOTIFYs counted as acknowledged", func() bool { return ts.counter(t, "notifies", "ok") == 2 })
}

// TestNotifyUnanswered: a silent secondary is asked again (back-off), and
// stopping the server does not wait for the retries.
func TestNotifyUnanswered(t *testing.T) {
	nl := listenNotify(t, false)
	ts := startServer(t, `allow_transfer = ["127.0.0.1"]`+"\nnotify = [\""+nl.addr+"\"]\n")
	apptest.WaitFor(t, 15*time.Second, "a NOTIFY sent again", func() bool { return len(nl.got()) >= 2 })
	start := time.Now()
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	ts.stop = func() error { return nil }
	// At most the 2s a NOTIFY waits for its answer, not the back-off's
	// retries (which would take 15s and more).
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("stop took %s while a NOTIFY was retrying", d)
	}
}
