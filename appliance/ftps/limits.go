package ftps

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"thecure/appliance/logsafe"
)

// Connection slots. Every accepted connection is a "startup" until it logs
// in; startups are bounded by max_startups in total and each must log in
// within login_timeout (TLS handshake included). When the startups are
// full, a new connection takes the place of the oldest startup of the
// address that holds the most (unless its own address would then hold the
// most): silent connections, whatever their number and addresses, never
// keep a user from logging in. max_clients bounds logged-in sessions and
// max_per_ip every connection of one address.

// admit counts a new connection from ip, or says why it is refused. A
// startup it displaces is returned to be closed.
func (s *Server) admit(tc *trackedConn) (reason string, evict *trackedConn) {
	if banned, _ := s.bans.Banned(tc.ip, time.Now()); banned {
		return "banned", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.FTP.MaxPerIP > 0 && s.perIP[tc.ip] >= s.o.FTP.MaxPerIP {
		return "max_per_ip", nil
	}
	if limit := s.o.FTP.MaxStartups; limit > 0 && len(s.startups) >= limit {
		evict = s.startupVictim(tc.ip)
		if evict == nil {
			return "max_startups", nil
		}
		s.dropStartup(evict)
	}
	s.total++
	s.perIP[tc.ip]++
	s.startups[tc] = struct{}{}
	s.startupsPerIP[tc.ip]++
	s.m.connections.Inc()
	return "", evict
}

// startupVictim picks the oldest startup among the addresses holding the
// most startups; nil when ip itself would then hold the most (s.mu held).
func (s *Server) startupVictim(ip string) *trackedConn {
	most := 0
	for _, n := range s.startupsPerIP {
		most = max(most, n)
	}
	if s.startupsPerIP[ip]+1 > most {
		return nil
	}
	var victim *trackedConn
	for c := range s.startups {
		if s.startupsPerIP[c.ip] == most && (victim == nil || c.accepted.Before(victim.accepted)) {
			victim = c
		}
	}
	return victim
}

// dropStartup forgets c as a startup (s.mu held).
func (s *Server) dropStartup(c *trackedConn) {
	if _, ok := s.startups[c]; !ok {
		return
	}
	delete(s.startups, c)
	if s.startupsPerIP[c.ip]--; s.startupsPerIP[c.ip] <= 0 {
		delete(s.startupsPerIP, c.ip)
	}
}

// loggedIn moves c from the startups to the logged-in sessions; false when
// max_clients sessions are logged in already.
func (s *Server) loggedIn(c *trackedConn) bool {
	if c == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.in.Load() {
		return true
	}
	if s.o.FTP.MaxClients > 0 && s.logged >= s.o.FTP.MaxClients {
		return false
	}
	s.dropStartup(c)
	s.logged++
	c.in.Store(true)
	if c.timer != nil {
		c.timer.Stop()
	}
	return true
}

// trackedConn is an accepted control connection (beneath TLS). It gives its
// slot back when closed.
type trackedConn struct {
	net.Conn
	s        *Server
	ip       string
	accepted time.Time
	in       atomic.Bool // logged in
	timer    *time.Timer // login_timeout (guarded by s.mu)
	once     sync.Once
}

// NetConn is the TCP connection (the FTP library reads its socket state).
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
		}
		if c.s.conns[c.RemoteAddr().String()] == c {
			delete(c.s.conns, c.RemoteAddr().String())
		}
		c.s.dropStartup(c)
		if c.in.Load() {
			c.s.logged--
		}
		c.s.total--
		if c.s.perIP[c.ip]--; c.s.perIP[c.ip] <= 0 {
			delete(c.s.perIP, c.ip)
		}
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// loginExpired closes c when it has not logged in in time.
func (c *trackedConn) loginExpired() {
	if c.in.Load() {
		return
	}
	c.s.m.refused.WithLabelValues("login_timeout").Inc()
	c.s.refusals.Note(c.ip, "connections refused", "reason", "login_timeout")
	_ = c.Close() // the session ends with its connection; a close error changes nothing
}

// limitListener admits connections (see admit) and refuses the others with
// a 421 reply (in clear text: TLS has not started) before closing them.
type limitListener struct {
	net.Listener
	s        *Server
	implicit bool
}

var refusalReplies = map[string]string{
	"banned":       "421 Too many failed logins from your address; try again later.\r\n",
	"max_per_ip":   "421 Too many connections from your address.\r\n",
	"max_startups": "421 Too many connections are logging in; try again later.\r\n",
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, s: l.s, ip: ipOf(c.RemoteAddr()), accepted: time.Now()}
		reason, evict := l.s.admit(tc)
		if evict != nil {
			l.s.m.refused.WithLabelValues("evicted").Inc()
			l.s.refusals.Note(evict.ip, "connections refused", "reason", "evicted")
			_ = evict.Close() // its session ends; nothing else to do
		}
		if reason == "" {
			l.s.mu.Lock()
			tc.timer = time.AfterFunc(l.s.o.FTP.LoginTimeout.Std(), tc.loginExpired)
			l.s.conns[c.RemoteAddr().String()] = tc
			l.s.mu.Unlock()
			return tc, nil
		}
		l.s.m.refused.WithLabelValues(reason).Inc()
		l.s.refusals.Note(tc.ip, "connections refused", "reason", reason)
		go func() {
			if !l.implicit {
				// Best effort: the client may be gone already.
				_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write([]byte(refusalReplies[reason]))
			}
			_ = c.Close() // refused: a close error changes nothing
		}()
	}
}

// quote makes a client's value safe for a log line (clipped, escaped).
func quote(v string) string { return logsafe.Value(v, logsafe.Max) }

// newRefusalLog writes one line per address per minute about refused or
// dropped connections, with how many there were since its last line.
func newRefusalLog(log *slog.Logger) *logsafe.Refusals {
	return logsafe.NewRefusals(log, slog.LevelInfo, time.Minute, time.Now)
}
