package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Puller relays one [[rtmp.pull]] stream: it plays the stream from its
// origin as an RTMP client and feeds the local stream of the same name
// exactly as a local publisher would (RTMP players, HLS, pushes), and
// reconnects with back-off when the origin goes away or restarts.
type Puller struct {
	s     *Server
	name  string
	url   string
	log   *slog.Logger
	state relayState
}

// Pullers are the [[rtmp.pull]] workers, to run (Run) beside Serve.
func (s *Server) Pullers() []*Puller { return s.pullers }

// Name is the local stream the puller feeds.
func (p *Puller) Name() string { return p.name }

func (p *Puller) status() RelayStatus { return p.state.status("pull", p.name, p.url) }

// Status is the pull's state now (for its health: up, or retrying).
func (p *Puller) Status() RelayStatus { return p.status() }

// OnChange has f told of the pull's every change of state (connected,
// lost); set it before Run.
func (p *Puller) OnChange(f func(RelayStatus)) { p.state.onChange = func() { f(p.status()) } }

// Relays tells the state of every push target of the live streams and of
// every pull, for admins (the URLs may hold stream keys).
func (s *Server) Relays() []RelayStatus {
	var out []RelayStatus
	for _, p := range s.pullers {
		out = append(out, p.status())
	}
	for _, st := range s.list() {
		st.mu.Lock()
		pushers := st.pushers
		st.mu.Unlock()
		for _, pu := range pushers {
			out = append(out, pu.status())
		}
	}
	return out
}

// Run relays the stream until ctx is cancelled.
func (p *Puller) Run(ctx context.Context) error {
	t, err := parseTarget(p.url)
	if err != nil {
		return fmt.Errorf("rtmp.pull %s: %w", p.name, err)
	}
	bo := newBackOff()
	for {
		start := time.Now()
		err := p.session(ctx, t)
		p.state.down(err)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > stableSession {
			bo.Reset()
		}
		wait := bo.NextBackOff()
		p.log.Warn("rtmp pull: origin lost; retrying", "err", clip(err.Error()), "in", wait.Round(time.Millisecond))
		if !sleepCtx(ctx, wait) {
			return nil
		}
	}
}

// session plays the stream from the origin once, feeding the local stream
// while the origin sends it.
func (p *Puller) session(ctx context.Context, t rtmpTarget) error {
	s := p.s
	cfg := s.cfg
	feed := &pullFeed{p: p}
	h := &clientHandler{onMeta: feed.metadata, onMedia: feed.media}
	p.state.attempt()
	cs, err := dialRTMP(ctx, t, true, cfg.HandshakeTimeout.Std(), cfg.ReadTimeout.Std(), cfg.WriteTimeout.Std(), h)
	if err != nil {
		return err
	}
	defer func() {
		cs.close()
		<-cs.cc.Done() // no more callbacks: the local stream may end
		feed.end()
	}()
	p.state.up()
	p.log.Info("rtmp pull: playing from the origin")
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-cs.cc.Done():
		if err := feed.failed(); err != nil {
			return err
		}
		return closedErr(cs.cc)
	}
}

// pullFeed is one session's local publication; go-rtmp's reading
// goroutine calls metadata and media, end comes after it has stopped.
type pullFeed struct {
	p   *Puller
	st  *stream
	in  *ingest
	err error // why media was refused (kept for status)
}

// open makes the local stream, on the first message from the origin.
func (f *pullFeed) open() error {
	if f.st != nil {
		return nil
	}
	st, in, err := f.p.s.openLocal(f.p.name, f.p.log) // as a local feed (feed.go)
	if err != nil {
		return errBusy
	}
	f.st, f.in = st, in
	return nil
}

func (f *pullFeed) metadata(payload []byte) {
	if f.open() != nil {
		return
	}
	f.in.metadata(payload)
	body := append([]byte(nil), metadataBody(payload)...)
	f.st.publish(&message{typ: typeData, ts: 0, data: body})
}

func (f *pullFeed) media(typ uint8, ts uint32, payload io.Reader) error {
	if err := f.open(); err != nil {
		f.err = err
		return err
	}
	data, err := takeBytes(payload)
	if err != nil {
		return err
	}
	f.p.state.bytes.Add(int64(len(data)))
	m, err := f.in.ingest(typ, ts, data)
	if err != nil {
		f.err = err
		return err
	}
	if m != nil {
		f.st.publish(m)
	}
	return nil
}

// failed is why the feed refused the origin's stream, if it did; read
// after the reading goroutine has stopped.
func (f *pullFeed) failed() error {
	var r errRefuse
	if errors.As(f.err, &r) {
		return fmt.Errorf("the origin's stream is not usable: %w", f.err)
	}
	return f.err
}

// end ends the local stream (players get their queues, HLS its end).
func (f *pullFeed) end() {
	if f.st == nil {
		return
	}
	s := f.p.s
	s.mu.Lock()
	if s.streams[f.st.name] == f.st {
		delete(s.streams, f.st.name)
	}
	s.mu.Unlock()
	f.st.end()
	f.in.close()
	f.p.log.Info("rtmp pull: local stream ended")
}
