package rtmp

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

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

	// the publisher's side of the writes to players (see flush)
	flushMu  sync.Mutex
	flushing []*player
	scratch  batch
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
// queues before it is written to them (stream.flush): each player then gets
// it in one writev. Writing every message (about 80 a second for 30 fps
// video and 48 kHz AAC) to every player made the fan-out mostly wake-ups
// and syscalls; players buffer far more than this anyway (SRS merges
// 350 ms by default). Keyframes, sequence headers and metadata go at once.
const mergeWrites = 100 // ms

// publish caches m where late joiners need it and queues it for every
// player; a player whose queue is full is dropped.
func (st *stream) publish(m *message) {
	st.flushMu.Lock()
	defer st.flushMu.Unlock()
	if st.queue(m) {
		st.flush()
	}
}

// queue is publish under st.mu; it tells whether the players' writes are due
// and, if so, lists the players in st.flushing.
func (st *stream) queue(m *message) (wake bool) {
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
	wake = m.typ == typeData || m.seq || m.key || !st.woken || d >= mergeWrites || d < -1000
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
		if !p.push(m) {
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
	if wake {
		st.flushing = st.flushing[:0]
		for p := range st.players {
			st.flushing = append(st.flushing, p)
		}
	}
	return wake
}

// flush writes what waits for the players in st.flushing, on the
// publisher's goroutine, without blocking: a player whose socket takes it
// all (every player that keeps up) costs one writev and no goroutine; one
// that does not gets a goroutine that writes the rest with the write
// timeout (drain) until it has caught up. Under flushMu.
func (st *stream) flush() {
	for i, p := range st.flushing {
		p.flush(&st.scratch)
		st.flushing[i] = nil
	}
	if cap(st.flushing) > 64 && len(st.flushing) < cap(st.flushing)/4 {
		st.flushing = nil // players left: the array shrinks with them
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
			p.push(&c)
		}
	}
	switch {
	case st.avcSeq == nil:
		// audio only (or nothing yet): no keyframes to wait for
	case len(st.gop) > 0 && len(st.gop) < p.maxMsgs-4 && st.gopBytes < maxPlayerQueueBytes/2:
		for _, m := range st.gop {
			p.push(m)
		}
	default:
		p.waitKey = true
	}
	p.st, p.out = st, st.s.m.bytesOut.WithLabelValues(st.name)
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

// player is one RTMP player. Its queue is written by the publisher's
// flushes (stream.flush) while it keeps up, and by a goroutine of its own
// (drain) when it does not: when it starts (the GOP it joins on), when its
// socket is full, at the stream's end. The queue is a slice that grows
// with what waits, bounded in messages (rtmp.player_queue) and bytes.
type player struct {
	c        *conn
	raw      syscall.RawConn // c's socket, for writes that must not block; nil: always drain
	st       *stream         // set by join
	started  <-chan struct{} // go-rtmp has announced playerChunkSize
	streamID uint32
	maxMsgs  int
	qmu      sync.Mutex
	queue    []*message         // under qmu
	queued   int                // bytes of media in queue, under qmu
	ending   bool               // the stream ended: stop once the queue is written; under qmu
	draining bool               // drain runs (or a flush writes): nobody else writes; under qmu
	waitKey  bool               // under stream.mu
	base     uint32             // subtracted from timestamps (set in join)
	out      prometheus.Counter // bytes sent (set in join)
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

// maxBatch bounds the media bytes gathered for one write, and
// maxBatchVecs its pieces (writev takes up to 1024).
const (
	maxBatch     = 512 << 10
	maxBatchVecs = 1000
)

// newPlayer makes a player on c; it writes nothing until start. Until
// then it counts as draining, so flushes leave it alone.
func newPlayer(c *conn, streamID uint32, maxMsgs int, log *slog.Logger) *player {
	p := &player{c: c, streamID: streamID, maxMsgs: maxMsgs, log: log, draining: true, done: make(chan struct{})}
	if c != nil {
		if sc, ok := c.Conn.(syscall.Conn); ok {
			if raw, err := sc.SyscallConn(); err == nil {
				p.raw = raw
			}
		}
	}
	return p
}

// push queues m, unless the queue is full.
func (p *player) push(m *message) bool {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if len(p.queue) >= p.maxMsgs || p.queued+len(m.data) > maxPlayerQueueBytes {
		return false
	}
	p.queue = append(p.queue, m)
	p.queued += len(m.data)
	return true
}

// take moves the queued messages to all; ending tells that the stream
// has ended.
func (p *player) take(all []*message) (_ []*message, ending bool) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	all = append(all, p.queue...)
	clear(p.queue)
	p.queue = p.queue[:0]
	if cap(p.queue) > 64 {
		p.queue = nil // a burst's (a GOP at join) array is not kept
	}
	return all, p.ending
}

// finish makes the player stop once its queue is written.
func (p *player) finish() {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	p.ending = true
	if !p.draining {
		p.draining = true
		go p.drain(nil)
	}
}

// written counts n bytes of the queue as sent.
func (p *player) written(n int) {
	p.qmu.Lock()
	p.queued -= n
	p.qmu.Unlock()
	p.out.Add(float64(n))
}

// batch is what one write sends: RTMP chunk headers (and the small
// payloads copied next to them) in hdr, the pieces of the writev in vec,
// the messages taken from a queue in all, all[:next] of them framed.
type batch struct {
	hdr  []byte
	vec  net.Buffers
	all  []*message
	next int
}

// frame puts the next messages of b.all in b.vec, up to maxBatch bytes,
// and returns their media bytes.
func (b *batch) frame(p *player) int {
	b.hdr, b.vec = b.hdr[:0], b.vec[:0]
	n := 0
	for ; b.next < len(b.all) && n < maxBatch && len(b.vec) < maxBatchVecs; b.next++ {
		b.hdr, b.vec = appendMessageVec(b.hdr, b.vec, b.all[b.next], p.streamID, p.base)
		n += len(b.all[b.next].data)
	}
	return n
}

// reset keeps no message alive, and no burst's arrays.
func (b *batch) reset() {
	clear(b.all)
	clear(b.vec)
	b.all, b.vec, b.next = b.all[:0], b.vec[:0], 0
	if cap(b.all) > 256 {
		b.all = nil
	}
	if cap(b.hdr) > 16<<10 {
		b.hdr = nil
	}
}

// flush writes the player's queue without blocking (stream.flush), with
// b as scratch space; what the socket does not take goes to drain.
func (p *player) flush(b *batch) {
	p.qmu.Lock()
	if p.draining || len(p.queue) == 0 || p.raw == nil {
		p.qmu.Unlock()
		return
	}
	p.draining = true
	p.qmu.Unlock()
	defer b.reset()
	b.all, _ = p.take(b.all)
	for b.next < len(b.all) {
		n := b.frame(p)
		size := 0
		for _, v := range b.vec {
			size += len(v)
		}
		w, err := p.writeNow(b.vec)
		if err != nil {
			p.failed(err)
			return
		}
		if w < size {
			// the socket is full: the rest (copied: b is the stream's
			// scratch) goes to drain, which writes it with the timeout
			rest := make([]byte, 0, size-w)
			for _, v := range b.vec {
				if w >= len(v) {
					w -= len(v)
					continue
				}
				rest = append(rest, v[w:]...)
				w = 0
			}
			p.written(n)
			go p.drain(&pending{bytes: rest, all: append([]*message(nil), b.all[b.next:]...)})
			return
		}
		p.written(n)
	}
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.ending {
		go p.drain(nil) // the stream ended meanwhile: drain writes the rest and stops
		return
	}
	p.draining = false
}

// writeNow writes v with one writev that does not wait for the socket:
// it may write part of it, or nothing (a full socket, or go-rtmp writing).
func (p *player) writeNow(v net.Buffers) (int, error) {
	if !p.c.wmu.TryLock() {
		return 0, nil // go-rtmp is writing a reply: drain waits for it
	}
	defer p.c.wmu.Unlock()
	p.c.pushWriteDeadline()
	var (
		n   int
		err error
	)
	if rerr := p.raw.Write(func(fd uintptr) bool {
		n, err = unix.Writev(int(fd), v)
		return true // never wait here
	}); rerr != nil {
		return 0, rerr
	}
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return max(n, 0), nil
	}
	return max(n, 0), err
}

// pending is what a flush could not write: bytes already framed, then
// messages still to frame.
type pending struct {
	bytes []byte
	all   []*message
}

// start writes what the player was given at join, once go-rtmp has
// announced playerChunkSize; flushes take over once that is written.
func (p *player) start() {
	select {
	case <-p.started: // go-rtmp has announced playerChunkSize and uses it
	case <-p.done:
		p.st.leave(p)
		return
	case <-time.After(p.c.s.cfg.WriteTimeout.Std()):
		p.log.Warn("rtmp player: the chunk size was not written in time")
		p.stop()
		p.st.leave(p)
		return
	}
	p.drain(nil)
}

// drain writes the player's queue with blocking writes (the write timeout
// applies: a player that stops reading is dropped), starting with what a
// flush left, until the queue is empty; flushes then take over again. At
// the stream's end it stops the player once everything is written. Media
// goes straight to the socket, framed here as RTMP chunks, not through
// go-rtmp's writer: one writev of the player's own chunk headers and the
// messages' bytes, which every player shares and nobody copies; conn's
// lock keeps go-rtmp's own rare writes (status replies) whole between ours.
func (p *player) drain(from *pending) {
	var b batch
	if from != nil {
		if len(from.bytes) > 0 {
			b.vec = append(b.vec, from.bytes)
			if !p.writeWait(&b, 0) {
				return
			}
		}
		b.all = from.all
	}
	for {
		for b.next < len(b.all) {
			n := b.frame(p)
			if !p.writeWait(&b, n) {
				return
			}
		}
		b.reset()
		p.qmu.Lock()
		if len(p.queue) == 0 {
			if p.ending {
				p.qmu.Unlock()
				p.stop()
				p.st.leave(p)
				return // everything written
			}
			p.draining = false
			p.qmu.Unlock()
			return
		}
		p.qmu.Unlock()
		b.all, _ = p.take(b.all)
	}
}

// writeWait writes b.vec, n bytes of media, waiting as long as the write
// timeout allows; false when the player is gone (it is stopped).
func (p *player) writeWait(b *batch, n int) bool {
	w := b.vec // WriteTo consumes its slice
	if _, err := p.c.writeBuffers(&w); err != nil {
		p.failed(err)
		return false
	}
	clear(b.vec)
	b.vec = b.vec[:0]
	if n > 0 {
		p.written(n)
	}
	return true
}

// failed ends a player whose write failed.
func (p *player) failed(err error) {
	select {
	case <-p.done:
	default:
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// it stopped reading: as slow as a full queue
			p.st.s.m.dropped.Inc()
			p.log.Warn("rtmp player dropped: it fell behind", "write_timeout", p.st.s.cfg.WriteTimeout.Std())
		} else {
			p.log.Info("rtmp player gone", "err", err)
		}
	}
	p.stop()
	p.st.leave(p)
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
