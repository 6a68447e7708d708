// Package livetest is for tests only: the access units of a test clip made
// with ffmpeg, as a live source (the RTMP ingest, a channel's playout) hands
// them to the hub.
package livetest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mtscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"thecure/appliance/apptest"
	"thecure/appliance/live"
)

// AU is one access unit: a video frame's H.264 NAL units, or one AAC frame.
type AU struct {
	PTS   time.Duration
	Video [][]byte // H.264 NAL units, or nil
	Audio []byte   // one AAC access unit
}

// PutAt writes the access unit to s with the time stamp pts.
func (a AU) PutAt(s *live.Stream, pts time.Duration) error {
	if a.Video != nil {
		return s.WriteH264(pts, a.Video)
	}
	return s.WriteAAC(pts, a.Audio)
}

// Put writes the access unit to s with its own time stamp.
func (a AU) Put(s *live.Stream) error { return a.PutAt(s, a.PTS) }

// Clip makes an MPEG-TS clip with ffmpeg, seconds long: H.264 at 25 frames
// per second of that size ("160x120") and bitrate ("200k") with a keyframe
// every gop frames, and AAC at 48 kHz. It returns the clip's tracks and its
// access units in time stamp order.
func Clip(t testing.TB, seconds, gop int, size, bitrate string) (live.Tracks, []AU) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.ts")
	apptest.FFmpeg(t, "-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%s:rate=25:duration=%d", size, seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=sample_rate=48000:duration=%d", seconds),
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", bitrate, "-g", strconv.Itoa(gop),
		"-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0",
		"-c:a", "aac", "-f", "mpegts", path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &mpegts.Reader{R: f}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var tracks live.Tracks
	var aus []AU
	ts := func(v int64) time.Duration { return time.Duration(v) * time.Second / 90000 }
	for _, tr := range r.Tracks() {
		switch c := tr.Codec.(type) {
		case *mtscodecs.H264:
			r.OnDataH264(tr, func(pts, _ int64, nalus [][]byte) error {
				if tracks.H264 == nil {
					var p live.H264
					for _, n := range nalus {
						switch h264.NALUType(n[0] & 0x1f) {
						case h264.NALUTypeSPS:
							p.SPS = n
						case h264.NALUTypePPS:
							p.PPS = n
						}
					}
					if p.SPS != nil && p.PPS != nil {
						tracks.H264 = &p
					}
				}
				aus = append(aus, AU{PTS: ts(pts), Video: nalus})
				return nil
			})
		case *mtscodecs.MPEG4Audio:
			cfg := mpeg4audio.AudioSpecificConfig(c.Config)
			tracks.AAC = &cfg
			r.OnDataMPEG4Audio(tr, func(pts int64, frames [][]byte) error {
				for i, fr := range frames {
					aus = append(aus, AU{PTS: ts(pts) + time.Duration(i)*1024*time.Second/time.Duration(cfg.SampleRate), Audio: fr})
				}
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatal(err)
		}
	}
	sort.SliceStable(aus, func(i, j int) bool { return aus[i].PTS < aus[j].PTS })
	if tracks.H264 == nil || tracks.AAC == nil || len(aus) < 25*seconds {
		t.Fatalf("clip: %+v, %d access units", tracks, len(aus))
	}
	return tracks, aus
}
