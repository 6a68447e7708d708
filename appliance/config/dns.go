package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS configures the optional authoritative DNS server for the box's own
// zone (off by default).
type DNS struct {
	Enabled bool `toml:"enabled"`
	// Listen is the UDP and TCP address ("host:port"); ":53" in production.
	Listen string `toml:"listen"`
	// Zone is the domain served, such as "innovatetech.test." (a trailing
	// dot is added when missing).
	Zone string `toml:"zone"`
	// TTL is the TTL of the generated records and of records without one;
	// also the negative-caching TTL (SOA minimum).
	TTL Duration `toml:"ttl"`
	// MinTTL and MaxTTL bound every record's TTL.
	MinTTL Duration `toml:"min_ttl"`
	MaxTTL Duration `toml:"max_ttl"`
	// AllowTransfer are the addresses (CIDR prefixes or single addresses)
	// that may fetch the whole zone with AXFR or IXFR (secondaries).
	AllowTransfer []string `toml:"allow_transfer"`
	// Notify are the secondaries ("IP" or "IP:port", port 53 by default)
	// told with a DNS NOTIFY when the zone changes (and at start).
	Notify []string `toml:"notify"`
	// DNSSEC signs the zone online (ECDSA P-256) with a key kept in
	// data_dir/dns/; `thecure dns ds` prints the DS record for the parent.
	DNSSEC bool `toml:"dnssec"`
	// RRL limits the UDP responses per client network against reflection.
	RRL DNSRRL `toml:"rrl"`
	// Records are the zone's own records besides the generated ones.
	Records []DNSRecord `toml:"records"`
}

// DNSRRL is response rate limiting: each client network (IPv4 /ipv4_prefix,
// IPv6 /ipv6_prefix) gets responses_per_second UDP responses per second
// (bursts of as many); of the responses over the limit, one in slip is sent
// truncated (empty, TC bit) so that a real client retries over TCP, the rest
// are dropped. TCP is never limited (it cannot be spoofed).
type DNSRRL struct {
	ResponsesPerSecond int `toml:"responses_per_second"` // 0: off
	Slip               int `toml:"slip"`                 // 0: drop all; 1: truncate all
	IPv4Prefix         int `toml:"ipv4_prefix"`
	IPv6Prefix         int `toml:"ipv6_prefix"`
}

// DNSRecord is one [[dns.records]] entry.
type DNSRecord struct {
	// Name is relative to the zone ("www", "_sip._tcp", "@" for the apex)
	// or absolute inside it ("www.innovatetech.test.").
	Name  string   `toml:"name"`
	Type  string   `toml:"type"`  // A | AAAA | CNAME | TXT | MX | SRV | CAA
	Value string   `toml:"value"` // as in a zone file; TXT: the text itself
	TTL   Duration `toml:"ttl"`   // 0: [dns] ttl
}

// DNSRecordTypes are the record types [[dns.records]] may declare.
var DNSRecordTypes = []string{"A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA"}

// DNSAutoNames are the names that point to public_host unless
// [[dns.records]] declares them ("@" is the apex).
var DNSAutoNames = []string{"@", "ftp", "live", "www"}

// maxTXT bounds the text of one TXT record.
const maxTXT = 8192

func defaultDNS() DNS {
	return DNS{
		Listen: ":5353",
		TTL:    Duration(5 * time.Minute),
		MinTTL: Duration(30 * time.Second),
		MaxTTL: Duration(24 * time.Hour),
		RRL:    DNSRRL{ResponsesPerSecond: 50, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56},
	}
}

// Origin is the zone as a lower-case fully qualified name ("" when unset).
func (c *DNS) Origin() string {
	if c.Zone == "" {
		return ""
	}
	return dns.CanonicalName(c.Zone)
}

// Zone is the content [dns] describes: every record but the SOA (whose
// serial the server keeps), with the generated ones.
type Zone struct {
	Origin  string
	NS      string   // the name server's name (SOA MNAME and the apex NS)
	Records []dns.RR // NS, generated and declared records
}

// BuildZone parses the declared records and adds the generated ones. It
// returns every problem found, keyed like Validate's ("dns.records[2].value").
func (c *DNS) BuildZone(publicHost string) (*Zone, Problems) {
	v := &validator{}
	z := v.dnsZone(c, publicHost)
	return z, v.probs
}

func (v *validator) dns(c *DNS, publicHost string) {
	v.rrl(&c.RRL)
	v.dnsTTLs(c)
	v.prefixes(c.AllowTransfer, "dns.allow_transfer")
	if !c.Enabled && c.Zone == "" && len(c.Records) == 0 {
		return
	}
	v.listen(c.Listen, "dns.listen", c.Enabled)
	v.dnsZone(c, publicHost)
	for i, n := range c.Notify {
		key := fmt.Sprintf("dns.notify[%d]", i)
		ap, err := NotifyAddr(n)
		if err != nil {
			v.fail(key, "%v", err)
			continue
		}
		if !coveredByPrefixes(ap.Addr(), c.AllowTransfer) {
			v.fail(key, "%s is not in dns.allow_transfer: a secondary told of a change could not fetch the zone", ap.Addr())
		}
	}
}

// maxRRL bounds dns.rrl.responses_per_second.
const maxRRL = 100000

func (v *validator) rrl(r *DNSRRL) {
	v.check(r.ResponsesPerSecond >= 0, "dns.rrl.responses_per_second", "must not be negative (0: off)")
	atMost(v, "dns.rrl.responses_per_second", r.ResponsesPerSecond, maxRRL)
	v.check(r.Slip >= 0 && r.Slip <= 10, "dns.rrl.slip", "must be between 0 and 10")
	v.check(r.IPv4Prefix >= 8 && r.IPv4Prefix <= 32, "dns.rrl.ipv4_prefix", "must be between 8 and 32")
	v.check(r.IPv6Prefix >= 16 && r.IPv6Prefix <= 128, "dns.rrl.ipv6_prefix", "must be between 16 and 128")
}

// maxTTL is the largest TTL DNS allows (RFC 2181: 2^31 - 1 seconds).
const maxTTL = Duration((1<<31 - 1) * time.Second)

func (v *validator) dnsTTLs(c *DNS) {
	for _, t := range []struct {
		key string
		d   Duration
	}{{"dns.ttl", c.TTL}, {"dns.min_ttl", c.MinTTL}, {"dns.max_ttl", c.MaxTTL}} {
		switch {
		case t.d < 0 || t.d > maxTTL:
			v.fail(t.key, "must be between 0s and %ds", int64(maxTTL.Std()/time.Second))
		case t.d%Duration(time.Second) != 0:
			v.fail(t.key, "must be whole seconds")
		}
	}
	v.check(c.MinTTL <= c.MaxTTL, "dns.min_ttl", "must not be above dns.max_ttl")
	if c.TTL < c.MinTTL || c.TTL > c.MaxTTL {
		v.fail("dns.ttl", "%s is outside dns.min_ttl-dns.max_ttl (%s-%s)", c.TTL, c.MinTTL, c.MaxTTL)
	}
	for i, r := range c.Records {
		key := fmt.Sprintf("dns.records[%d].ttl", i)
		switch {
		case r.TTL == 0: // [dns] ttl, checked above
		case r.TTL < 0 || r.TTL%Duration(time.Second) != 0:
			v.fail(key, "must be whole seconds")
		case r.TTL < c.MinTTL || r.TTL > c.MaxTTL:
			v.fail(key, "%s is outside dns.min_ttl-dns.max_ttl (%s-%s)", r.TTL, c.MinTTL, c.MaxTTL)
		}
	}
}

// NotifyAddr reads a dns.notify entry: "IP" (port 53) or "IP:port".
func NotifyAddr(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP address or IP:port (write e.g. \"192.0.2.53\" or \"[2001:db8::53]:53\")", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func coveredByPrefixes(a netip.Addr, list []string) bool {
	for _, s := range list {
		if p, err := ParsePrefix(s); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

// dnsZone parses the zone's records, recording problems; nil when the zone
// itself is unusable.
func (v *validator) dnsZone(c *DNS, publicHost string) *Zone {
	if c.Zone == "" {
		v.fail("dns.zone", "must be set when [dns] is enabled (the domain served, e.g. \"example.com.\")")
		return nil
	}
	origin := c.Origin()
	if !validName(origin) || origin == "." {
		v.fail("dns.zone", "%q is not a domain name (labels of a-z 0-9 - _, e.g. \"example.com.\")", c.Zone)
		return nil
	}
	z := &Zone{Origin: origin}
	type declared struct {
		idx int
		rr  dns.RR
	}
	var recs []declared
	names := map[string]bool{} // owners declared by [[dns.records]]
	addrs := map[string]bool{} // owners declared with an A, AAAA or CNAME
	for i, r := range c.Records {
		key := fmt.Sprintf("dns.records[%d]", i)
		rr := v.dnsRecord(c, origin, key, r)
		if rr != nil {
			recs = append(recs, declared{i, rr})
			names[rr.Header().Name] = true
			switch rr.Header().Rrtype {
			case dns.TypeA, dns.TypeAAAA, dns.TypeCNAME:
				addrs[rr.Header().Name] = true
			}
		}
	}

	// The generated records: NS, and the automatic names to public_host.
	var auto []dns.RR
	ttl := uint32(c.TTL.Std() / time.Second)
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	addr, addrErr := netip.ParseAddr(publicHost)
	isIP := addrErr == nil
	hostTarget := ""
	switch {
	case publicHost == "":
		if c.Enabled {
			v.fail("public_host", "[dns] is enabled: set public_host, the address the name server, ftp, live and www point to")
		}
	case isIP:
		addr = addr.Unmap()
	default:
		hostTarget = dns.CanonicalName(publicHost)
		if !validName(hostTarget) {
			v.fail("public_host", "%q is neither an IP address nor a host name", publicHost)
			hostTarget = ""
		}
	}
	addrRR := func(name string) dns.RR {
		if addr.Is4() {
			return &dns.A{Hdr: hdr(name, dns.TypeA), A: net.IP(addr.AsSlice())}
		}
		return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: net.IP(addr.AsSlice())}
	}
	z.NS = "ns." + origin
	switch {
	case hostTarget != "":
		z.NS = hostTarget
	case isIP && !addrs[z.NS]:
		auto = append(auto, addrRR(z.NS))
	}
	auto = append(auto, &dns.NS{Hdr: hdr(origin, dns.TypeNS), Ns: z.NS})
	for _, n := range DNSAutoNames {
		name := origin
		if n != "@" {
			name = n + "." + origin
		}
		switch {
		case addrs[name]:
		case isIP:
			auto = append(auto, addrRR(name))
		case hostTarget != "" && name != origin && hostTarget != name && !names[name]:
			auto = append(auto, &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME), Target: hostTarget})
		}
	}
	if hostTarget != "" && dns.IsSubDomain(origin, hostTarget) && !addrs[hostTarget] {
		v.fail("public_host", "%q is inside dns.zone but no [[dns.records]] gives it an address (A or AAAA)", publicHost)
	}

	// Conflicts: duplicates, CNAME at the apex or beside other data.
	byName := map[string][]declared{}
	for _, d := range recs {
		n := d.rr.Header().Name
		key := fmt.Sprintf("dns.records[%d]", d.idx)
		for _, o := range byName[n] {
			if dns.IsDuplicate(o.rr, d.rr) {
				v.fail(key, "duplicates dns.records[%d]", o.idx)
			} else if d.rr.Header().Rrtype == dns.TypeCNAME || o.rr.Header().Rrtype == dns.TypeCNAME {
				v.fail(key, "%s has a CNAME (dns.records[%d]): a CNAME cannot stand beside other records", n, o.idx)
			}
		}
		if d.rr.Header().Rrtype == dns.TypeCNAME && n == origin {
			v.fail(key+".type", "a CNAME cannot be at the zone's apex (it holds the SOA and NS)")
		}
		if d.rr.Header().Rrtype == dns.TypeCNAME && n == z.NS {
			v.fail(key+".type", "%s is the name server's name: it needs an address, not a CNAME", n)
		}
		byName[n] = append(byName[n], d)
	}
	// CNAME loops inside the zone.
	cnames := map[string]string{}
	for _, d := range recs {
		if c, ok := d.rr.(*dns.CNAME); ok {
			cnames[c.Hdr.Name] = c.Target
		}
	}
	for _, d := range recs {
		c, ok := d.rr.(*dns.CNAME)
		if !ok {
			continue
		}
		seen := map[string]bool{c.Hdr.Name: true}
		for t := c.Target; ; {
			if seen[t] {
				v.fail(fmt.Sprintf("dns.records[%d].value", d.idx), "CNAME loop: %s leads back to %s", c.Hdr.Name, t)
				break
			}
			seen[t] = true
			next, ok := cnames[t]
			if !ok {
				break
			}
			t = next
		}
	}
	z.Records = auto
	for _, d := range recs {
		z.Records = append(z.Records, d.rr)
	}
	return z
}

// dnsRecord parses one [[dns.records]] entry; nil on a problem.
func (v *validator) dnsRecord(c *DNS, origin, key string, r DNSRecord) dns.RR {
	name, ok := ownerName(r.Name, origin)
	if !ok {
		v.fail(key+".name", "%q is not a name inside %s (write \"www\", \"_sip._tcp\", \"@\" or \"www.%s\")", r.Name, origin, origin)
		return nil
	}
	ttl := r.TTL // checked by dnsTTLs
	if ttl == 0 {
		ttl = c.TTL
	}
	ttl = min(max(ttl, 0), maxTTL)
	h := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: uint32(ttl.Std() / time.Second)}
	val := strings.TrimSpace(r.Value)
	if val == "" {
		v.fail(key+".value", "must not be empty")
		return nil
	}
	if strings.ContainsAny(val, "\n\r\x00") {
		v.fail(key+".value", "must be one line")
		return nil
	}
	switch strings.ToUpper(r.Type) {
	case "A", "AAAA":
		a, err := netip.ParseAddr(val)
		switch {
		case err != nil:
			v.fail(key+".value", "%q is not an IP address", val)
		case strings.EqualFold(r.Type, "A") && !a.Is4():
			v.fail(key+".value", "%q is not an IPv4 address (use type AAAA for IPv6)", val)
		case strings.EqualFold(r.Type, "AAAA") && (!a.Is6() || a.Is4In6()):
			v.fail(key+".value", "%q is not an IPv6 address (use type A for IPv4)", val)
		case a.Is4():
			h.Rrtype = dns.TypeA
			return &dns.A{Hdr: h, A: net.IP(a.AsSlice())}
		default:
			h.Rrtype = dns.TypeAAAA
			return &dns.AAAA{Hdr: h, AAAA: net.IP(a.AsSlice())}
		}
		return nil
	case "TXT":
		if len(val) > maxTXT {
			v.fail(key+".value", "is %d bytes long; a TXT record here may have at most %d", len(val), maxTXT)
			return nil
		}
		h.Rrtype = dns.TypeTXT
		t := &dns.TXT{Hdr: h}
		raw := r.Value // the text as written, spaces kept
		for len(raw) > 255 {
			t.Txt = append(t.Txt, escapeTXT(raw[:255]))
			raw = raw[255:]
		}
		t.Txt = append(t.Txt, escapeTXT(raw))
		return t
	case "CNAME", "MX", "SRV", "CAA":
		typ := strings.ToUpper(r.Type)
		zp := dns.NewZoneParser(strings.NewReader(fmt.Sprintf("%s %d IN %s %s\n", name, h.Ttl, typ, val)), origin, "")
		rr, ok := zp.Next()
		if err := zp.Err(); err != nil || !ok || rr == nil {
			v.fail(key+".value", "%q is not a valid %s value (%s)", val, typ, valueHint(typ))
			return nil
		}
		if _, more := zp.Next(); more || rr.Header().Rrtype != dns.StringToType[typ] {
			v.fail(key+".value", "%q is not one %s value (%s)", val, typ, valueHint(typ))
			return nil
		}
		for _, t := range targets(rr) {
			if t != "." && !validName(t) {
				v.fail(key+".value", "%q is not a host name", t)
				return nil
			}
		}
		if c, ok := rr.(*dns.CNAME); ok && c.Target == name {
			v.fail(key+".value", "a CNAME cannot point to itself")
			return nil
		}
		return rr
	}
	v.fail(key+".type", "%q is not one of %q", r.Type, DNSRecordTypes)
	return nil
}

// targets are the host names inside a record's data, lower-cased in place.
func targets(rr dns.RR) []string {
	switch r := rr.(type) {
	case *dns.CNAME:
		r.Target = dns.CanonicalName(r.Target)
		return []string{r.Target}
	case *dns.MX:
		r.Mx = dns.CanonicalName(r.Mx)
		return []string{r.Mx}
	case *dns.SRV:
		r.Target = dns.CanonicalName(r.Target)
		return []string{r.Target}
	}
	return nil
}

func valueHint(typ string) string {
	switch typ {
	case "CNAME":
		return `a host name, e.g. "box.example.net." or "www" inside the zone`
	case "MX":
		return `"PREFERENCE HOST", e.g. "10 mail"`
	case "SRV":
		return `"PRIORITY WEIGHT PORT TARGET", e.g. "10 5 5060 sip"`
	}
	return `"FLAGS TAG VALUE", e.g. "0 issue \"letsencrypt.org\""`
}

// escapeTXT writes a TXT string in miekg/dns's presentation form (the
// library unescapes it when packing).
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c == 0x7f:
			b.WriteString(`\` + fmt.Sprintf("%03d", c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ownerName resolves a record name against origin: "@" or "" is the apex, a
// name ending in a dot is absolute (and must be inside the zone).
func ownerName(n, origin string) (string, bool) {
	n = strings.TrimSpace(n)
	var full string
	switch {
	case n == "" || n == "@":
		full = origin
	case strings.HasSuffix(n, "."):
		full = dns.CanonicalName(n)
	default:
		full = dns.CanonicalName(n + "." + origin)
	}
	return full, validName(full) && dns.IsSubDomain(origin, full)
}

// validName accepts fully qualified names whose labels are 1-63 of
// a-z 0-9 - _ (lower case), 253 characters at most.
func validName(n string) bool {
	if n == "." {
		return true
	}
	if len(n) > 254 || !strings.HasSuffix(n, ".") {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// TTLSeconds is d in whole seconds, for DNS records.
func TTLSeconds(d Duration) uint32 { return uint32(d.Std() / time.Second) }

// listenIfEnabled is Listen when the server is on, for the clash check.
func (c *DNS) listenIfEnabled() string {
	if !c.Enabled {
		return ""
	}
	return c.Listen
}
