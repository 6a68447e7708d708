package appliance

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/apptest"
	"thecure/appliance/webui/browsertest"
)

// TestWebNewUserIssue15: issue 15 as a new user finds it, on the defaults
// a new install has (Spanish pages) with MPEG-TS segments: an encoded film
// ("Ventana Web (2023)", a name whose words are also release tags) plays
// from 0 with the source's duration and seeks, natively and through
// hls.js (?mse=1), with a quality menu of auto + each height, and starts
// at 0 for ffprobe; a track with cover art shows its cover, is numbered
// by its tag and has its year in /api/library, and plays from 0 both ways;
// episodes are listed under their show, numbered once, titled without
// the show's name; a corrupt upload's public page says it failed without the tool's error
// or where the file went; a live page opened while on air plays through
// hls.js with and without ?mse=1, counting its viewer. No request answers
// 400 or more.
func TestWebNewUserIssue15(t *testing.T) {
	const secs = 6.0
	src := t.TempDir()
	film := filepath.Join(src, "film.mkv")
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", "6", "-c:v", "mpeg4", "-q:v", "5", "-c:a", "aac", film)
	cover := filepath.Join(src, "cover.jpg")
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=300x300", "-frames:v", "1", cover)
	track := filepath.Join(src, "track.mp3")
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "sine=frequency=660", "-i", cover, "-t", "6", "-map", "0:a", "-map", "1:v",
		"-c:a", "libmp3lame", "-c:v", "copy", "-disposition:v", "attached_pic", "-id3v2_version", "3",
		"-metadata", "title=Canción de prueba", "-metadata", "artist=Grupo", "-metadata", "album=Disco",
		"-metadata", "track=3/10", "-metadata", "date=1997", track)
	ep1, ep2 := filepath.Join(src, "ep1.mp4"), filepath.Join(src, "ep2.mp4")
	makeClip(t, ep1, 2)
	makeClip(t, ep2, 2)
	broken := filepath.Join(src, "broken.mp4")
	if err := os.WriteFile(broken, []byte(strings.Repeat("not a film ", 4000)), 0o644); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfg := writeConfigHTTP(t, dir, "", `[transcode]
segment_duration = "2s"
segment_format = "mpegts"
[[transcode.renditions]]
height = 360
video_kbps = 600
[[transcode.renditions]]
height = 240
video_kbps = 300
`)
	for dst, f := range map[string]string{
		"media/series/Los Simpson S02E05.mp4": ep1, "media/series/Cuéntame cómo pasó 1x07 Cuéntame.mp4": ep2,
		"media/pelis/Ventana Web (2023).mkv": film, "media/musica/Grupo/Disco/01 pista.mp3": track, "media/pelis/Roto (2020).mp4": broken,
	} {
		dst = filepath.Join(dir, "data", dst)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f, dst); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute)
		if err := os.Chtimes(dst, old, old); err != nil {
			t.Fatal(err)
		}
	}
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	w := &webApp{p: p, dir: dir, base: "http://" + addr}
	filmIt := w.waitTitle(t, "Ventana Web")
	trackIt := w.waitTitle(t, "Canción de prueba")

	type apiItem struct {
		ID, Title, State, Method, Poster, Error, Source string
		Duration                                        float64
		Year, Track                                     int
	}
	var failed apiItem
	deadline := time.Now().Add(time.Minute)
	for failed.State != "failed" {
		var items []apiItem
		getJSON(t, w.base+"/api/library", &items)
		for _, it := range items {
			switch it.ID {
			case filmIt.ID:
				if it.Year != 2023 || it.Method != "encode" || math.Abs(it.Duration-secs) > 0.1 {
					t.Errorf("/api/library film: %+v, want 2023, encode, %.0f s", it, secs)
				}
			case trackIt.ID:
				if it.Track != 3 || it.Year != 1997 || it.Poster == "" || math.Abs(it.Duration-secs) > 0.1 {
					t.Errorf("/api/library track: %+v, want track 3 (its tag), 1997, a cover, %.0f s", it, secs)
				}
			}
			if strings.HasPrefix(it.Source, "pelis/Roto") || strings.HasPrefix(it.Title, "Roto") {
				failed = it
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the corrupt upload did not fail: %+v", failed)
		}
		time.Sleep(300 * time.Millisecond)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", w.base+filmIt.HLS).Output()
	if st, perr := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || perr != nil || math.Abs(st) > 0.05 {
		t.Errorf("ffprobe start_time of the encoded title = %q (%v), want within 0.05s of 0", out, err)
	}

	ctx := browsertest.New(t, 4*time.Minute)
	httpErrors := browsertest.HTTPErrors(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/"), chromedp.WaitVisible(`li.card[data-id="`+filmIt.ID+`"]`)); err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	if lang, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "es" {
		t.Errorf("a new install's pages are in %q, want es", lang)
	}
	// series: the show is the heading, an episode says its number once
	// (no list marker beside it) and its title without the show's name
	w.waitTitle(t, "Cuéntame")
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`#series`)); err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	shows, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#series article.show')).map(function(a){
		var ol = a.querySelector('ol.episodes');
		return a.querySelector('h3').innerText + ' | ' + getComputedStyle(ol).listStyleType + ' | ' +
			Array.from(a.querySelectorAll('ol.episodes li a')).map(function(l){return l.innerText.replace(/\s+/g, ' ')}).join(' / ')})`))
	want := []string{"Cuéntame cómo pasó | none | 7 Cuéntame 0:02", "Los Simpson | none | 5 Episodio 5 0:02"}
	if len(shows) != 2 || shows[0] != want[0] || shows[1] != want[1] {
		t.Errorf("series on the catalogue: %q, want %q", shows, want)
	}
	browsertest.Screenshot(t, ctx, "e2e-newuser-catalogue")
	for _, c := range []struct{ query, engine string }{{"", "native"}, {"?mse=1", "hlsjs"}} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/watch/"+filmIt.ID+c.query), chromedp.WaitReady(`#player`)); err != nil {
			t.Fatalf("watch film%s: %v", c.query, err)
		}
		playsFromZero(t, ctx, c.engine, secs)
		opts, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#quality option')).map(function(o){return o.innerText})`))
		if len(opts) != 3 || opts[1] != "360p" || opts[2] != "240p" {
			t.Errorf("%s: quality menu %q, want auto, 360p, 240p", c.engine, opts)
		}
		if c.engine == "hlsjs" {
			// choosing a height switches hls.js to it
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){var m=document.getElementById('quality'); m.selectedIndex=2; m.dispatchEvent(new Event('change')); return true})()`)); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			ok, last := browsertest.WaitFor(wctx, `(function(){var h=window.thecureHls; return !!h && h.currentLevel >= 0 && h.levels[h.currentLevel].height === 240})()`,
				`(function(){var h=window.thecureHls; return h ? {level: h.currentLevel, levels: h.levels.map(function(l){return l.height})} : null})()`, 200*time.Millisecond)
			cancel()
			if !ok {
				t.Errorf("choosing 240p: hls.js at %v", last)
			}
			browsertest.Screenshot(t, ctx, "e2e-newuser-film-hlsjs")
		}
	}
	for _, c := range []struct{ query, engine string }{{"", "native"}, {"?mse=1", "hlsjs"}} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/watch/"+trackIt.ID+c.query), chromedp.WaitReady(`#player`)); err != nil {
			t.Fatalf("watch track%s: %v", c.query, err)
		}
		if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(function(ok){var i=document.getElementById('cover'); if(!i){ok(false);return} if(i.complete){ok(i.naturalWidth>0);return} i.onload=function(){ok(true)}; i.onerror=function(){ok(false)}})`, chromedp.EvalAwaitPromise)); !ok {
			t.Errorf("%s: the track's cover is not shown", c.engine)
		}
		playsFromZero(t, ctx, c.engine, secs)
	}
	browsertest.Screenshot(t, ctx, "e2e-newuser-track")
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/watch/"+failed.ID), chromedp.WaitVisible(`#failed`)); err != nil {
		t.Fatalf("failed title's page: %v", err)
	}
	txt, _ := chromedp.Run(ctx, chromedp.Text(`main`))
	for _, leak := range []string{"quarantine", "admin/", "ffprobe", "Invalid data", ".mp4"} {
		if strings.Contains(txt, leak) {
			t.Errorf("the failed title's public page shows %q: %q", leak, txt)
		}
	}

	// Live, in Spanish, the page opened while on air (default engine, then
	// ?mse=1): it plays, says it is live and counts this viewer.
	rtmpAddr := waitLog(t, p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, time.Second)[1]
	stop := publish(t, rtmpAddr, "estreno")
	defer stop()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var on struct{ Streams []struct{ Name string } }
		getJSON(t, w.base+"/api/live", &on)
		if len(on.Streams) > 0 {
			break
		}
		if wctx.Err() != nil {
			t.Fatal("the stream is not on air after a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, q := range []string{"", "?mse=1"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/live/estreno"+q), chromedp.WaitReady(`#player`)); err != nil {
			t.Fatalf("live page%s: %v", q, err)
		}
		advances(t, ctx, 1.5, "hlsjs")
		if ok, last := browsertest.WaitFor(wctx, `document.getElementById('live-notice').hidden && /^[1-9]\d* espectador(es)?$/.test(document.getElementById('live-viewers').innerText)`,
			`[document.getElementById('live-notice').innerText, document.getElementById('live-viewers').innerText]`, 200*time.Millisecond); !ok {
			t.Errorf("live page%s on air at load says %v, want live with at least 1 viewer (this one)", q, last)
		}
	}
	browsertest.Screenshot(t, ctx, "e2e-newuser-live")
	if bad := httpErrors(); len(bad) > 0 {
		t.Errorf("requests that failed: %v", bad)
	}
}
