package library

import (
	"bufio"
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

// tsShift is added to every timestamp written: B-frames give the first
// frames a decode time before the first presentation time, and fMP4 decode
// times cannot be negative.
const tsShift = 2 * 90000

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

// Package reads one MPEG-TS stream (as ffmpeg writes it: H.264 video tracks,
// one per rendition, and at most one AAC track shared by all) and writes an
// HLS VOD tree into dir: per variant a directory with segments cut at
// keyframes and a VOD media playlist, and the master playlist. A stream with
// no video becomes one audio-only variant named "audio".
func Package(r io.Reader, dir string, opts PackageOptions) (*Packaged, error) {
	if opts.Format == "" {
		opts.Format = FormatFMP4
	}
	if opts.SegmentDuration <= 0 {
		opts.SegmentDuration = 4 * time.Second
	}
	rd := &mpegts.Reader{R: bufio.NewReaderSize(r, 1<<16)}
	if err := rd.Initialize(); err != nil {
		return nil, fmt.Errorf("read media stream: %w", err)
	}
	var videos []*mpegts.Track
	var audio *mpegts.Track
	var audioCfg *mpeg4audio.AudioSpecificConfig
	for _, tr := range rd.Tracks() {
		switch c := tr.Codec.(type) {
		case *tscodecs.H264:
			videos = append(videos, tr)
		case *tscodecs.MPEG4Audio:
			if audio == nil {
				audio, audioCfg = tr, &c.Config
			}
		}
	}
	if len(videos) == 0 && audio == nil {
		return nil, errors.New("read media stream: no H.264 or AAC track")
	}
	target := int64(opts.SegmentDuration.Seconds() * 90000)
	var vs []*variant
	for i := range videos {
		name := fmt.Sprintf("v%d", i)
		if i < len(opts.Names) && opts.Names[i] != "" {
			name = opts.Names[i]
		}
		vs = append(vs, &variant{name: name, video: true, audioCfg: audioCfg, target: target, format: opts.Format})
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

	var td mpegts.TimeDecoder
	var werr error // the first write error stops everything
	for i, tr := range videos {
		v := vs[i]
		rd.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
			p, d := td.Decode(pts), td.Decode(dts)
			if werr == nil {
				werr = v.onVideo(p, d, au)
			}
			return werr
		})
	}
	if audio != nil {
		sr := int64(audioCfg.SampleRate)
		rd.OnDataMPEG4Audio(audio, func(pts int64, aus [][]byte) error {
			p := td.Decode(pts)
			for i, au := range aus {
				t := p + int64(i)*mpeg4audio.SamplesPerAccessUnit*90000/sr
				for _, v := range vs {
					if werr == nil {
						werr = v.onAudio(t, au)
					}
				}
			}
			return werr
		})
	}
	for {
		err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if werr != nil {
				return nil, werr
			}
			return nil, fmt.Errorf("read media stream: %w", err)
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

// event is one access unit of a segment, in arrival order.
type event struct {
	video    bool
	pts, dts int64 // 90 kHz; audio: dts == pts
	au       [][]byte
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
	cur, closing *segment
	lastDTS      int64
	lastDur      int64
	lastAudio    int64
	segs         []segInfo
	initDone     bool
}

func (v *variant) onVideo(pts, dts int64, au [][]byte) error {
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
	v.cur.events = append(v.cur.events, event{video: true, pts: pts, dts: dts, au: au})
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
			vt = &fmp4.PartTrack{ID: 1, BaseTime: uint64(e.dts + tsShift)}
		}
		next := s.end
		if i+1 < len(vevs) {
			next = vevs[i+1].dts
		}
		payload, err := h264.AVCC(stripParams(e.au)).Marshal()
		if err != nil {
			return nil, err
		}
		vt.Samples = append(vt.Samples, &fmp4.Sample{
			Duration:        uint32(max(next-e.dts, 0)),
			PTSOffset:       int32(e.pts - e.dts),
			IsNonSyncSample: !h264.IsRandomAccess(e.au),
			Payload:         payload,
		})
	}
	for _, e := range s.events {
		if e.video {
			continue
		}
		if at == nil {
			at = &fmp4.PartTrack{ID: 2, BaseTime: uint64((e.pts + tsShift) * sr / 90000)}
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

type byteCounter struct {
	buf []byte
}

func (b *byteCounter) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (v *variant) marshalTS(s *segment) ([]byte, error) {
	var out byteCounter
	var vtr, atr *mpegts.Track
	var tracks []*mpegts.Track
	if v.video {
		vtr = &mpegts.Track{Codec: &tscodecs.H264{}}
		tracks = append(tracks, vtr)
	}
	if v.audioCfg != nil {
		atr = &mpegts.Track{Codec: &tscodecs.MPEG4Audio{Config: *v.audioCfg}}
		tracks = append(tracks, atr)
	}
	w := &mpegts.Writer{W: &out, Tracks: tracks}
	if err := w.Initialize(); err != nil {
		return nil, err
	}
	if _, err := w.WriteTables(); err != nil {
		return nil, err
	}
	for _, e := range s.events {
		var err error
		if e.video {
			au := e.au
			if h264.IsRandomAccess(au) && !hasNALU(au, h264.NALUTypeSPS) {
				au = append([][]byte{v.sps, v.pps}, au...)
			}
			err = w.WriteH264(vtr, e.pts+tsShift, e.dts+tsShift, au)
		} else {
			err = w.WriteMPEG4Audio(atr, e.pts+tsShift, e.au)
		}
		if err != nil {
			return nil, err
		}
	}
	return out.buf, nil
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
