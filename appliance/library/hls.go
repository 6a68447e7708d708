package library

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/codecparams"
	hlscodecs "github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// Segment formats written by Package.
const (
	FormatFMP4   = "fmp4"
	FormatMPEGTS = "mpegts"
)

// MasterPlaylist is the file name of a title's master playlist, in its HLS
// directory; each variant has a sub-directory with its own index.m3u8.
const MasterPlaylist = "index.m3u8"

// PackageOptions says how Package cuts and writes segments.
type PackageOptions struct {
	SegmentDuration time.Duration
	Format          string   // FormatFMP4 (default) or FormatMPEGTS
	Names           []string // variant directory names, one per H.264 track in stream order
}

// Packaged is what Package wrote.
type Packaged struct {
	Duration time.Duration // the longest variant
	Variants []VariantInfo
}

// VariantInfo describes one variant of the master playlist.
type VariantInfo struct {
	Name             string   `json:"name"`
	Width            int      `json:"width,omitempty"`
	Height           int      `json:"height,omitempty"`
	Bandwidth        int      `json:"bandwidth"` // peak segment bitrate, bit/s
	AverageBandwidth int      `json:"average_bandwidth"`
	Codecs           []string `json:"codecs"`
	Segments         int      `json:"segments"`
}

// Package reads one fragmented MP4 stream (as ffmpeg writes it to a pipe
// with -movflags empty_moov+default_base_moof: H.264 video tracks, one per
// rendition, and at most one AAC track shared by all) and writes an HLS VOD
// tree into dir: per variant a directory with segments cut at keyframes and
// a VOD media playlist, and the master playlist. A stream with no video
// becomes one audio-only variant named "audio".
func Package(r io.Reader, dir string, opts PackageOptions) (*Packaged, error) {
	if opts.Format == "" {
		opts.Format = FormatFMP4
	}
	if opts.SegmentDuration <= 0 {
		opts.SegmentDuration = 4 * time.Second
	}
	br := bufio.NewReaderSize(r, 1<<16)
	init, err := readInit(br)
	if err != nil {
		return nil, fmt.Errorf("read media stream: %w", err)
	}
	type trackInfo struct {
		timescale int64
		video     *variant // nil for the audio track
		audio     bool
		// ffmpeg starts each track's decode time at zero and, in a streamed
		// MP4, writes no edit list: the B-frame delay of a video track (its
		// first composition offset) is taken off so that its first picture
		// is shown at zero, with the audio
		delay    int64
		delaySet bool
	}
	tracks := map[int]*trackInfo{}
	var videos []*fmp4.InitTrack
	var audioCfg *mpeg4audio.AudioSpecificConfig
	for _, tr := range init.Tracks {
		switch c := tr.Codec.(type) {
		case *mp4codecs.H264:
			videos = append(videos, tr)
		case *mp4codecs.MPEG4Audio:
			if audioCfg == nil {
				audioCfg = &c.Config
				tracks[tr.ID] = &trackInfo{timescale: int64(tr.TimeScale), audio: true}
			}
		}
	}
	if len(videos) == 0 && audioCfg == nil {
		return nil, errors.New("read media stream: no H.264 or AAC track")
	}
	target := int64(opts.SegmentDuration.Seconds() * 90000)
	var vs []*variant
	for i, tr := range videos {
		name := fmt.Sprintf("v%d", i)
		if i < len(opts.Names) && opts.Names[i] != "" {
			name = opts.Names[i]
		}
		c := tr.Codec.(*mp4codecs.H264)
		v := &variant{name: name, video: true, audioCfg: audioCfg, target: target, format: opts.Format,
			sps: c.SPS, pps: c.PPS}
		vs = append(vs, v)
		tracks[tr.ID] = &trackInfo{timescale: int64(tr.TimeScale), video: v}
	}
	if len(vs) == 0 {
		vs = append(vs, &variant{name: "audio", audioCfg: audioCfg, target: target, format: opts.Format})
	}
	for _, v := range vs {
		v.dir = filepath.Join(dir, v.name)
		if err := os.MkdirAll(v.dir, 0o755); err != nil {
			return nil, fmt.Errorf("package: %w", err)
		}
	}

	// one fragment at a time: its samples in decode order across tracks
	type sample struct {
		tr       *trackInfo
		pts, dts int64 // 90 kHz
		payload  []byte
	}
	var batch []sample
	for {
		parts, err := readFragment(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read media stream: %w", err)
		}
		batch = batch[:0]
		for _, part := range parts {
			for _, pt := range part.Tracks {
				tr := tracks[pt.ID]
				if tr == nil || tr.timescale == 0 {
					continue
				}
				t := int64(pt.BaseTime)
				if !tr.delaySet && len(pt.Samples) > 0 {
					tr.delaySet = true
					if !tr.audio {
						tr.delay = max(int64(pt.Samples[0].PTSOffset), 0)
						tr.video.delay = tr.delay * 90000 / tr.timescale
					}
				}
				for _, smp := range pt.Samples {
					dts := (t - tr.delay) * 90000 / tr.timescale
					pts := (t - tr.delay + int64(smp.PTSOffset)) * 90000 / tr.timescale
					batch = append(batch, sample{tr: tr, pts: pts, dts: dts, payload: smp.Payload})
					t += int64(smp.Duration)
				}
			}
		}
		slices.SortStableFunc(batch, func(a, b sample) int { return cmp.Compare(a.dts, b.dts) })
		for _, smp := range batch {
			if smp.tr.audio {
				for _, v := range vs {
					if err := v.onAudio(smp.dts, smp.payload); err != nil {
						return nil, err
					}
				}
				continue
			}
			var au h264.AVCC
			if err := au.Unmarshal(smp.payload); err != nil || len(au) == 0 {
				continue // an undecodable sample is skipped, as a player would
			}
			if err := smp.tr.video.onVideo(smp.pts, smp.dts, au, smp.payload); err != nil {
				return nil, err
			}
		}
	}
	out := &Packaged{}
	for _, v := range vs {
		if err := v.finish(); err != nil {
			return nil, err
		}
		if len(v.segs) == 0 {
			return nil, fmt.Errorf("package: variant %s has no media", v.name)
		}
		info, dur, err := v.writePlaylist()
		if err != nil {
			return nil, err
		}
		out.Variants = append(out.Variants, info)
		out.Duration = max(out.Duration, dur)
	}
	slices.SortStableFunc(out.Variants, func(a, b VariantInfo) int { return b.Bandwidth - a.Bandwidth })
	if err := writeMaster(dir, opts.Format, out.Variants); err != nil {
		return nil, err
	}
	return out, nil
}

// maxBox bounds one top-level box read from ffmpeg (a fragment of every
// rendition for about a second).
const maxBox = 512 << 20

// readBox reads one top-level box (header included) and its type.
func readBox(r io.Reader) (string, []byte, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:8]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "", nil, fmt.Errorf("truncated box header: %w", err)
		}
		return "", nil, err // io.EOF: the stream ended between boxes
	}
	size := uint64(binary.BigEndian.Uint32(hdr[:4]))
	typ := string(hdr[4:8])
	n := 8
	if size == 1 {
		if _, err := io.ReadFull(r, hdr[8:16]); err != nil {
			return "", nil, fmt.Errorf("box %s: %w", typ, err)
		}
		size, n = binary.BigEndian.Uint64(hdr[8:16]), 16
	}
	if size < uint64(n) || size > maxBox {
		return "", nil, fmt.Errorf("box %q has a bad size %d", typ, size)
	}
	buf := make([]byte, size)
	copy(buf, hdr[:n])
	if _, err := io.ReadFull(r, buf[n:]); err != nil {
		return "", nil, fmt.Errorf("box %s: %w", typ, err)
	}
	return typ, buf, nil
}

// readInit reads boxes up to and including moov and parses them.
func readInit(r io.Reader) (*fmp4.Init, error) {
	var head []byte
	for {
		typ, b, err := readBox(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("no moov box (empty stream)")
			}
			return nil, err
		}
		head = append(head, b...)
		if typ == "moov" {
			break
		}
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(head)); err != nil {
		return nil, err
	}
	return &init, nil
}

// readFragment reads the next moof and its mdat and parses them.
func readFragment(r io.Reader) (fmp4.Parts, error) {
	var frag []byte
	for {
		typ, b, err := readBox(r)
		if err != nil {
			if errors.Is(err, io.EOF) && frag != nil {
				return nil, errors.New("stream ended inside a fragment")
			}
			return nil, err
		}
		switch typ {
		case "moof":
			frag = b
		case "mdat":
			if frag == nil {
				continue
			}
			frag = append(frag, b...)
			var parts fmp4.Parts
			if err := parts.Unmarshal(frag); err != nil {
				return nil, err
			}
			return parts, nil
		}
		// styp, sidx, mfra and the like carry nothing we need
	}
}

// event is one access unit of a segment, in arrival order.
type event struct {
	video    bool
	pts, dts int64 // 90 kHz; audio: dts == pts
	au       [][]byte
	avcc     []byte // the sample as read (length-prefixed NAL units), reused for fMP4
}

type segment struct {
	start, end int64 // 90 kHz; end is set when the segment is closed
	events     []event
}

type segInfo struct {
	dur   time.Duration
	bytes int
}

// variant cuts one rendition's access units into segments. With video, a
// segment ends at the first IDR at or after the target duration; the closed
// segment waits for the audio up to its end before it is written.
type variant struct {
	name, dir, format string
	video             bool
	audioCfg          *mpeg4audio.AudioSpecificConfig
	target            int64

	sps, pps     []byte
	delay        int64 // 90 kHz: the B-frame delay (first decode time is -delay)
	cur, closing *segment
	lastDTS      int64
	lastDur      int64
	lastAudio    int64
	segs         []segInfo
	initDone     bool

	// MPEG-TS output: one writer for every segment
	tsw              *mpegts.Writer
	tsBuf            byteCounter
	tsVideo, tsAudio *mpegts.Track
}

func (v *variant) onVideo(pts, dts int64, au [][]byte, avcc []byte) error {
	idr := h264.IsRandomAccess(au)
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if v.sps == nil {
				v.sps = slices.Clone(n)
			}
		case h264.NALUTypePPS:
			if v.pps == nil {
				v.pps = slices.Clone(n)
			}
		}
	}
	if v.cur == nil {
		if !idr || v.sps == nil || v.pps == nil {
			return nil // nothing is decodable before the first IDR with its parameters
		}
		v.cur = &segment{start: dts}
	} else {
		if dts > v.lastDTS {
			v.lastDur = dts - v.lastDTS
		}
		if idr && dts-v.cur.start >= v.target {
			v.cur.end = dts
			if v.closing != nil {
				if err := v.flush(v.closing); err != nil {
					return err
				}
				v.closing = nil
			}
			if v.audioCfg == nil {
				if err := v.flush(v.cur); err != nil {
					return err
				}
			} else {
				v.closing = v.cur
			}
			v.cur = &segment{start: dts}
		}
	}
	v.lastDTS = dts
	v.cur.events = append(v.cur.events, event{video: true, pts: pts, dts: dts, au: au, avcc: avcc})
	return nil
}

func (v *variant) onAudio(t int64, au []byte) error {
	v.lastAudio = t
	ev := event{pts: t, dts: t, au: [][]byte{au}}
	if !v.video {
		if v.cur == nil {
			v.cur = &segment{start: t}
		} else if t-v.cur.start >= v.target {
			v.cur.end = t
			if err := v.flush(v.cur); err != nil {
				return err
			}
			v.cur = &segment{start: t}
		}
		v.cur.events = append(v.cur.events, ev)
		return nil
	}
	if v.closing != nil {
		if t < v.closing.end {
			v.closing.events = append(v.closing.events, ev)
			return nil
		}
		if err := v.flush(v.closing); err != nil {
			return err
		}
		v.closing = nil
	}
	if v.cur != nil {
		v.cur.events = append(v.cur.events, ev)
	}
	return nil
}

func (v *variant) finish() error {
	if v.closing != nil {
		if err := v.flush(v.closing); err != nil {
			return err
		}
		v.closing = nil
	}
	if v.cur == nil || len(v.cur.events) == 0 {
		return nil
	}
	if v.video {
		if v.lastDur == 0 {
			v.lastDur = 3600 // one frame at 25 fps
		}
		v.cur.end = v.lastDTS + v.lastDur
		// audio past the last picture is the encoder's padding (a
		// streamed MP4 has no edit list to trim it): the title ends with
		// its pictures, as the source does
		end := v.cur.end + v.delay
		evs := v.cur.events[:0]
		for _, e := range v.cur.events {
			if e.video || e.pts < end {
				evs = append(evs, e)
			}
		}
		v.cur.events = evs
	} else {
		v.cur.end = v.lastAudio + mpeg4audio.SamplesPerAccessUnit*90000/int64(v.audioCfg.SampleRate)
	}
	err := v.flush(v.cur)
	v.cur = nil
	return err
}

func (v *variant) segName(n int) string {
	if v.format == FormatMPEGTS {
		return fmt.Sprintf("seg%05d.ts", n)
	}
	return fmt.Sprintf("seg%05d.m4s", n)
}

func (v *variant) flush(s *segment) error {
	var data []byte
	var err error
	if v.format == FormatMPEGTS {
		data, err = v.marshalTS(s)
	} else {
		if !v.initDone {
			if err := v.writeInit(); err != nil {
				return err
			}
			v.initDone = true
		}
		data, err = v.marshalFMP4(s, uint32(len(v.segs)+1))
	}
	if err != nil {
		return fmt.Errorf("package %s: %w", v.name, err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, v.segName(len(v.segs)+1)), data, 0o644); err != nil {
		return fmt.Errorf("package: %w", err)
	}
	v.segs = append(v.segs, segInfo{dur: time.Duration((s.end - s.start) * int64(time.Second) / 90000), bytes: len(data)})
	return nil
}

func (v *variant) initTracks() []*fmp4.InitTrack {
	var tracks []*fmp4.InitTrack
	if v.video {
		tracks = append(tracks, &fmp4.InitTrack{ID: 1, TimeScale: 90000, Codec: &mp4codecs.H264{SPS: v.sps, PPS: v.pps}})
	}
	if v.audioCfg != nil {
		tracks = append(tracks, &fmp4.InitTrack{ID: 2, TimeScale: uint32(v.audioCfg.SampleRate), Codec: &mp4codecs.MPEG4Audio{Config: *v.audioCfg}})
	}
	return tracks
}

func (v *variant) writeInit() error {
	var buf seekablebuffer.Buffer
	if err := (fmp4.Init{Tracks: v.initTracks()}).Marshal(&buf); err != nil {
		return fmt.Errorf("package %s: init: %w", v.name, err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, "init.mp4"), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("package: %w", err)
	}
	return nil
}

func (v *variant) marshalFMP4(s *segment, seq uint32) ([]byte, error) {
	var vt, at *fmp4.PartTrack
	var vevs []event
	for _, e := range s.events {
		if e.video {
			vevs = append(vevs, e)
		}
	}
	sr := int64(0)
	if v.audioCfg != nil {
		sr = int64(v.audioCfg.SampleRate)
	}
	for i, e := range vevs {
		if vt == nil {
			// decode times start at zero, presentation times at zero too:
			// the B-frame delay goes into the composition offsets, which
			// may be negative (trun version 1)
			vt = &fmp4.PartTrack{ID: 1, BaseTime: uint64(max(e.dts+v.delay, 0))}
		}
		next := s.end
		if i+1 < len(vevs) {
			next = vevs[i+1].dts
		}
		payload := e.avcc
		if payload == nil || hasNALU(e.au, h264.NALUTypeSPS) || hasNALU(e.au, h264.NALUTypePPS) || hasNALU(e.au, h264.NALUTypeAccessUnitDelimiter) {
			var err error
			if payload, err = h264.AVCC(stripParams(e.au)).Marshal(); err != nil {
				return nil, err
			}
		}
		vt.Samples = append(vt.Samples, &fmp4.Sample{
			Duration:        uint32(max(next-e.dts, 0)),
			PTSOffset:       int32(e.pts - e.dts - v.delay),
			IsNonSyncSample: !h264.IsRandomAccess(e.au),
			Payload:         payload,
		})
	}
	for _, e := range s.events {
		if e.video {
			continue
		}
		if at == nil {
			at = &fmp4.PartTrack{ID: 2, BaseTime: uint64(max(e.pts, 0) * sr / 90000)}
		}
		at.Samples = append(at.Samples, &fmp4.Sample{Duration: mpeg4audio.SamplesPerAccessUnit, Payload: e.au[0]})
	}
	part := fmp4.Part{SequenceNumber: seq}
	for _, t := range []*fmp4.PartTrack{vt, at} {
		if t != nil {
			part.Tracks = append(part.Tracks, t)
		}
	}
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// stripParams drops parameter sets and delimiters: in fMP4 they live in the
// init segment.
func stripParams(au [][]byte) [][]byte {
	out := make([][]byte, 0, len(au))
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypeAccessUnitDelimiter:
		default:
			out = append(out, n)
		}
	}
	return out
}

// byteCounter collects what is written to it.
type byteCounter struct {
	buf []byte
}

func (b *byteCounter) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// marshalTS writes a segment with the variant's one MPEG-TS writer, so that
// continuity counters run on across segments as players expect; each segment
// starts with the PAT and PMT. Presentation times start at zero; the decode
// times of the first B-frame-delayed pictures (and the PCR) are a little
// below zero and wrap around the 33-bit clock, as players and ffmpeg expect.
func (v *variant) marshalTS(s *segment) ([]byte, error) {
	if v.tsw == nil {
		var tracks []*mpegts.Track
		if v.video {
			v.tsVideo = &mpegts.Track{Codec: &tscodecs.H264{}}
			tracks = append(tracks, v.tsVideo)
		}
		if v.audioCfg != nil {
			v.tsAudio = &mpegts.Track{Codec: &tscodecs.MPEG4Audio{Config: *v.audioCfg}}
			tracks = append(tracks, v.tsAudio)
		}
		v.tsw = &mpegts.Writer{W: &v.tsBuf, Tracks: tracks}
		if err := v.tsw.Initialize(); err != nil {
			return nil, err
		}
	}
	v.tsBuf.buf = v.tsBuf.buf[:0]
	if _, err := v.tsw.WriteTables(); err != nil {
		return nil, err
	}
	for _, e := range s.events {
		var err error
		if e.video {
			au := e.au
			if h264.IsRandomAccess(au) && !hasNALU(au, h264.NALUTypeSPS) {
				au = append([][]byte{v.sps, v.pps}, au...)
			}
			err = v.tsw.WriteH264(v.tsVideo, e.pts, e.dts, au)
		} else {
			err = v.tsw.WriteMPEG4Audio(v.tsAudio, e.pts, e.au)
		}
		if err != nil {
			return nil, err
		}
	}
	return v.tsBuf.buf, nil
}

func hasNALU(au [][]byte, t h264.NALUType) bool {
	for _, n := range au {
		if h264.NALUType(n[0]&0x1f) == t {
			return true
		}
	}
	return false
}

func playlistVersion(format string) int {
	if format == FormatMPEGTS {
		return 3
	}
	return 7
}

// writePlaylist writes the variant's VOD media playlist and describes it.
func (v *variant) writePlaylist() (VariantInfo, time.Duration, error) {
	vod := playlist.MediaPlaylistTypeVOD
	m := playlist.Media{
		Version:             playlistVersion(v.format),
		IndependentSegments: true,
		PlaylistType:        &vod,
		Endlist:             true,
	}
	if v.format != FormatMPEGTS {
		m.Map = &playlist.MediaMap{URI: "init.mp4"}
	}
	var total time.Duration
	var bytes, peak int
	var maxDur time.Duration
	for i, s := range v.segs {
		m.Segments = append(m.Segments, &playlist.MediaSegment{Duration: s.dur, URI: v.segName(i + 1)})
		total += s.dur
		bytes += s.bytes
		maxDur = max(maxDur, s.dur)
		if s.dur > 0 {
			peak = max(peak, int(float64(s.bytes*8)/s.dur.Seconds()))
		}
	}
	m.TargetDuration = int(math.Ceil(maxDur.Seconds()))
	b, err := m.Marshal()
	if err != nil {
		return VariantInfo{}, 0, err
	}
	if err := os.WriteFile(filepath.Join(v.dir, "index.m3u8"), b, 0o644); err != nil {
		return VariantInfo{}, 0, fmt.Errorf("package: %w", err)
	}
	info := VariantInfo{Name: v.name, Segments: len(v.segs), Bandwidth: peak}
	if total > 0 {
		info.AverageBandwidth = int(float64(bytes*8) / total.Seconds())
	}
	if v.video {
		info.Codecs = append(info.Codecs, codecparams.Marshal(&hlscodecs.H264{SPS: v.sps, PPS: v.pps}))
		var sps h264.SPS
		if err := sps.Unmarshal(v.sps); err == nil {
			info.Width, info.Height = sps.Width(), sps.Height()
		}
	}
	if v.audioCfg != nil {
		info.Codecs = append(info.Codecs, codecparams.Marshal(&hlscodecs.MPEG4Audio{Config: *v.audioCfg}))
	}
	return info, total, nil
}

func writeMaster(dir, format string, vs []VariantInfo) error {
	m := playlist.Multivariant{Version: playlistVersion(format), IndependentSegments: true}
	for _, v := range vs {
		avg := v.AverageBandwidth
		mv := &playlist.MultivariantVariant{
			Bandwidth:        max(v.Bandwidth, 1),
			AverageBandwidth: &avg,
			Codecs:           v.Codecs,
			URI:              v.Name + "/index.m3u8",
		}
		if v.Width > 0 {
			mv.Resolution = strconv.Itoa(v.Width) + "x" + strconv.Itoa(v.Height)
		}
		m.Variants = append(m.Variants, mv)
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, MasterPlaylist), b, 0o644); err != nil {
		return fmt.Errorf("package: %w", err)
	}
	return nil
}
