package rtmp_test

import (
	"context"
	"os"
	"strings"

	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"time"

	"github.com/chromedp/chromedp"
)

type videoState struct {
	T   float64 `json:"t"`
	Err string  `json:"err"`
	RS  int     `json:"rs"`
}

// msePage plays the main stream of a live HLS stream (video and audio in one
// fMP4 stream, both codecs in CODECS) with Media Source Extensions, the way
// hls.js does (Chromium's own HLS support cannot parse these streams): it
// follows the media playlist, skips EXT-X-GAP segments and appends the init
// file and every new segment. BASE is the stream's URL.
const msePage = `<!doctype html><video id="v" muted autoplay playsinline></video><script>
const base = "BASE", v = document.getElementById("v"), ms = new MediaSource();
v.src = URL.createObjectURL(ms);
const get = async (u, bin) => { const r = await fetch(base + u); if (!r.ok) throw new Error(u + ": " + r.status); return bin ? r.arrayBuffer() : r.text(); };
ms.addEventListener("sourceopen", async () => { try {
  const mv = await get("index.m3u8");
  const codecs = /CODECS="([^"]+)"/.exec(mv)[1];
  const media = mv.split("\n").filter(l => l && !l.startsWith("#"))[0];
  const sb = ms.addSourceBuffer('video/mp4; codecs="' + codecs + '"');
  const append = b => new Promise((ok, bad) => { sb.addEventListener("updateend", ok, {once: true}); sb.addEventListener("error", bad, {once: true}); sb.appendBuffer(b); });
  const seen = new Set();
  let init = false;
  for (;;) {
    const pl = await get(media);
    if (!init) { await append(await get(/#EXT-X-MAP:URI="([^"]+)"/.exec(pl)[1], true)); init = true; }
    let gap = false;
    for (const l of pl.split("\n")) {
      if (l.startsWith("#EXT-X-GAP")) gap = true;
      else if (l && !l.startsWith("#")) {
        if (!gap && !seen.has(l)) {
          seen.add(l);
          await append(await get(l, true));
          if (v.currentTime < sb.buffered.start(0)) v.currentTime = sb.buffered.start(0);
          v.play().catch(() => {});
        }
        gap = false;
      }
    }
    await new Promise(r => setTimeout(r, 300));
  }
} catch (e) { window.loadErr = String(e); } });
</script>`

// Headless Chromium plays the live HLS (LL-HLS by default, fMP4) from a page
// on another origin (so CORS matters): the video's currentTime advances.
func TestChromiumPlaysHLS(t *testing.T) {
	e := start(t, func(c *config.Config) {
		if v := os.Getenv("VARIANT"); v != "" {
			c.HLS.Variant = v
		}
	})
	publish(t, e.url("web"), 40)
	apptest.WaitFor(t, 30*time.Second, "the stream to be live", func() bool { return e.hub.Live("web") })

	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(strings.ReplaceAll(msePage, "BASE", e.httpURL+"/live/web/")))
	}))
	defer page.Close()

	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	if _, err := chromedp.Run(ctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatal(err)
	}
	var first, last float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[videoState](`(() => { const v = document.getElementById('v');
			return {t: v.currentTime, err: (v.error ? v.error.code + ' ' + v.error.message : '') + (window.loadErr || ''), rs: v.readyState}; })()`))
		if err != nil {
			t.Fatal(err)
		}
		if state.Err != "" {
			t.Fatalf("video error: %s", state.Err)
		}
		if first == 0 && state.T > 0 {
			first = state.T
		}
		last = state.T
		if first > 0 && last >= first+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("video did not advance: first %.2f last %.2f readyState %d", first, last, state.RS)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("currentTime advanced from %.2f to %.2f", first, last)
}
