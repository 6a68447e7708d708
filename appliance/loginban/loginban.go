// Package loginban refuses addresses after repeated failed logins. One type
// serves every login (FTPS, the web pages), so that they agree on the rule:
// an address is banned for BanTime once it has failed After times within
// Window, counting a failure at t while now-t < Window (a sliding window);
// a ban holds while now < its end.
package loginban

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// maxTracked bounds the addresses whose failures are remembered, so that a
// spray of addresses cannot grow memory without bound.
const maxTracked = 10000

// List counts failed logins per address. The zero After disables it.
type List struct {
	after       int
	window, ban time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time // address -> failures within the window, oldest first
	banned   map[string]time.Time   // address -> end of its ban
}

// New returns a list that bans an address for ban after `after` failures
// within window (after <= 0: never).
func New(after int, window, ban time.Duration) *List {
	return &List{after: after, window: window, ban: ban, failures: map[string][]time.Time{}, banned: map[string]time.Time{}}
}

// Banned reports whether addr may not log in at now, and for how much longer.
func (l *List) Banned(addr string, now time.Time) (bool, time.Duration) {
	if l.after <= 0 {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.banned[addr]
	if !ok {
		return false, 0
	}
	if now.Before(until) {
		return true, until.Sub(now)
	}
	delete(l.banned, addr)
	return false, 0
}

// Failed records a failed login from addr at now and reports whether it
// bans the address (the failure that reaches After does).
func (l *List) Failed(addr string, now time.Time) bool {
	if l.after <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.failures[addr][:0]
	for _, t := range l.failures[addr] {
		if now.Sub(t) < l.window {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	if len(recent) >= l.after {
		delete(l.failures, addr)
		l.banned[addr] = now.Add(l.ban)
		l.sweep(now)
		return true
	}
	l.failures[addr] = recent
	if len(l.failures) > maxTracked {
		l.sweep(now)
	}
	return false
}

// Succeeded forgets addr's failures (not a ban).
func (l *List) Succeeded(addr string) {
	l.mu.Lock()
	delete(l.failures, addr)
	l.mu.Unlock()
}

// Len is the number of addresses with failures or bans on record.
func (l *List) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failures) + len(l.banned)
}

// sweep drops what has expired; if too many addresses still have recent
// failures, those whose last failure is oldest are forgotten down to three
// quarters of the bound (so sweeps stay rare under a spray).
func (l *List) sweep(now time.Time) {
	for a, until := range l.banned {
		if !now.Before(until) {
			delete(l.banned, a)
		}
	}
	for a, ts := range l.failures {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= l.window {
			delete(l.failures, a)
		}
	}
	if len(l.failures) <= maxTracked {
		return
	}
	addrs := slices.Collect(maps.Keys(l.failures))
	slices.SortFunc(addrs, func(a, b string) int {
		fa, fb := l.failures[a], l.failures[b]
		return fa[len(fa)-1].Compare(fb[len(fb)-1])
	})
	for _, a := range addrs[:len(addrs)-maxTracked*3/4] {
		delete(l.failures, a)
	}
}
