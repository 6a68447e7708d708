// Package rtmp is the live RTMP server: publishers push H.264 + AAC to
// rtmp://HOST/live/NAME (allow-listed by address, optionally with a stream
// key), the stream goes to the live Hub for HLS, and RTMP players of the same
// URL get it through their own bounded queues, so a slow player is dropped
// and never slows the publisher or the other players.
package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	gortmp "github.com/yutopp/go-rtmp"

	"thecure/appliance/config"
	"thecure/appliance/logsafe"
)

// App is the RTMP application name of live streams (rtmp://HOST/live/NAME).
const App = "live"

// Server is the RTMP server.
type Server struct {
	cfg          config.RTMP
	log          *slog.Logger
	hub          Hub
	allowPublish []netip.Prefix
	allowPlay    []netip.Prefix
	live         atomic.Pointer[access] // set by Reload (reload.go)

	mu      sync.Mutex
	streams map[string]*stream
	conns   map[*conn]struct{}
	perAddr map[netip.Addr]int // open connections per client address
	wg      sync.WaitGroup     // connection handlers
	relayWG sync.WaitGroup     // pushers
	closing bool               // Serve is ending: no new pushers
	pulled  map[string]bool    // names [[rtmp.pull]] feeds: nobody may publish them
	pullers []*Puller
	feeds   map[string]bool // names local feeds take (feed.go): nobody may publish them

	refused *logsafe.Refusals

	m metrics
}

type metrics struct {
	publishers prometheus.GaugeFunc
	players    prometheus.GaugeFunc
	conns      prometheus.GaugeFunc
	refused    *prometheus.CounterVec
	dropped    prometheus.Counter
	bytesOut   *prometheus.CounterVec
}

// New builds the server; it registers its metrics on reg and starts nothing.
func New(cfg config.RTMP, log *slog.Logger, hub Hub, reg prometheus.Registerer) (*Server, error) {
	s := &Server{cfg: cfg, log: log, hub: hub, streams: map[string]*stream{}, conns: map[*conn]struct{}{},
		perAddr: map[netip.Addr]int{}, refused: newRefusals(log), pulled: map[string]bool{}}
	for _, p := range cfg.Pull {
		s.pulled[p.Name] = true
		s.pullers = append(s.pullers, &Puller{s: s, name: p.Name, url: p.URL,
			log: log.With("stream", p.Name, "pull", redactURL(p.URL))})
	}
	for _, p := range cfg.AllowPublish {
		pfx, err := config.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("rtmp.allow_publish: %w", err)
		}
		s.allowPublish = append(s.allowPublish, pfx)
	}
	for _, p := range cfg.AllowPlay {
		pfx, err := config.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("rtmp.allow_play: %w", err)
		}
		s.allowPlay = append(s.allowPlay, pfx)
	}
	s.m = metrics{
		publishers: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thecure_rtmp_publishers", Help: "RTMP publishers now."},
			func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(len(s.streams)) }),
		players: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thecure_rtmp_players", Help: "RTMP players now."},
			func() float64 {
				n := 0
				for _, st := range s.list() {
					n += st.playerCount()
				}
				return float64(n)
			}),
		conns: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thecure_rtmp_connections", Help: "RTMP connections open now."},
			func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(len(s.conns)) }),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_rtmp_refused_total",
			Help: "RTMP connections, publishes and plays refused, by reason."}, []string{"reason"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_rtmp_dropped_players_total",
			Help: "RTMP players dropped for falling behind."}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_rtmp_bytes_out_total",
			Help: "Media bytes sent to RTMP players, per stream."}, []string{"stream"}),
	}
	reg.MustRegister(s.m.publishers, s.m.players, s.m.conns, s.m.refused, s.m.dropped, s.m.bytesOut)
	return s, nil
}

func allowed(list []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) list() []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.streams))
}

// Serve accepts RTMP connections on ln until ctx is cancelled, then closes
// every connection and returns once their handlers have finished.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := gortmp.NewServer(&gortmp.ServerConfig{OnConnect: s.onConnect})
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go s.refused.Run(sweepCtx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(&listener{Listener: ln, s: s, ctx: ctx}) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("rtmp: %w", err)
	}
	_ = srv.Close()
	// go-rtmp's Close does not close a listener its Serve has not registered
	// yet (cancellation right at start): close it here too, or Serve would
	// accept forever.
	_ = ln.Close()
	<-errc
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.relayWG.Wait()
	return nil
}

// listener applies the address allow-lists and the connection limit before
// go-rtmp sees a connection, and backs off on accept errors (go-rtmp retries
// at once, forever).
type listener struct {
	net.Listener
	s   *Server
	ctx context.Context
}

func (l *listener) Accept() (net.Conn, error) {
	s := l.s
	retry := &backoff.ExponentialBackOff{InitialInterval: 5 * time.Millisecond, Multiplier: 2,
		RandomizationFactor: backoff.DefaultRandomizationFactor, MaxInterval: time.Second}
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return nil, err
			}
			d := retry.NextBackOff()
			s.log.Warn("accept failed; retrying", "err", err, "in", d)
			select {
			case <-time.After(d):
			case <-l.ctx.Done():
			}
			continue
		}
		retry.Reset()
		ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		addr := ap.Addr().Unmap()
		acc := s.access()
		if !allowed(acc.allowPublish, addr) && !allowed(acc.allowPlay, addr) {
			s.refuseConn(c, addr, "address", "rtmp connection refused: address not allowed to publish or play")
			continue
		}
		limit := s.cfg.MaxConnections
		if !allowed(acc.allowPublish, addr) {
			limit -= publisherReserve(limit)
		}
		s.mu.Lock()
		if len(s.conns) >= limit {
			s.mu.Unlock()
			s.refuseConn(c, addr, "connections", "rtmp connection refused: too many connections", "max", s.cfg.MaxConnections)
			continue
		}
		if s.perAddr[addr] >= s.cfg.MaxConnectionsPerAddress {
			s.mu.Unlock()
			s.refuseConn(c, addr, "address_connections", "rtmp connection refused: too many connections from this address",
				"max", s.cfg.MaxConnectionsPerAddress)
			continue
		}
		cc := &conn{Conn: c, s: s, addr: addr}
		s.conns[cc] = struct{}{}
		s.perAddr[addr]++
		s.wg.Add(1)
		s.mu.Unlock()
		// the handshake, connect and the publish or play command must all
		// come within the handshake timeout, however the client drips bytes
		if err := c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout.Std())); err != nil {
			_ = cc.Close() // the socket is already unusable: nothing to report
			continue
		}
		return cc, nil
	}
}

// publisherReserve is how many of max connections only addresses allowed
// to publish may take: players (anyone, by default) cannot lock publishers out.
func publisherReserve(max int) int { return min(8, max/4) }

// refuseConn closes a connection refused at accept, counts and logs it.
func (s *Server) refuseConn(c net.Conn, addr netip.Addr, reason, msg string, args ...any) {
	s.m.refused.WithLabelValues(reason).Inc()
	s.refused.Note(remoteName(addr), msg, args...)
	_ = c.Close() // refused before any byte: a close error changes nothing
}

// conn is a client connection with read and write deadlines. Until it
// publishes or plays it has one fixed deadline (the handshake timeout from
// accept); a publisher's every read must then come within the read timeout;
// players may stay silent (their writes have deadlines).
type conn struct {
	net.Conn
	s    *Server
	addr netip.Addr

	mu        sync.Mutex
	mode      int // modePending, modePublishing, modePlaying
	closeOnce sync.Once

	// wmu keeps each Write whole: go-rtmp's writer and a player's writer
	// both write whole chunks, which may interleave but not mix
	wmu sync.Mutex
	// when the read and write deadlines were last pushed back
	readSet  time.Time // reading goroutine only
	readAt   time.Time // when the last read of a publisher started; reading goroutine only
	drained  bool      // that read took all the socket had; reading goroutine only
	writeSet time.Time // under wmu
}

// deadlineSlack is how stale a read or write deadline may get: a timeout T
// acts after between T-deadlineSlack and T of silence.
const deadlineSlack = 500 * time.Millisecond

// playerSocketBuffer is the kernel send buffer of a player's socket.
const playerSocketBuffer = 256 << 10

const (
	modePending = iota // handshake, connect, until publish or play
	modePublishing
	modePlaying
)

func (c *conn) setMode(m int) {
	c.mu.Lock()
	c.mode = m
	c.mu.Unlock()
	switch m {
	case modePublishing:
		_ = c.Conn.SetDeadline(time.Time{})
	case modePlaying:
		_ = c.Conn.SetReadDeadline(time.Time{})
		// a bounded socket buffer: a stalled player shows up in its queue
		// soon, and many players do not pin megabytes of kernel memory each
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(playerSocketBuffer)
		}
	}
}

func (c *conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	m := c.mode
	c.mu.Unlock()
	if m != modePublishing {
		return c.Conn.Read(b)
	}
	now := time.Now()
	if c.drained {
		// merged reads: the last read took all there was, so what
		// arrives in the next mergeReads is read at once
		if wait := mergeReads - now.Sub(c.readAt); wait > 0 {
			time.Sleep(wait)
			now = time.Now()
		}
	}
	// push the deadline back at most every deadlineSlack: timers are not free
	if now.Sub(c.readSet) > deadlineSlack {
		c.readSet = now
		// an error means the socket is closed, which the Read below reports
		_ = c.Conn.SetReadDeadline(now.Add(c.s.cfg.ReadTimeout.Std()))
	}
	n, err := c.Conn.Read(b)
	c.readAt, c.drained = now, n < len(b)
	return n, err
}

// mergeReads is the least time between two reads of a publisher that
// found its socket drained (SRS's "merged read", 350 ms by default there):
// ffmpeg writes each frame as it comes (about 80 a second for 30 fps video
// and 48 kHz AAC), and reading each as it arrives cost a wake-up of the
// reading goroutine, two reads (the second finds nothing) and the
// runtime's thread hand-offs around them, several times nginx-rtmp's CPU
// for the whole ingest. Reads merged over this long take what the socket
// holds in one read; a publisher faster than the read buffer per interval
// is read without pause. It delays ingest by at most this (HLS parts are
// 200 ms or more; RTMP players get writes merged over mergeWrites anyway).
const mergeReads = 100 * time.Millisecond

func (c *conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	m := c.mode
	c.mu.Unlock()
	if m != modePending {
		c.pushWriteDeadline()
	}
	return c.Conn.Write(b)
}

// writeBuffers writes v whole (writev on a TCP socket), between go-rtmp's
// writes; it is a player's, after its reply to play.
func (c *conn) writeBuffers(v *net.Buffers) (int64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pushWriteDeadline()
	return v.WriteTo(c.Conn)
}

// pushWriteDeadline moves the write deadline to the write timeout from
// now, at most every deadlineSlack (timers are not free). Under wmu.
func (c *conn) pushWriteDeadline() {
	if now := time.Now(); now.Sub(c.writeSet) > deadlineSlack {
		c.writeSet = now
		_ = c.Conn.SetWriteDeadline(now.Add(c.s.cfg.WriteTimeout.Std())) // a dead socket fails the write itself
	}
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		if c.s.perAddr[c.addr]--; c.s.perAddr[c.addr] <= 0 {
			delete(c.s.perAddr, c.addr)
		}
		c.s.mu.Unlock()
		c.s.wg.Done()
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) onConnect(nc net.Conn) (io.ReadWriteCloser, *gortmp.ConnConfig) {
	c := nc.(*conn)
	h := &handler{s: s, c: c, log: s.log.With("remote", nc.RemoteAddr().String())}
	return c, &gortmp.ConnConfig{
		Handler: h,
		ControlState: gortmp.StreamControlStateConfig{
			DefaultBandwidthWindowSize: 20 * 1024 * 1024,
			MaxChunkStreams:            maxChunkStreams,
			MaxMessageStreams:          16,
			MaxMessageSize:             maxCommandMessage,
			MaxBufferedBytes:           maxCommandBuffered,
		},
		// small: every connection has it, and large reads (media) go
		// straight into the message buffer (the patched go-rtmp takes a
		// write buffer from a pool for each chunk it writes)
		ReaderBufferSize: 1 << 10,
		OnServeError:     h.serveError,
	}
}

// publisherReadBuffer is a publisher's read buffer (other connections
// keep 1 KiB): with 1 KiB, a 3 Mb/s stream sent in 128-byte chunks (as
// ffmpeg sends) took about 490 reads a second, each a syscall and often a
// trip through the scheduler; with this, one read takes what has arrived.
const publisherReadBuffer = 64 << 10

// What a client may make the chunk reader hold (the patched go-rtmp
// enforces these as bytes arrive). Until a publish is accepted, a
// connection only sends commands: small messages, little buffered. An
// accepted publisher sends media: frames up to maxMediaMessage.
const (
	maxChunkStreams    = 16
	maxCommandMessage  = 64 << 10
	maxCommandBuffered = 256 << 10
	maxMediaMessage    = 16<<20 - 1 // what RTMP's 24-bit length allows
	maxMediaBuffered   = 24 << 20
)
