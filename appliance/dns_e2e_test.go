package appliance

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDNSBinary runs the real binary with [dns] on and signed: dig gets
// authoritative answers over UDP and TCP, REFUSED for other zones,
// `thecure dns ds` prints the DS that delv validates the zone with,
// /metrics counts the queries, status and /healthz show the DNS line, and
// SIGINT stops it all.
func TestDNSBinary(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `
[dns]
enabled = true
listen = "127.0.0.1:0"
zone = "innovatetech.test."
dnssec = true

[[dns.records]]
name = "mail"
type = "A"
value = "192.0.2.25"
`)
	// public_host is top-level: put it first.
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append([]byte("public_host = \"192.0.2.10\"\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runCmd(t, dir, "check-config", "-c", cfg); code != 0 {
		t.Fatalf("check-config: %d %s%s", code, out, errOut)
	}
	p := start(t, dir, "run", "-c", cfg)
	udp := p.waitLine(t, `msg=listening svc=dns key=dns.listen addr=(\S+) net=udp`)[1]
	web := p.waitLine(t, `msg=listening svc=http key=http.listen addr=(\S+)`)[1]
	p.waitLine(t, `thecure is running`)
	host, port, _ := net.SplitHostPort(udp)

	dig := func(args ...string) string {
		out, err := exec.Command("dig", append([]string{"@" + host, "-p", port, "+norec", "+time=3", "+tries=1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, c := range []struct {
		args []string
		want string // regexp
	}{
		{[]string{"www.innovatetech.test", "A"}, `(?s)status: NOERROR.*flags: qr aa;.*\nwww\.innovatetech\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.10\n`},
		{[]string{"+tcp", "mail.innovatetech.test", "A"}, `(?s)status: NOERROR.*flags: qr aa;.*\nmail\.innovatetech\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.25\n.*\(TCP\)`},
		{[]string{"nope.innovatetech.test", "A"}, `(?s)status: NXDOMAIN.*AUTHORITY SECTION:\ninnovatetech\.test\.\s+300\s+IN\s+SOA\s`},
		{[]string{"example.org", "A"}, `status: REFUSED`},
		{[]string{"innovatetech.test", "AXFR"}, `Transfer failed`},
	} {
		if out := dig(c.args...); !regexp.MustCompile(c.want).MatchString(out) {
			t.Errorf("dig %v: no %q in\n%s", c.args, c.want, out)
		}
	}

	out, errOut, code := runCmd(t, dir, "dns", "ds", "-c", cfg)
	m := regexp.MustCompile(`^innovatetech\.test\.\s+\d+\s+IN\s+DS\s+(\d+) 13 2 ([0-9A-F]{64})\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("thecure dns ds: %d %q %s", code, out, errOut)
	}
	anchor := filepath.Join(dir, "anchor.conf")
	if err := os.WriteFile(anchor, []byte(fmt.Sprintf("trust-anchors { innovatetech.test. static-ds %s 13 2 \"%s\"; };\n", m[1], m[2])), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"www.innovatetech.test", "nope.innovatetech.test"} {
		v, _ := exec.Command("delv", "-a", anchor, "@"+host, "-p", port, "+root=innovatetech.test", name, "A").CombinedOutput()
		if !strings.Contains(string(v), "fully validated") {
			t.Errorf("delv %s:\n%s", name, v)
		}
	}

	resp, err := http.Get("http://" + web + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`thecure_dns_queries_total{rcode="NOERROR",type="A"}`, `thecure_dns_queries_total{rcode="REFUSED",type="A"} 1`,
		`thecure_dns_transfers_total{result="refused"} 1`, "thecure_dns_zone_serial 2.0"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	time.Sleep(6 * time.Second) // the status line is refreshed every 5s
	out, errOut, code = runCmd(t, dir, "status", "-c", cfg)
	if code != 0 || !regexp.MustCompile(`(?m)^dns\s+up\s+.*zone innovatetech\.test\. serial \d+, \d+ records, signed; \d+ queries`).MatchString(out) {
		t.Errorf("status: %d\n%s%s", code, out, errOut)
	}

	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit status after SIGINT = %d", code)
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "dns", "innovatetech.test.key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("DNSSEC key: %v, mode %v", err, fi.Mode())
	}
	// dns ds with dnssec off says so.
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(must(os.ReadFile(cfg))), "dnssec = true", "dnssec = false", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCmd(t, dir, "dns", "-c", cfg, "ds"); code != 1 || !strings.Contains(errOut, "dnssec is off") {
		t.Errorf("dns ds with dnssec off: %d %s", code, errOut)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
