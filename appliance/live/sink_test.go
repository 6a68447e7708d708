package live_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"thecure/appliance/config"
	"thecure/appliance/live"
)

// recordingSink writes every update into a folder, as a bucket would hold it.
type recordingSink struct {
	t   *testing.T
	dir string

	mu      sync.Mutex
	updates []live.Update
}

func (r *recordingSink) LiveUpdate(u live.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, u)
	for _, f := range append(append([]live.File{}, u.Files...), u.Playlists...) {
		p := filepath.Join(r.dir, u.Stream, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Error(err)
		}
		if err := os.WriteFile(p, bytes.Join(f.Data, nil), 0o644); err != nil {
			r.t.Error(err)
		}
	}
}

// The sink gets every complete segment, then plain playlists (no LL-HLS
// tags) that list only what it already got; at the end the playlists end
// with ENDLIST and ffprobe reads the whole stream from the copy.
func TestSinkGetsAPlainCopy(t *testing.T) {
	tracks, aus := readClip(t, 6, 25)
	for _, variant := range []string{config.HLSLowLatency, config.HLSFMP4, config.HLSMPEGTS} {
		t.Run(variant, func(t *testing.T) {
			hub, _ := newHub(t, func(c *config.HLS) { c.Variant = variant; c.SegmentCount = 30 })
			sink := &recordingSink{t: t, dir: t.TempDir()}
			hub.SetSink(sink)
			s, err := hub.Publish("cam", tracks)
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, s, aus)
			s.Close()
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if len(sink.updates) < 3 {
				t.Fatalf("%d updates", len(sink.updates))
			}
			have := map[string]bool{}
			for i, u := range sink.updates {
				if u.Stream != "cam" || u.Publication != sink.updates[0].Publication || u.Closed.IsZero() {
					t.Errorf("update %d: %+v", i, u)
				}
				for _, f := range u.Files {
					if have[f.Name] {
						t.Errorf("%s handed over twice", f.Name)
					}
					have[f.Name] = true
					want := "video/mp4"
					if variant == config.HLSMPEGTS {
						want = "video/mp2t"
					}
					// audio and video in one stream, as in every variant
					if !strings.Contains(f.Name, "_main_") {
						t.Errorf("%s: not of the main stream", f.Name)
					}
					if f.ContentType != want {
						t.Errorf("%s: %s, want %s", f.Name, f.ContentType, want)
					}
				}
				if n := len(u.Playlists); n == 0 || u.Playlists[n-1].Name != "index.m3u8" {
					t.Fatalf("update %d: playlists %v", i, u.Playlists)
				}
				for _, pl := range u.Playlists {
					text := string(bytes.Join(pl.Data, nil))
					for _, tag := range []string{"EXT-X-PART", "PRELOAD-HINT", "CAN-BLOCK-RELOAD", "EXT-X-SKIP"} {
						if strings.Contains(text, tag) {
							t.Errorf("%s has %s:\n%s", pl.Name, tag, text)
						}
					}
					for _, line := range strings.Split(text, "\n") {
						uri := line
						if _, after, ok := strings.Cut(line, `URI="`); ok {
							uri, _, _ = strings.Cut(after, `"`)
						} else if strings.HasPrefix(line, "#") || line == "" {
							continue
						}
						if !have[uri] && !strings.HasSuffix(uri, "_stream.m3u8") {
							t.Errorf("update %d: %s lists %s before it was handed over", i, pl.Name, uri)
						}
					}
					if i == len(sink.updates)-1 && pl.Name != "index.m3u8" && !strings.Contains(text, "#EXT-X-ENDLIST") {
						t.Errorf("last %s has no ENDLIST", pl.Name)
					}
				}
			}
			if !sink.updates[len(sink.updates)-1].Ended {
				t.Error("last update is not Ended")
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration",
				"-of", "csv=p=0", filepath.Join(sink.dir, "cam", "index.m3u8")).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil || time.Duration(d*float64(time.Second)) < 5800*time.Millisecond {
				t.Errorf("ffprobe reads %s s of a 6 s stream", out)
			}
		})
	}
}
