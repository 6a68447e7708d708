package channels

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// A rendition is one packaged variant of a title (the library's HLS
// output, read back): its segments, each starting on a keyframe, and its
// codec parameters.
type rendition struct {
	dir    string // the variant's directory
	ts     bool   // MPEG-TS segments (else fMP4 with init.mp4)
	segs   []segRef
	total  time.Duration
	sps    []byte
	pps    []byte
	aac    *mpeg4audio.AudioSpecificConfig
	width  int
	height int
	// shiftDTS is added to every decode time so that they start at zero
	// (the length of the title is from its first picture to its last),
	// shiftPTS to every presentation time (and audio time) so that none
	// precedes its decode time (the B-frame delay the packager took off).
	shiftDTS, shiftPTS time.Duration

	init *fmp4.Init
}

type segRef struct {
	uri        string
	start, dur time.Duration
}

// presentationDelay is how far every title's presentation times are
// behind its decode times: the same for all (when it covers their B-frame
// delay), so that the pictures of one title all come before the next one's
// at a join, and audio stays with video.
const presentationDelay = 200 * time.Millisecond

// a sample is one access unit with its times in the title (from zero).
type sample struct {
	video    bool
	dts, pts time.Duration
	au       [][]byte // video: NAL units; audio: one AAC access unit
}

// maxSegmentFile bounds a segment read into memory.
const maxSegmentFile = 256 << 20

// openRendition reads a variant's media playlist, its init segment and
// its first segment (for the codec parameters and the delay).
func openRendition(dir string) (*rendition, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		return nil, err
	}
	var m playlist.Media
	if err := m.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(dir), err)
	}
	r := &rendition{dir: dir, ts: m.Map == nil}
	for _, s := range m.Segments {
		if strings.ContainsAny(s.URI, "/\\") || s.URI == ".." {
			return nil, fmt.Errorf("segment %q outside the rendition", s.URI)
		}
		r.segs = append(r.segs, segRef{uri: s.URI, start: r.total, dur: s.Duration})
		r.total += s.Duration
	}
	if len(r.segs) == 0 || r.total <= 0 {
		return nil, errors.New("no segments")
	}
	if !r.ts {
		f, err := os.Open(filepath.Join(dir, m.Map.URI))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r.init = &fmp4.Init{}
		if err := r.init.Unmarshal(f); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		for _, tr := range r.init.Tracks {
			switch c := tr.Codec.(type) {
			case *mp4codecs.H264:
				r.sps, r.pps = c.SPS, c.PPS
			case *mp4codecs.MPEG4Audio:
				cfg := c.Config
				r.aac = &cfg
			default:
				return nil, fmt.Errorf("codec %T is not playable", c)
			}
		}
	}
	// the first segment: parameters (MPEG-TS) and the delay
	first := true
	var minDTS, minCTS time.Duration
	err = r.readSegment(0, func(s sample) error {
		if s.video {
			for _, n := range s.au {
				switch h264.NALUType(n[0] & 0x1f) {
				case h264.NALUTypeSPS:
					if r.sps == nil {
						r.sps = slices.Clone(n)
					}
				case h264.NALUTypePPS:
					if r.pps == nil {
						r.pps = slices.Clone(n)
					}
				}
			}
			if first {
				first = false
				minDTS, minCTS = s.dts, s.pts-s.dts
			}
			minDTS, minCTS = min(minDTS, s.dts), min(minCTS, s.pts-s.dts)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// (a remuxed title may start its pictures a little after zero, behind
	// its audio's priming: its decode times start at zero all the same)
	r.shiftDTS = -minDTS
	r.shiftPTS = r.shiftDTS + max(-minCTS, presentationDelay)
	if r.sps != nil {
		var sps h264.SPS
		if err := sps.Unmarshal(r.sps); err != nil {
			return nil, fmt.Errorf("SPS: %w", err)
		}
		r.width, r.height = sps.Width(), sps.Height()
	}
	if r.sps == nil || r.pps == nil {
		return nil, errors.New("no H.264 video")
	}
	return r, nil
}

// segmentAt is the index of the segment holding position p.
func (r *rendition) segmentAt(p time.Duration) int {
	i, _ := slices.BinarySearchFunc(r.segs, p, func(s segRef, p time.Duration) int {
		switch {
		case s.start+s.dur <= p:
			return -1
		case s.start > p:
			return 1
		}
		return 0
	})
	return min(i, len(r.segs)-1)
}

// read calls fn for every sample from the segment holding position from
// (it starts on a keyframe at or before from) to the end, in decode order,
// with the rendition's shifts added. It stops when fn fails or ctx ends.
func (r *rendition) read(ctx context.Context, from time.Duration, fn func(sample) error) error {
	for i := r.segmentAt(from); i < len(r.segs); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := r.readSegment(i, func(s sample) error {
			if s.video {
				s.dts += r.shiftDTS
				s.pts += r.shiftPTS
			} else {
				s.dts += r.shiftPTS
				s.pts += r.shiftPTS
			}
			return fn(s)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readSegment calls fn for the samples of segment i in decode order
// (times as packaged: the first decode time may be below zero).
func (r *rendition) readSegment(i int, fn func(sample) error) error {
	f, err := os.Open(filepath.Join(r.dir, r.segs[i].uri))
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSegmentFile+1))
	if err != nil {
		return err
	}
	if len(b) > maxSegmentFile {
		return fmt.Errorf("segment %s is too large", r.segs[i].uri)
	}
	var out []sample
	if r.ts {
		out, err = r.samplesTS(b)
	} else {
		out, err = r.samplesFMP4(b)
	}
	if err == nil && len(out) == 0 {
		err = errors.New("no media")
	}
	if err != nil {
		return fmt.Errorf("segment %s: %w", r.segs[i].uri, err)
	}
	slices.SortStableFunc(out, func(a, b sample) int { return cmp.Compare(a.dts, b.dts) })
	for _, s := range out {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func ticks(t int64, rate uint32) time.Duration {
	return time.Duration(t) * time.Second / time.Duration(rate)
}

func (r *rendition) samplesFMP4(b []byte) ([]sample, error) {
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return nil, err
	}
	var out []sample
	for _, p := range parts {
		for _, pt := range p.Tracks {
			i := slices.IndexFunc(r.init.Tracks, func(t *fmp4.InitTrack) bool { return t.ID == pt.ID })
			if i < 0 {
				continue
			}
			tr := r.init.Tracks[i]
			_, video := tr.Codec.(*mp4codecs.H264)
			t := int64(pt.BaseTime)
			for _, s := range pt.Samples {
				dts := ticks(t, tr.TimeScale)
				t += int64(s.Duration)
				if video {
					var au h264.AVCC
					if err := au.Unmarshal(s.Payload); err != nil || len(au) == 0 {
						continue // undecodable: skipped, as a player would
					}
					out = append(out, sample{video: true, dts: dts, pts: dts + ticks(int64(s.PTSOffset), tr.TimeScale), au: au})
				} else {
					out = append(out, sample{dts: dts, pts: dts, au: [][]byte{s.Payload}})
				}
			}
		}
	}
	return out, nil
}

// signed reads a 33-bit MPEG-TS time as a signed one (times just below
// zero wrap around).
func signed(t int64) int64 {
	if t > 0x1FFFFFFFF/2 {
		return t - 0x200000000
	}
	return t
}

func (r *rendition) samplesTS(b []byte) ([]sample, error) {
	rd := &mpegts.Reader{R: bytes.NewReader(b)}
	if err := rd.Initialize(); err != nil {
		return nil, err
	}
	var out []sample
	for _, tr := range rd.Tracks() {
		switch c := tr.Codec.(type) {
		case *tscodecs.H264:
			rd.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				d := signed(dts)
				out = append(out, sample{video: true, dts: ticks(d, 90000), pts: ticks(d+signed((pts-dts)&0x1FFFFFFFF), 90000), au: au})
				return nil
			})
		case *tscodecs.MPEG4Audio:
			if r.aac == nil {
				cfg := c.Config
				r.aac = &cfg
			}
			rd.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				t := ticks(signed(pts), 90000)
				step := time.Duration(mpeg4audio.SamplesPerAccessUnit) * time.Second / time.Duration(r.aac.SampleRate)
				for i, au := range aus {
					out = append(out, sample{dts: t + time.Duration(i)*step, pts: t + time.Duration(i)*step, au: [][]byte{au}})
				}
				return nil
			})
		}
	}
	for {
		err := rd.Read()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
