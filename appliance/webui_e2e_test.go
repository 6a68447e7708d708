package appliance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/apptest"
	"thecure/appliance/tlscert"
	"thecure/appliance/webui/browsertest"
)

// waitLog waits for a line of p's log matching re, wherever it is in the log,
// and returns its submatches.
func waitLog(t *testing.T, p *proc, re string, timeout time.Duration) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		if m := rx.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		select {
		case <-p.exited:
			t.Fatalf("thecure exited (%v) before logging %q", p.err, re)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q in %s", re, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebPagesAnonymous runs the appliance with English pages and HTTPS on,
// and checks with Chromium that an anonymous visitor gets the catalogue but
// is sent from /admin to the login form; the same pages answer over HTTPS
// with the appliance's certificate.
func TestWebPagesAnonymous(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigHTTP(t, dir, "language = \"en\"\ntls_listen = \"127.0.0.1:0\"\n", "")
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	tlsAddr := waitLog(t, p, `msg=listening svc=https key=http.tls_listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	base := "http://" + addr

	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	code, body, _ := apptest.Get(t, insecure, "https://"+tlsAddr+"/")
	if code != 200 || !strings.Contains(body, `<html lang="en">`) {
		t.Errorf("GET / over HTTPS = %d:\n%.300s", code, body)
	}
	resp, err := insecure.Get("https://" + tlsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.TLS.PeerCertificates) == 0 {
		t.Fatal("no certificate over HTTPS")
	}
	// The same certificate as FTPS: the appliance's own.
	certPEM, err := os.ReadFile(filepath.Join(dir, "data", tlscert.SelfSignedCert))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil || !bytes.Equal(blk.Bytes, resp.TLS.PeerCertificates[0].Raw) {
		t.Error("HTTPS does not serve the appliance's certificate")
	}

	ctx := browsertest.New(t, 2*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`header.top`)); err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Title()); !strings.Contains(title, "Catalogue") {
		t.Errorf("catalogue page title = %q", title)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(`form#login`)); err != nil {
		t.Fatalf("anonymous /admin: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/login?next=%2Fadmin") {
		t.Errorf("anonymous /admin ended at %s, want the login form", loc)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue, #services').length`)); n != 0 {
		t.Error("an anonymous visitor sees the admin status")
	}
	// A wrong password is refused in the browser too.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, "not-the-password"),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`#login-error`),
	); err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	browsertest.Screenshot(t, ctx, "e2e-login-refused")
}

// makeClip writes a small H.264/AAC MP4 with ffmpeg.
func makeClip(t *testing.T, path string, seconds int) {
	t.Helper()
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", fmt.Sprint(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-movflags", "+faststart", path)
}

// libraryItem is what /api/library lists.
type libraryItem struct {
	ID, Kind, Title, State, HLS, Error string
}

// webApp is a running appliance for the browser tests.
type webApp struct {
	p    *proc
	dir  string
	base string // http://ADDR
}

// startWeb runs the appliance with English pages; files maps paths under
// the data dir to files to put there before it starts.
func startWeb(t *testing.T, files map[string]string) *webApp {
	t.Helper()
	dir := t.TempDir()
	cfg := writeConfigHTTP(t, dir, "language = \"en\"\n", "")
	for dst, src := range files {
		dst = filepath.Join(dir, "data", dst)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(src, dst); err != nil {
			t.Fatal(err)
		}
		// Present before the start, not being copied as it begins.
		old := time.Now().Add(-time.Minute)
		if err := os.Chtimes(dst, old, old); err != nil {
			t.Fatal(err)
		}
	}
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	return &webApp{p: p, dir: dir, base: "http://" + addr}
}

// waitTitle waits until /api/library has a ready title named title.
func (w *webApp) waitTitle(t *testing.T, title string) libraryItem {
	t.Helper()
	var it libraryItem
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var items []libraryItem
		if getJSON(t, w.base+"/api/library", &items) == 200 {
			for _, i := range items {
				if i.Title == title {
					it = i
				}
			}
		}
		switch {
		case it.State == "ready":
			return it
		case it.State == "failed":
			t.Fatalf("%s failed: %+v", title, it)
		case time.Now().After(deadline):
			t.Fatalf("%s is not ready after 2 minutes: %+v", title, it)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestWebVOD: a film put in the library shows in the catalogue with its
// poster, its card leads to the player page, and the film plays in Chromium
// from 0 with the source's duration, seeks to the middle and plays on, with
// the browser's own HLS and with hls.js (?mse=1); no request answers 404.
// The packaged title starts at 0 for ffprobe too.
func TestWebVOD(t *testing.T) {
	const secs = 6.0
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	// x264's default B-frames, as most films have them
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", fmt.Sprint(secs), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50",
		"-c:a", "aac", "-movflags", "+faststart", clip)
	w := startWeb(t, map[string]string{"media/pelis/Test.Pattern.2026.mp4": clip})
	film := w.waitTitle(t, "Test Pattern")
	var items []struct {
		ID       string
		Duration float64
		Method   string
	}
	getJSON(t, w.base+"/api/library", &items)
	for _, it := range items {
		if it.ID == film.ID && (math.Abs(it.Duration-secs) > 0.05 || it.Method != "remux") {
			t.Errorf("/api/library: duration %.3f (method %s), want %.1f", it.Duration, it.Method, secs)
		}
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", w.base+film.HLS).Output()
	if st, perr := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || perr != nil || math.Abs(st) > 0.05 {
		t.Errorf("ffprobe start_time of the remuxed title = %q (%v), want within 0.05s of 0", out, err)
	}

	ctx := browsertest.New(t, 3*time.Minute)
	httpErrors := browsertest.HTTPErrors(t, ctx)
	card := `#movies li.card[data-id="` + film.ID + `"]`
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/"), chromedp.WaitVisible(card)); err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){var i=document.querySelector('`+card+` img.poster'); return !!i && i.complete && i.naturalWidth > 0})()`)); !ok {
		t.Error("the film's poster did not load")
	}
	browsertest.Screenshot(t, ctx, "e2e-catalogue")
	if err := chromedp.Do(ctx, chromedp.Click(card+` a`), chromedp.WaitReady(`#player`)); err != nil {
		t.Fatalf("watch: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/watch/"+film.ID) {
		t.Errorf("the film's card led to %s", loc)
	}
	for _, c := range []struct{ query, engine string }{{"", "native"}, {"?mse=1", "hlsjs"}} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/watch/"+film.ID+c.query), chromedp.WaitReady(`#player`)); err != nil {
			t.Fatalf("watch%s: %v", c.query, err)
		}
		playsFromZero(t, ctx, c.engine, secs)
		if c.engine == "hlsjs" {
			browsertest.Screenshot(t, ctx, "e2e-watch-hlsjs")
			if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#quality option').length`)); n != 2 {
				t.Errorf("quality menu has %d entries, want auto + 180p", n)
			}
		}
	}
	if bad := httpErrors(); len(bad) > 0 {
		t.Errorf("requests that failed: %v", bad)
	}
}

// playsFromZero plays the page's #player: it must start at 0 (currentTime
// under 0.5 s after 0.3 s of play), have the source's duration, seek to
// the middle and play on from there.
func playsFromZero(t *testing.T, ctx context.Context, engine string, secs float64) {
	t.Helper()
	type state struct {
		T, D     float64
		B0       float64
		Engine   string
		Err      string
		TimedOut bool
	}
	st, err := chromedp.Run(ctx, chromedp.Evaluate[state](`new Promise(function (ok) {
		var v = document.getElementById('player'), done = false;
		function report(extra) {
			if (done) return; done = true;
			ok(Object.assign({t: v.currentTime, d: v.duration, b0: v.buffered.length ? v.buffered.start(0) : -1,
				engine: v.dataset.engine || '', err: v.error ? v.error.message : (v.dataset.error || '')}, extra || {}));
		}
		v.muted = true;
		v.addEventListener('playing', function () { setTimeout(report, 300); }, {once: true});
		(function go() { v.play().catch(function () { setTimeout(go, 200); }); })();
		setTimeout(function () { report({timedOut: true}); }, 30000);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: play: %v", engine, err)
	}
	t.Logf("%s: after 0.3 s of play currentTime=%.3f duration=%.3f buffered from %.3f", engine, st.T, st.D, st.B0)
	if st.TimedOut || st.Err != "" {
		t.Fatalf("%s: did not play: %+v", engine, st)
	}
	if st.Engine != engine {
		t.Errorf("player engine = %q, want %q", st.Engine, engine)
	}
	if st.T >= 0.5 {
		t.Errorf("%s: currentTime %.3f after 0.3 s of play, want < 0.5 (the title starts at 0)", engine, st.T)
	}
	if math.Abs(st.D-secs) > 0.1 {
		t.Errorf("%s: duration %.3f, want %.1f ± 0.1", engine, st.D, secs)
	}
	mid := secs / 2
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(function(){var v=document.getElementById('player'); v.currentTime=%g; v.play().catch(function(){}); return true})()`, mid))); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if ok, last := browsertest.WaitFor(wctx, fmt.Sprintf(`(function(){var v=document.getElementById('player'); return !v.seeking && v.currentTime > %g})()`, mid+0.5),
		`(function(){var v=document.getElementById('player'); return {t: v.currentTime, seeking: v.seeking, rs: v.readyState, paused: v.paused}})()`, 100*time.Millisecond); !ok {
		t.Errorf("%s: after a seek to %gs it does not play on: %v", engine, mid, last)
	}
}

// TestWebAdmin: a film uploaded over FTPS shows in the catalogue; /admin
// refuses an anonymous visitor and shows the admin the services and the
// queue with the upload in it.
func TestWebAdmin(t *testing.T) {
	w := startWeb(t, nil)
	password := readFirstPassword(t, waitLog(t, w.p, firstPasswordLog, 30*time.Second)[1])
	ftpAddr := waitLog(t, w.p, `msg=listening svc=\S+ key=ftp.listen addr=(\S+)`, 30*time.Second)[1]

	clip := filepath.Join(t.TempDir(), "Test.Pattern.2026.mp4")
	makeClip(t, clip, 2)
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password,
		"-T", clip, "ftp://"+ftpAddr+"/pelis/").CombinedOutput(); err != nil {
		t.Fatalf("FTPS upload: %v\n%s", err, out)
	}
	film := w.waitTitle(t, "Test Pattern")

	ctx := browsertest.New(t, 3*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/"), chromedp.WaitVisible(`#movies li.card[data-id="`+film.ID+`"]`)); err != nil {
		t.Fatalf("the catalogue does not list the upload: %v", err)
	}

	// Anonymous: sent to the login form, no status shown; the API says 401.
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/admin"), chromedp.WaitVisible(`form#login`)); err != nil {
		t.Fatalf("anonymous /admin: %v", err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue, #services').length`)); n != 0 {
		t.Error("an anonymous visitor sees the admin status")
	}
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if code, _, _ := apptest.Get(t, noFollow, w.base+"/api/status"); code != http.StatusUnauthorized {
		t.Errorf("anonymous /api/status = %d, want 401", code)
	}
	if code, _, _ := apptest.Get(t, noFollow, w.base+"/admin"); code != http.StatusSeeOther {
		t.Errorf("anonymous /admin = %d, want a redirect to the login form", code)
	}

	// The admin logs in with the FTPS password and lands on /admin.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`#queue tr.job`),
	); err != nil {
		t.Fatalf("admin login: %v", err)
	}
	queue, _ := chromedp.Run(ctx, chromedp.Text(`#queue`))
	if !strings.Contains(queue, "pelis/Test.Pattern.2026.mp4") || !strings.Contains(queue, "100%") {
		t.Errorf("the queue does not show the upload:\n%s", queue)
	}
	services, _ := chromedp.Run(ctx, chromedp.Text(`#services`))
	for _, want := range []string{"http", "ftps", "transcode"} {
		if !strings.Contains(services, want) {
			t.Errorf("the services lack %q:\n%s", want, services)
		}
	}
	browsertest.Screenshot(t, ctx, "e2e-admin")

	// An uploader (not in group admin) logs in but is refused /admin.
	cmd := exec.Command(thecureBin, "user", "add", "uploader", "-group", "innovatech", "-password-stdin", "-c", filepath.Join(w.dir, "config.toml"))
	cmd.Dir, cmd.Stdin = w.dir, strings.NewReader("uploader-password-1\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("thecure user add: %v\n%s", err, out)
	}
	uctx := browsertest.New(t, 2*time.Minute)
	if err := chromedp.Do(uctx, chromedp.Navigate(w.base+"/login?next=%2Fadmin"),
		chromedp.SendKeys(`input[name=user]`, "uploader"),
		chromedp.SendKeys(`input[name=password]`, "uploader-password-1"),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`section.error-page`),
	); err != nil {
		t.Fatalf("uploader login: %v", err)
	}
	if n, _ := chromedp.Run(uctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue').length`)); n != 0 {
		t.Error("a user outside group admin sees the queue")
	}
}

// publish sends a lavfi test pattern to rtmp://addr/live/name with ffmpeg
// until the test ends or the returned function stops it.
func publish(t *testing.T, addr, name string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=660",
		"-t", "180", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-f", "flv", "rtmp://"+addr+"/live/"+name)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		_ = cmd.Wait() // ends on the interrupt we sent
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("publisher: %s", stderr.String())
		}
	})
	return stop
}

// waitLiveState waits until the open live page says state.
func waitLiveState(t *testing.T, ctx context.Context, state string, within time.Duration) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if ok, last := browsertest.WaitFor(wctx, `document.getElementById('live-status').dataset.state === '`+state+`'`,
		`document.getElementById('live-status').dataset.state`, 200*time.Millisecond); !ok {
		t.Fatalf("the live page did not switch to %s (it says %v)", state, last)
	}
}

// TestWebLive: a live page opened before the publisher starts follows the
// stream without a reload: off air, on air (playing through hls.js, with
// the viewer counted and the latency measured), ended, and on air again
// when the publisher comes back; the stream shows in the catalogue and on
// the admin page; no request answers 404.
func TestWebLive(t *testing.T) {
	w := startWeb(t, nil)
	rtmpAddr := waitLog(t, w.p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]

	ctx := browsertest.New(t, 4*time.Minute)
	httpErrors := browsertest.HTTPErrors(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/live/cam1"), chromedp.WaitVisible(`#live-notice`)); err != nil {
		t.Fatalf("live page off air: %v", err)
	}
	if txt, _ := chromedp.Run(ctx, chromedp.Text(`#live-notice`)); !strings.Contains(txt, "not live") {
		t.Errorf("off air the page says %q", txt)
	}
	stop := publish(t, rtmpAddr, "cam1")
	waitLiveState(t, ctx, "live", time.Minute)
	advances(t, ctx, 1.5, "hlsjs")
	// latency: the wall clock against the program date time of what plays
	// (the server's clock when the media arrived)
	// the median of 5 samples a second apart, after 5 s of play
	time.Sleep(5 * time.Second)
	var lats []float64
	var err error
	for range 5 {
		var l float64
		l, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`(function(){var h=window.thecureHls; return h && h.playingDate ? (Date.now() - h.playingDate.getTime())/1000 : -1})()`))
		lats = append(lats, l)
		time.Sleep(time.Second)
	}
	slices.Sort(lats)
	lat := lats[2]
	t.Logf("latency samples: %.2f", lats)
	t.Logf("LL-HLS live latency through hls.js in Chromium: %.2f s (wall clock - EXT-X-PROGRAM-DATE-TIME of the frame shown)", lat)
	if err != nil || lat < 0 || lat >= 3 {
		t.Errorf("live latency %.2f s (%v), want under 3 s", lat, err)
	}
	if ok, last := browsertest.WaitFor(ctx, `!document.getElementById('live-notice').offsetParent && /^[1-9]\d* viewers?$/.test(document.getElementById('live-viewers').innerText)`,
		`document.getElementById('live-viewers').innerText`, 200*time.Millisecond); !ok {
		t.Errorf("on air the page shows viewers %v, want at least 1 (this browser)", last)
	}
	browsertest.Screenshot(t, ctx, "e2e-live")

	stop()
	waitLiveState(t, ctx, "ended", 30*time.Second)
	if txt, _ := chromedp.Run(ctx, chromedp.Text(`#live-notice`)); !strings.Contains(txt, "ended") {
		t.Errorf("after the end the page says %q", txt)
	}
	// the publisher comes back: the page plays again by itself
	publish(t, rtmpAddr, "cam1")
	waitLiveState(t, ctx, "live", time.Minute)
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){delete document.getElementById('player').dataset.t0; return true})()`))
	advances(t, ctx, 1.5, "hlsjs")

	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/"), chromedp.WaitVisible(`#live a[href="/live/cam1"]`),
		chromedp.Click(`#live a[href="/live/cam1"]`), chromedp.WaitReady(`#player`)); err != nil {
		t.Fatalf("catalogue to live page: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/live/cam1?mse=1"), chromedp.WaitReady(`#player`)); err != nil {
		t.Fatalf("live page: %v", err)
	}
	advances(t, ctx, 1.5, "hlsjs")
	for _, b := range httpErrors() {
		// 410: the part the preload hint announced when the stream ended
		if !strings.HasPrefix(b, "410 ") {
			t.Errorf("request failed: %s", b)
		}
	}

	// The admin page lists the stream with its viewers (this browser was one).
	password := readFirstPassword(t, waitLog(t, w.p, firstPasswordLog, time.Second)[1])
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/login?next=%2Fadmin"),
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`#live a[href="/live/cam1"]`),
	); err != nil {
		t.Fatalf("admin page: %v", err)
	}
	viewers, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#live tbody tr td:nth-child(2)').innerText`))
	if n, err := strconv.Atoi(strings.TrimSpace(viewers)); err != nil || n < 1 {
		t.Errorf("cam1's viewers on the admin page = %q, want at least 1", viewers)
	}
}

// advances starts the page's #player and waits until currentTime has moved
// on by more than d seconds from where playback started.
func advances(t *testing.T, ctx context.Context, d float64, engine string) {
	t.Helper()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[any](`(function(){var v=document.getElementById('player'); v.muted=true; v.play().catch(function(){}); return true})()`))
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	ok, last := browsertest.WaitFor(wctx,
		fmt.Sprintf(`(function(){var v=document.getElementById('player');
			if (v.paused && v.readyState >= 2) v.play().catch(function(){});
			if (v.readyState >= 2 && v.dataset.t0 === undefined) v.dataset.t0 = v.currentTime;
			return v.dataset.t0 !== undefined && v.currentTime - parseFloat(v.dataset.t0) > %g})()`, d),
		`(function(){var v=document.getElementById('player'); return {t: v.currentTime, t0: v.dataset.t0, rs: v.readyState, err: v.error && v.error.message, engine: v.dataset.engine, src: v.currentSrc}})()`,
		250*time.Millisecond)
	if !ok {
		b, _ := json.Marshal(last)
		t.Fatalf("the player's currentTime did not advance by %gs: %s", d, b)
	}
	if e, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('player').dataset.engine`)); e != engine {
		t.Errorf("player engine = %q, want %q", e, engine)
	}
}

// TestWebViewerAuth: with [http] viewer_auth the pages send a visitor to the
// login form and the media, the catalogue JSON, the job queue (the uploads'
// names) and the live list answer 401
// until a login; /healthz stays open.
func TestWebViewerAuth(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigHTTP(t, dir, "viewer_auth = true\n", "")
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	base := "http://" + addr
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{
		"/": http.StatusSeeOther, "/watch/0123456789ab": http.StatusSeeOther, "/live/cam1": http.StatusSeeOther,
		"/vod/0123456789ab/index.m3u8": http.StatusUnauthorized, "/live/cam1/index.m3u8": http.StatusUnauthorized,
		"/api/library": http.StatusUnauthorized, "/api/jobs": http.StatusUnauthorized, "/api/live": http.StatusUnauthorized, "/api/catalogue": http.StatusUnauthorized,
		"/healthz": http.StatusOK, "/login": http.StatusOK,
	} {
		if code, _, _ := apptest.Get(t, c, base+path); code != want {
			t.Errorf("GET %s with viewer_auth = %d, want %d", path, code, want)
		}
	}
}
