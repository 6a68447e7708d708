// Package live is the live side of the web server: a Hub holds one HLS muxer
// (gohlslib) per live stream, fed by any source of timestamped access units
// (the RTMP server today, playout channels from the library later), and
// serves /live/NAME/index.m3u8 (HLS, LL-HLS by default) and /api/live.
package live

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/config"
)

// ErrLive is returned by Publish when the name is already live.
var ErrLive = errors.New("stream is already live")

// H264 is the video track of a live stream: its parameter sets.
type H264 struct {
	SPS, PPS []byte
}

// Tracks are the tracks of a live stream; at least one must be set. They are
// fixed for the life of a publication (the HLS muxer needs them up front).
type Tracks struct {
	H264 *H264                           // nil: no video
	AAC  *mpeg4audio.AudioSpecificConfig // nil: no audio
}

// StreamInfo describes one live stream, for /api/live and other views.
type StreamInfo struct {
	Name       string    `json:"name"`
	VideoCodec string    `json:"video_codec,omitempty"` // RFC 6381, e.g. "avc1.64001f"
	AudioCodec string    `json:"audio_codec,omitempty"` // e.g. "mp4a.40.2"
	Width      int       `json:"width,omitempty"`
	Height     int       `json:"height,omitempty"`
	FPS        float64   `json:"fps,omitempty"`         // measured
	Bitrate    int64     `json:"bitrate"`               // bits per second, measured on the input
	SampleRate int       `json:"sample_rate,omitempty"` // audio
	Players    int       `json:"rtmp_players"`
	HLSViewers int       `json:"hls_viewers"`
	Started    time.Time `json:"started"`
	Uptime     float64   `json:"uptime_seconds"`
}

// Hub is the set of live streams. It starts nothing by itself: sources call
// Publish and Close; the web server calls the handlers.
type Hub struct {
	cfg config.HLS
	log *slog.Logger

	mu      sync.Mutex
	streams map[string]*Stream // live now
	ended   map[string]*Stream // ended recently: playlists end with EXT-X-ENDLIST

	bytesIn   *prometheus.CounterVec
	published prometheus.Counter
	sink      Sink   // a copy of every stream elsewhere (sink.go); nil: none
	segDir    string // where the muxers keep their segments (SetSegmentDir); "": in memory
}

// NewHub makes an empty hub and registers its metrics on reg.
func NewHub(cfg config.HLS, log *slog.Logger, reg prometheus.Registerer) *Hub {
	h := &Hub{
		cfg:     cfg,
		log:     log,
		streams: map[string]*Stream{},
		ended:   map[string]*Stream{},
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thecure_live_bytes_in_total",
			Help: "Media bytes received per live stream.",
		}, []string{"stream"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "thecure_live_publications_total",
			Help: "Live streams started.",
		}),
	}
	reg.MustRegister(h.bytesIn, h.published,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "thecure_live_streams",
			Help: "Live streams now.",
		}, func() float64 { h.mu.Lock(); defer h.mu.Unlock(); return float64(len(h.streams)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "thecure_live_hls_viewers",
			Help: "HLS clients seen in the last few seconds, all streams.",
		}, func() float64 {
			n := 0
			for _, s := range h.list() {
				n += s.viewerCount(time.Now())
			}
			return float64(n)
		}),
	)
	return h
}

// Live tells whether name is being published.
func (h *Hub) Live(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.streams[name]
	return ok
}

// get returns the live stream of that name, else one that ended recently.
func (h *Hub) get(name string) *Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.streams[name]; ok {
		return s
	}
	return h.ended[name]
}

func (h *Hub) list() []*Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Collect(maps.Values(h.streams))
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Streams describes every live stream, sorted by name.
func (h *Hub) Streams() []StreamInfo {
	now := time.Now()
	ss := h.list()
	out := make([]StreamInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.info(now))
	}
	return out
}

// Stream states, as Status tells them.
const (
	StateLive    = "live"    // being published
	StateEnded   = "ended"   // ended recently: players get its last playlist
	StateOffline = "offline" // neither
)

// Status is the state of one stream name, for the live player page.
type Status struct {
	State string `json:"state"` // live | ended | offline
	// Viewers counts HLS viewers and RTMP players (live and ended streams).
	Viewers int `json:"viewers"`
	// Started tells one publication from the next (zero when offline).
	Started time.Time `json:"started,omitzero"`
	Width   int       `json:"width,omitempty"`
	Height  int       `json:"height,omitempty"`
}

// Status tells whether name is live, ended recently or offline.
func (h *Hub) Status(name string) Status {
	h.mu.Lock()
	s, live := h.streams[name]
	if !live {
		s = h.ended[name]
	}
	h.mu.Unlock()
	if s == nil {
		return Status{State: StateOffline}
	}
	in := s.info(time.Now())
	st := Status{State: StateEnded, Viewers: in.HLSViewers + in.Players, Started: in.Started, Width: in.Width, Height: in.Height}
	if live {
		st.State = StateLive
	}
	return st
}

// Watch counts the client of r as a viewer of name when it is live (the
// player page is opened; the player's requests keep it counted) and
// describes the stream.
func (h *Hub) Watch(name string, r *http.Request) (StreamInfo, bool) {
	h.mu.Lock()
	s, ok := h.streams[name]
	h.mu.Unlock()
	if !ok {
		return StreamInfo{}, false
	}
	now := time.Now()
	s.sawViewer(viewerKey(r), now)
	return s.info(now), true
}

func variant(v string) gohlslib.MuxerVariant {
	switch v {
	case config.HLSMPEGTS:
		return gohlslib.MuxerVariantMPEGTS
	case config.HLSFMP4:
		return gohlslib.MuxerVariantFMP4
	}
	return gohlslib.MuxerVariantLowLatency
}

// Publish starts a live stream with the given tracks: its HLS muxer runs
// until Close. A name already live gives ErrLive.
func (h *Hub) Publish(name string, t Tracks) (_ *Stream, err error) {
	if !config.ValidStreamName(name) {
		return nil, fmt.Errorf("invalid stream name %q", name)
	}
	if t.H264 == nil && t.AAC == nil {
		return nil, fmt.Errorf("stream %s: no track", name)
	}
	s := &Stream{hub: h, name: name, started: time.Now(), viewers: map[string]time.Time{},
		pending: make(chan struct{}, maxPending), bytesIn: h.bytesIn.WithLabelValues(name)}
	s.muxer = &gohlslib.Muxer{
		Variant:            variant(h.cfg.Variant),
		SegmentCount:       h.cfg.SegmentCount,
		SegmentMinDuration: h.cfg.SegmentDuration.Std(),
		PartMinDuration:    h.cfg.PartDuration.Std(),
		OnEncodeError: func(err error) {
			s.log().Warn("hls muxer", "stream", name, "err", err)
		},
	}
	s.muxer.OnPublish = h.onPublish(s)
	if h.segDir != "" {
		s.dir = filepath.Join(h.segDir, name+"."+strconv.FormatInt(s.started.UnixNano(), 36)+pubSuffix)
		if err := os.Mkdir(s.dir, 0o700); err != nil {
			// the stream goes on with its segments in memory
			h.log.Warn("live segments kept in memory", "stream", name, "err", err)
			s.dir = ""
		} else {
			s.muxer.Directory = s.dir
			defer func() {
				if err != nil {
					s.removeDir()
				}
			}()
		}
	}
	if t.H264 != nil {
		var sps h264.SPS
		if err := sps.Unmarshal(t.H264.SPS); err != nil {
			return nil, fmt.Errorf("stream %s: invalid H.264 SPS: %w", name, err)
		}
		if len(t.H264.SPS) >= 4 {
			s.videoCodec = fmt.Sprintf("avc1.%02x%02x%02x", t.H264.SPS[1], t.H264.SPS[2], t.H264.SPS[3])
		}
		s.width, s.height = sps.Width(), sps.Height()
		s.video = &gohlslib.Track{Codec: &codecs.H264{SPS: t.H264.SPS, PPS: t.H264.PPS}, ClockRate: 90000}
		s.muxer.Tracks = append(s.muxer.Tracks, s.video)
	}
	if t.AAC != nil {
		if t.AAC.SampleRate <= 0 {
			return nil, fmt.Errorf("stream %s: invalid AAC sample rate %d", name, t.AAC.SampleRate)
		}
		s.audioCodec = fmt.Sprintf("mp4a.40.%d", int(t.AAC.Type))
		s.sampleRate = t.AAC.SampleRate
		s.audio = &gohlslib.Track{Codec: &codecs.MPEG4Audio{Config: *t.AAC}, ClockRate: t.AAC.SampleRate}
		s.muxer.Tracks = append(s.muxer.Tracks, s.audio)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.streams[name]; ok {
		return nil, ErrLive
	}
	if old, ok := h.ended[name]; ok { // a new publication replaces the ended one
		delete(h.ended, name)
		go old.closeMuxer()
	}
	if err = s.muxer.Start(); err != nil {
		return nil, fmt.Errorf("stream %s: start hls muxer: %w", name, err)
	}
	h.streams[name] = s
	h.published.Inc()
	h.log.Info("live stream started", "stream", name, "video", s.videoCodec, "audio", s.audioCodec,
		"width", s.width, "height", s.height, "variant", h.cfg.Variant)
	return s, nil
}

// Stream is one live publication. Its Write methods are called by one source
// goroutine; the info and HTTP side may run concurrently.
type Stream struct {
	hub     *Hub
	name    string
	started time.Time
	muxer   *gohlslib.Muxer
	video   *gohlslib.Track
	audio   *gohlslib.Track
	pending chan struct{} // blocking HLS requests in flight (a semaphore)
	bytesIn prometheus.Counter
	dir     string // the muxer's segments, "" for in memory

	videoCodec, audioCodec string
	width, height          int
	sampleRate             int

	// source side, one goroutine
	epoch    time.Time     // wall clock of the first timestamp
	first    time.Duration // the first timestamp
	hasFirst bool

	mu       sync.Mutex
	closed   bool
	players  int
	viewers  map[string]time.Time // HLS client -> last request
	winStart time.Time
	winBytes int64
	winFrms  int
	bitrate  int64
	fps      float64
}

// maxPending bounds the blocking HLS requests waiting on one stream.
const maxPending = 4096

func (s *Stream) log() *slog.Logger { return s.hub.log }

// Name is the stream's name.
func (s *Stream) Name() string { return s.name }

// ntp maps a media timestamp to the wall clock of the source: the first
// timestamp is "now", later ones follow the media clock.
func (s *Stream) ntp(ts time.Duration) time.Time {
	if !s.hasFirst {
		s.hasFirst, s.first, s.epoch = true, ts, time.Now()
	}
	return s.epoch.Add(ts - s.first)
}

// count records input bytes and frames for the bitrate and frame rate.
func (s *Stream) count(n int, frame bool) {
	s.bytesIn.Add(float64(n))
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.winStart.IsZero() {
		s.winStart = now
	}
	s.winBytes += int64(n)
	if frame {
		s.winFrms++
	}
	if d := now.Sub(s.winStart); d >= 2*time.Second {
		s.bitrate = s.winBytes * 8 * int64(time.Second) / int64(d)
		s.fps = float64(s.winFrms) * float64(time.Second) / float64(d)
		s.winStart, s.winBytes, s.winFrms = now, 0, 0
	}
}

// WriteH264 adds one H.264 access unit (NAL units without start codes) with
// its presentation time. IDR access units must carry SPS and PPS.
func (s *Stream) WriteH264(pts time.Duration, au [][]byte) error {
	if s.video == nil {
		return errors.New("stream has no video track")
	}
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	s.count(n, true)
	return s.muxer.WriteH264(s.video, s.ntp(pts), int64(pts)*90000/int64(time.Second), au)
}

// WriteH264AVCC is WriteH264 with the access unit also in AVCC form (each
// NAL unit of au after its 4-byte length, nothing else), as FLV carries
// it: the HLS muxer uses those bytes instead of making them again. avcc
// must not be modified afterwards.
func (s *Stream) WriteH264AVCC(pts time.Duration, au [][]byte, avcc []byte) error {
	if s.video == nil {
		return errors.New("stream has no video track")
	}
	s.count(len(avcc)-4*len(au), true)
	return s.muxer.WriteH264AVCC(s.video, s.ntp(pts), int64(pts)*90000/int64(time.Second), au, avcc)
}

// WriteAAC adds one AAC access unit (raw, no ADTS header) with its presentation time.
func (s *Stream) WriteAAC(pts time.Duration, au []byte) error {
	if s.audio == nil {
		return errors.New("stream has no audio track")
	}
	s.count(len(au), false)
	rate := int64(s.audio.ClockRate)
	return s.muxer.WriteMPEG4Audio(s.audio, s.ntp(pts), int64(pts)*rate/int64(time.Second), [][]byte{au})
}

// SetPlayers records how many players the source serves itself (RTMP players).
func (s *Stream) SetPlayers(n int) {
	s.mu.Lock()
	s.players = n
	s.mu.Unlock()
}

// Close ends the stream and frees the name. Nothing received is lost: the segment in
// progress is closed and kept (with the parts already announced), and like
// a VOD ending, HLS players then get the last playlist with EXT-X-ENDLIST
// and every segment for endGrace, so that they play to the last frame;
// waiting requests are answered at once. Then the muxer stops.
func (s *Stream) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.muxer.Finish()
	h := s.hub
	h.mu.Lock()
	if h.streams[s.name] == s {
		delete(h.streams, s.name)
		h.ended[s.name] = s
	}
	h.mu.Unlock()
	time.AfterFunc(h.endGrace(), func() {
		h.mu.Lock()
		if h.ended[s.name] == s {
			delete(h.ended, s.name)
		}
		h.mu.Unlock()
		s.closeMuxer()
	})
	h.log.Info("live stream ended", "stream", s.name, "uptime", time.Since(s.started).Round(time.Second))
}

// closeMuxer stops the muxer and removes its segments.
func (s *Stream) closeMuxer() {
	s.muxer.Close()
	s.removeDir()
}

func (s *Stream) removeDir() {
	if s.dir == "" {
		return
	}
	if err := os.RemoveAll(s.dir); err != nil {
		s.log().Warn("live segments not removed", "stream", s.name, "err", err)
	}
}

// pubSuffix ends the name of a publication's folder of segments
// (NAME.PUBLICATION.hls), so that SetSegmentDir knows what it may remove.
const pubSuffix = ".hls"

// SetSegmentDir has every stream published from now on keep its segments
// in a folder of dir (made if missing, mode 0700) instead of in memory:
// only the parts of the segment in progress stay in memory (LL-HLS players
// fetch them as they come), complete segments are read from the file system,
// whose page cache keeps what is read often (memory the kernel may reclaim,
// where the Go heap would hold the whole window plus the collector's
// headroom), and are sent with sendfile. Each folder is removed with its
// stream's muxer; folders left by an earlier run (a crash, or streams still
// in their end grace at shutdown) are removed now. Call it before the first
// Publish.
func (h *Hub) SetSegmentDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), pubSuffix)
		if !ok || !e.IsDir() {
			continue
		}
		if name, _, ok := strings.Cut(base, "."); !ok || !config.ValidStreamName(name) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	h.segDir = dir
	return nil
}

// endGrace is how long an ended stream's last playlist stays served: long
// enough for players a whole playlist behind to reach its end.
func (h *Hub) endGrace() time.Duration {
	return max(30*time.Second, 2*time.Duration(h.cfg.SegmentCount)*h.cfg.SegmentDuration.Std())
}

// viewerWindow is how long an HLS client counts as a viewer after a request.
const viewerWindow = 10 * time.Second

func (s *Stream) sawViewer(key string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.viewers[key] = now
	if len(s.viewers) > 4096 {
		s.pruneLocked(now)
	}
}

func (s *Stream) pruneLocked(now time.Time) {
	for k, t := range s.viewers {
		if now.Sub(t) > viewerWindow {
			delete(s.viewers, k)
		}
	}
}

func (s *Stream) viewerCount(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	return len(s.viewers)
}

func (s *Stream) info(now time.Time) StreamInfo {
	n := s.viewerCount(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	return StreamInfo{
		Name: s.name, VideoCodec: s.videoCodec, AudioCodec: s.audioCodec,
		Width: s.width, Height: s.height, FPS: float64(int(s.fps*100+0.5)) / 100, Bitrate: s.bitrate,
		SampleRate: s.sampleRate, Players: s.players, HLSViewers: n,
		Started: s.started, Uptime: now.Sub(s.started).Seconds(),
	}
}

// WriteH264DTS is WriteH264 with the access unit's decode time given (a
// source that knows it, such as a playout channel): the muxer does not
// estimate it, which goes wrong for a few frames where the parameters change.
func (s *Stream) WriteH264DTS(dts, pts time.Duration, au [][]byte) error {
	if s.video == nil {
		return errors.New("stream has no video track")
	}
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	s.count(n, true)
	return s.muxer.WriteH264DTS(s.video, s.ntp(pts), int64(pts)*90000/int64(time.Second), int64(dts)*90000/int64(time.Second), au)
}
