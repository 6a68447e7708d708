package live_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/live"
	"thecure/appliance/live/livetest"
	"thecure/appliance/rtmp"
)

// rtmpHub is a live hub fed by a real RTMP server, behind a real HTTP server.
func rtmpHub(t *testing.T, variant string) (hub *live.Hub, rtmpURL, httpURL string) {
	t.Helper()
	cfg := config.Default()
	cfg.RTMP.Listen = "127.0.0.1:0"
	cfg.HLS.Variant = variant
	if probs := cfg.Validate(); len(probs) > 0 {
		t.Fatal(probs)
	}
	logs := &apptest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := prometheus.NewRegistry()
	hub = live.NewHub(cfg.HLS, log, reg)
	segmentDir(t, hub, cfg.HLS)
	srv, err := rtmp.New(cfg.RTMP, log, hub, reg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range hub.Routes() {
		mux.Handle(p, h)
	}
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("rtmp serve: %v", err)
		}
		hs.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return hub, "rtmp://" + ln.Addr().String() + "/live/", hs.URL
}

// packets counts the packets of each stream of a file or URL with ffprobe
// (no decoding): video and audio.
func packets(t *testing.T, input string) (video, audio int) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_type,nb_read_packets", "-of", "csv=p=0", input).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", input, err, out)
	}
	// an HLS input lists its streams twice: in its program, then alone
	blocks := strings.Split(strings.TrimSpace(string(out)), "\n\n")
	for _, l := range strings.Split(blocks[len(blocks)-1], "\n") {
		typ, n, _ := strings.Cut(strings.TrimSpace(l), ",")
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("ffprobe %s: %q", input, out)
		}
		switch typ {
		case "video":
			video += v
		case "audio":
			audio += v
		}
	}
	return video, audio
}

// Nothing of a stream is lost at its end: a 10 s clip published over RTMP
// (2 s GOP, so the stream ends in the middle of a segment) is whole in the
// ended stream's HLS, frame for frame, in every variant; the final
// playlist ends with EXT-X-ENDLIST, has no preload hint, and keeps the parts
// it announced.
func TestNothingLostAtTheEnd(t *testing.T) {
	clip := apptest.Clip(t, "clip.flv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=10.4",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=10.4",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50",
		"-sc_threshold", "0", "-b:v", "300k", "-c:a", "aac", "-b:a", "64k", "-f", "flv")
	wantV, wantA := packets(t, clip)
	if wantV != 260 || wantA < 440 {
		t.Fatalf("clip: %d video and %d audio packets", wantV, wantA)
	}
	for _, variant := range []string{config.HLSLowLatency, config.HLSFMP4, config.HLSMPEGTS} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			hub, rtmpURL, httpURL := rtmpHub(t, variant)
			pub := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", clip,
				"-c", "copy", "-f", "flv", rtmpURL+"end")
			if out, err := pub.CombinedOutput(); err != nil {
				t.Fatalf("publisher: %v\n%s", err, out)
			}
			apptest.WaitFor(t, 20*time.Second, "the stream to end", func() bool {
				return hub.Status("end").State == live.StateEnded
			})
			code, body, _ := apptest.Get(t, http.DefaultClient, httpURL+"/live/end/main_stream.m3u8")
			if code != 200 {
				t.Fatalf("final playlist: %d\n%s", code, body)
			}
			pl, err := playlist.Unmarshal([]byte(body))
			if err != nil {
				t.Fatalf("final playlist: %v\n%s", err, body)
			}
			m := pl.(*playlist.Media)
			var total time.Duration
			for _, s := range m.Segments {
				total += s.Duration
			}
			if !m.Endlist || m.PreloadHint != nil || len(m.Parts) != 0 || len(m.Segments) != 6 ||
				variant == config.HLSLowLatency && len(m.Segments[len(m.Segments)-1].Parts) == 0 {
				t.Errorf("final playlist: want 6 segments (5 GOPs of 2 s and the last 0.4 s), the last ones with their parts:\n%s", body)
			}
			if d := total - 10400*time.Millisecond; d < -40*time.Millisecond || d > 40*time.Millisecond {
				t.Errorf("the segments last %s, want 10.4 s within a frame:\n%s", total, body)
			}
			gotV, gotA := packets(t, httpURL+"/live/end/index.m3u8")
			if gotV != wantV || gotA != wantA {
				t.Errorf("HLS after the end: %d video and %d audio packets, published %d and %d", gotV, gotA, wantV, wantA)
			}
			t.Logf("%s: published %d video + %d audio packets, HLS has %d + %d, segments %s", variant, wantV, wantA, gotV, gotA, total)
		})
	}
}

// The LL-HLS playlist is published as soon as the first part is complete,
// long before the first segment (2 s GOP): the multivariant and media
// playlists, the init file and the part answer, and a blocking request for
// the next part is answered once it is written.
func TestFirstPartPublished(t *testing.T) {
	tracks, aus := readClip(t, 4, 50)
	hub, base := newHub(t, nil)
	s, err := hub.Publish("early", tracks)
	if err != nil {
		t.Fatal(err)
	}
	write := func(a livetest.AU) {
		t.Helper()
		if err := a.Put(s); err != nil {
			t.Fatalf("write at %s: %v", a.PTS, err)
		}
	}
	i := 0
	for ; aus[i].PTS-aus[0].PTS < 500*time.Millisecond; i++ { // a quarter of the first GOP
		write(aus[i])
	}
	code, body, _ := apptest.Get(t, http.DefaultClient, base+"/live/early/index.m3u8")
	if code != 200 || !strings.Contains(body, "main_stream.m3u8") {
		t.Fatalf("multivariant playlist after 0.5 s of a 2 s GOP: %d\n%s", code, body)
	}
	code, body, _ = apptest.Get(t, http.DefaultClient, base+"/live/early/main_stream.m3u8")
	if code != 200 {
		t.Fatalf("media playlist after 0.5 s of a 2 s GOP: %d\n%s", code, body)
	}
	pl, err := playlist.Unmarshal([]byte(body))
	if err != nil {
		t.Fatalf("media playlist: %v\n%s", err, body)
	}
	m := pl.(*playlist.Media)
	if len(m.Segments) != 0 || len(m.Parts) == 0 || m.Map == nil || m.PreloadHint == nil || m.TargetDuration < 1 {
		t.Fatalf("want the first parts of the segment in progress, the init file and a preload hint:\n%s", body)
	}
	for _, u := range []string{m.Map.URI, m.Parts[0].URI} {
		if code, b, _ := apptest.Get(t, http.DefaultClient, base+"/live/early/"+u); code != 200 || len(b) == 0 {
			t.Errorf("%s: %d, %d bytes", u, code, len(b))
		}
	}
	// a blocking request for the next part waits for it
	next := len(m.Parts)
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/live/early/main_stream.m3u8?_HLS_msn=0&_HLS_part=%d", base, next))
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- resp.Status + "\n" + string(b)
	}()
	select {
	case b := <-got:
		t.Fatalf("the blocking request was answered before the part existed: %s", b)
	case <-time.After(300 * time.Millisecond):
	}
	for ; i < len(aus) && aus[i].PTS-aus[0].PTS < 1500*time.Millisecond; i++ {
		write(aus[i])
	}
	select {
	case b := <-got:
		if !strings.HasPrefix(b, "200 ") || strings.Count(b, "#EXT-X-PART:") <= next {
			t.Errorf("blocking request: %s", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking request was not answered when the part came")
	}
	s.Close()
}

// Segments, parts and playlists are served with http.ServeContent
// semantics: an ETag, 304 on If-None-Match, ranges.
func TestServeContentSemantics(t *testing.T) {
	tracks, aus := readTS(t)
	hub, base := newHub(t, nil)
	s, err := hub.Publish("etag", tracks)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, aus)
	code, body, hdr := apptest.Get(t, http.DefaultClient, base+"/live/etag/main_stream.m3u8")
	if code != 200 || hdr.Get("Etag") == "" {
		t.Fatalf("playlist: %d %v\n%s", code, hdr, body)
	}
	pl, err := playlist.Unmarshal([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	seg := pl.(*playlist.Media).Segments[0].URI
	for _, u := range []string{"main_stream.m3u8", seg} {
		code, b, hdr := apptest.Get(t, http.DefaultClient, base+"/live/etag/"+u)
		if code != 200 || hdr.Get("Etag") == "" || hdr.Get("Content-Length") != strconv.Itoa(len(b)) {
			t.Fatalf("%s: %d %v", u, code, hdr)
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/live/etag/"+u, nil)
		req.Header.Set("If-None-Match", hdr.Get("Etag"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d, want 304", u, resp.StatusCode)
		}
		req, _ = http.NewRequest(http.MethodGet, base+"/live/etag/"+u, nil)
		req.Header.Set("Range", "bytes=4-11")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || string(rb) != b[4:12] {
			t.Errorf("%s range 4-11: %d %q, want 206 %q", u, resp.StatusCode, rb, b[4:12])
		}
	}
	s.Close()
}
