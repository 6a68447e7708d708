package rtmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	goamf0 "github.com/yutopp/go-amf0"
)

// A Feed is a live stream made here rather than published over RTMP (a
// playout channel): it reaches RTMP players, live HLS and pushes exactly as
// a publisher's stream does, through the same ingest. One goroutine writes
// to a Feed; its timestamps are its own (continuous for the feed's life).
type Feed struct {
	s   *Server
	st  *stream
	in  *ingest
	log *slog.Logger

	sps, pps []byte // the parameters announced last (sequence header)
	aac      []byte // the AudioSpecificConfig announced last
	closed   bool
}

// Reserve makes names local feeds' (playout channels): a publisher of one
// is refused with a clear error, as a pulled name is. Call it before Serve.
func (s *Server) Reserve(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feeds == nil {
		s.feeds = map[string]bool{}
	}
	for _, n := range names {
		s.feeds[n] = true
	}
}

// fed tells whether name is reserved for a local feed.
func (s *Server) fed(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feeds[name]
}

// OpenFeed starts the local stream name, fed by the caller. It fails when
// the name is live already.
func (s *Server) OpenFeed(name string, log *slog.Logger) (*Feed, error) {
	st, in, err := s.openLocal(name, log)
	if err != nil {
		return nil, err
	}
	in.knownDTS = true
	return &Feed{s: s, st: st, in: in, log: log}, nil
}

// errBusy: a local stream's name is live already.
var errBusy = errors.New("the local stream is still live")

// openLocal makes a local stream (a feed's or a pull's) with its pushes,
// and the ingest that feeds HLS from its FLV messages.
func (s *Server) openLocal(name string, log *slog.Logger) (*stream, *ingest, error) {
	s.mu.Lock()
	if _, busy := s.streams[name]; busy || s.hub.Live(name) {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("stream %s: %w", name, errBusy)
	}
	st := &stream{name: name, s: s, players: map[*player]struct{}{}, log: log}
	s.streams[name] = st
	s.mu.Unlock()
	s.startPushes(st)
	return st, &ingest{name: name, hub: s.hub, log: log, onStart: st.started}, nil
}

// Start announces the stream's tracks (onMetaData and the sequence
// headers): sps and pps (nil: no video), aac (nil: no audio).
func (f *Feed) Start(sps, pps []byte, aac *mpeg4audio.AudioSpecificConfig, width, height int) error {
	md := goamf0.ECMAArray{}
	if sps != nil {
		md["videocodecid"] = float64(codecAVC)
		md["width"], md["height"] = float64(width), float64(height)
	}
	if aac != nil {
		md["audiocodecid"] = float64(soundAAC)
		md["audiosamplerate"] = float64(aac.SampleRate)
	}
	var b bytes.Buffer
	enc := goamf0.NewEncoder(&b)
	if err := enc.Encode("onMetaData"); err != nil {
		return err
	}
	if err := enc.Encode(md); err != nil {
		return err
	}
	f.in.metadata(b.Bytes())
	f.st.publish(&message{typ: typeData, data: metadataBody(b.Bytes())})
	if sps != nil {
		if err := f.params(0, sps, pps); err != nil {
			return err
		}
	}
	if aac != nil {
		if err := f.SetAAC(0, aac); err != nil {
			return err
		}
	}
	return nil
}

// params sends an AVC sequence header when sps or pps differ from the
// ones announced last.
func (f *Feed) params(ts time.Duration, sps, pps []byte) error {
	if bytes.Equal(sps, f.sps) && bytes.Equal(pps, f.pps) {
		return nil
	}
	if len(sps) < 4 || len(pps) < 1 {
		return errors.New("feed: H.264 without SPS or PPS")
	}
	rec := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(sps)))
	rec = append(rec, sps...)
	rec = append(rec, 1)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(pps)))
	rec = append(rec, pps...)
	body := append([]byte{frameKey<<4 | codecAVC, avcSeqHeader, 0, 0, 0}, rec...)
	f.sps, f.pps = bytes.Clone(sps), bytes.Clone(pps)
	return f.send(typeVideo, ts, body)
}

// SetAAC announces the audio configuration (again, when it changes).
func (f *Feed) SetAAC(ts time.Duration, c *mpeg4audio.AudioSpecificConfig) error {
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	if bytes.Equal(b, f.aac) {
		return nil
	}
	f.aac = b
	return f.send(typeAudio, ts, append([]byte{soundAAC<<4 | 0x0f, aacSeqHeader}, b...))
}

// WriteH264 sends one access unit (NAL units, no start codes) with its
// decode and presentation times. Parameter sets in it that differ from the
// announced ones are announced first (a new sequence header); keyframes
// carry the parameters in-band as well.
func (f *Feed) WriteH264(dts, pts time.Duration, au [][]byte) error {
	var sps, pps []byte
	nalus := make([][]byte, 0, len(au))
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
			continue
		case h264.NALUTypePPS:
			pps = n
			continue
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		}
		nalus = append(nalus, n)
	}
	if sps != nil && pps != nil {
		if err := f.params(dts, sps, pps); err != nil {
			return err
		}
	}
	if len(nalus) == 0 {
		return nil
	}
	ft := byte(2) // inter frame
	if h264.IsRandomAccess(nalus) {
		ft = frameKey
		// the parameters go in-band too at every keyframe: a player that
		// does not apply a new sequence header mid-stream (ffmpeg) still
		// decodes the frames of a title made with other parameters
		nalus = append([][]byte{f.sps, f.pps}, nalus...)
	}
	cts := (pts - dts).Milliseconds()
	size := 5
	for _, n := range nalus {
		size += 4 + len(n)
	}
	body := make([]byte, 5, size)
	body[0], body[1] = ft<<4|codecAVC, avcNALU
	body[2], body[3], body[4] = byte(cts>>16), byte(cts>>8), byte(cts)
	for _, n := range nalus {
		body = binary.BigEndian.AppendUint32(body, uint32(len(n)))
		body = append(body, n...)
	}
	return f.send(typeVideo, dts, body)
}

// WriteAAC sends one raw AAC access unit.
func (f *Feed) WriteAAC(pts time.Duration, au []byte) error {
	body := make([]byte, 2, 2+len(au))
	body[0], body[1] = soundAAC<<4|0x0f, aacRaw
	return f.send(typeAudio, pts, append(body, au...))
}

func (f *Feed) send(typ uint8, ts time.Duration, body []byte) error {
	if f.closed {
		return errors.New("feed closed")
	}
	m, err := f.in.ingest(typ, uint32(ts.Milliseconds()), body)
	if err != nil {
		return err
	}
	if m != nil {
		f.st.publish(m)
	}
	return nil
}

// Close ends the stream (players get their queues, HLS its end).
func (f *Feed) Close() {
	if f.closed {
		return
	}
	f.closed = true
	s := f.s
	s.mu.Lock()
	if s.streams[f.st.name] == f.st {
		delete(s.streams, f.st.name)
	}
	s.mu.Unlock()
	f.st.end()
	f.in.close()
}
