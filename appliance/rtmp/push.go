package rtmp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"
)

// A pusher restreams one local stream to one [[rtmp.push]] target: it
// publishes there as an RTMP client, the metadata and sequence headers
// first, then the media from a keyframe on, and reconnects with back-off
// while the stream lives. Like a player it has its own bounded queue: a
// target that falls behind is disconnected and reconnected (from the next
// keyframe), never waited for.
type pusher struct {
	st  *stream
	url string // the target's full URL (it may hold a key: admins only)
	log *slog.Logger

	ctx    context.Context // cancelled when the stream ends
	cancel context.CancelFunc
	state  relayState

	mu      sync.Mutex
	active  bool // connected: the stream queues messages for it
	waitKey bool // the next video it gets must be a keyframe
	queue   []*message
	queued  int
	behind  bool // the queue overflowed: reconnect
	ending  bool // the stream ended: stop once the queue is written
	base    uint32
	maxMsgs int
	wake    chan struct{}
	cur     *clientConn // the connection, closed at once when the target falls behind
}

// startPushes starts a pusher for every [[rtmp.push]] matching st. Called
// before st gets media.
func (s *Server) startPushes(st *stream) {
	var pushers []*pusher
	defer func() {
		s.mu.Lock()
		if s.closing { // Serve is waiting for the pushers: no new ones
			s.mu.Unlock()
			return
		}
		s.relayWG.Add(len(pushers))
		s.mu.Unlock()
		st.mu.Lock()
		st.pushers = pushers
		st.mu.Unlock()
		for _, pu := range pushers {
			go func() {
				defer s.relayWG.Done()
				pu.run()
			}()
		}
	}()
	for _, p := range s.cfg.Push {
		if p.Stream != "*" && p.Stream != st.name {
			continue
		}
		u := p.URL
		if p.Stream == "*" {
			u = strings.TrimRight(u, "/") + "/" + st.name
		}
		ctx, cancel := context.WithCancel(context.Background())
		pu := &pusher{st: st, url: u, ctx: ctx, cancel: cancel, maxMsgs: s.cfg.PlayerQueue,
			wake: make(chan struct{}, 1), log: st.log.With("push", redactURL(u))}
		pushers = append(pushers, pu)
	}
}

// redactURL is u without its query (where stream keys go) for logs.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// offer queues m for the target (under the stream's lock).
func (pu *pusher) offer(m *message) {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	if !pu.active {
		return
	}
	if pu.waitKey {
		if m.typ == typeVideo && !m.seq && !m.key || m.typ == typeAudio && !m.seq {
			return
		}
		if m.key {
			pu.waitKey = false
		}
	}
	if len(pu.queue) >= pu.maxMsgs || pu.queued+len(m.data) > maxPlayerQueueBytes {
		pu.active, pu.behind = false, true
		clear(pu.queue)
		pu.queue, pu.queued = nil, 0
		if pu.cur != nil {
			_ = pu.cur.Conn.Close() // unblocks a write stuck on the slow target; its error is the point
		}
		pu.signal()
		return
	}
	pu.queue = append(pu.queue, m)
	pu.queued += len(m.data)
	pu.signal()
}

func (pu *pusher) signal() {
	select {
	case pu.wake <- struct{}{}:
	default:
	}
}

// attach starts queueing the stream for a new connection: metadata,
// sequence headers, then the current GOP or, failing that, the next keyframe.
func (st *stream) attach(pu *pusher) {
	st.mu.Lock()
	defer st.mu.Unlock()
	pu.mu.Lock()
	defer pu.mu.Unlock()
	pu.queue, pu.queued, pu.behind = nil, 0, false
	pu.active = true
	pu.base = st.lastTS
	if len(st.gop) > 0 {
		pu.base = st.gop[0].ts
	}
	pu.base -= min(pu.base, 1000) // as for players: audio just before the keyframe
	for _, m := range []*message{st.meta, st.avcSeq, st.aacSeq} {
		if m != nil {
			pu.queue = append(pu.queue, m)
		}
	}
	pu.waitKey = false
	switch {
	case st.avcSeq == nil:
	case len(st.gop) > 0 && len(st.gop) < pu.maxMsgs-4 && st.gopBytes < maxPlayerQueueBytes/2:
		for _, m := range st.gop {
			pu.queue = append(pu.queue, m)
			pu.queued += len(m.data)
		}
	default:
		pu.waitKey = true
	}
	pu.signal()
}

// detach stops queueing (the connection ended).
func (pu *pusher) detach() {
	pu.mu.Lock()
	pu.active, pu.cur = false, nil
	clear(pu.queue)
	pu.queue, pu.queued = nil, 0
	pu.mu.Unlock()
}

// finish tells the pusher the stream has ended: it writes what is queued,
// then stops; a pusher not connected stops at once.
func (pu *pusher) finish() {
	pu.mu.Lock()
	pu.ending = true
	pu.mu.Unlock()
	pu.cancel()
	pu.signal()
}

func (pu *pusher) status() RelayStatus {
	return pu.state.status("push", pu.st.name, pu.url)
}

// errBehind ends a session whose target fell behind.
var errBehind = errors.New("the target fell behind (its queue was full); reconnecting")

// run connects and publishes until the stream ends, with back-off between attempts.
func (pu *pusher) run() {
	defer pu.cancel()
	bo := newBackOff()
	for pu.ctx.Err() == nil {
		start := time.Now()
		err := pu.session()
		pu.detach()
		pu.state.down(err)
		if pu.ctx.Err() != nil {
			return
		}
		if time.Since(start) > stableSession {
			bo.Reset()
		}
		wait := bo.NextBackOff()
		pu.log.Warn("rtmp push: target lost; retrying", "err", clip(err.Error()), "in", wait.Round(time.Millisecond))
		if !sleepCtx(pu.ctx, wait) {
			return
		}
	}
}

// session is one connection to the target.
func (pu *pusher) session() error {
	t, err := parseTarget(pu.url)
	if err != nil {
		return err
	}
	cfg := pu.st.s.cfg
	pu.state.attempt()
	cs, err := dialRTMP(pu.ctx, t, false, cfg.HandshakeTimeout.Std(), 0, cfg.WriteTimeout.Std(), &clientHandler{})
	if err != nil {
		return err
	}
	defer cs.close()
	pu.mu.Lock()
	pu.cur = cs.conn
	pu.mu.Unlock()
	pu.state.up()
	pu.log.Info("rtmp push: publishing to the target")
	pu.st.attach(pu)
	var batch []*message
	for {
		pu.mu.Lock()
		batch = append(batch[:0], pu.queue...)
		clear(pu.queue)
		pu.queue = pu.queue[:0]
		behind, ending := pu.behind, pu.ending
		base := pu.base
		pu.mu.Unlock()
		if behind {
			return errBehind
		}
		if len(batch) == 0 {
			if ending {
				return nil
			}
			select {
			case <-pu.wake:
			case <-cs.cc.Done():
				return closedErr(cs.cc)
			}
			continue
		}
		for i, m := range batch {
			if err := pu.write(cs.stream, m, base); err != nil {
				pu.mu.Lock()
				behind := pu.behind
				pu.mu.Unlock()
				if behind {
					return errBehind
				}
				return err
			}
			batch[i] = nil
			pu.mu.Lock()
			pu.queued -= len(m.data)
			pu.mu.Unlock()
			pu.state.bytes.Add(int64(len(m.data)))
		}
	}
}

// closedErr tells why the server ended a client connection.
func closedErr(cc *gortmp.ClientConn) error {
	if err := cc.LastError(); err != nil {
		return errors.New("the server closed the connection: " + err.Error())
	}
	return errors.New("the server closed the connection")
}

// write sends one message on the target's stream, as a publisher does.
func (pu *pusher) write(s *gortmp.Stream, m *message, base uint32) error {
	ts := m.ts - min(m.ts, base)
	switch m.typ {
	case typeAudio:
		return s.Write(csidAudio, ts, &rtmpmsg.AudioMessage{Payload: bytes.NewReader(m.data)})
	case typeVideo:
		return s.Write(csidVideo, ts, &rtmpmsg.VideoMessage{Payload: bytes.NewReader(m.data)})
	default:
		wire := m.wire
		if wire == nil {
			wire = append(append([]byte(nil), onMetaData...), m.data...)
		}
		return s.Write(csidData, 0, &rtmpmsg.DataMessage{Name: "@setDataFrame",
			Encoding: rtmpmsg.EncodingTypeAMF0, Body: bytes.NewReader(wire)})
	}
}
