package live_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/live"
	"thecure/appliance/live/livetest"
)

// writeAll writes every access unit to s, as fast as it goes.
func writeAll(t testing.TB, s *live.Stream, aus []livetest.AU) {
	t.Helper()
	for _, a := range aus {
		if err := a.Put(s); err != nil {
			t.Fatalf("write at %s: %v", a.PTS, err)
		}
	}
}

// mediaPlaylist gets a media playlist and parses it.
func mediaPlaylist(t *testing.T, url string) (*playlist.Media, string) {
	t.Helper()
	code, body, _ := apptest.Get(t, http.DefaultClient, url)
	if code != 200 {
		t.Fatalf("%s: %d\n%s", url, code, body)
	}
	pl, err := playlist.Unmarshal([]byte(body))
	if err != nil {
		t.Fatalf("%s: %v\n%s", url, err, body)
	}
	m, ok := pl.(*playlist.Media)
	if !ok {
		t.Fatalf("%s: not a media playlist\n%s", url, body)
	}
	return m, body
}

// readTS makes a short MPEG-TS clip with ffmpeg and reads its access units,
// as a playout source (not RTMP) would.
func readTS(t *testing.T) (live.Tracks, []livetest.AU) {
	t.Helper()
	return readClip(t, 4, 25)
}

// readClip is readTS for a clip of that many seconds at 25 frames per
// second with a keyframe every gop frames.
func readClip(t testing.TB, seconds, gop int) (live.Tracks, []livetest.AU) {
	t.Helper()
	return livetest.Clip(t, seconds, gop, "160x120", "200k")
}

func newHub(t testing.TB, edit func(*config.HLS)) (*live.Hub, string) {
	cfg := config.Default().HLS
	if edit != nil {
		edit(&cfg)
	}
	hub := live.NewHub(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	segmentDir(t, hub, cfg)
	mux := http.NewServeMux()
	for p, h := range hub.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return hub, srv.URL
}

func get(t *testing.T, ctx context.Context, url string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// A source other than RTMP (access units with timestamps, as playout
// channels will have) goes through Publish to playable HLS.
func TestPublishAccessUnits(t *testing.T) {
	tracks, aus := readTS(t)
	hub, base := newHub(t, nil)
	s, err := hub.Publish("chan1", tracks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Publish("chan1", tracks); err != live.ErrLive {
		t.Errorf("second Publish: %v, want ErrLive", err)
	}
	start := time.Now()
	for _, a := range aus {
		// in real time, so that the measured rates mean something
		if d := a.PTS - aus[0].PTS - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		if err := a.Put(s); err != nil {
			t.Fatalf("write at %s: %v", a.PTS, err)
		}
	}
	code, body, err := get(t, context.Background(), base+"/live/chan1/index.m3u8")
	if err != nil || code != 200 || !strings.Contains(body, "RESOLUTION=160x120") {
		t.Fatalf("index.m3u8: %d %v\n%s", code, err, body)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width",
		"-of", "compact", base+"/live/chan1/index.m3u8").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_name=h264|width=160") || !strings.Contains(string(out), "codec_name=aac") {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	ss := hub.Streams()
	if len(ss) != 1 || ss[0].Name != "chan1" || ss[0].Width != 160 || ss[0].FPS < 20 || ss[0].FPS > 30 ||
		ss[0].Bitrate <= 0 || ss[0].SampleRate != 48000 || ss[0].HLSViewers != 2 { // Go's client and ffprobe
		t.Errorf("streams: %+v", ss)
	}
	s.Close()
	if hub.Live("chan1") || len(hub.Streams()) != 0 {
		t.Error("an ended stream is still listed as live")
	}
	// Players get the last playlist, finished like a VOD, at once (even a
	// blocking LL-HLS request for a segment that will never come).
	start = time.Now()
	code, body, err = get(t, context.Background(), base+"/live/chan1/main_stream.m3u8?_HLS_msn=99999&_HLS_part=0")
	if err != nil || code != 200 || !strings.HasSuffix(body, "#EXT-X-ENDLIST\n") || strings.Contains(body, "PRELOAD-HINT") {
		t.Errorf("media playlist after Close: %d %v\n%s", code, err, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("final playlist took %s", d)
	}
	out, err = exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
		base+"/live/chan1/index.m3u8").CombinedOutput()
	if err != nil {
		t.Errorf("ffprobe of the ended stream: %v\n%s", err, out)
	}
	// The name is free again: a new publication replaces the ended one.
	s2, err := hub.Publish("chan1", tracks)
	if err != nil {
		t.Fatalf("publish after the end: %v", err)
	}
	s2.Close()
}

// Blocking requests end with 503 at the request timeout, give up when the
// client goes away, and are released with 404 when the stream ends.
func TestBlockingRequests(t *testing.T) {
	tracks, _ := readTS(t)
	hub, base := newHub(t, func(c *config.HLS) { c.RequestTimeout = config.Duration(time.Second) })
	s, err := hub.Publish("idle", tracks) // no media ever comes
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, _, err := get(t, context.Background(), base+"/live/idle/index.m3u8")
	if err != nil || code != 503 {
		t.Errorf("waiting playlist: %d %v, want 503", code, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 10*time.Second {
		t.Errorf("answered after %s, want about the 1 s timeout", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := get(t, ctx, base+"/live/idle/index.m3u8"); err == nil {
		t.Error("a request whose client went away got an answer")
	}

	done := make(chan int, 1)
	go func() {
		code, _, _ := get(t, context.Background(), base+"/live/idle/main_stream.m3u8")
		done <- code
	}()
	time.Sleep(300 * time.Millisecond)
	s.Close()
	select {
	case code := <-done:
		if code != 404 {
			t.Errorf("waiting request at the end of the stream: %d, want 404", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("waiting request not released by Close")
	}
	for _, p := range []string{"/live/idle/index.m3u8", "/live/none/index.m3u8", "/live/none/x.mp4"} {
		if code, _, _ := get(t, context.Background(), base+p); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

// At stream start the LL-HLS playlists list only segments and parts that
// answer 200 (no gap entries), Status follows the stream from offline to
// live to ended, and the final playlist (written with gohlslib's playlist
// package) ends with EXT-X-ENDLIST and has no preload hint or loose parts.
func TestStartListsOnlyWhatExists(t *testing.T) {
	tracks, aus := readTS(t)
	hub, base := newHub(t, nil)
	if st := hub.Status("cam"); st.State != live.StateOffline {
		t.Errorf("before publishing: %+v", st)
	}
	s, err := hub.Publish("cam", tracks)
	if err != nil {
		t.Fatal(err)
	}
	if st := hub.Status("cam"); st.State != live.StateLive || st.Started.IsZero() {
		t.Errorf("publishing: %+v", st)
	}
	fed := make(chan error, 1)
	go func() {
		start := time.Now()
		for _, a := range aus {
			if d := a.PTS - aus[0].PTS - time.Since(start); d > 0 {
				time.Sleep(d)
			}
			if err := a.Put(s); err != nil {
				fed <- err
				return
			}
		}
		fed <- nil
	}()
	checked, rounds := map[string]bool{}, 0
	for deadline := time.Now().Add(3500 * time.Millisecond); time.Now().Before(deadline); rounds++ {
		code, body, err := get(t, context.Background(), base+"/live/cam/main_stream.m3u8")
		if err != nil || code != 200 {
			t.Fatalf("media playlist: %d %v", code, err)
		}
		pl, err := playlist.Unmarshal([]byte(body))
		if err != nil {
			t.Fatalf("media playlist: %v\n%s", err, body)
		}
		m := pl.(*playlist.Media)
		var uris []string
		for _, seg := range m.Segments {
			if seg.Gap {
				t.Fatalf("a gap entry at the start:\n%s", body)
			}
			uris = append(uris, seg.URI)
			for _, p := range seg.Parts {
				uris = append(uris, p.URI)
			}
		}
		for _, p := range m.Parts {
			uris = append(uris, p.URI)
		}
		for _, u := range uris {
			if checked[u] {
				continue
			}
			checked[u] = true
			if code, _, err := get(t, context.Background(), base+"/live/cam/"+u); err != nil || code != 200 {
				t.Errorf("listed %s answers %d %v\n%s", u, code, err, body)
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	if len(checked) < 5 {
		t.Errorf("only %d entries listed in %d rounds", len(checked), rounds)
	}
	if err := <-fed; err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st := hub.Status("cam"); st.State != live.StateEnded {
		t.Errorf("after Close: %+v", st)
	}
	code, body, err := get(t, context.Background(), base+"/api/live/cam")
	if err != nil || code != 200 || !strings.Contains(body, `"state":"ended"`) {
		t.Errorf("/api/live/cam after Close: %d %v %s", code, err, body)
	}
	code, body, err = get(t, context.Background(), base+"/live/cam/main_stream.m3u8")
	if err != nil || code != 200 {
		t.Fatalf("final playlist: %d %v", code, err)
	}
	pl, err := playlist.Unmarshal([]byte(body))
	if err != nil {
		t.Fatalf("final playlist: %v\n%s", err, body)
	}
	m := pl.(*playlist.Media)
	if !m.Endlist || m.PreloadHint != nil || len(m.Parts) != 0 || len(m.Segments) == 0 {
		t.Errorf("final playlist:\n%s", body)
	}
}
