package channels

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
)

// msePage plays a live LL-HLS stream (video and audio in one fMP4 stream,
// both codecs in CODECS) with Media Source Extensions, as hls.js does: the
// init file once, then every new segment.
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
    for (const l of pl.split("\n")) {
      if (l && !l.startsWith("#") && !seen.has(l)) {
        seen.add(l);
        await append(await get(l, true));
        if (v.currentTime < sb.buffered.start(0)) v.currentTime = sb.buffered.start(0);
        v.play().catch(() => {});
      }
    }
    await new Promise(r => setTimeout(r, 300));
  }
} catch (e) { window.loadErr = String(e); } });
</script>`

// TestChromiumPlaysThroughJoins: headless Chromium (Media Source
// Extensions, as hls.js) plays a channel's LL-HLS through title changes
// where the H.264 parameters change (two x264 presets), without an error.
func TestChromiumPlaysThroughJoins(t *testing.T) {
	tb := newTestbedHLS(t, config.HLSLowLatency)
	tb.titlePreset(t, "pelis/a.mp4", 3, 360, "libx264", "440", "veryfast")
	tb.titlePreset(t, "pelis/b.mp4", 3, 360, "libx264", "880", "ultrafast")
	svc := tb.service(t, testChannel(), nil)
	runService(t, svc)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(strings.ReplaceAll(msePage, "BASE", tb.httpURL+"/live/tv/")))
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
	time.Sleep(2 * time.Second) // a first segment
	if _, err := chromedp.Run(ctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatal(err)
	}
	type state struct {
		T   float64 `json:"t"`
		Err string  `json:"err"`
	}
	var first, last float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[state](`(() => { const v = document.getElementById('v');
			return {t: v.currentTime, err: (v.error ? v.error.code + ' ' + v.error.message : '') + (window.loadErr || '')}; })()`))
		if err != nil {
			t.Fatal(err)
		}
		if st.Err != "" {
			t.Fatalf("video error after %.2f s: %s", st.T-first, st.Err)
		}
		if first == 0 && st.T > 0 {
			first = st.T
		}
		last = st.T
		if first > 0 && last >= first+8 { // two title changes at least
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("video did not advance: first %.2f last %.2f", first, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("currentTime advanced from %.2f to %.2f", first, last)

	// the media playlist marks where the parameters change
	apptest.WaitFor(t, 20*time.Second, "EXT-X-DISCONTINUITY in the video playlist", func() bool {
		return strings.Contains(mediaPlaylist(t, tb.httpURL+"/live/tv/"), "#EXT-X-DISCONTINUITY\n")
	})
}

// mediaPlaylist is the first media playlist of a live stream's multivariant one.
func mediaPlaylist(t *testing.T, base string) string {
	t.Helper()
	get := func(u string) string {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, l := range strings.Split(get(base+"index.m3u8"), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			return get(base + l)
		}
	}
	t.Fatal("no media playlist")
	return ""
}
