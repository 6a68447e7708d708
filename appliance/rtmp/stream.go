package rtmp

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	gortmp "github.com/yutopp/go-rtmp"

	rtmpmsg "github.com/yutopp/go-rtmp/message"
	"thecure/appliance/live"
)

// Message type ids (RTMP) of what is fanned out.
const (
	typeAudio = 8
	typeVideo = 9
	typeData  = 18
)

// message is one media or metadata message. Its data is never modified once
// made, so every player shares it.
type message struct {
	typ  uint8
	ts   uint32
	data []byte
	key  bool // video keyframe (not a sequence header)
	seq  bool // sequence header
}

// maxGOPBytes bounds the cached group of pictures replayed to late joiners.
const maxGOPBytes = 32 << 20

// stream is one live publication as RTMP players see it: the cached
// metadata, sequence headers and current GOP, and the players.
type stream struct {
	name string
	log  *slog.Logger
	s    *Server

	mu       sync.Mutex
	meta     *message
	avcSeq   *message
	aacSeq   *message
	gop      []*message // from the last keyframe on
	gopBytes int
	players  map[*player]struct{}
	closed   bool
	out      *live.Stream // the HLS side, once started: told the player count
}

func (st *stream) playerCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.players)
}

func (st *stream) countChanged() {
	if st.out != nil {
		st.out.SetPlayers(len(st.players))
	}
}

// started links the HLS side of the stream, once the tracks are known.
func (st *stream) started(out *live.Stream) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.out = out
	st.countChanged()
}

// publish caches m where late joiners need it and queues it for every
// player; a player whose queue is full is dropped.
func (st *stream) publish(m *message) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case m.typ == typeData:
		st.meta = m
	case m.seq && m.typ == typeVideo:
		st.avcSeq = m
	case m.seq && m.typ == typeAudio:
		st.aacSeq = m
	case m.key:
		st.gop = append(st.gop[:0:0], m)
		st.gopBytes = len(m.data)
	case st.gop != nil:
		st.gopBytes += len(m.data)
		if st.gopBytes > maxGOPBytes {
			st.gop, st.gopBytes = nil, 0
		} else {
			st.gop = append(st.gop, m)
		}
	}
	dropped := false
	for p := range st.players {
		if p.waitKey {
			if m.typ == typeVideo && !m.seq && !m.key || m.typ == typeAudio && !m.seq {
				continue
			}
			if m.key {
				p.waitKey = false
			}
		}
		select {
		case p.queue <- m:
		default:
			delete(st.players, p)
			dropped = true
			st.s.m.dropped.Inc()
			p.log.Warn("rtmp player dropped: it fell behind", "queue", cap(p.queue))
			p.stop()
		}
	}
	if dropped {
		st.countChanged()
	}
}

// join adds a player: it gets the metadata and sequence headers, then the
// current GOP (starting on its keyframe) or, failing that, waits for the
// next keyframe.
func (st *stream) join(p *player) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || len(st.players) >= st.s.cfg.MaxPlayers {
		return false
	}
	var ts uint32
	if len(st.gop) > 0 {
		ts = st.gop[0].ts
	}
	for _, m := range []*message{st.meta, st.avcSeq, st.aacSeq} {
		if m != nil {
			c := *m
			c.ts = ts
			if c.typ == typeData {
				c.ts = 0 // players (ffmpeg) take timed metadata for a subtitle stream
			}
			p.queue <- &c
		}
	}
	switch {
	case st.avcSeq == nil:
		// audio only (or nothing yet): no keyframes to wait for
	case len(st.gop) > 0 && len(st.gop) < cap(p.queue)-4:
		for _, m := range st.gop {
			p.queue <- m
		}
	default:
		p.waitKey = true
	}
	st.players[p] = struct{}{}
	st.countChanged()
	return true
}

func (st *stream) leave(p *player) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.players[p]; ok {
		delete(st.players, p)
		st.countChanged()
	}
}

// end closes the stream for players: each is disconnected.
func (st *stream) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	for p := range st.players {
		p.stop()
	}
	st.players = map[*player]struct{}{}
}

// player is one RTMP player: its queue is drained by its own goroutine.
type player struct {
	c        *conn
	started  <-chan struct{} // go-rtmp has written its reply to play
	rc       *gortmp.Conn
	streamID uint32
	queue    chan *message
	waitKey  bool // under stream.mu
	log      *slog.Logger
	done     chan struct{}
	once     sync.Once
}

// stop disconnects the player.
func (p *player) stop() {
	p.once.Do(func() {
		close(p.done)
		_ = p.c.Conn.Close()
	})
}

// playerChunkSize is the chunk size used towards players (the default 128
// bytes costs many headers and system calls on video).
const playerChunkSize = 16384

// run writes the queue to the player until it stops or fails.
func (p *player) run(st *stream) {
	defer st.leave(p)
	defer p.stop()
	wt := p.c.s.cfg.WriteTimeout.Std()
	wait := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-p.done:
		case <-time.After(wt):
			p.log.Warn("rtmp player: write timed out")
		}
		return false
	}
	if !wait(p.started) {
		return
	}
	write := func(csid int, sid, ts uint32, m rtmpmsg.Message) error {
		ctx, cancel := context.WithTimeout(context.Background(), wt)
		defer cancel()
		return p.rc.Write(ctx, csid, ts, &gortmp.ChunkMessage{StreamID: sid, Message: m})
	}
	// a larger chunk size, switched once go-rtmp has written the message
	written := p.c.arm()
	if err := write(2, 0, 0, &rtmpmsg.SetChunkSize{ChunkSize: playerChunkSize}); err != nil || !wait(written) {
		return
	}
	_ = p.rc.GetChunkStreamer().SelfState().SetChunkSize(playerChunkSize)
	out := st.s.m.bytesOut.WithLabelValues(st.name)
	for {
		var m *message
		select {
		case m = <-p.queue:
		case <-p.done:
			return
		}
		var msg rtmpmsg.Message
		csid := 6
		switch m.typ {
		case typeVideo:
			msg = &rtmpmsg.VideoMessage{Payload: bytes.NewReader(m.data)}
		case typeAudio:
			msg, csid = &rtmpmsg.AudioMessage{Payload: bytes.NewReader(m.data)}, 4
		case typeData:
			msg, csid = &rtmpmsg.DataMessage{Name: "onMetaData", Encoding: rtmpmsg.EncodingTypeAMF0, Body: bytes.NewReader(m.data)}, 5
		default:
			continue
		}
		if err := write(csid, p.streamID, m.ts, msg); err != nil {
			select {
			case <-p.done:
			default:
				p.log.Info("rtmp player gone", "err", err)
			}
			return
		}
		out.Add(float64(len(m.data)))
	}
}
