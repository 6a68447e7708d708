package rtmp

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

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
	key  bool   // video keyframe (not a sequence header)
	seq  bool   // sequence header
	wire []byte // a data message's body as players get it (onMetaData first)
}

// maxPlayerQueueBytes bounds the media bytes waiting for one player: one
// that falls further behind is dropped. The messages are shared by every
// player, so this also bounds what a slow player keeps alive.
const maxPlayerQueueBytes = 16 << 20

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
	lastTS   uint32       // of the newest media message
	wokenTS  uint32       // of the media message that last woke the players
	woken    bool         // wokenTS is set
	out      *live.Stream // the HLS side, once started: told the player count
	pushers  []*pusher    // [[rtmp.push]] targets, set before the first message
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

// mergeWrites is how much media (by its timestamps) gathers in the players'
// queues before their writers are woken: each player then gets it in one
// writev. Waking every player for every message (about 80 a second for
// 30 fps video and 48 kHz AAC) made the fan-out mostly wake-ups and
// syscalls; players buffer far more than this anyway (SRS merges 350 ms
// by default). Keyframes, sequence headers and metadata wake them at once.
const mergeWrites = 100 // ms

// publish caches m where late joiners need it and queues it for every
// player; a player whose queue is full is dropped.
func (st *stream) publish(m *message) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case m.typ == typeData:
		m.wire = append(append(make([]byte, 0, len(onMetaData)+len(m.data)), onMetaData...), m.data...)
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
	if m.typ != typeData {
		st.lastTS = m.ts
	}
	for _, pu := range st.pushers {
		pu.offer(m)
	}
	// audio and video interleave with slightly out-of-order timestamps:
	// only a jump back of over a second (a new clock) counts as one
	d := int64(int32(m.ts - st.wokenTS))
	wake := m.typ == typeData || m.seq || m.key || !st.woken || d >= mergeWrites || d < -1000
	if wake && m.typ != typeData {
		st.wokenTS, st.woken = m.ts, true
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
		if !p.push(m, wake) {
			delete(st.players, p)
			dropped = true
			st.s.m.dropped.Inc()
			p.log.Warn("rtmp player dropped: it fell behind", "max_messages", p.maxMsgs, "max_bytes", maxPlayerQueueBytes)
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
	ts := st.lastTS
	if len(st.gop) > 0 {
		ts = st.gop[0].ts
	}
	// the player's clock starts near zero (a second of slack for audio
	// that comes before the first keyframe), so its timestamps need the
	// extended field only after hours of watching, not hours of streaming
	p.base = ts - min(ts, 1000)
	for _, m := range []*message{st.meta, st.avcSeq, st.aacSeq} {
		if m != nil {
			c := *m
			c.ts = ts
			p.push(&c, true)
		}
	}
	switch {
	case st.avcSeq == nil:
		// audio only (or nothing yet): no keyframes to wait for
	case len(st.gop) > 0 && len(st.gop) < p.maxMsgs-4 && st.gopBytes < maxPlayerQueueBytes/2:
		for _, m := range st.gop {
			p.push(m, true)
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

// end closes the stream for players: each gets what is queued for it (to
// the last frame, within the write timeout), then is disconnected.
func (st *stream) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	for p := range st.players {
		p.finish()
	}
	for _, pu := range st.pushers {
		pu.finish()
	}
	st.players = map[*player]struct{}{}
}

// player is one RTMP player: its queue is drained by its own goroutine.
// The queue is a slice that grows with what waits (most players wait for
// one message or two), bounded in messages (rtmp.player_queue) and bytes.
type player struct {
	c        *conn
	started  <-chan struct{} // go-rtmp has announced playerChunkSize
	streamID uint32
	maxMsgs  int
	qmu      sync.Mutex
	queue    []*message    // under qmu
	queued   int           // bytes of media in queue, under qmu
	ending   bool          // the stream ended: stop once the queue is written; under qmu
	wake     chan struct{} // signalled when queue gets a message
	waitKey  bool          // under stream.mu
	base     uint32        // subtracted from timestamps (set in join)
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
// bytes costs many headers; 64 KiB holds most frames in one chunk).
const playerChunkSize = 65536

// maxBatch bounds the media bytes a player's writer gathers for one write,
// and maxBatchVecs its pieces (writev takes up to 1024).
const (
	maxBatch     = 512 << 10
	maxBatchVecs = 1000
)

func newPlayer(c *conn, streamID uint32, maxMsgs int, log *slog.Logger) *player {
	return &player{c: c, streamID: streamID, maxMsgs: maxMsgs, log: log,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues m, unless the queue is full, and wakes the writer if asked.
func (p *player) push(m *message, wake bool) bool {
	p.qmu.Lock()
	if len(p.queue) >= p.maxMsgs || p.queued+len(m.data) > maxPlayerQueueBytes {
		p.qmu.Unlock()
		return false
	}
	p.queue = append(p.queue, m)
	p.queued += len(m.data)
	p.qmu.Unlock()
	if !wake {
		return true
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves the queued messages to batch; ending tells that the stream
// has ended.
func (p *player) take(batch []*message) (_ []*message, ending bool) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	batch = append(batch, p.queue...)
	clear(p.queue)
	p.queue = p.queue[:0]
	if cap(p.queue) > 64 {
		p.queue = nil // a burst's (a GOP at join) array is not kept
	}
	return batch, p.ending
}

// finish makes the player stop once its queue is written.
func (p *player) finish() {
	p.qmu.Lock()
	p.ending = true
	p.qmu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// written counts n bytes of the queue as sent.
func (p *player) written(n int) {
	p.qmu.Lock()
	p.queued -= n
	p.qmu.Unlock()
}

// run writes the queue to the player until it stops or fails. Media goes
// straight to the socket, framed here as RTMP chunks, not through go-rtmp's
// writer (which costs a goroutine hand-off and a flush per chunk): one
// writev for whatever is queued, of the player's own chunk headers and the
// messages' bytes, which every player shares and nobody copies; conn's lock
// keeps go-rtmp's own rare writes (status replies) whole between ours.
func (p *player) run(st *stream) {
	defer st.leave(p)
	defer p.stop()
	select {
	case <-p.started: // go-rtmp has announced playerChunkSize and uses it
	case <-p.done:
		return
	case <-time.After(p.c.s.cfg.WriteTimeout.Std()):
		p.log.Warn("rtmp player: the chunk size was not written in time")
		return
	}
	out := st.s.m.bytesOut.WithLabelValues(st.name)
	hdr := make([]byte, 0, 1024)
	var (
		vec  net.Buffers
		all  []*message // taken from the queue; written up to next
		next int
	)
	for {
		if next == len(all) {
			clear(all) // keep no message alive
			all, next = all[:0], 0
			if cap(all) > 64 {
				all = nil
			}
			var ending bool
			if all, ending = p.take(all); len(all) == 0 {
				if ending {
					return // everything written
				}
				select {
				case <-p.wake:
				case <-p.done:
					return
				}
				continue
			}
		}
		n := 0
		for ; next < len(all) && n < maxBatch && len(vec) < maxBatchVecs; next++ {
			hdr, vec = appendMessageVec(hdr, vec, all[next], p.streamID, p.base)
			n += len(all[next].data)
		}
		w := vec // WriteTo consumes its slice
		if _, err := p.c.writeBuffers(&w); err != nil {
			select {
			case <-p.done:
			default:
				if errors.Is(err, os.ErrDeadlineExceeded) {
					// it stopped reading: as slow as a full queue
					st.s.m.dropped.Inc()
					p.log.Warn("rtmp player dropped: it fell behind", "write_timeout", st.s.cfg.WriteTimeout.Std())
				} else {
					p.log.Info("rtmp player gone", "err", err)
				}
			}
			return
		}
		p.written(n)
		out.Add(float64(n))
		clear(vec) // keep no message alive
		vec, hdr = vec[:0], hdr[:0]
		if cap(hdr) > 4<<10 {
			hdr = make([]byte, 0, 1024) // a burst's buffer (a GOP at join) is not kept
		}
	}
}

// onMetaData is the AMF0 name of a metadata data message.
var onMetaData = []byte{0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}

// chunk stream ids used towards players
const (
	csidControl = 2
	csidAudio   = 4
	csidData    = 5
	csidVideo   = 6
)

// appendMessage frames m as RTMP chunks in one slice (appendMessageVec, flat).
func appendMessage(b []byte, m *message, streamID, base uint32) []byte {
	_, v := appendMessageVec(nil, nil, m, streamID, base)
	for _, p := range v {
		b = append(b, p...)
	}
	return b
}

// copyBelow is the size under which a payload piece is copied next to its
// chunk header rather than written from the shared message: a writev piece
// costs more than copying a few hundred bytes (audio, small frames).
const copyBelow = 1 << 10

// appendMessageVec frames m as RTMP chunks on its chunk stream: a type-0
// header (absolute timestamp, so no per-stream header state is needed),
// then type-3 continuation chunks every playerChunkSize bytes. The headers
// (and small payloads) are appended to hdr and the pieces to v: slices of
// hdr, and larger payload pieces as slices of m's bytes, never copied.
func appendMessageVec(hdr []byte, v net.Buffers, m *message, streamID, base uint32) ([]byte, net.Buffers) {
	csid := byte(csidVideo)
	body := m.data
	switch m.typ {
	case typeAudio:
		csid = csidAudio
	case typeData:
		csid = csidData
		if body = m.wire; body == nil {
			body = append(append([]byte(nil), onMetaData...), m.data...)
		}
	}
	length := len(body)
	full := m.ts - min(m.ts, base)
	if m.typ == typeData {
		full = 0 // players (ffmpeg) take timed metadata for a subtitle stream
	}
	ts := full
	ext := ts >= 0xffffff
	if ext {
		ts = 0xffffff
	}
	start := len(hdr)
	hdr = append(hdr, csid, byte(ts>>16), byte(ts>>8), byte(ts),
		byte(length>>16), byte(length>>8), byte(length), m.typ)
	hdr = binary.LittleEndian.AppendUint32(hdr, streamID)
	if ext {
		hdr = binary.BigEndian.AppendUint32(hdr, full)
	}
	for i := 0; i < len(body); i += playerChunkSize {
		if i > 0 {
			hdr = append(hdr, 0xc0|csid)
			if ext {
				hdr = binary.BigEndian.AppendUint32(hdr, full)
			}
		}
		piece := body[i:min(i+playerChunkSize, len(body))]
		if len(piece) < copyBelow {
			hdr = append(hdr, piece...)
			continue
		}
		v = appendPiece(v, hdr, start)
		v = append(v, piece)
		start = len(hdr)
	}
	if len(hdr) > start {
		v = appendPiece(v, hdr, start)
	}
	return hdr, v
}

// appendPiece adds hdr[start:] to v, as an extension of v's last piece when
// that piece ends right where it starts in the same array (one writev
// piece for a run of headers and small payloads).
func appendPiece(v net.Buffers, hdr []byte, start int) net.Buffers {
	if k := len(v); k > 0 && start > 0 {
		last := v[k-1]
		if n := len(last); n > 0 && n <= start && &last[n-1] == &hdr[start-1] {
			v[k-1] = hdr[start-n : len(hdr) : len(hdr)]
			return v
		}
	}
	return append(v, hdr[start:len(hdr):len(hdr)])
}
