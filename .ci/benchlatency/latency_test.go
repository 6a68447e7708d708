// Package benchlatency measures live latency as a viewer sees it: hls.js
// (the copy thecure embeds) in headless Chromium playing an LL-HLS stream
// published over RTMP, for thecure and for MediaMTX in the same run. Run by
// .ci/bench-latency (make bench); it prints one table line per server.
//
// Latency is the wall clock minus the EXT-X-PROGRAM-DATE-TIME of the frame
// on screen (hls.js's playingDate): both servers stamp a frame with their
// clock when it arrives, so this is the delay from the server's ingest to
// the picture, the median of samples taken once playback has settled.
package benchlatency

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/webui/browsertest"
)

// freePort returns a loopback port nobody listens on now.
func freePort(b *testing.B) int {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// run starts a server process for the benchmark's life; its output goes to
// a file shown when the benchmark fails.
func run(b *testing.B, name string, args ...string) {
	b.Helper()
	logf := filepath.Join(b.TempDir(), filepath.Base(name)+".log")
	out, err := os.Create(logf)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	b.Cleanup(func() {
		if err := cmd.Process.Kill(); err != nil {
			b.Logf("stop %s: %v", name, err)
		}
		if err := cmd.Wait(); err != nil && b.Failed() {
			log, _ := os.ReadFile(logf)
			b.Logf("%s: %v\n%s", name, err, log)
		}
		out.Close()
	})
}

// waitTCP waits until something listens on addr.
func waitTCP(b *testing.B, addr string) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("nothing listens on %s after 30 s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// server is one LL-HLS server under test.
type server struct {
	name    string
	rtmp    string // rtmp://ADDR/
	hlsBase string // http://ADDR, where /live/NAME/index.m3u8 is
	page    string // a page of the server's own playing NAME, "" for none
}

func startThecure(b *testing.B, bin string) server {
	dir := b.TempDir()
	rtmp, http, ftp := freePort(b), freePort(b), freePort(b)
	cfg := fmt.Sprintf(`data_dir = %q
[log]
level = "warn"
[http]
listen = "127.0.0.1:%d"
[ftp]
listen = "127.0.0.1:%d"
[rtmp]
listen = "127.0.0.1:%d"
`, filepath.Join(dir, "data"), http, ftp, rtmp)
	path := filepath.Join(dir, "thecure.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	run(b, bin, "run", "-c", path)
	waitTCP(b, fmt.Sprintf("127.0.0.1:%d", http))
	waitTCP(b, fmt.Sprintf("127.0.0.1:%d", rtmp))
	base := fmt.Sprintf("http://127.0.0.1:%d", http)
	return server{name: "thecure", rtmp: fmt.Sprintf("rtmp://127.0.0.1:%d/", rtmp), hlsBase: base, page: base + "/live/NAME?mse=1"}
}

// startMediaMTX runs MediaMTX with its LL-HLS defaults (1 s segments, 200 ms
// parts, 7 segments: thecure's defaults too) and only RTMP and HLS on.
func startMediaMTX(b *testing.B, bin string) server {
	dir := b.TempDir()
	rtmp, hls := freePort(b), freePort(b)
	cfg := fmt.Sprintf(`logLevel: warn
api: no
rtsp: no
webrtc: no
srt: no
moq: no
rtmpAddress: 127.0.0.1:%d
hlsAddress: 127.0.0.1:%d
hlsAlwaysRemux: yes
hlsVariant: lowLatency
hlsSegmentCount: 7
hlsSegmentDuration: 1s
hlsPartDuration: 200ms
paths:
  all_others:
`, rtmp, hls)
	path := filepath.Join(dir, "mediamtx.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	run(b, bin, path)
	waitTCP(b, fmt.Sprintf("127.0.0.1:%d", hls))
	waitTCP(b, fmt.Sprintf("127.0.0.1:%d", rtmp))
	return server{name: "mediamtx", rtmp: fmt.Sprintf("rtmp://127.0.0.1:%d/", rtmp), hlsBase: fmt.Sprintf("http://127.0.0.1:%d", hls)}
}

// harnessPage plays ?src= with thecure's vendored hls.js and the live
// configuration of thecure's player (appliance/webui/static/player.js),
// trying again while the stream is not there yet.
const harnessPage = `<!doctype html><html><head><meta charset="utf-8"><script src="/hls.min.js"></script></head>
<body><video id="player" muted playsinline></video><script>
var el = document.getElementById('player');
var src = new URLSearchParams(location.search).get('src');
el.setAttribute('data-engine', 'hlsjs');
function start() {
  var hls = new Hls({lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30, maxBufferLength: 30, startPosition: -1});
  window.thecureHls = hls;
  hls.on(Hls.Events.ERROR, function (_, d) { if (d.fatal) { hls.destroy(); setTimeout(start, 1000); } });
  hls.on(Hls.Events.MANIFEST_PARSED, function () { el.play().catch(function () {}); });
  hls.loadSource(src);
  hls.attachMedia(el);
}
start();
</script></body></html>`

// harness serves harnessPage and hls.js, and passes /s/N/... on to server
// N: the page and the streams share an origin, whatever the server's CORS.
func harness(b *testing.B, servers []server) string {
	hlsjs, err := os.ReadFile(filepath.Join("..", "..", "appliance", "webui", "static", "vendor", "hls.js", "hls.min.js"))
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, harnessPage)
	})
	mux.HandleFunc("GET /hls.min.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(hlsjs)
	})
	for i, s := range servers {
		u, err := url.Parse(s.hlsBase)
		if err != nil {
			b.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.FlushInterval = -1 // LL-HLS parts and blocking reloads as they come
		prefix := fmt.Sprintf("/s/%d", i)
		p.ModifyResponse = func(r *http.Response) error {
			// MediaMTX redirects a first playlist request to itself
			if loc := r.Header.Get("Location"); strings.HasPrefix(loc, "/") {
				r.Header.Set("Location", prefix+loc)
			}
			return nil
		}
		mux.Handle(prefix+"/", http.StripPrefix(prefix, p))
	}
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv.URL
}

// publish sends a live 640x360 30 fps H.264 (1 s GOP, x264 zerolatency) and
// AAC stream, encoded as it goes, to rtmpURL until the returned stop.
func publish(b *testing.B, rtmpURL string) (stop func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
		"-b:v", "1M", "-c:a", "aac", "-b:a", "96k", "-f", "flv", rtmpURL)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("ffmpeg: %v", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := cmd.Wait(); err != nil && ctx.Err() == nil {
				b.Logf("publisher: %v: %s", err, stderr.String())
			}
		})
	}
}

// measure opens page in a fresh Chromium, waits until it plays, lets it
// settle for settle, then samples the latency samples times, 500 ms apart.
func measure(b *testing.B, page string, settle time.Duration, samples int) []float64 {
	b.Helper()
	ctx := browsertest.New(b, 2*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitReady(`#player`)); err != nil {
		b.Fatalf("%s: %v", page, err)
	}
	ok, last := browsertest.WaitFor(ctx, `(function(){var v=document.getElementById('player'); v.muted=true;
		if (v.paused && v.readyState >= 2) v.play().catch(function(){});
		if (v.readyState >= 2 && v.dataset.t0 === undefined) v.dataset.t0 = v.currentTime;
		return v.dataset.t0 !== undefined && v.currentTime - parseFloat(v.dataset.t0) > 1.5})()`,
		`(function(){var v=document.getElementById('player'); return {t: v.currentTime, rs: v.readyState, err: v.error && v.error.message}})()`,
		250*time.Millisecond)
	if !ok {
		b.Fatalf("%s does not play: %v", page, last)
	}
	time.Sleep(settle)
	var lats []float64
	for range samples {
		l, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(function(){var h=window.thecureHls; return h && h.playingDate ? (Date.now() - h.playingDate.getTime())/1000 : -1})()`))
		if err != nil || l < 0 {
			b.Fatalf("%s: no program date time on screen (%v)", page, err)
		}
		lats = append(lats, l)
		time.Sleep(500 * time.Millisecond)
	}
	return lats
}

// BenchmarkLiveLatencyHLSJS: THECURE_BIN and MEDIAMTX are the binaries to
// measure (without MEDIAMTX, thecure alone, and the table says so). Run it
// once (-benchtime 1x); LATENCY_ROUNDS (2) rounds measure every line in
// turn, a fresh stream and browser each time, about 20 s a measurement:
// the table pools each line's samples and lists each round's median (a
// stall now and then moves hls.js's target latency up for a while).
func BenchmarkLiveLatencyHLSJS(b *testing.B) {
	bin, mtx := os.Getenv("THECURE_BIN"), os.Getenv("MEDIAMTX")
	if bin == "" {
		b.Fatal("set THECURE_BIN (and MEDIAMTX) to the binaries to measure (.ci/bench-latency does)")
	}
	rounds := 2
	if v := os.Getenv("LATENCY_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("LATENCY_ROUNDS=%q: want a number of rounds, at least 1", v)
		}
		rounds = n
	}
	servers := []server{startThecure(b, bin)}
	if mtx != "" {
		servers = append(servers, startMediaMTX(b, mtx))
	}
	base := harness(b, servers)
	type line struct {
		server             server
		key, what, url     string
		lats, roundMedians []float64
	}
	var lines []*line
	for i, s := range servers {
		lines = append(lines, &line{server: s, key: "hlsjs-page", what: "hls.js page (same for both)",
			url: fmt.Sprintf("%s/?src=/s/%d/live/NAME/index.m3u8", base, i)})
		if s.page != "" {
			lines = append(lines, &line{server: s, key: "own-page", what: "its own /live/NAME page", url: s.page})
		}
	}
	const settle, samples = 5 * time.Second, 11
	for r := range rounds {
		for j, l := range lines {
			name := fmt.Sprintf("lat%d-%d", j, r)
			b.Run(fmt.Sprintf("%s/%s/round%d", l.server.name, l.key, r+1), func(b *testing.B) {
				for range b.N {
					stop := publish(b, l.server.rtmp+"live/"+name)
					lats := measure(b, strings.ReplaceAll(l.url, "NAME", name), settle, samples)
					stop()
					slices.Sort(lats)
					l.lats = append(l.lats, lats...)
					l.roundMedians = append(l.roundMedians, lats[len(lats)/2])
					b.ReportMetric(lats[len(lats)/2], "s-median-latency")
				}
			})
		}
	}
	fmt.Printf("live latency through hls.js 1.7.4 in headless Chromium (wall clock - program date time of the frame shown; "+
		"%d samples 500 ms apart after %s of play, %d rounds, a fresh stream and browser each):\n", samples, settle, rounds)
	fmt.Printf("  %-9s %-28s %7s %7s %7s   %s\n", "server", "page", "min", "median", "max", "median of each round")
	for _, l := range lines {
		slices.Sort(l.lats)
		var each []string
		for _, m := range l.roundMedians {
			each = append(each, fmt.Sprintf("%.2fs", m))
		}
		fmt.Printf("  %-9s %-28s %6.2fs %6.2fs %6.2fs   %s\n", l.server.name, l.what,
			l.lats[0], l.lats[len(l.lats)/2], l.lats[len(l.lats)-1], strings.Join(each, " "))
	}
	if mtx == "" {
		fmt.Printf("  %-9s not measured: no MediaMTX binary (MEDIAMTX unset; see .ci/bench-latency)\n", "mediamtx")
	}
}
