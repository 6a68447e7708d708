package appliance

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"thecure/appliance/apptest"
)

// TestPublishToS3: the appliance with [publish.s3] on an S3 server on
// loopback: a film put in the library is uploaded and /api/library points
// at public_url, where ffprobe plays it through a plain proxy standing in
// for a CDN; a stream published over RTMP plays from the bucket the same
// way; `library rm` deletes the title from the bucket; /healthz has the
// publish service up.
func TestPublishToS3(t *testing.T) {
	be := s3mem.New()
	if err := be.CreateBucket("cdn"); err != nil {
		t.Fatal(err)
	}
	s3 := httptest.NewServer(gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer s3.Close()
	// the CDN: GET /X is GET the bucket's box1/X, types and cache headers passed on
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(s3.URL + "/cdn/box1" + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length"} {
			w.Header().Set(h, resp.Header.Get(h))
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer cdn.Close()
	u, _ := url.Parse(s3.URL)

	dir := t.TempDir()
	film := filepath.Join(t.TempDir(), "Bucket Film (2021).mp4")
	makeClip(t, film, 4)
	dst := filepath.Join(dir, "data", "media", "pelis", filepath.Base(film))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(film, dst); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(dst, old, old); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, `max_connections_per_address = 64
[publish.s3]
endpoint = "`+u.Host+`"
bucket = "cdn"
prefix = "box1/"
access_key = "AKIDTEST"
path_style = true
use_tls = false
public_url = "`+cdn.URL+`/"
`)
	p := startCmd(t, dir, func(c *exec.Cmd) { c.Env = append(os.Environ(), "THECURE_PUBLISH_S3_SECRET_KEY=secret") }, "run", "-c", cfg)
	httpAddr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	rtmpAddr := waitLog(t, p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]
	base := "http://" + httpAddr

	// the film: ready, uploaded, and /api/library points at the CDN
	var hls, id string
	apptest.WaitFor(t, 2*time.Minute, "the film at public_url in /api/library", func() bool {
		var items []libraryItem
		if getJSON(t, base+"/api/library", &items) == http.StatusOK {
			for _, it := range items {
				if it.State == "ready" && strings.HasPrefix(it.HLS, cdn.URL+"/vod/"+it.ID+"/") {
					hls, id = it.HLS, it.ID
				}
			}
		}
		return hls != ""
	})
	code, body, hdr := apptest.Get(t, http.DefaultClient, hls)
	if code != http.StatusOK || !strings.Contains(body, "#EXT-X-STREAM-INF") || hdr.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Errorf("the master playlist from the CDN: %d %v\n%s", code, hdr, body)
	}
	if out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", hls).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "h264") || !strings.Contains(string(out), "aac") {
		t.Errorf("ffprobe %s: %v\n%s", hls, err, out)
	}

	// live: published over RTMP, played from the bucket through the CDN
	publish(t, rtmpAddr, "cam1")
	liveURL := cdn.URL + "/live/cam1/index.m3u8"
	apptest.WaitFor(t, time.Minute, "the live playlist in the bucket", func() bool {
		resp, err := http.Get(liveURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", liveURL).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "h264") || !strings.Contains(string(out), "aac") {
		t.Errorf("ffprobe %s: %v\n%s", liveURL, err, out)
	}
	// the live page plays from the CDN, and from this box when the stream comes back
	_, page, _ := apptest.Get(t, http.DefaultClient, base+"/live/cam1")
	if !strings.Contains(page, `data-src="`+liveURL+`"`) || !strings.Contains(page, `data-box-src="/live/cam1/index.m3u8"`) {
		t.Errorf("the live page does not play from the CDN with the box behind it:\n%s", page)
	}
	var hz healthz
	getJSON(t, base+"/healthz", &hz)
	found := false
	for _, s := range hz.Services {
		found = found || s.Name == "publish" && s.State == "up"
	}
	if !found || hz.Status != "ok" {
		t.Errorf("/healthz: %+v", hz)
	}

	// removed: gone from the bucket
	if _, stderr, code := runCmd(t, dir, "library", "rm", id, "-c", cfg); code != 0 {
		t.Fatalf("library rm: %d %s", code, stderr)
	}
	apptest.WaitFor(t, 30*time.Second, "the title gone from the bucket", func() bool {
		res, err := be.ListBucket("cdn", &gofakes3.Prefix{HasPrefix: true, Prefix: "box1/vod/"}, gofakes3.ListBucketPage{})
		return err == nil && len(res.Contents) == 0
	})
}
