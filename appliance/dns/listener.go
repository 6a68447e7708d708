package dns

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// tcpListener enforces the TCP limits at accept: at most maxTCPConns
// connections, maxTCPPerIP per client address (others are closed at once),
// and a write deadline on every write (a client that stops reading cannot
// hold a transfer forever; miekg/dns sets none).
type tcpListener struct {
	net.Listener
	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

func newTCPListener(ln net.Listener) *tcpListener {
	return &tcpListener{Listener: ln, perIP: map[netip.Addr]int{}}
}

func (l *tcpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrOf(c.RemoteAddr())
		l.mu.Lock()
		ok := l.total < maxTCPConns && l.perIP[ip] < maxTCPPerIP
		if ok {
			l.total++
			l.perIP[ip]++
		}
		l.mu.Unlock()
		if !ok {
			c.Close()
			continue
		}
		return &tcpConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *tcpListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

type tcpConn struct {
	net.Conn
	l    *tcpListener
	ip   netip.Addr
	once sync.Once
}

func (c *tcpConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(tcpWriteTime)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *tcpConn) Close() error {
	c.once.Do(func() { c.l.release(c.ip) })
	return c.Conn.Close()
}
