package logsafe

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxRefusalKeys bounds the keys (client addresses) a Refusals follows;
// past it, new keys share one entry, logged as OtherKey.
const MaxRefusalKeys = 4096

// OtherKey names the entry the keys past MaxRefusalKeys share.
const OtherKey = "other addresses"

// Refusals writes the refusals of one kind (connections, logins, commands a
// client was refused) at most once per key, a client address, per interval,
// so a flood of refusals cannot flood the log. The refusals in between are
// counted: each line carries "count", the refusals since the key's last
// line, this one included, and Sweep writes the count of those held back
// once the key may log again, so none goes unreported.
type Refusals struct {
	log   *slog.Logger
	level slog.Level
	every time.Duration
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*refusal
}

type refusal struct {
	lim   *rate.Limiter
	held  int    // refusals not logged yet
	msg   string // the last held one's message and attributes
	attrs []any
}

// NewRefusals logs at level through log, at most one line per key per
// every; now is the clock (time.Now outside tests).
func NewRefusals(log *slog.Logger, level slog.Level, every time.Duration, now func() time.Time) *Refusals {
	return &Refusals{log: log, level: level, every: every, now: now, m: map[string]*refusal{}}
}

// Note records a refusal of key and logs it (msg, attrs, "remote" key and
// "count") unless a line for key was written within the interval.
func (r *Refusals) Note(key, msg string, attrs ...any) {
	now := r.now()
	r.mu.Lock()
	e := r.m[key]
	if e == nil {
		if len(r.m) >= MaxRefusalKeys {
			r.forgetQuiet(now)
		}
		if len(r.m) >= MaxRefusalKeys {
			key = OtherKey
			e = r.m[key]
		}
		if e == nil {
			e = &refusal{lim: rate.NewLimiter(rate.Every(r.every), 1)}
			r.m[key] = e
		}
	}
	e.held++
	if !e.lim.AllowN(now, 1) {
		e.msg, e.attrs = msg, attrs
		r.mu.Unlock()
		return
	}
	n := e.held
	e.held, e.msg, e.attrs = 0, "", nil
	r.mu.Unlock()
	r.write(msg, attrs, key, n)
}

// Sweep writes, for every key whose refusals were held back and that may
// log again, one line with their count (and the last one's message), and
// forgets the keys that have been quiet for an interval.
func (r *Refusals) Sweep() {
	type line struct {
		key, msg string
		attrs    []any
		n        int
	}
	var lines []line
	now := r.now()
	r.mu.Lock()
	for key, e := range r.m {
		if e.held > 0 && e.lim.AllowN(now, 1) {
			lines = append(lines, line{key, e.msg, e.attrs, e.held})
			e.held, e.msg, e.attrs = 0, "", nil
		}
	}
	r.forgetQuiet(now)
	r.mu.Unlock()
	for _, l := range lines {
		r.write(l.msg, l.attrs, l.key, l.n)
	}
}

// Run sweeps once per interval until ctx is cancelled.
func (r *Refusals) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Sweep()
		}
	}
}

// Len is the number of keys followed.
func (r *Refusals) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// forgetQuiet drops the keys with nothing held whose limiter is full again
// (nothing logged for an interval). r.mu is held.
func (r *Refusals) forgetQuiet(now time.Time) {
	for key, e := range r.m {
		if e.held == 0 && e.lim.TokensAt(now) >= 1 {
			delete(r.m, key)
		}
	}
}

func (r *Refusals) write(msg string, attrs []any, key string, n int) {
	args := append(append(make([]any, 0, len(attrs)+6), attrs...), "remote", key, "count", n, "per", r.every.String())
	r.log.Log(context.Background(), r.level, msg, args...)
}
