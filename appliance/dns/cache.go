package dns

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// The UDP answers of a zone are packed once and kept: a repeated question
// (the common case: a handful of names asked again and again) is answered
// by copying the packed reply and setting the query's id, flags and
// question (its letter case) in it. The question is read with miekg/dns's
// own unpacking functions; anything unusual (other opcodes or classes, EDNS
// versions, more records) takes the full path. The cache belongs to one
// zone: a new zone starts empty.

// maxCached bounds the replies one zone keeps (random names asked by a
// client cannot grow it past this; they take the full path).
const maxCached = 4096

type cacheKey struct {
	name  string // lower case
	qtype uint16
	edns  bool
	do    bool
	size  uint16 // the UDP size the reply was cut to
}

type cached struct {
	wire  []byte // id 0, RD and CD clear
	rcode int
	qlen  int // the question section's length
}

type replyCache struct {
	m sync.Map // cacheKey -> *cached
	n atomic.Int32
}

// cacheKeyOf reads the key of a plain query (one question of class IN, at
// most an OPT record), and the question section's length.
func cacheKeyOf(pkt []byte, h dns.Header) (cacheKey, int, bool) {
	if h.Bits&0x7800 != 0 || h.Qdcount != 1 || h.Ancount != 0 || h.Nscount != 0 || h.Arcount > 1 {
		return cacheKey{}, 0, false // opcode other than QUERY, or more records
	}
	name, off, err := dns.UnpackDomainName(pkt, 12)
	if err != nil || off+4 > len(pkt) {
		return cacheKey{}, 0, false
	}
	for i := 12; pkt[i] != 0; i += int(pkt[i]) + 1 {
		if pkt[i]&0xc0 != 0 {
			return cacheKey{}, 0, false // a compression pointer in the question
		}
	}
	k := cacheKey{name: strings.ToLower(name), qtype: binary.BigEndian.Uint16(pkt[off:])}
	if binary.BigEndian.Uint16(pkt[off+2:]) != dns.ClassINET {
		return cacheKey{}, 0, false
	}
	qlen := off + 4 - 12
	k.size = dns.MinMsgSize
	if h.Arcount == 1 {
		rr, end, err := dns.UnpackRR(pkt, off+4)
		opt, ok := rr.(*dns.OPT)
		// EDNS options (a resolver's cookie, padding) change nothing in
		// the reply: none is echoed.
		if err != nil || !ok || end != len(pkt) || opt.Version() != 0 {
			return cacheKey{}, 0, false
		}
		k.edns, k.do = true, opt.Do()
		k.size = uint16(min(max(int(opt.UDPSize()), dns.MinMsgSize), udpSize))
	} else if off+4 != len(pkt) {
		return cacheKey{}, 0, false
	}
	switch k.qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeANY:
		return cacheKey{}, 0, false
	}
	return k, qlen, true
}

// get writes the cached reply to k into buf for the query pkt.
func (c *replyCache) get(k cacheKey, pkt []byte, qlen int, buf []byte) ([]byte, int, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		return nil, 0, false
	}
	e := v.(*cached)
	if e.qlen != qlen {
		return nil, 0, false
	}
	out := append(buf[:0], e.wire...)
	copy(out[0:2], pkt[0:2]) // id
	const rd, cd = 1 << 8, 1 << 4
	flags := binary.BigEndian.Uint16(out[2:]) | binary.BigEndian.Uint16(pkt[2:])&(rd|cd)
	binary.BigEndian.PutUint16(out[2:], flags)
	copy(out[12:12+qlen], pkt[12:12+qlen]) // the question as asked (0x20 case)
	return out, e.rcode, true
}

// put keeps reply (packed, for a query without RD and CD) under k.
func (c *replyCache) put(k cacheKey, reply []byte, rcode, qlen int) {
	if c.n.Load() >= maxCached {
		return
	}
	w := append([]byte(nil), reply...)
	w[0], w[1] = 0, 0
	const rd, cd = 1 << 8, 1 << 4
	binary.BigEndian.PutUint16(w[2:], binary.BigEndian.Uint16(w[2:])&^(rd|cd))
	if _, loaded := c.m.LoadOrStore(k, &cached{wire: w, rcode: rcode, qlen: qlen}); !loaded {
		c.n.Add(1)
	}
}
