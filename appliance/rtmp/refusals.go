package rtmp

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// maxClientValue is how much of a value a client chose (stream or app
// name, error text that may quote one) goes into a log line.
const maxClientValue = 64

// clip truncates a value chosen by a client for a log line (on a rune
// boundary, marked with "…"); slog quotes it where needed.
func clip(s string) string {
	if len(s) <= maxClientValue {
		return s
	}
	cut := maxClientValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// refusalEvery is how often a refusal from one address is logged; the ones
// in between are counted and reported with the next line.
const refusalEvery = time.Minute

// maxRefusalKeys bounds the addresses tracked; past it, refusals from new
// addresses share one entry (the zero address, logged as "other").
const maxRefusalKeys = 4096

// refusals logs refused connections and commands at most once per address
// per refusalEvery, with the count of those it did not log.
type refusals struct {
	log   *slog.Logger
	every time.Duration // refusalEvery; shorter in tests

	mu sync.Mutex
	m  map[netip.Addr]*refusalEntry
}

type refusalEntry struct {
	lim  *rate.Limiter
	n    int    // refusals not logged yet
	last string // the last one's message
}

func newRefusals(log *slog.Logger) *refusals {
	return &refusals{log: log, every: refusalEvery, m: map[netip.Addr]*refusalEntry{}}
}

// warn logs a refusal from addr, unless one from addr was logged within
// refusalEvery: then it is only counted.
func (r *refusals) warn(addr netip.Addr, msg string, args ...any) {
	r.mu.Lock()
	e := r.m[addr]
	if e == nil {
		if len(r.m) >= maxRefusalKeys {
			addr = netip.Addr{}
			e = r.m[addr]
		}
		if e == nil {
			e = &refusalEntry{lim: rate.NewLimiter(rate.Every(r.every), 1)}
			r.m[addr] = e
		}
	}
	if !e.lim.Allow() {
		e.n++
		e.last = msg
		r.mu.Unlock()
		return
	}
	n := e.n
	e.n = 0
	r.mu.Unlock()
	args = append(args, "remote", remoteName(addr))
	if n > 0 {
		args = append(args, "not_logged", n)
	}
	r.log.Warn(msg, args...)
}

// sweep reports the counts of refusals not logged (once the address may
// log again) and forgets the addresses that have been quiet.
func (r *refusals) sweep() {
	type line struct {
		addr netip.Addr
		n    int
		last string
	}
	var lines []line
	r.mu.Lock()
	for addr, e := range r.m {
		switch {
		case e.n > 0 && e.lim.Allow():
			lines = append(lines, line{addr, e.n, e.last})
			e.n = 0
		case e.n == 0 && e.lim.Tokens() >= 1:
			delete(r.m, addr)
		}
	}
	r.mu.Unlock()
	for _, l := range lines {
		r.log.Warn("rtmp refusals not logged since the last line", "remote", remoteName(l.addr), "count", l.n, "last", l.last)
	}
}

// run sweeps every r.every until ctx is done.
func (r *refusals) run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sweep()
		}
	}
}

func remoteName(a netip.Addr) string {
	if !a.IsValid() {
		return "other"
	}
	return a.String()
}
