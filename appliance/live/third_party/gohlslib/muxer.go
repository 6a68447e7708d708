package gohlslib

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/gohlslib/v2/pkg/storage"
)

const (
	fmp4StartDTS               = 10 * time.Second
	multivariantPlaylistMaxAge = "30"
	segmentMaxAge              = "3600"
	mpegtsAACPTSDriftTolerance = 500 * time.Millisecond
)

func ptrOf[T any](v T) *T {
	return &v
}

func parseMSNPart(msn string, part string) (uint64, uint64, error) {
	var msnint uint64
	if msn != "" {
		var err error
		msnint, err = strconv.ParseUint(msn, 10, 64)
		if err != nil {
			return 0, 0, err
		}
	}

	var partint uint64
	if part != "" {
		var err error
		partint, err = strconv.ParseUint(part, 10, 64)
		if err != nil {
			return 0, 0, err
		}
	}

	return msnint, partint, nil
}

func bandwidth(segments []muxerSegment) (int, int) {
	if len(segments) == 0 {
		return 0, 0
	}

	var maxBandwidth uint64
	var sizes uint64
	var durations time.Duration

	for _, seg := range segments {
		if _, ok := seg.(*muxerGap); !ok && seg.getDuration() > 0 {
			bandwidth := 8 * seg.getSize() * uint64(time.Second) / uint64(seg.getDuration())
			if bandwidth > maxBandwidth {
				maxBandwidth = bandwidth
			}
			sizes += seg.getSize()
			durations += seg.getDuration()
		}
	}

	if durations == 0 {
		return 0, 0
	}
	averageBandwidth := 8 * sizes * uint64(time.Second) / uint64(durations)

	return int(maxBandwidth), int(averageBandwidth)
}

func queryVal(q url.Values, key string) string {
	vals, ok := q[key]
	if ok && len(vals) >= 1 {
		return vals[0]
	}
	return ""
}

func areAllAudio(tracks []*muxerTrack) bool {
	for _, track := range tracks {
		if track.Codec.IsVideo() {
			return false
		}
	}
	return true
}

// a prefix is needed to prevent usage of cached segments
// from previous muxing sessions.
func generatePrefix() (string, error) {
	var buf [6]byte
	_, err := rand.Read(buf[:])
	if err != nil {
		return "", err
	}

	return hex.EncodeToString(buf[:]), nil
}

func segmentPath(prefix string, streamID string, segmentID uint64, mp4 bool) string {
	if mp4 {
		return prefix + "_" + streamID + "_seg" + strconv.FormatUint(segmentID, 10) + ".mp4"
	}
	return prefix + "_" + streamID + "_seg" + strconv.FormatUint(segmentID, 10) + ".ts"
}

func partPath(prefix string, streamID string, partID uint64) string {
	return prefix + "_" + streamID + "_part" + strconv.FormatUint(partID, 10) + ".mp4"
}

func codecRequiredClockRate(c codecs.Codec) int {
	switch codec := c.(type) {
	case *codecs.AV1:
		return 90000

	case *codecs.VP9:
		return 90000

	case *codecs.H265:
		return 90000

	case *codecs.H264:
		return 90000

	case *codecs.Opus:
		return 48000

	case *codecs.MPEG4Audio:
		return codec.Config.SampleRate

	case *codecs.FLAC:
		return int(codec.StreamInfo.SampleRate)

	case *codecs.KLV:
		return 90000
	}

	return 0
}

type switchableWriter struct {
	w io.Writer
}

func (w *switchableWriter) Write(p []byte) (int, error) {
	return w.w.Write(p)
}

// MuxerOnEncodeErrorFunc is the prototype of Muxer.OnEncodeError.
type MuxerOnEncodeErrorFunc func(err error)

// Muxer is a HLS muxer.
type Muxer struct {
	//
	// parameters (all optional except Tracks).
	//
	// tracks.
	Tracks []*Track
	// Variant to use.
	// It defaults to MuxerVariantLowLatency
	Variant MuxerVariant
	// Number of HLS segments to keep on the server.
	// Segments allow to seek through the stream.
	// Their number doesn't influence latency.
	// It defaults to 7.
	SegmentCount int
	// Minimum duration of each segment.
	// This is adjusted in order to include at least one IDR frame in each segment.
	// A player usually puts 3 segments in a buffer before reproducing the stream.
	// It defaults to 1sec.
	SegmentMinDuration time.Duration
	// Minimum duration of each part.
	// Parts are used in Low-Latency HLS in place of segments.
	// This is adjusted in order to produce segments with a similar duration.
	// A player usually puts 3 parts in a buffer before reproducing the stream.
	// It defaults to 200ms.
	PartMinDuration time.Duration
	// Maximum size of each segment.
	// This prevents RAM exhaustion.
	// It defaults to 50MB.
	SegmentMaxSize uint64
	// Directory to store segments and (non low-latency) playlists on disk.
	// This can be used to:
	// - offload segments from RAM to disk
	// - produce self-contained folders to pass to a CDN (only in case of non low-latency)
	Directory string

	//
	// callbacks (all optional)
	//
	// called when a non-fatal encode error occurs.
	OnEncodeError MuxerOnEncodeErrorFunc
	// thecure: called with a plain HLS copy of every complete segment and
	// the playlists listing it (muxer_publish.go).
	OnPublish MuxerOnPublishFunc

	//
	// private
	//

	mutex          sync.Mutex
	cond           *sync.Cond
	mtracks        []*muxerTrack
	mtracksByTrack map[*Track]*muxerTrack
	streams        []*muxerStream
	leadingStream  *muxerStream
	prefix         string
	storageFactory storage.Factory
	segmenter      *muxerSegmenter
	server         *muxerServer
	closed         bool
	ended          bool          // thecure: Finish was called
	writeMu        sync.Mutex    // thecure: writes and Finish
	notify         *muxerNotify  // thecure: wakes waiting requests
	mvCache        playlistCache // thecure: multivariant playlist bytes
}

// Start initializes the muxer.
func (m *Muxer) Start() error {
	if m.Variant == 0 {
		m.Variant = MuxerVariantLowLatency
	}
	if m.SegmentCount == 0 {
		m.SegmentCount = 7
	}
	if m.SegmentMinDuration == 0 {
		m.SegmentMinDuration = 1 * time.Second
	}
	if m.PartMinDuration == 0 {
		m.PartMinDuration = 200 * time.Millisecond
	}
	if m.SegmentMaxSize == 0 {
		m.SegmentMaxSize = 50 * 1024 * 1024
	}
	if m.OnEncodeError == nil {
		m.OnEncodeError = func(e error) {
			log.Printf("%v", e)
		}
	}

	if len(m.Tracks) == 0 {
		return fmt.Errorf("at least one track must be provided")
	}

	// supporting non-standard clock rates requires some computations that we're not doing right now.
	// it's not worth the effort, for now.
	for i, track := range m.Tracks {
		requiredClockRate := codecRequiredClockRate(track.Codec)
		if track.ClockRate != requiredClockRate {
			return fmt.Errorf("track %d requires clock rate %d, but is %d", i, requiredClockRate, track.ClockRate)
		}
	}

	hasVideo := false
	hasAudio := false

	if m.Variant == MuxerVariantMPEGTS {
		for _, track := range m.Tracks {
			if track.Codec.IsVideo() {
				if hasVideo {
					return fmt.Errorf("the MPEG-TS variant of HLS supports a single video track only")
				}
				if _, ok := track.Codec.(*codecs.H264); !ok {
					return fmt.Errorf(
						"the MPEG-TS variant of HLS supports H264 video only")
				}
				hasVideo = true
			} else if _, isKLV := track.Codec.(*codecs.KLV); !isKLV {
				if hasAudio {
					return fmt.Errorf("the MPEG-TS variant of HLS supports a single audio track only")
				}
				if _, ok := track.Codec.(*codecs.MPEG4Audio); !ok {
					return fmt.Errorf(
						"the MPEG-TS variant of HLS supports MPEG-4 Audio only")
				}
				hasAudio = true
			}
		}

		// Validate that KLV tracks are accompanied by at least one video or audio track
		if !hasVideo && !hasAudio {
			for _, track := range m.Tracks {
				if _, ok := track.Codec.(*codecs.KLV); ok {
					return fmt.Errorf("KLV tracks require at least one video or audio track to drive segment creation")
				}
			}
		}
	} else {
		for _, track := range m.Tracks {
			if track.Codec.IsVideo() {
				if hasVideo {
					return fmt.Errorf("only one video track is currently supported")
				}
				hasVideo = true
			} else if _, ok := track.Codec.(*codecs.KLV); ok {
				return fmt.Errorf("KLV tracks are only supported with the MPEG-TS muxer variant")
			} else {
				hasAudio = true //nolint:ineffassign,wastedassign
			}
		}
	}

	hasDefaultAudio := false

	for _, track := range m.Tracks {
		if !track.Codec.IsVideo() && track.IsDefault {
			if hasDefaultAudio {
				return fmt.Errorf("multiple default audio tracks are not supported")
			}
			hasDefaultAudio = true
		}
	}

	switch m.Variant {
	case MuxerVariantLowLatency:
		if m.SegmentCount < 7 {
			return fmt.Errorf("Low-Latency HLS requires at least 7 segments")
		}

	default:
		if m.SegmentCount < 3 {
			return fmt.Errorf("the minimum number of HLS segments is 3")
		}
	}

	m.cond = sync.NewCond(&m.mutex)
	m.notify = newMuxerNotify()
	m.mtracksByTrack = make(map[*Track]*muxerTrack)

	m.segmenter = &muxerSegmenter{
		variant:            m.Variant,
		segmentMinDuration: m.SegmentMinDuration,
		partMinDuration:    m.PartMinDuration,
		parent:             m,
	}
	m.segmenter.initialize()

	m.server = &muxerServer{}
	m.server.initialize()

	m.server.registerPath("index.m3u8", m.handleMultivariantPlaylist)

	// Find the leading track index
	// Video tracks are preferred; if no video, use the first non-KLV track
	leadingTrackIndex := -1
	for i, track := range m.Tracks {
		if track.Codec.IsVideo() {
			leadingTrackIndex = i
			break
		}
		_, isKLV := track.Codec.(*codecs.KLV)
		if leadingTrackIndex == -1 && !isKLV {
			leadingTrackIndex = i
		}
	}

	for i, track := range m.Tracks {
		mtrack := &muxerTrack{
			Track:     track,
			variant:   m.Variant,
			isLeading: i == leadingTrackIndex,
		}
		mtrack.initialize()
		m.mtracks = append(m.mtracks, mtrack)
		m.mtracksByTrack[track] = mtrack
	}

	var err error
	m.prefix, err = generatePrefix()
	if err != nil {
		return err
	}

	if m.Directory != "" {
		m.storageFactory = storage.NewFactoryDisk(m.Directory)
	} else {
		m.storageFactory = storage.NewFactoryRAM()
	}

	// thecure: no initial gap segments (see PATCHED.md), so the first
	// segment is number 0 in every variant
	nextSegmentID := uint64(0)

	switch m.Variant {
	case MuxerVariantMPEGTS:
		stream := &muxerStream{
			isLeading:      true,
			variant:        m.Variant,
			segmentMaxSize: m.SegmentMaxSize,
			segmentCount:   m.SegmentCount,
			onEncodeError:  m.OnEncodeError,
			mutex:          &m.mutex,
			cond:           m.cond,
			notify:         m.notify,
			segMinDuration: m.SegmentMinDuration,
			publishing:     m.OnPublish != nil, // thecure
			prefix:         m.prefix,
			storageFactory: m.storageFactory,
			directory:      m.Directory,
			server:         m.server,
			tracks:         m.mtracks,
			id:             "main",
			nextSegmentID:  nextSegmentID,
		}
		err = stream.initialize()
		if err != nil {
			return err
		}
		m.streams = append(m.streams, stream)

	default:
		err = m.createFMP4Streams(leadingTrackIndex, hasDefaultAudio, nextSegmentID)
		if err != nil {
			return err
		}
	}

	m.leadingStream = func() *muxerStream {
		for _, stream := range m.streams {
			if stream.isLeading {
				return stream
			}
		}
		return nil
	}()

	return nil
}

// createFMP4Streams makes the streams of the fMP4 variants (thecure): the
// leading track and the default audio track are muxed in one stream, "main"
// (one init file with both tracks, parts and segments carrying both), as
// the MPEG-TS variant does, so that a player makes one playlist request and
// one part or segment request where upstream's separate audio rendition
// (EXT-X-MEDIA) made it make two of each. Other audio tracks stay
// renditions; the main stream's audio is then the group's default one,
// listed without a URI (its media is in the main stream).
func (m *Muxer) createFMP4Streams(leadingTrackIndex int, hasDefaultAudio bool, nextSegmentID uint64) error {
	leading := m.mtracks[leadingTrackIndex]
	audioID := func(i int) string { return "audio" + strconv.FormatInt(int64(i+1), 10) }

	// the index of the audio track of the main stream (-1: none)
	mainAudio := -1
	if leading.Codec.IsVideo() {
		for i, track := range m.mtracks {
			if !track.Codec.IsVideo() && (!hasDefaultAudio || track.IsDefault) {
				mainAudio = i
				break
			}
		}
	} else {
		mainAudio = leadingTrackIndex
	}

	mainTracks := []*muxerTrack{leading}
	if mainAudio >= 0 && mainAudio != leadingTrackIndex {
		mainTracks = append(mainTracks, m.mtracks[mainAudio])
	}

	newStream := func(id string, tracks []*muxerTrack) *muxerStream {
		return &muxerStream{
			variant:        m.Variant,
			segmentMaxSize: m.SegmentMaxSize,
			segmentCount:   m.SegmentCount,
			onEncodeError:  m.OnEncodeError,
			mutex:          &m.mutex,
			cond:           m.cond,
			notify:         m.notify,
			segMinDuration: m.SegmentMinDuration,
			publishing:     m.OnPublish != nil,
			prefix:         m.prefix,
			storageFactory: m.storageFactory,
			directory:      m.Directory,
			server:         m.server,
			tracks:         tracks,
			id:             id,
			nextSegmentID:  nextSegmentID,
		}
	}

	renditions := len(m.mtracks) > len(mainTracks) // other audio tracks

	main := newStream("main", mainTracks)
	main.isLeading = true
	if renditions && mainAudio >= 0 {
		track := m.mtracks[mainAudio]
		main.isRendition = true
		main.isDefault = !hasDefaultAudio || track.IsDefault
		main.name = track.Name
		if main.name == "" {
			main.name = audioID(mainAudio)
		}
		main.language = track.Language
	}
	if err := main.initialize(); err != nil {
		return err
	}
	m.streams = append(m.streams, main)

	for i, track := range m.mtracks {
		if slices.Contains(mainTracks, track) {
			continue
		}
		s := newStream(audioID(i), []*muxerTrack{track})
		s.isRendition = true
		s.isDefault = hasDefaultAudio && track.IsDefault
		s.name = track.Name
		if s.name == "" {
			s.name = s.id
		}
		s.language = track.Language
		if err := s.initialize(); err != nil {
			return err
		}
		m.streams = append(m.streams, s)
	}
	return nil
}

// Close closes a Muxer.
func (m *Muxer) Close() {
	m.mutex.Lock()

	m.closed = true

	for _, stream := range m.streams {
		stream.close()
	}

	m.notify.bump()
	m.mutex.Unlock()

	m.cond.Broadcast()
}

// Finish ends the stream and keeps all of it (thecure): the samples held
// back to compute their durations are written, the unfinished part and
// segment are closed and listed (no part already announced is withdrawn),
// playlists end with EXT-X-ENDLIST and have no preload hint, and waiting
// requests are answered at once. It may be called while another goroutine
// writes; writes after it are refused. The muxer keeps serving until Close.
func (m *Muxer) Finish() {
	m.mutex.Lock()
	if m.ended || m.closed {
		m.mutex.Unlock()
		return
	}
	m.mutex.Unlock()

	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	m.segmenter.flush(m.mtracks)

	m.mutex.Lock()
	m.ended = true
	for _, stream := range m.streams {
		if err := stream.finish(); err != nil {
			m.OnEncodeError(err)
		}
	}
	for _, stream := range m.streams {
		if !stream.isLeading {
			stream.targetDuration = max(stream.targetDuration, m.leadingStream.targetDuration)
			stream.partTargetDuration = max(stream.partTargetDuration, m.leadingStream.partTargetDuration)
		}
	}
	m.notify.bump()
	pub, ok := m.publication() // thecure: Muxer.OnPublish
	m.mutex.Unlock()
	m.publish(pub, ok)
}

// errEnded is returned by writes after Finish.
var errEnded = fmt.Errorf("the stream has ended")

// WriteAV1 writes an AV1 temporal unit.
func (m *Muxer) WriteAV1(
	track *Track,
	ntp time.Time,
	pts int64,
	tu [][]byte,
) error {
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeAV1(m.mtracksByTrack[track], ntp, pts, tu)
}

// WriteVP9 writes a VP9 frame.
func (m *Muxer) WriteVP9(
	track *Track,
	ntp time.Time,
	pts int64,
	frame []byte,
) error {
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeVP9(m.mtracksByTrack[track], ntp, pts, frame)
}

// WriteH265 writes an H265 access unit.
func (m *Muxer) WriteH265(
	track *Track,
	ntp time.Time,
	pts int64,
	au [][]byte,
) error {
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeH265(m.mtracksByTrack[track], ntp, pts, au)
}

// WriteH264 writes an H264 access unit.
func (m *Muxer) WriteH264(
	track *Track,
	ntp time.Time,
	pts int64,
	au [][]byte,
) error {
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeH264(m.mtracksByTrack[track], ntp, pts, au, nil, nil)
}

// WriteH264AVCC is WriteH264 with the access unit also given in AVCC form
// (each NAL unit of au after its 4-byte big-endian length, nothing else),
// as FLV and MP4 carry it: fMP4 samples use those bytes as they are
// instead of marshalling au again (thecure).
func (m *Muxer) WriteH264AVCC(
	track *Track,
	ntp time.Time,
	pts int64,
	au [][]byte,
	avcc []byte,
) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if m.segmenter.ended {
		return errEnded
	}
	return m.segmenter.writeH264(m.mtracksByTrack[track], ntp, pts, au, nil, avcc)
}

// WriteOpus writes Opus packets.
func (m *Muxer) WriteOpus(
	track *Track,
	ntp time.Time,
	pts int64,
	packets [][]byte,
) error {
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeOpus(m.mtracksByTrack[track], ntp, pts, packets)
}

// WriteMPEG4Audio writes MPEG-4 Audio access units.
func (m *Muxer) WriteMPEG4Audio(
	track *Track,
	ntp time.Time,
	pts int64,
	aus [][]byte,
) error {
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeMPEG4Audio(m.mtracksByTrack[track], ntp, pts, aus)
}

// WriteFLAC writes a FLAC audio frame.
func (m *Muxer) WriteFLAC(
	track *Track,
	ntp time.Time,
	pts int64,
	frame []byte,
) error {
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeFLAC(m.mtracksByTrack[track], ntp, pts, frame)
}

// WriteKLV writes KLV data.
func (m *Muxer) WriteKLV(
	track *Track,
	ntp time.Time,
	pts int64,
	data []byte,
) error {
	// KLV writing is currently only supported for the MPEG-TS muxer variant.
	if m.Variant != MuxerVariantMPEGTS {
		return fmt.Errorf("WriteKLV is only supported with the MPEG-TS muxer variant")
	}

	// Ensure that the provided track carries KLV data.
	if _, ok := track.Codec.(*codecs.KLV); !ok {
		return fmt.Errorf("WriteKLV called with a non-KLV track")
	}
	m.writeMu.Lock() // thecure: Finish may come from another goroutine
	defer m.writeMu.Unlock()
	if m.segmenter.ended { // thecure: after Finish
		return errEnded
	}
	return m.segmenter.writeKLV(m.mtracksByTrack[track], ntp, pts, data)
}

// Handle handles a HTTP request.
// This can be safely called in parallel with Write*() and Close() methods.
func (m *Muxer) Handle(w http.ResponseWriter, r *http.Request) {
	m.server.handle(w, r)
}

func (m *Muxer) createFirstSegment(nextDTS time.Duration, nextNTP time.Time) error {
	// thecure: under the mutex, since requests look at the segment in progress
	m.mutex.Lock()
	defer m.mutex.Unlock()
	for _, stream := range m.streams {
		err := stream.createFirstSegment(nextDTS, nextNTP)
		if err != nil {
			return err
		}
	}

	return nil
}

func (m *Muxer) rotateParts(nextDTS time.Duration) error {
	m.mutex.Lock()
	err := m.rotatePartsInner(nextDTS)
	m.notify.bump()
	m.mutex.Unlock()

	if err != nil {
		return err
	}

	m.cond.Broadcast()

	return nil
}

func (m *Muxer) rotatePartsInner(nextDTS time.Duration) error {
	err := m.leadingStream.rotateParts(nextDTS, true)
	if err != nil {
		return err
	}

	for _, stream := range m.streams {
		if !stream.isLeading {
			err = stream.rotateParts(nextDTS, true)
			if err != nil {
				return err
			}
			stream.partTargetDuration = m.leadingStream.partTargetDuration
		}
	}

	return nil
}

func (m *Muxer) rotateSegments(
	nextDTS time.Duration,
	nextNTP time.Time,
) error {
	m.mutex.Lock()
	err := m.rotateSegmentsInner(nextDTS, nextNTP)
	m.notify.bump()
	pub, ok := m.publication() // thecure: Muxer.OnPublish
	m.mutex.Unlock()
	m.publish(pub, ok)

	if err != nil {
		return err
	}

	m.cond.Broadcast()

	return nil
}

func (m *Muxer) rotateSegmentsInner(
	nextDTS time.Duration,
	nextNTP time.Time,
) error {
	if m.segmenter.paramsChanged { // thecure: every rendition marks the discontinuity
		m.segmenter.paramsChanged = false
		for _, stream := range m.streams {
			stream.discontinuityNext = true
		}
	}
	err := m.leadingStream.rotateSegments(nextDTS, nextNTP)
	if err != nil {
		return err
	}

	for _, stream := range m.streams {
		if !stream.isLeading {
			err = stream.rotateSegments(nextDTS, nextNTP)
			if err != nil {
				return err
			}
			stream.targetDuration = m.leadingStream.targetDuration
			stream.partTargetDuration = m.leadingStream.partTargetDuration
		}
	}

	if m.Directory != "" && m.Variant != MuxerVariantLowLatency {
		err = m.savePlaylists()
		if err != nil {
			return err
		}
	}

	return nil
}

func (m *Muxer) savePlaylists() error {
	for _, stream := range m.streams {
		byts, err := stream.generateMediaPlaylist(false, "")
		if err != nil {
			return err
		}

		err = os.WriteFile(filepath.Join(m.Directory, mediaPlaylistPath(stream.id)), byts, 0o644)
		if err != nil {
			return err
		}
	}

	byts, err := m.generateMultivariantPlaylist("")
	if err != nil {
		return err
	}

	return os.WriteFile(filepath.Join(m.Directory, "index.m3u8"), byts, 0o644)
}

// thecure: the multivariant playlist is made once per muxer update (when the
// request has no query), the wait honours the request's context, and a
// muxer that ended or closed without content answers 404.
func (m *Muxer) handleMultivariantPlaylist(w http.ResponseWriter, r *http.Request) {
	m.mutex.Lock()
	err := waitLocked(r.Context(), &m.mutex, m.notify, func() bool {
		return m.closed || m.ended || m.streams[0].hasContent()
	})
	if err != nil {
		m.mutex.Unlock()
		unavailable(w)
		return
	}
	if m.closed || !m.streams[0].hasContent() {
		m.mutex.Unlock()
		http.NotFound(w, r)
		return
	}
	var buf []byte
	var etag []string
	if r.URL.RawQuery == "" {
		buf, etag, err = m.mvCache.get(m.notify.version, m.prefix, func() ([]byte, error) {
			return m.generateMultivariantPlaylist("")
		})
	} else {
		buf, err = m.generateMultivariantPlaylist(r.URL.RawQuery)
	}
	m.mutex.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}

	// allow caching but use a small period in order to
	// allow a stream to change tracks or bitrate
	servePlaylist(w, r, buf, etag, "public, max-age="+multivariantPlaylistMaxAge)
}

func (m *Muxer) generateMultivariantPlaylist(rawQuery string) ([]byte, error) {
	// TODO: consider segments in all streams
	maxBandwidth, averageBandwidth := bandwidth(m.streams[0].segments)
	if maxBandwidth == 0 { // thecure: only parts yet
		maxBandwidth, averageBandwidth = m.streams[0].partsBandwidth()
	}

	pl := &playlist.Multivariant{
		Version: func() int {
			if m.Variant == MuxerVariantMPEGTS {
				return 3
			}
			return 10
		}(),
		IndependentSegments: true,
		Variants: []*playlist.MultivariantVariant{{
			Bandwidth:        maxBandwidth,
			AverageBandwidth: &averageBandwidth,
		}},
	}

	for _, stream := range m.streams {
		err := stream.populateMultivariantPlaylist(pl, rawQuery)
		if err != nil {
			return nil, err
		}
	}

	return pl.Marshal()
}

// WriteH264DTS is WriteH264 with the access unit's decode time given by
// the source (thecure): the DTS is not estimated from the picture order
// counts, which goes wrong for the first frames after the parameters
// change (a playout channel going from one title to the next).
func (m *Muxer) WriteH264DTS(
	track *Track,
	ntp time.Time,
	pts int64,
	dts int64,
	au [][]byte,
) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if m.segmenter.ended {
		return errEnded
	}
	return m.segmenter.writeH264(m.mtracksByTrack[track], ntp, pts, au, &dts, nil)
}
