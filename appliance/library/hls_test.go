package library

import (
	"context"
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
