package dns

import (
	"github.com/miekg/dns"
)

// udpSize is the largest UDP response sent and the size advertised in EDNS0
// (the DNS flag day 2020 value: no IP fragmentation on common paths).
const udpSize = 1232

// answer fills m (already a reply to q: question, id, RD copied) for a
// question inside the zone. do asks for DNSSEC records; tcp allows the
// answers UDP refuses (ANY).
func (z *zone) answer(m *dns.Msg, qname string, qtype uint16, do, tcp bool) {
	m.Authoritative = true
	dnssec := do && z.signed
	addSet := func(sec *[]dns.RR, n *node, t uint16) {
		*sec = append(*sec, n.sets[t]...)
		if dnssec {
			*sec = append(*sec, n.sigs[t]...)
		}
	}
	soa := func() {
		s := *z.soa
		s.Hdr.Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl) // RFC 2308
		m.Ns = append(m.Ns, &s)
		if dnssec {
			m.Ns = append(m.Ns, z.nodes[z.origin].sigs[dns.TypeSOA]...)
		}
	}
	nsec := func(n *node) {
		if !dnssec {
			return
		}
		for _, rr := range m.Ns {
			if rr.Header().Rrtype == dns.TypeNSEC && rr.Header().Name == n.name {
				return
			}
		}
		m.Ns = append(m.Ns, n.nsec...)
		m.Ns = append(m.Ns, n.sigs[dns.TypeNSEC]...)
	}

	name := qname
	for hop := 0; ; hop++ {
		n := z.nodes[name]
		if n == nil {
			soa()
			if z.ents[name] { // NODATA at an empty non-terminal
				nsec(z.covering(name))
				return
			}
			m.Rcode = dns.RcodeNameError
			nsec(z.covering(name))
			nsec(z.covering("*." + z.closestEncloser(name)))
			return
		}
		switch {
		case qtype == dns.TypeANY:
			if !tcp {
				// RFC 8482: no ANY over UDP; a real client asks for what
				// it needs, or retries over TCP.
				m.Truncated = true
				return
			}
			for t := range n.sets {
				addSet(&m.Answer, n, t)
			}
			return
		case qtype == dns.TypeRRSIG && dnssec:
			for _, s := range n.sigs {
				m.Answer = append(m.Answer, s...)
			}
			return
		case qtype == dns.TypeNSEC && dnssec:
			m.Answer = append(m.Answer, n.nsec...)
			m.Answer = append(m.Answer, n.sigs[dns.TypeNSEC]...)
			return
		case len(n.sets[qtype]) > 0:
			addSet(&m.Answer, n, qtype)
			z.additional(m, n.sets[qtype], dnssec)
			return
		case len(n.sets[dns.TypeCNAME]) > 0 && qtype != dns.TypeCNAME:
			addSet(&m.Answer, n, dns.TypeCNAME)
			target := n.sets[dns.TypeCNAME][0].(*dns.CNAME).Target
			if !dns.IsSubDomain(z.origin, target) || hop >= maxChase {
				return
			}
			name = target
			continue
		}
		soa() // NODATA
		nsec(n)
		return
	}
}

// additional adds the in-zone addresses of the hosts an answer names (NS,
// MX, SRV targets).
func (z *zone) additional(m *dns.Msg, set []dns.RR, dnssec bool) {
	for _, rr := range set {
		var host string
		switch r := rr.(type) {
		case *dns.NS:
			host = r.Ns
		case *dns.MX:
			host = r.Mx
		case *dns.SRV:
			host = r.Target
		default:
			return
		}
		n := z.nodes[host]
		if n == nil {
			continue
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			m.Extra = append(m.Extra, n.sets[t]...)
			if dnssec && len(n.sets[t]) > 0 {
				m.Extra = append(m.Extra, n.sigs[t]...)
			}
		}
	}
}
