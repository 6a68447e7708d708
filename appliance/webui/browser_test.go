package webui

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/apptest"
	"thecure/appliance/health"
	"thecure/appliance/webui/browsertest"
)

// makeHLS writes a short fMP4 HLS title (master index.m3u8) into dir with
// ffmpeg, standing in for the VOD pipeline's output.
func makeHLS(t *testing.T, dir string, seconds int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", fmt.Sprint(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
		"-master_pl_name", "index.m3u8", "-hls_segment_filename", filepath.Join(dir, "seg%d.m4s"),
		filepath.Join(dir, "media.m3u8"))
}

// progressJobs is a queue whose one job's progress the test moves.
type progressJobs struct {
	mu  sync.Mutex
	pct float64
}

func (p *progressJobs) Jobs(context.Context) ([]Job, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return []Job{{ID: "j1", Source: "pelis/Big.Film.2024.mkv", State: "running", Progress: p.pct, Speed: 2.5, ETA: 30}}, nil
}

func (p *progressJobs) set(v float64) { p.mu.Lock(); p.pct = v; p.mu.Unlock() }

// TestBrowser drives Chromium through the pages: the catalogue lists a
// title, the player plays it (natively and through the MSE fallback), /admin
// sends an anonymous visitor to the login form, and after an admin logs in
// shows the queue and refreshes it by itself.
func TestBrowser(t *testing.T) {
	root := t.TempDir()
	const id = "aaaaaaaaaaaa"
	makeHLS(t, filepath.Join(root, id), 6)
	q := &progressJobs{pct: 10}
	hreg := health.NewRegistry()
	hreg.Set("http", health.Up, "127.0.0.1")
	u, err := New(Options{Language: "en", Health: hreg, Jobs: q,
		Catalogue: titles{{ID: id, Kind: KindMovie, Title: "Test Pattern", Year: 2026, State: StateReady, HLS: "/vod/" + id + "/index.m3u8", Duration: 6}},
		Users:     accounts{"boss": {"s3cret-pass", []string{"admin"}}}.db(t),
		Disks:     []Disk{{Label: "data_dir", Path: root}},
		Channels: channelList{{Name: "pelis", Title: "Pelis 24 horas",
			Now:  &Programme{Title: "Test Pattern", Kind: "film", Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Hour)},
			Next: &Programme{Title: "A very long title of an episode that goes on and on", Kind: "episode", Start: time.Now().Add(time.Hour), End: time.Now().Add(2 * time.Hour)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range u.Routes() {
		mux.Handle(p, h)
	}
	mux.Handle("GET /vod/", http.StripPrefix("/vod/", http.FileServer(http.Dir(root))))
	srv := newLoopbackServer(t, mux)

	ctx := browsertest.New(t, 3*time.Minute)

	// Catalogue.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/"), chromedp.WaitVisible(`li.card[data-id="`+id+`"]`)); err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	if txt, _ := chromedp.Run(ctx, chromedp.Text(`#movies`)); !strings.Contains(txt, "Test Pattern") {
		t.Errorf("catalogue's films = %q", txt)
	}
	if txt, _ := chromedp.Run(ctx, chromedp.Text(`#channels`)); !strings.Contains(txt, "Now: Test Pattern") || !strings.Contains(txt, "Channel list (M3U)") {
		t.Errorf("catalogue's channels = %q", txt)
	}
	browsertest.Screenshot(t, ctx, "webui-catalogue")

	// Player: native HLS, then the MSE fallback.
	for _, c := range []struct{ query, engine string }{{"", "native"}, {"?mse=1", "hlsjs"}} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/watch/"+id+c.query), chromedp.WaitReady(`#player`)); err != nil {
			t.Fatalf("watch%s: %v", c.query, err)
		}
		playAndAdvance(t, ctx, c.engine, 1.5)
		if c.engine == "native" {
			browsertest.Screenshot(t, ctx, "webui-watch")
		}
	}

	// Admin: anonymous visitors land on the login form.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/admin"), chromedp.WaitVisible(`form#login`)); err != nil {
		t.Fatalf("anonymous /admin: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "/login") {
		t.Errorf("anonymous /admin ended at %s", loc)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue').length`)); n != 0 {
		t.Error("the login page shows the queue")
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`input[name=user]`, "boss"),
		chromedp.SendKeys(`input[name=password]`, "s3cret-pass"),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`#queue tr.job`),
	); err != nil {
		t.Fatalf("admin login: %v", err)
	}
	txt, _ := chromedp.Run(ctx, chromedp.Text(`#queue`))
	if !strings.Contains(txt, "pelis/Big.Film.2024.mkv") || !strings.Contains(txt, "10%") {
		t.Errorf("queue = %q", txt)
	}
	browsertest.Screenshot(t, ctx, "webui-admin")
	// On a phone: nothing is wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(3)),
		chromedp.Reload(), chromedp.WaitVisible(`#queue`)); err != nil {
		t.Fatalf("phone viewport: %v", err)
	}
	for _, page := range []string{"/", "/watch/" + id, "/admin"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv+page), chromedp.WaitVisible(`main`)); err != nil {
			t.Fatalf("phone %s: %v", page, err)
		}
		if w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); w > 0 {
			t.Errorf("on a phone, %s is %dpx wider than the screen", page, w)
		}
	}
	browsertest.Screenshot(t, ctx, "webui-admin-phone")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	q.set(77)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if ok, last := browsertest.WaitFor(wctx, `document.querySelector('#queue').innerText.includes('77%')`, `document.querySelector('#queue').innerText`, 500*time.Millisecond); !ok {
		t.Errorf("the admin page did not refresh itself: %v", last)
	}
	// When the login ends (expiry, restart), the refresh takes the page to
	// the login form instead of pasting the form into the status.
	u.auth.mu.Lock()
	clear(u.auth.sessions)
	u.auth.mu.Unlock()
	if ok, last := browsertest.WaitFor(wctx, `location.pathname === '/login' && !!document.querySelector('form#login')`, `location.href`, 500*time.Millisecond); !ok {
		t.Errorf("after the login ended the admin page stayed at %v", last)
	}
}

// playAndAdvance starts the page's #player and waits until its currentTime
// passes min seconds, with the given engine (native | hlsjs).
func playAndAdvance(t *testing.T, ctx context.Context, engine string, min float64) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById('player').muted = true; document.getElementById('player').play().then(() => true, e => String(e))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Logf("play(): %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ok, last := browsertest.WaitFor(wctx,
		fmt.Sprintf(`(function(){var v=document.getElementById('player'); if (v.paused && v.readyState >= 2) v.play().catch(function(){}); return v.currentTime > %g})()`, min),
		`(function(){var v=document.getElementById('player'); return {t: v.currentTime, rs: v.readyState, ns: v.networkState, err: v.error && v.error.message, engine: v.dataset.engine, perr: v.dataset.error}})()`,
		250*time.Millisecond)
	if !ok {
		t.Fatalf("%s player: currentTime did not pass %gs: %v", engine, min, last)
	}
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('player').dataset.engine`)); got != engine {
		t.Errorf("player engine = %q, want %q", got, engine)
	}
}
