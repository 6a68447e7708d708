package library

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/ffmpeg"
)

// packageClip runs the real pipeline: ffmpeg (argv from package ffmpeg)
// streaming fragmented MP4 into Package.
func packageClip(t *testing.T, job ffmpeg.Job, opts PackageOptions) (string, *Packaged) {
	t.Helper()
	dir := t.TempDir()
	var pk *Packaged
	err := ffmpeg.Tools{FFmpeg: "ffmpeg", FFprobe: "ffprobe"}.Run(context.Background(), ffmpeg.Cmd{
		Args: ffmpeg.Args(job),
		Stdout: func(r io.Reader) error {
			var err error
			pk, err = Package(r, dir, opts)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, pk
}

var reExtinf = regexp.MustCompile(`#EXTINF:([0-9.]+),`)

// checkMediaPlaylist checks a VOD media playlist against its files and
// returns its segment durations.
func checkMediaPlaylist(t *testing.T, dir string) []float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	pl := string(b)
	for _, want := range []string{"#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST", "#EXT-X-TARGETDURATION:"} {
		if !strings.Contains(pl, want) {
			t.Errorf("%s lacks %s:\n%s", dir, want, pl)
		}
	}
	td := 0
	if m := regexp.MustCompile(`#EXT-X-TARGETDURATION:(\d+)`).FindStringSubmatch(pl); m != nil {
		td, _ = strconv.Atoi(m[1])
	}
	var durs []float64
	for _, m := range reExtinf.FindAllStringSubmatch(pl, -1) {
		d, _ := strconv.ParseFloat(m[1], 64)
		durs = append(durs, d)
		if int(math.Round(d)) > td {
			t.Errorf("segment of %.3fs above the target duration %d", d, td)
		}
	}
	for _, line := range strings.Split(pl, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			if _, err := os.Stat(filepath.Join(dir, line)); err != nil {
				t.Errorf("listed segment missing: %v", err)
			}
		}
	}
	return durs
}

func TestPackageLadderBothFormats(t *testing.T) {
	src := apptest.Clip(t, "in.mkv", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=5",
		"-f", "lavfi", "-i", "sine=duration=5", "-c:v", "mpeg4", "-c:a", "mp2", "-shortest")
	for _, format := range []string{FormatFMP4, FormatMPEGTS} {
		t.Run(format, func(t *testing.T) {
			dir, pk := packageClip(t, ffmpeg.Job{Input: src,
				Video: &ffmpeg.Video{Renditions: []ffmpeg.Rung{{Height: 240, Kbps: 300}, {Height: 144, Kbps: 150}}, Preset: "ultrafast", KeyframeSeconds: 2},
				Audio: &ffmpeg.Audio{Kbps: 64}},
				PackageOptions{SegmentDuration: 2 * time.Second, Format: format, Names: []string{"240p", "144p"}})
			if len(pk.Variants) != 2 || pk.Variants[0].Height != 240 || pk.Variants[1].Height != 144 || pk.Variants[1].Width != 192 {
				t.Fatalf("variants %+v", pk.Variants)
			}
			if d := pk.Duration.Seconds(); d < 4.9 || d > 5.1 {
				t.Errorf("duration %v", pk.Duration)
			}
			a := checkMediaPlaylist(t, filepath.Join(dir, "240p"))
			b := checkMediaPlaylist(t, filepath.Join(dir, "144p"))
			if len(a) != 3 || math.Abs(a[0]-2) > 0.1 || math.Abs(a[1]-2) > 0.1 || math.Abs(a[2]-1) > 0.1 {
				t.Errorf("segments %v, want 2+2+1 s", a)
			}
			for i := range a {
				if i >= len(b) || a[i] != b[i] {
					t.Errorf("renditions cut differently: %v vs %v", a, b)
					break
				}
			}
			m, _ := os.ReadFile(filepath.Join(dir, MasterPlaylist))
			for _, want := range []string{"RESOLUTION=320x240", "RESOLUTION=192x144", `CODECS="avc1.`, "mp4a.40.2", "240p/index.m3u8"} {
				if !strings.Contains(string(m), want) {
					t.Errorf("master lacks %q:\n%s", want, m)
				}
			}
			if out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", filepath.Join(dir, "144p", "index.m3u8"), "-f", "null", "-").CombinedOutput(); err != nil {
				t.Errorf("ffmpeg cannot decode the 144p rendition: %v: %s", err, out)
			}
		})
	}
}

func TestPackageAudioOnly(t *testing.T) {
	src := apptest.Clip(t, "in.mp3", "-f", "lavfi", "-i", "sine=duration=9", "-c:a", "libmp3lame")
	dir, pk := packageClip(t, ffmpeg.Job{Input: src, Audio: &ffmpeg.Audio{Kbps: 64}},
		PackageOptions{SegmentDuration: 4 * time.Second})
	if len(pk.Variants) != 1 || pk.Variants[0].Name != "audio" || strings.Join(pk.Variants[0].Codecs, ",") != "mp4a.40.2" {
		t.Fatalf("variants %+v", pk.Variants)
	}
	durs := checkMediaPlaylist(t, filepath.Join(dir, "audio"))
	if len(durs) != 3 {
		t.Errorf("segments %v, want about 4+4+1", durs)
	}
}

func TestPackageRejectsGarbage(t *testing.T) {
	_, err := Package(strings.NewReader(strings.Repeat("garbage!", 100)), t.TempDir(), PackageOptions{})
	if err == nil || !strings.Contains(err.Error(), "read media stream") {
		t.Errorf("err = %v", err)
	}
	_, err = Package(strings.NewReader(""), t.TempDir(), PackageOptions{})
	if err == nil {
		t.Error("empty stream: no error")
	}
}

// probeStarts returns ffprobe's start_time of the playlist (format) and of
// its video and audio streams.
func probeStarts(t *testing.T, playlist string) (format, video, audio float64) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json", "-show_entries",
		"stream=codec_type,start_time:format=start_time", playlist).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", playlist, err)
	}
	var p struct {
		Streams []struct {
			Type  string `json:"codec_type"`
			Start string `json:"start_time"`
		}
		Format struct {
			Start string `json:"start_time"`
		}
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("ffprobe start_time %q: %v\n%s", s, err, out)
		}
		return f
	}
	format, video, audio = num(p.Format.Start), -1, -1
	for _, s := range p.Streams {
		switch s.Type {
		case "video":
			video = num(s.Start)
		case "audio":
			audio = num(s.Start)
		}
	}
	return format, video, audio
}

// TestPackageStartsAtZero: remuxed and encoded titles, with B-frames, in
// both segment formats, start at media time zero (ffprobe's start_time) and
// their playlists add up to the source's duration.
func TestPackageStartsAtZero(t *testing.T) {
	const secs, fps = 6.0, 25.0
	src := apptest.Clip(t, "in.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
		"-f", "lavfi", "-i", "sine=duration=6", "-c:v", "libx264", "-bf", "3", "-g", "50", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-shortest")
	for _, format := range []string{FormatFMP4, FormatMPEGTS} {
		for _, method := range []string{"remux", "encode"} {
			t.Run(format+"/"+method, func(t *testing.T) {
				job := ffmpeg.Job{Input: src, Audio: &ffmpeg.Audio{Copy: method == "remux", Kbps: 64}}
				if method == "remux" {
					job.Video = &ffmpeg.Video{Copy: true}
				} else {
					job.Video = &ffmpeg.Video{Renditions: []ffmpeg.Rung{{Height: 240, Kbps: 300}}, Preset: "veryfast", KeyframeSeconds: 2}
				}
				dir, pk := packageClip(t, job, PackageOptions{SegmentDuration: 2 * time.Second, Format: format, Names: []string{"v"}})
				var sum float64
				for _, d := range checkMediaPlaylist(t, filepath.Join(dir, "v")) {
					sum += d
				}
				if math.Abs(sum-secs) > 0.05 || math.Abs(pk.Duration.Seconds()-secs) > 0.05 {
					t.Errorf("playlist adds up to %.3fs, Packaged.Duration %v; the source has %gs", sum, pk.Duration, secs)
				}
				f, v, a := probeStarts(t, filepath.Join(dir, MasterPlaylist))
				t.Logf("ffprobe start_time: format %.3f, video %.3f, audio %.3f", f, v, a)
				if math.Abs(f) > 0.05 || math.Abs(a) > 0.05 {
					t.Errorf("start_time: format %.3f, audio %.3f; want within 0.05s of 0", f, a)
				}
				// In fMP4, decode times cannot be negative: ffmpeg shows the
				// B-frame delay (2 frames here) on the video's start, where
				// browsers put the first picture at 0 (negative composition
				// offsets); MPEG-TS carries it exactly.
				limit := 0.05
				if format == FormatFMP4 {
					limit = 2/fps + 0.005
				}
				if v < -0.005 || v > limit {
					t.Errorf("video start_time %.3f, want within [0, %.3f]", v, limit)
				}
			})
		}
	}
}
