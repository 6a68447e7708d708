package config

import (
	"sort"
	"strings"
	"testing"
)

// zoneText lists a zone's records as "name TYPE data", sorted.
func zoneText(t *testing.T, publicHost, records string) string {
	t.Helper()
	src := "public_host = \"" + publicHost + "\"\n[dns]\nenabled = true\nzone = \"Example.COM\"\n" + records
	cfg, _, err := Parse("t.toml", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	z, probs := cfg.DNS.BuildZone(cfg.PublicHost)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var lines []string
	for _, rr := range z.Records {
		f := strings.Fields(rr.String())
		lines = append(lines, f[0]+" "+strings.Join(f[3:], " "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestDNSGeneratedNames: the apex, ftp, live and www point to public_host
// (A, AAAA, or CNAME for a host name; never a CNAME at the apex), the name
// server is ns.ZONE or public_host; declared names win.
func TestDNSGeneratedNames(t *testing.T) {
	for _, c := range []struct{ host, records, want string }{
		{"192.0.2.10", "", `example.com. A 192.0.2.10
example.com. NS ns.example.com.
ftp.example.com. A 192.0.2.10
live.example.com. A 192.0.2.10
ns.example.com. A 192.0.2.10
www.example.com. A 192.0.2.10`},
		{"2001:db8::10", "", `example.com. AAAA 2001:db8::10
example.com. NS ns.example.com.
ftp.example.com. AAAA 2001:db8::10
live.example.com. AAAA 2001:db8::10
ns.example.com. AAAA 2001:db8::10
www.example.com. AAAA 2001:db8::10`},
		{"Box.Example.NET", "", `example.com. NS box.example.net.
ftp.example.com. CNAME box.example.net.
live.example.com. CNAME box.example.net.
www.example.com. CNAME box.example.net.`},
		// declared records replace the generated ones of their name
		{"192.0.2.10", `[[dns.records]]
name = "www"
type = "CNAME"
value = "cdn.example.net."
[[dns.records]]
name = "@"
type = "TXT"
value = "hello \"world\""
[[dns.records]]
name = "ns"
type = "A"
value = "192.0.2.53"`, `example.com. A 192.0.2.10
example.com. NS ns.example.com.
example.com. TXT "hello \"world\""
ftp.example.com. A 192.0.2.10
live.example.com. A 192.0.2.10
ns.example.com. A 192.0.2.53
www.example.com. CNAME cdn.example.net.`},
	} {
		if got := zoneText(t, c.host, c.records); got != c.want {
			t.Errorf("public_host %s:\n%s\nwant:\n%s", c.host, got, c.want)
		}
	}
}

// TestDNSOffChecksLittle: with [dns] off and no zone, the records are not
// checked, but the shared keys are.
func TestDNSOffChecksLittle(t *testing.T) {
	if _, _, err := Parse("t.toml", []byte("[dns]\nzone = \"\"\n")); err != nil {
		t.Errorf("[dns] off: %v", err)
	}
	_, _, err := Parse("t.toml", []byte("[dns]\nenabled = true\nzone = \"example.com\"\n"))
	if err == nil || !strings.Contains(err.Error(), "public_host: [dns] is enabled: set public_host") {
		t.Errorf("enabled without public_host: %v", err)
	}
	_, _, err = Parse("t.toml", []byte("public_host = \"192.0.2.1\"\n[http]\nlisten = \":5353\"\n[dns]\nenabled = true\nzone = \"example.com\"\n"))
	if err == nil || !strings.Contains(err.Error(), "already used by") {
		t.Errorf("dns.listen = http.listen: %v", err)
	}
}
