package appliance

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/apptest"
	"thecure/appliance/webui/browsertest"
)

// chartSeries is a series of /api/charts.
type chartSeries struct {
	Name   string     `json:"name"`
	Chart  string     `json:"chart"`
	Values []*float64 `json:"values"`
}

// TestWebCharts: after FTPS uploads and failed FTPS logins, the admin's
// /api/charts has non-zero points for the bytes received over FTPS, the
// failed logins, the RTMP bytes of a live publish, the CPU (thecure's and
// its ffmpeg children's: the publish's packaging runs none, the upload's
// ffprobe does), the memory and the free disk; the charts page and
// /admin draw their canvases, and at 390 px neither page is wider than the
// screen. /api/charts refuses visitors who are not logged in.
func TestWebCharts(t *testing.T) {
	w := startWeb(t, nil)
	password := readFirstPassword(t, waitLog(t, w.p, firstPasswordLog, 30*time.Second)[1])
	ftpAddr := waitLog(t, w.p, `msg=listening svc=\S+ key=ftp.listen addr=(\S+)`, 30*time.Second)[1]
	rtmpAddr := waitLog(t, w.p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]

	if code, _, _ := apptest.Get(t, http.DefaultClient, w.base+"/api/charts"); code != 401 {
		t.Errorf("anonymous /api/charts = %d, want 401", code)
	}
	clip := filepath.Join(t.TempDir(), "Chart.Test.2026.mp4")
	makeClip(t, clip, 2)
	// One upload to a plain folder, one to the films: transcoded (ffprobe, ffmpeg).
	for _, dst := range []string{"admin/a.mp4", "pelis/Chart.Test.2026.mp4"} {
		if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password,
			"-T", clip, "ftp://"+ftpAddr+"/"+dst).CombinedOutput(); err != nil {
			t.Fatalf("FTPS upload: %v\n%s", err, out)
		}
	}
	for range 2 {
		out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:wrong-password",
			"ftp://"+ftpAddr+"/").CombinedOutput()
		if err == nil {
			t.Fatalf("a wrong password logged in:\n%s", out)
		}
	}

	stop := publish(t, rtmpAddr, "cam1")
	defer stop()

	ctx := browsertest.New(t, 3*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/login?next=%2Fadmin%2Fcharts"),
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`#charts`),
	); err != nil {
		t.Fatalf("admin login: %v", err)
	}

	// The sampler takes a point every 10 s; rates need two.
	want := []string{"net/ftps_in", "net/rtmp_in", "logins/ftp_failed", "cpu/thecure", "cpu/children", "rss"}
	nonZero := func(series []chartSeries) []string {
		var missing []string
		for _, name := range append(want, "disk_free/data_dir") {
			ok := false
			for _, s := range series {
				if s.Name != name {
					continue
				}
				for _, v := range s.Values {
					ok = ok || (v != nil && *v > 0)
				}
			}
			if !ok {
				missing = append(missing, name)
			}
		}
		return missing
	}
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		series, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartSeries](`fetch('/api/charts?range=3600',{credentials:'same-origin'}).then(function(r){return r.json()}).then(function(d){return d.series})`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("/api/charts in the browser: %v", err)
		}
		if missing = nonZero(series); len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s these series have no non-zero point: %v", missing)
		}
		time.Sleep(2 * time.Second)
	}

	for _, page := range []string{"/admin/charts", "/admin"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+page)); err != nil {
			t.Fatal(err)
		}
		ok, last := browsertest.WaitFor(ctx,
			`document.querySelectorAll('#charts section.chart canvas').length >= 8 && document.querySelector('#charts section[data-chart=net] canvas').width > 100`,
			`document.getElementById('charts').innerHTML.slice(0, 300)`, 300*time.Millisecond)
		if !ok {
			t.Fatalf("%s draws no charts: %v", page, last)
		}
		// The canvas has pixels drawn on it, not just a blank surface.
		drawn, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){var c=document.querySelector('#charts section[data-chart=net] canvas');var d=c.getContext('2d').getImageData(0,0,c.width,c.height).data;for(var i=3;i<d.length;i+=4){if(d[i]!==0)return true}return false})()`))
		if !drawn {
			t.Errorf("%s: the network chart's canvas is blank", page)
		}
		title, _ := chromedp.Run(ctx, chromedp.Text(`#charts section[data-chart=logins] h3`))
		if !strings.Contains(title, "Logins") {
			t.Errorf("%s: the logins chart is titled %q", page, title)
		}
	}
	browsertest.Screenshot(t, ctx, "e2e-charts")

	// At a phone's width nothing is wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(3))); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/admin/charts", "/admin"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+page)); err != nil {
			t.Fatal(err)
		}
		if ok, last := browsertest.WaitFor(ctx, `document.querySelectorAll('#charts canvas').length >= 8`,
			`document.querySelectorAll('#charts canvas').length`, 300*time.Millisecond); !ok {
			t.Fatalf("%s at 390 px: %v charts", page, last)
		}
		sw, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if sw > 390 {
			t.Errorf("%s at 390 px: the page is %d px wide", page, sw)
		}
		browsertest.Screenshot(t, ctx, "e2e-charts-phone"+strings.ReplaceAll(page, "/", "-"))
	}
}
