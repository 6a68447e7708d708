package dns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSSECDelv signs the zone, takes the DS as `thecure dns ds` prints it,
// and has delv (BIND's validating resolver) validate positive answers, CNAME
// chains, NXDOMAIN, NODATA and an empty non-terminal from that trust anchor
// alone; a wrong anchor fails validation.
func TestDNSSECDelv(t *testing.T) {
	if _, err := exec.LookPath("delv"); err != nil {
		t.Fatalf("delv is missing (Debian package bind9-dnsutils; .ci/test-deps installs it): %v", err)
	}
	ts := startServer(t, "dnssec = true\n"+zoneRecords)
	st, err := os.Stat(keyFile(ts.dir))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	ds, err := DS(ts.dir, "innovatetech.test")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Algorithm != dns.ECDSAP256SHA256 || ds.DigestType != dns.SHA256 || ds.KeyTag != ts.srv.zone.Load().dnskey.KeyTag() {
		t.Errorf("DS %v", ds)
	}
	anchor := func(digest string) string {
		p := filepath.Join(t.TempDir(), "anchor.conf")
		conf := fmt.Sprintf("trust-anchors { %s static-ds %d %d %d \"%s\"; };\n", zoneName, ds.KeyTag, ds.Algorithm, ds.DigestType, digest)
		if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := anchor(ds.Digest)
	host, port, _ := net.SplitHostPort(ts.udp)
	delv := func(anchorFile, name, qtype string) string {
		out, _ := exec.Command("delv", "-a", anchorFile, "@"+host, "-p", port, "+root="+zoneName, name, qtype).CombinedOutput()
		return string(out)
	}
	for _, c := range []struct{ name, qtype, want string }{
		{"www.innovatetech.test.", "A", "; fully validated\nwww.innovatetech.test.\t300\tIN\tA\t192.0.2.10"},
		{"innovatetech.test.", "DNSKEY", "; fully validated"},
		{"innovatetech.test.", "MX", "; fully validated"},
		{"chain.innovatetech.test.", "A", "; fully validated"},
		{"big.innovatetech.test.", "TXT", "; fully validated"}, // over TCP
		{"nope.innovatetech.test.", "A", "; negative response, fully validated"},
		{"zzz.innovatetech.test.", "A", "; negative response, fully validated"},   // after the last name
		{"aaa.innovatetech.test.", "A", "; negative response, fully validated"},   // before the first
		{"www.innovatetech.test.", "TXT", "; negative response, fully validated"}, // NODATA
		{"_tcp.innovatetech.test.", "A", "; negative response, fully validated"},  // empty non-terminal
		// the CNAME validated, then its target's NXDOMAIN
		{"dangling.innovatetech.test.", "A", "; fully validated\ndangling.innovatetech.test. 300\tIN\tCNAME\tgone.innovatetech.test."},
		{"dangling.innovatetech.test.", "A", "; gone.innovatetech.test.\t300\tIN\t\\-ANY\t;-$NXDOMAIN"},
	} {
		if out := delv(good, c.name, c.qtype); !strings.Contains(out, c.want) {
			t.Errorf("delv %s %s: want %q in:\n%s", c.name, c.qtype, c.want, out)
		}
	}
	wrong := []byte(ds.Digest)
	wrong[0] ^= 1
	if wrong[0] > 'F' || wrong[0] < '0' {
		wrong[0] = '0'
	}
	if out := delv(anchor(string(wrong)), "www.innovatetech.test.", "A"); strings.Contains(out, "fully validated") {
		t.Errorf("delv validated with a wrong trust anchor:\n%s", out)
	}

	// dig +dnssec: signatures only for DO queries.
	in := ask(t, ts.udp, "udp", "www.innovatetech.test.", dns.TypeA, withEDNS(1232, true))
	if len(in.Answer) != 2 || in.Answer[1].Header().Rrtype != dns.TypeRRSIG {
		t.Errorf("DO query: %v", in.Answer)
	}
	if in = ask(t, ts.udp, "udp", "www.innovatetech.test.", dns.TypeA, withEDNS(1232, false)); len(in.Answer) != 1 {
		t.Errorf("query without DO got %v", in.Answer)
	}
}

// TestDNSSECKeyKept: a restart signs with the same key (the DS stays
// valid), and re-signing gives a new serial.
func TestDNSSECKeyKept(t *testing.T) {
	cfg := testConfig(t, "dnssec = true\n")
	ts := newServer(t, cfg, "", nil)
	ds1, err := DS(ts.dir, zoneName)
	if err != nil {
		t.Fatal(err)
	}
	ts2 := newServer(t, cfg, ts.dir, ts.st)
	ds2, err := DS(ts.dir, zoneName)
	if err != nil {
		t.Fatal(err)
	}
	if ds1.String() != ds2.String() {
		t.Errorf("DS changed across a restart: %s then %s", ds1, ds2)
	}
	s1 := ts2.srv.Serial()
	// Re-signing is due once signatures are resignAfter old.
	ts2.srv.now = func() time.Time { return time.Now().Add(resignAfter + time.Hour) }
	if err := ts2.srv.resignIfDue(); err != nil {
		t.Fatal(err)
	}
	if !serialBefore(s1, ts2.srv.Serial()) {
		t.Errorf("re-signing kept serial %d", s1)
	}
	if _, err := DS(t.TempDir(), zoneName); err == nil {
		t.Error("DS without a key did not fail")
	}
}
