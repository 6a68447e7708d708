package webui

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"thecure/appliance/logsafe"
)

// ErrUnknownUser is what Users.Authenticate's error wraps when the name is
// no account: the log then says that the user does not exist, and not what
// was typed (it may be a password typed in the wrong field).
var ErrUnknownUser = errors.New("unknown user")

// logValue makes a client's value safe for a log line (clipped, escaped).
func logValue(v string) string { return logsafe.Value(v, logsafe.Max) }

// refusalEvery is how often refused logins from one address are logged; the
// ones in between are counted and the count goes with the next line.
const refusalEvery = time.Minute

// maxRefusalAddrs bounds the addresses followed; past it, new addresses
// share one entry ("other addresses").
const maxRefusalAddrs = 4096

// loginLog writes refused web logins, one line per address per refusalEvery
// with the count of refusals since the last line.
type loginLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*loginRefusals
}

type loginRefusals struct {
	lim    *rate.Limiter
	unseen int // refusals not logged yet
}

func newLoginLog(log *slog.Logger, now func() time.Time) *loginLog {
	return &loginLog{log: log, every: refusalEvery, now: now, m: map[string]*loginRefusals{}}
}

// refused logs a refused login from addr (with attrs) unless a line for
// addr was written within the interval: then it is only counted.
func (l *loginLog) refused(addr, msg string, attrs ...any) {
	now := l.now()
	l.mu.Lock()
	e := l.m[addr]
	if e == nil {
		if len(l.m) >= maxRefusalAddrs {
			for a, old := range l.m { // forget addresses quiet for an interval
				if old.unseen == 0 && old.lim.TokensAt(now) >= 1 {
					delete(l.m, a)
				}
			}
		}
		if len(l.m) >= maxRefusalAddrs {
			addr = "other addresses"
			e = l.m[addr]
		}
		if e == nil {
			e = &loginRefusals{lim: rate.NewLimiter(rate.Every(l.every), 1)}
			l.m[addr] = e
		}
	}
	e.unseen++
	if !e.lim.AllowN(now, 1) {
		l.mu.Unlock()
		return
	}
	n := e.unseen
	e.unseen = 0
	l.mu.Unlock()
	l.log.Warn(msg, append(attrs, "remote", addr, "count", n, "per", l.every.String())...)
}
