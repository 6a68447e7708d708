package rtmp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/live"
	"thecure/appliance/rtmp"
)

// env is a running RTMP server and live hub behind a real HTTP server.
type env struct {
	rtmpAddr string
	httpURL  string
	hub      *live.Hub
	reg      *prometheus.Registry
	logs     *apptest.SyncBuffer
	srv      *rtmp.Server
}

func start(t testing.TB, edit func(c *config.Config)) *env {
	t.Helper()
	cfg := config.Default()
	cfg.RTMP.Listen = "127.0.0.1:0"
	if edit != nil {
		edit(cfg)
	}
	if probs := cfg.Validate(); len(probs) > 0 {
		t.Fatal(probs)
	}
	logs := &apptest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	hub := live.NewHub(cfg.HLS, log.With("svc", "live"), reg)
	srv, err := rtmp.New(cfg.RTMP, log.With("svc", "rtmp"), hub, reg)
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
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		mux.ServeHTTP(rec, r)
		log.Debug("http", "method", r.Method, "uri", r.URL.RequestURI(), "code", rec.code, "ua", r.UserAgent())
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not return after cancel")
		}
		hs.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &env{rtmpAddr: ln.Addr().String(), httpURL: hs.URL, hub: hub, reg: reg, logs: logs, srv: srv}
}

// publisher is an ffmpeg publishing a small lavfi test pattern.
type publisher struct {
	cmd    *exec.Cmd
	stderr *apptest.SyncBuffer
	done   chan error
}

func publish(t *testing.T, url string, seconds int, extra ...string) *publisher {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=320x240:rate=25:duration=%d", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=44100:duration=%d", seconds),
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "25", "-b:v", "300k", "-c:a", "aac", "-b:a", "64k"}
	args = append(args, extra...)
	args = append(args, "-f", "flv", url)
	p := &publisher{cmd: exec.Command("ffmpeg", args...), stderr: &apptest.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

// wait returns the publisher's exit error, or fails after timeout.
func (p *publisher) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("ffmpeg still running after %s", timeout)
		return nil
	}
}

func (e *env) streams(t *testing.T) []live.StreamInfo {
	t.Helper()
	code, body, _ := apptest.Get(t, http.DefaultClient, e.httpURL+"/api/live")
	if code != 200 {
		t.Fatalf("/api/live: %d %s", code, body)
	}
	var v struct {
		Streams []live.StreamInfo `json:"streams"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v.Streams
}

func (e *env) url(name string) string { return "rtmp://" + e.rtmpAddr + "/live/" + name }

func TestPublishPlayHLS(t *testing.T) {
	e := start(t, nil)
	pub := publish(t, e.url("cam1"), 14)
	apptest.WaitFor(t, 30*time.Second, "the stream to be live", func() bool { return e.hub.Live("cam1") })

	// HLS: the playlist is served from the first part (LL-HLS); players
	// without LL-HLS, ffprobe among them, need a whole segment
	code, body, hdr := apptest.Get(t, http.DefaultClient, e.httpURL+"/live/cam1/index.m3u8")
	if code != 200 || !strings.HasPrefix(body, "#EXTM3U") {
		t.Fatalf("index.m3u8: %d %q", code, body)
	}
	if hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("no CORS header: %v", hdr)
	}
	if !strings.Contains(body, "RESOLUTION=320x240") || !strings.Contains(body, "mp4a.40.2") {
		t.Errorf("multivariant playlist lacks resolution or AAC: %s", body)
	}
	apptest.WaitFor(t, 30*time.Second, "a whole segment", func() bool {
		_, b, _ := apptest.Get(t, http.DefaultClient, e.httpURL+"/live/cam1/main_stream.m3u8")
		return strings.Contains(b, "#EXTINF:")
	})
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
		"-of", "compact", e.httpURL+"/live/cam1/index.m3u8").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_name=h264|width=320|height=240") || !strings.Contains(string(out), "codec_name=aac") {
		t.Fatalf("ffprobe HLS: %v\n%s", err, out)
	}

	// RTMP playback: a late joiner decodes from a keyframe, with audio and video
	out, err = exec.Command("ffmpeg", "-v", "error", "-t", "2", "-i", e.url("cam1"),
		"-map", "0:v", "-map", "0:a", "-f", "framemd5", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg RTMP play: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\n0,"); n < 25 {
		t.Errorf("RTMP playback decoded %d video frames in 2 s, want at least 25\n%s", n, out)
	}
	if strings.Contains(string(out), "error") {
		t.Errorf("RTMP playback reported errors:\n%s", out)
	}

	// the API lists the stream
	ss := e.streams(t)
	if len(ss) != 1 || ss[0].Name != "cam1" || ss[0].Width != 320 || ss[0].Height != 240 ||
		!strings.HasPrefix(ss[0].VideoCodec, "avc1.") || ss[0].AudioCodec != "mp4a.40.2" || ss[0].HLSViewers < 1 {
		t.Errorf("/api/live: %+v", ss)
	}
	apptest.WaitFor(t, 10*time.Second, "a bitrate and frame rate", func() bool {
		ss := e.streams(t)
		return len(ss) == 1 && ss[0].Bitrate > 50_000 && ss[0].FPS > 15
	})

	// unknown names and files are 404, CORS preflight works
	for _, p := range []string{"/live/nope/index.m3u8", "/live/cam1/nope.mp4", "/live/cam1/x.txt"} {
		if code, _, _ := apptest.Get(t, http.DefaultClient, e.httpURL+p); code != 404 {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	req, _ := http.NewRequest(http.MethodOptions, e.httpURL+"/live/cam1/index.m3u8", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Errorf("OPTIONS: %v %v", resp, err)
	}

	// the publisher stops: the stream ends cleanly
	if err := pub.wait(t, 60*time.Second); err != nil {
		t.Fatalf("publisher: %v\n%s", err, pub.stderr)
	}
	apptest.WaitFor(t, 10*time.Second, "the stream to end", func() bool { return !e.hub.Live("cam1") && len(e.streams(t)) == 0 })
	// HLS players get the last playlist, finished with EXT-X-ENDLIST.
	if code, body, _ := apptest.Get(t, http.DefaultClient, e.httpURL+"/live/cam1/main_stream.m3u8"); code != 200 || !strings.HasSuffix(body, "#EXT-X-ENDLIST\n") {
		t.Errorf("media playlist after the end: %d\n%s", code, body)
	}
}

func TestLLHLSBlockingRequest(t *testing.T) {
	e := start(t, func(c *config.Config) { c.HLS.RequestTimeout = config.Duration(2 * time.Second) })
	publish(t, e.url("ll"), 20)
	apptest.WaitFor(t, 30*time.Second, "the stream to be live", func() bool { return e.hub.Live("ll") })
	code, body, _ := apptest.Get(t, http.DefaultClient, e.httpURL+"/live/ll/main_stream.m3u8")
	if code != 200 || !strings.Contains(body, "#EXT-X-PART:") || !strings.Contains(body, "#EXT-X-PRELOAD-HINT") {
		t.Fatalf("media playlist: %d\n%s", code, body)
	}
	// a blocking reload for the next part comes back once it exists
	var msn int
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"); ok {
			fmt.Sscan(v, &msn)
		}
	}
	segs := strings.Count(body, "#EXTINF:")
	start := time.Now()
	code, body, _ = apptest.Get(t, http.DefaultClient, fmt.Sprintf("%s/live/ll/main_stream.m3u8?_HLS_msn=%d&_HLS_part=0", e.httpURL, msn+segs+1))
	if code != 200 || !strings.Contains(body, "#EXTM3U") {
		t.Fatalf("blocking reload: %d %s", code, body)
	}
	t.Logf("blocking reload answered after %s", time.Since(start).Round(time.Millisecond))

	// a client that goes away while blocked does not hold the handler
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("%s/live/ll/main_stream.m3u8?_HLS_msn=%d&_HLS_part=0", e.httpURL, msn+segs+1+10), nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		// msn too far ahead: the muxer may refuse it at once
		if resp.StatusCode != 400 {
			t.Errorf("far-ahead reload: %d", resp.StatusCode)
		}
	}
}

func TestRefusedOutsideAllowList(t *testing.T) {
	e := start(t, func(c *config.Config) { c.RTMP.AllowPublish = []string{"192.0.2.0/24"} })
	pub := publish(t, e.url("cam1"), 5)
	if err := pub.wait(t, 30*time.Second); err == nil {
		t.Fatalf("publish from 127.0.0.1 succeeded against allow_publish 192.0.2.0/24")
	}
	if e.hub.Live("cam1") {
		t.Error("stream is live")
	}
	if !strings.Contains(e.logs.String(), "may not publish") || !strings.Contains(e.logs.String(), "127.0.0.1") {
		t.Errorf("refusal not logged with the address:\n%s", e.logs)
	}
	if got := testutil.ToFloat64(mustCounter(t, e.reg, "thecure_rtmp_refused_total", "address")); got != 1 {
		t.Errorf("refused{address} = %v", got)
	}
}

func TestRefusedNoPlayNoPublishAtAccept(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.RTMP.AllowPublish = []string{"192.0.2.0/24"}
		c.RTMP.AllowPlay = []string{"192.0.2.0/24"}
	})
	c, err := net.Dial("tcp", e.rtmpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("connection from a refused address read %d bytes", n)
	}
}

func TestStreamKeys(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.RTMP.RequireKey = true
		c.RTMP.Streams = map[string]config.RTMPStream{"studio": {Key: "s3cret"}, "open": {}}
	})
	for _, u := range []string{e.url("studio"), e.url("studio?key=wrong"), e.url("other")} {
		pub := publish(t, u, 5)
		if err := pub.wait(t, 30*time.Second); err == nil {
			t.Errorf("publish to %s succeeded", u)
		}
	}
	// three refusals from one address: one line (refusals are logged once a
	// minute per address), all three counted
	if n := strings.Count(e.logs.String(), "rtmp refused"); n != 1 {
		t.Errorf("%d refusal lines logged, want 1:\n%s", n, e.logs)
	}
	if got := testutil.ToFloat64(mustCounter(t, e.reg, "thecure_rtmp_refused_total", "key")); got != 3 {
		t.Errorf("refused{key} = %v, want 3", got)
	}
	publish(t, e.url("studio?key=s3cret"), 10)
	apptest.WaitFor(t, 30*time.Second, "studio to be live with the right key", func() bool { return e.hub.Live("studio") })
	publish(t, e.url("open"), 10)
	apptest.WaitFor(t, 30*time.Second, "a declared stream without key to be live", func() bool { return e.hub.Live("open") })
}

func TestDoublePublishRefused(t *testing.T) {
	e := start(t, nil)
	first := publish(t, e.url("cam1"), 15)
	apptest.WaitFor(t, 30*time.Second, "the stream to be live", func() bool { return e.hub.Live("cam1") })
	second := publish(t, e.url("cam1"), 5)
	if err := second.wait(t, 30*time.Second); err == nil {
		t.Fatal("second publisher on a live name succeeded")
	}
	if !strings.Contains(e.logs.String(), "already being published") {
		t.Errorf("refusal not logged:\n%s", e.logs)
	}
	select {
	case err := <-first.done:
		first.done <- err
		t.Fatalf("first publisher stopped: %v", err)
	default:
	}
	if !e.hub.Live("cam1") {
		t.Error("first publication ended")
	}
}

// A stopped (SIGSTOP) player stops reading: it is dropped, while another
// player and HLS keep going.
func TestSlowPlayerDropped(t *testing.T) {
	e := start(t, func(c *config.Config) { c.RTMP.PlayerQueue = 128 })
	publish(t, e.url("cam1"), 60, "-b:v", "2M", "-minrate", "2M", "-maxrate", "2M", "-bufsize", "1M", "-x264-params", "nal-hrd=cbr")
	apptest.WaitFor(t, 30*time.Second, "the stream to be live", func() bool { return e.hub.Live("cam1") })

	slow := exec.Command("ffmpeg", "-v", "error", "-i", e.url("cam1"), "-f", "null", "-")
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Process.Kill(); _ = slow.Wait() }()
	good := exec.Command("ffmpeg", "-v", "error", "-i", e.url("cam1"), "-progress", "pipe:1", "-f", "null", "-")
	progress := &apptest.SyncBuffer{}
	good.Stdout = progress
	if err := good.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = good.Process.Kill(); _ = good.Wait() }()
	apptest.WaitFor(t, 30*time.Second, "two players", func() bool {
		ss := e.streams(t)
		return len(ss) == 1 && ss[0].Players == 2
	})
	if err := slow.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer slow.Process.Signal(syscall.SIGCONT)
	dropped := mustCounter(t, e.reg, "thecure_rtmp_dropped_players_total", "")
	apptest.WaitFor(t, 60*time.Second, "the stopped player to be dropped", func() bool { return testutil.ToFloat64(dropped) >= 1 })
	if ss := e.streams(t); len(ss) != 1 || ss[0].Players != 1 {
		t.Errorf("players after the drop: %+v", ss)
	}
	// the other player still advances
	before := strings.Count(progress.String(), "progress=continue")
	apptest.WaitFor(t, 15*time.Second, "the good player to advance", func() bool {
		return strings.Count(progress.String(), "progress=continue") >= before+2
	})
	if code, _, _ := apptest.Get(t, http.DefaultClient, e.httpURL+"/live/cam1/index.m3u8"); code != 200 {
		t.Errorf("HLS after the drop: %d", code)
	}
}

// mustCounter finds a counter (with one label value, or none) on reg.
func mustCounter(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if label == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label) {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	})
}

// collectorFunc is a gauge read through a function, for testutil.ToFloat64.
func collectorFunc(f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "probe", Help: "probe"}, f)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// A publisher that dies mid-stream (SIGKILL) or goes silent (SIGSTOP: no
// FIN, only the read timeout notices) ends its stream, and its players are
// disconnected.
func TestPublisherVanishes(t *testing.T) {
	e := start(t, func(c *config.Config) { c.RTMP.ReadTimeout = config.Duration(2 * time.Second) })
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		name := "v" + strings.ToLower(sig.String()[:4])
		pub := publish(t, e.url(name), 60)
		apptest.WaitFor(t, 30*time.Second, name+" to be live", func() bool { return e.hub.Live(name) })
		player := exec.Command("ffmpeg", "-v", "error", "-i", e.url(name), "-f", "null", "-")
		if err := player.Start(); err != nil {
			t.Fatal(err)
		}
		playerDone := make(chan error, 1)
		go func() { playerDone <- player.Wait() }()
		apptest.WaitFor(t, 30*time.Second, "a player", func() bool {
			ss := e.streams(t)
			return len(ss) == 1 && ss[0].Players == 1
		})
		if err := pub.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		apptest.WaitFor(t, 15*time.Second, name+" to end", func() bool { return !e.hub.Live(name) })
		select {
		case <-playerDone:
		case <-time.After(15 * time.Second):
			_ = player.Process.Kill()
			t.Errorf("%s: the player was not disconnected", name)
		}
		_ = pub.cmd.Process.Kill()
	}
}

// TestServeCancelledAtStart: a context cancelled before Serve gets going (a
// sibling service failed at start) must still stop it.
func TestServeCancelledAtStart(t *testing.T) {
	for i := 0; i < 20; i++ {
		cfg := config.Default()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		reg := prometheus.NewRegistry()
		srv, err := rtmp.New(cfg.RTMP, log, live.NewHub(cfg.HLS, log, reg), reg)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d: Serve did not return for a context cancelled at start", i)
		}
	}
}
