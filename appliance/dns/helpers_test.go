package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/store"
)

const zoneName = "innovatetech.test."

// bigTXT is longer than any UDP answer may be (1232 bytes).
var bigTXT = strings.Repeat("0123456789abcdef", 200)

// zoneRecords is the test zone's [[dns.records]].
var zoneRecords = `
[[dns.records]]
name = "mail"
type = "A"
value = "192.0.2.25"
[[dns.records]]
name = "mail"
type = "AAAA"
value = "2001:db8::25"
[[dns.records]]
name = "@"
type = "MX"
value = "10 mail"
[[dns.records]]
name = "alias"
type = "CNAME"
value = "www"
[[dns.records]]
name = "chain"
type = "CNAME"
value = "alias.innovatetech.test."
[[dns.records]]
name = "dangling"
type = "CNAME"
value = "gone"
[[dns.records]]
name = "ext"
type = "CNAME"
value = "cdn.example.net."
[[dns.records]]
name = "_sip._tcp"
type = "SRV"
value = "10 5 5060 mail"
ttl = "1h"
[[dns.records]]
name = "@"
type = "CAA"
value = "0 issue \"letsencrypt.org\""
[[dns.records]]
name = "@"
type = "TXT"
value = "v=spf1 mx -all"
[[dns.records]]
name = "big"
type = "TXT"
value = "` + bigTXT + `"
`

// testConfig parses a config with [dns] on and the keys in dnsKeys (lines of
// the [dns] table, then more tables).
func testConfig(t testing.TB, dnsKeys string) *config.Config {
	t.Helper()
	src := fmt.Sprintf("public_host = \"192.0.2.10\"\n[dns]\nenabled = true\nzone = %q\nlisten = \"127.0.0.1:0\"\n%s", zoneName, dnsKeys)
	cfg, _, err := config.Parse("test.toml", []byte(src))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	return cfg
}

type testServer struct {
	srv      *Server
	udp, tcp string
	reg      *prometheus.Registry
	log      *apptest.SyncBuffer
	dir      string
	st       *store.Store
	stop     func() error
}

// listenPair binds UDP and TCP on one loopback port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no free UDP+TCP port pair")
	return nil, nil
}

// newServer builds a server on cfg with a store in dir (a new one when "").
func newServer(t testing.TB, cfg *config.Config, dir string, st *store.Store) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if st == nil {
		var err error
		st, err = store.Open(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	ts := &testServer{reg: prometheus.NewRegistry(), log: &apptest.SyncBuffer{}, dir: dir, st: st}
	srv, err := New(Options{Config: cfg, DataDir: dir, Store: st, Metrics: ts.reg,
		Log: slog.New(slog.NewTextHandler(ts.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	return ts
}

// serve runs ts on a fresh loopback port until the test ends.
func (ts *testServer) serve(t testing.TB) *testServer {
	t.Helper()
	pc, ln := listenPair(t)
	ts.udp, ts.tcp = pc.LocalAddr().String(), ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(ctx, pc, ln) }()
	ts.stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return fmt.Errorf("Serve did not return 10s after cancel")
		}
	}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.log.String())
		}
	})
	// Ready when TCP answers (UDP is bound already).
	apptest.WaitFor(t, 5*time.Second, "dns server", func() bool {
		c, err := net.DialTimeout("tcp", ts.tcp, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return ts
}

func startServer(t testing.TB, dnsKeys string) *testServer {
	t.Helper()
	return newServer(t, testConfig(t, dnsKeys), "", nil).serve(t)
}

// ask sends one query over netw ("udp" or "tcp") and returns the reply.
func ask(t testing.TB, addr, netw, name string, qtype uint16, edit ...func(*dns.Msg)) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	for _, e := range edit {
		e(m)
	}
	c := &dns.Client{Net: netw, Timeout: 3 * time.Second}
	in, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", netw, name, dns.TypeToString[qtype], err)
	}
	if in.Id != m.Id || !in.Response {
		t.Fatalf("%s %s: reply id %d response %v, want id %d", name, dns.TypeToString[qtype], in.Id, in.Response, m.Id)
	}
	return in
}

// withEDNS adds an OPT record (size, DO bit).
func withEDNS(size uint16, do bool) func(*dns.Msg) {
	return func(m *dns.Msg) { m.SetEdns0(size, do) }
}

// counter reads a counter of the server's registry (0 when absent).
func (ts *testServer) counter(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	switch name {
	case "queries":
		return testutil.ToFloat64(ts.srv.queries.WithLabelValues(labels...))
	case "rrl":
		return testutil.ToFloat64(ts.srv.rrlCount.WithLabelValues(labels...))
	case "xfers":
		return testutil.ToFloat64(ts.srv.xfers.WithLabelValues(labels...))
	case "notifies":
		return testutil.ToFloat64(ts.srv.notifies.WithLabelValues(labels...))
	}
	t.Fatalf("no counter %s", name)
	return 0
}

func keyFile(dir string) string { return filepath.Join(dir, KeyDir, "innovatetech.test.key.pem") }
