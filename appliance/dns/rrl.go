package dns

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"thecure/appliance/config"
)

// rrlMaxClients bounds the client networks tracked at once; spoofed sources
// cannot grow the table past it (a new network beyond it is limited).
const rrlMaxClients = 1 << 16

// verdict is what RRL says of one UDP response.
type verdict int

const (
	send verdict = iota // answer normally
	slip                // answer empty, truncated (TC): retry over TCP
	drop                // say nothing
)

// rrl is response rate limiting per client network (UDP only).
type rrl struct {
	c       config.DNSRRL
	mu      sync.Mutex
	clients map[netip.Prefix]*rrlClient
	swept   time.Time
}

type rrlClient struct {
	lim    *rate.Limiter
	denied int // responses over the limit so far, for slip
}

func newRRL(c config.DNSRRL) *rrl {
	if c.ResponsesPerSecond <= 0 {
		return nil
	}
	return &rrl{c: c, clients: map[netip.Prefix]*rrlClient{}}
}

// check decides the fate of one UDP response to a.
func (r *rrl) check(a netip.Addr, now time.Time) verdict {
	if r == nil {
		return send
	}
	bits := r.c.IPv6Prefix
	if a.Is4() {
		bits = r.c.IPv4Prefix
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return send
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clients[p]
	if c == nil {
		if len(r.clients) >= rrlMaxClients {
			r.sweep(now)
		}
		if len(r.clients) >= rrlMaxClients {
			return r.deny(&rrlClient{})
		}
		c = &rrlClient{lim: rate.NewLimiter(rate.Limit(r.c.ResponsesPerSecond), r.c.ResponsesPerSecond)}
		r.clients[p] = c
	}
	if c.lim.AllowN(now, 1) {
		return send
	}
	return r.deny(c)
}

func (r *rrl) deny(c *rrlClient) verdict {
	c.denied++
	if r.c.Slip > 0 && c.denied%r.c.Slip == 0 {
		return slip
	}
	return drop
}

// sweep forgets the networks whose bucket is full again (idle ones): they
// behave as new. At most once a second.
func (r *rrl) sweep(now time.Time) {
	if now.Sub(r.swept) < time.Second {
		return
	}
	r.swept = now
	for p, c := range r.clients {
		if c.lim.TokensAt(now) >= float64(c.lim.Burst()) {
			delete(r.clients, p)
		}
	}
}
