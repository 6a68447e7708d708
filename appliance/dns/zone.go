package dns

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"thecure/appliance/config"
)

// SOA timers of the generated SOA record (RFC 1912 style values).
const (
	soaRefresh = 3600
	soaRetry   = 900
	soaExpire  = 1209600
)

// maxChase bounds CNAME chasing inside the zone.
const maxChase = 8

// zone is the served zone: immutable once built (a change builds a new one).
type zone struct {
	origin string
	serial uint32
	soa    *dns.SOA
	nodes  map[string]*node // owner name -> its records
	ents   map[string]bool  // empty non-terminals (names with data only below)
	names  []string         // owners in canonical order (the NSEC chain)
	signed bool
	dnskey *dns.DNSKEY
	expire time.Time // signatures' expiration
	count  int       // records, for the status line
	cache  *replyCache
}

// node is one owner name's records.
type node struct {
	name string
	sets map[uint16][]dns.RR // rrtype -> RRset
	sigs map[uint16][]dns.RR // covered rrtype -> RRSIGs (signed zones)
	nsec []dns.RR            // this name's NSEC (signed zones)
}

// contentHash identifies a zone's content for the serial: every record in
// canonical text, sorted, with the key's tag when signed.
func contentHash(z *config.Zone, key *dns.DNSKEY) string {
	lines := make([]string, 0, len(z.Records)+2)
	for _, rr := range z.Records {
		lines = append(lines, rr.String())
	}
	if key != nil {
		lines = append(lines, key.String())
	}
	lines = append(lines, "ns "+z.NS)
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:])
}

// buildZone makes the servable zone from its records, serial and (when
// signer is not nil) signs it with key valid from now.
func buildZone(cz *config.Zone, ttl uint32, serial uint32, key *dns.DNSKEY, signer crypto.Signer, now time.Time) (*zone, error) {
	z := &zone{origin: cz.Origin, serial: serial, nodes: map[string]*node{}, ents: map[string]bool{}, cache: &replyCache{}}
	z.soa = &dns.SOA{
		Hdr:     dns.RR_Header{Name: cz.Origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      cz.NS,
		Mbox:    "hostmaster." + cz.Origin,
		Serial:  serial,
		Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: ttl,
	}
	add := func(rr dns.RR) {
		h := rr.Header()
		n := z.nodes[h.Name]
		if n == nil {
			n = &node{name: h.Name, sets: map[uint16][]dns.RR{}}
			z.nodes[h.Name] = n
		}
		n.sets[h.Rrtype] = append(n.sets[h.Rrtype], rr)
		z.count++
	}
	add(z.soa)
	for _, rr := range cz.Records {
		add(dns.Copy(rr))
	}
	if signer != nil {
		k := *key
		k.Hdr.Ttl = ttl
		add(&k)
		z.dnskey = &k
	}
	// Every RRset has one TTL (RFC 2181): the smallest of its records.
	for _, n := range z.nodes {
		for _, set := range n.sets {
			m := set[0].Header().Ttl
			for _, rr := range set {
				m = min(m, rr.Header().Ttl)
			}
			for _, rr := range set {
				rr.Header().Ttl = m
			}
		}
	}
	for name := range z.nodes {
		for p := parent(name); p != "" && dns.IsSubDomain(z.origin, p); p = parent(p) {
			if z.nodes[p] == nil {
				z.ents[p] = true
			}
		}
	}
	z.names = make([]string, 0, len(z.nodes))
	for name := range z.nodes {
		z.names = append(z.names, name)
	}
	slices.SortFunc(z.names, canonicalCompare)
	if signer != nil {
		if err := z.sign(signer, now); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// parent is name without its first label ("" above the root).
func parent(name string) string {
	if name == "." {
		return ""
	}
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}

// signature validity: signatures are made valid from an hour ago (clock
// skew) for sigValidity, and remade (with a new serial) when older than
// resignAfter.
const (
	sigValidity = 14 * 24 * time.Hour
	resignAfter = 3 * 24 * time.Hour
)

// sign adds the NSEC chain and an RRSIG for every RRset.
func (z *zone) sign(signer crypto.Signer, now time.Time) error {
	nsecTTL := min(z.soa.Hdr.Ttl, z.soa.Minttl)
	for i, name := range z.names {
		n := z.nodes[name]
		next := z.names[(i+1)%len(z.names)]
		types := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
		for t := range n.sets {
			types = append(types, t)
		}
		slices.Sort(types)
		n.nsec = []dns.RR{&dns.NSEC{
			Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: nsecTTL},
			NextDomain: next,
			TypeBitMap: types,
		}}
	}
	z.expire = now.Add(sigValidity)
	tag := z.dnskey.KeyTag()
	sig := func(set []dns.RR) (dns.RR, error) {
		s := &dns.RRSIG{
			Hdr:        dns.RR_Header{Ttl: set[0].Header().Ttl},
			Algorithm:  dns.ECDSAP256SHA256,
			Inception:  uint32(now.Add(-time.Hour).Unix()),
			Expiration: uint32(z.expire.Unix()),
			KeyTag:     tag,
			SignerName: z.origin,
		}
		if err := s.Sign(signer, set); err != nil {
			return nil, fmt.Errorf("sign %s %s: %w", set[0].Header().Name, dns.TypeToString[set[0].Header().Rrtype], err)
		}
		return s, nil
	}
	for _, n := range z.nodes {
		n.sigs = map[uint16][]dns.RR{}
		for t, set := range n.sets {
			s, err := sig(set)
			if err != nil {
				return err
			}
			n.sigs[t] = []dns.RR{s}
		}
		s, err := sig(n.nsec)
		if err != nil {
			return err
		}
		n.sigs[dns.TypeNSEC] = []dns.RR{s}
	}
	z.signed = true
	return nil
}

// covering returns the node whose NSEC covers name (the last owner before it
// in canonical order; the apex sorts first, so there always is one).
func (z *zone) covering(name string) *node {
	i := sort.Search(len(z.names), func(i int) bool { return canonicalCompare(z.names[i], name) >= 0 })
	if i == 0 {
		i = len(z.names)
	}
	return z.nodes[z.names[i-1]]
}

// exists reports whether name has records or records below it.
func (z *zone) exists(name string) bool { return z.nodes[name] != nil || z.ents[name] }

// closestEncloser is the longest existing ancestor of name in the zone.
func (z *zone) closestEncloser(name string) string {
	for p := parent(name); p != ""; p = parent(p) {
		if z.exists(p) {
			return p
		}
		if p == z.origin {
			break
		}
	}
	return z.origin
}

// canonicalCompare orders names as DNSSEC does (RFC 4034 6.1): label by
// label from the right, each compared as lower-cased octets.
func canonicalCompare(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := bytes.Compare(lower(la[i]), lower(lb[j])); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// wireLabels splits a presentation-format name into its labels' octets.
func wireLabels(name string) [][]byte {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return [][]byte{[]byte(strings.ToLower(name))}
	}
	var out [][]byte
	for off := 0; off < n; {
		l := int(buf[off])
		if l == 0 {
			break
		}
		out = append(out, buf[off+1:off+1+l])
		off += 1 + l
	}
	return out
}

func lower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// records lists the whole zone in transfer order: SOA first, then every
// RRset with its signatures and NSEC (the caller adds the closing SOA).
func (z *zone) records() []dns.RR {
	out := []dns.RR{z.soa}
	if z.signed {
		out = append(out, z.nodes[z.origin].sigs[dns.TypeSOA]...)
	}
	for _, name := range z.names {
		n := z.nodes[name]
		types := make([]uint16, 0, len(n.sets))
		for t := range n.sets {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			if t == dns.TypeSOA {
				continue
			}
			out = append(out, n.sets[t]...)
			if z.signed {
				out = append(out, n.sigs[t]...)
			}
		}
		if z.signed {
			out = append(out, n.nsec...)
			out = append(out, n.sigs[dns.TypeNSEC]...)
		}
	}
	return out
}
