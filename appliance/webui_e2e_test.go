package appliance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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

func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWebPagesAnonymous runs the appliance with English pages and HTTPS on,
// and checks with Chromium that an anonymous visitor gets the catalogue but
// is sent from /admin to the login form; the same pages answer over HTTPS
// with the appliance's certificate.
func TestWebPagesAnonymous(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	// writeConfig's [http] table is open: add to it.
	data, _ := os.ReadFile(cfg)
	data = []byte(strings.Replace(string(data), "[http]\n", "[http]\nlanguage = \"en\"\ntls_listen = \"127.0.0.1:0\"\n", 1))
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	tlsAddr := waitLog(t, p, `msg=listening svc=https key=http.tls_listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	base := "http://" + addr

	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	code, body := httpGet(t, insecure, "https://"+tlsAddr+"/")
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
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", fmt.Sprint(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-movflags", "+faststart", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// libraryItem is what /api/library lists.
type libraryItem struct {
	ID, Kind, Title, State, HLS, Error string
}

// TestWebEndToEnd is the whole path in a real browser: a film uploaded over
// FTPS shows in the catalogue and plays; a stream published over RTMP shows
// as live and plays; /admin refuses an anonymous visitor and shows the queue
// to the admin. Screenshots of the pages go to a temporary folder it prints.
func TestWebEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	data, _ := os.ReadFile(cfg)
	data = []byte(strings.Replace(string(data), "[http]\n", "[http]\nlanguage = \"en\"\n", 1))
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, dir, "run", "-c", cfg)
	password := waitLog(t, p, `msg="created the first user.*user=admin password=(\S+)`, 30*time.Second)[1]
	httpAddr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	ftpAddr := waitLog(t, p, `msg=listening svc=\S+ key=ftp.listen addr=(\S+)`, 30*time.Second)[1]
	rtmpAddr := waitLog(t, p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	base := "http://" + httpAddr

	// Upload a film over FTPS, as an uploader would.
	clip := filepath.Join(dir, "Test.Pattern.2026.mp4")
	makeClip(t, clip, 4)
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password,
		"-T", clip, "ftp://"+ftpAddr+"/pelis/").CombinedOutput(); err != nil {
		t.Fatalf("FTPS upload: %v\n%s", err, out)
	}

	// Publish a live stream over RTMP for the length of the test.
	pctx, stopPub := context.WithCancel(context.Background())
	pub := exec.CommandContext(pctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=660",
		"-t", "120", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-f", "flv", "rtmp://"+rtmpAddr+"/live/cam1")
	pub.Stderr = os.Stderr
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopPub(); _ = pub.Wait() })

	// Wait for the film to be ready in the catalogue.
	var film libraryItem
	deadline := time.Now().Add(2 * time.Minute)
	for film.State != "ready" {
		if time.Now().After(deadline) {
			t.Fatalf("the upload is not ready after 2 minutes: %+v", film)
		}
		time.Sleep(300 * time.Millisecond)
		var items []libraryItem
		if code := getJSON(t, base+"/api/library", &items); code != 200 {
			continue
		}
		for _, it := range items {
			if it.Title == "Test Pattern" || strings.Contains(it.Title, "Test Pattern") {
				film = it
			}
		}
		if film.State == "failed" {
			t.Fatalf("the upload failed: %+v", film)
		}
	}
	// And for the live stream to be on air.
	deadline = time.Now().Add(time.Minute)
	for {
		var live struct{ Streams []struct{ Name string } }
		getJSON(t, base+"/api/live", &live)
		if len(live.Streams) == 1 && live.Streams[0].Name == "cam1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cam1 is not live after a minute: %+v", live)
		}
		time.Sleep(300 * time.Millisecond)
	}

	ctx := browsertest.New(t, 4*time.Minute)

	// The catalogue lists the uploaded film and the live stream.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#movies li.card[data-id="`+film.ID+`"]`),
		chromedp.WaitVisible(`#live a[href="/live/cam1"]`)); err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	browsertest.Screenshot(t, ctx, "e2e-catalogue")

	// The film plays: from the catalogue's link to the player page.
	if err := chromedp.Do(ctx, chromedp.Click(`#movies li.card[data-id="`+film.ID+`"] a`), chromedp.WaitReady(`#player`)); err != nil {
		t.Fatalf("watch: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/watch/"+film.ID) {
		t.Errorf("the film's link led to %s", loc)
	}
	advances(t, ctx, 1.5)
	browsertest.Screenshot(t, ctx, "e2e-watch")

	// The live stream plays.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/live/cam1"), chromedp.WaitReady(`#player`)); err != nil {
		t.Fatalf("live: %v", err)
	}
	advances(t, ctx, 1.5)
	browsertest.Screenshot(t, ctx, "e2e-live")
	// And through the MSE fallback (the live muxer's audio is a separate
	// rendition: two SourceBuffers).
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/live/cam1?mse=1"), chromedp.WaitReady(`#player`)); err != nil {
		t.Fatalf("live: %v", err)
	}
	advances(t, ctx, 1.5)
	if e, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('player').dataset.engine`)); e != "mse" {
		t.Errorf("engine = %q, want mse", e)
	}

	// /admin: anonymous (a fresh browser) is refused; the admin sees the queue.
	actx := browsertest.New(t, 2*time.Minute)
	if err := chromedp.Do(actx, chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(`form#login`)); err != nil {
		t.Fatalf("anonymous /admin: %v", err)
	}
	if n, _ := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll('#queue').length`)); n != 0 {
		t.Error("an anonymous visitor sees the queue")
	}
	if code, _ := httpGet(t, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base+"/api/status"); code != http.StatusUnauthorized {
		t.Errorf("anonymous /api/status = %d, want 401", code)
	}
	if err := chromedp.Do(actx,
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`#queue tr.job`),
	); err != nil {
		t.Fatalf("admin login: %v", err)
	}
	txt, _ := chromedp.Run(actx, chromedp.Text(`#status`))
	for _, want := range []string{"Test.Pattern.2026.mp4", "cam1", "http", "transcode"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the admin page lacks %q:\n%s", want, txt)
		}
	}
	browsertest.Screenshot(t, actx, "e2e-admin")
}

// advances starts the page's #player and waits until currentTime has moved
// on by more than d seconds from where playback started.
func advances(t *testing.T, ctx context.Context, d float64) {
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
}
