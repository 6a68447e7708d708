package publish_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/health"
	"thecure/appliance/library"
)

// titleKeys are the keys of title id in the bucket, relative to its
// version folder, and that version ("" when there is none or several).
func titleKeys(s3 *s3Server, prefix, id string) ([]string, string) {
	var rels []string
	versions := map[string]bool{}
	for _, k := range s3.keys(prefix + "vod/" + id + "/") {
		v, rel, _ := strings.Cut(strings.TrimPrefix(k, prefix+"vod/"+id+"/"), "/")
		versions[v] = true
		rels = append(rels, rel)
	}
	if len(versions) != 1 {
		return rels, ""
	}
	for v := range versions {
		return rels, v
	}
	return rels, ""
}

// wantHeaders are the Content-Type and Cache-Control of a VOD file.
func wantHeaders(rel string) (string, string) {
	switch {
	case strings.HasSuffix(rel, ".m3u8"):
		return "application/vnd.apple.mpegurl", "public, max-age=300"
	case strings.HasSuffix(rel, ".jpg"):
		return "image/jpeg", "public, max-age=86400"
	}
	return "video/mp4", "public, max-age=31536000, immutable"
}

// A ready title is uploaded whole, with the right types and cache headers,
// plays from the bucket through a CDN, is what /api/library points at, and
// disappears from the bucket when removed; another appliance's prefix in
// the same bucket is never touched.
func TestVODTitle(t *testing.T) {
	s3 := newS3(t)
	s3.put("box2/vod/0123456789ab/v1/index.m3u8", "another appliance's title")
	b := newBox(t, "", publishConfig(s3, "box1/"), nil)
	b.run()
	id := b.addTitle("pelis/Film (2020).mkv")
	b.svc.TitleChanged(id)

	local := b.localFiles(id)
	if len(local) < 8 || !slices.Contains(local, "poster.jpg") || !slices.Contains(local, "240p/init.mp4") {
		t.Fatalf("packaged title: %v", local)
	}
	var version string
	apptest.WaitFor(t, 30*time.Second, "the title in the bucket", func() bool {
		var rels []string
		rels, version = titleKeys(s3, "box1/", id)
		return version != "" && slices.Equal(rels, local) && b.svc.URL(id, "index.m3u8") != ""
	})
	for _, rel := range local {
		code, ctype, cache := head(t, s3.url("box1/vod/"+id+"/"+version+"/"+rel))
		wt, wc := wantHeaders(rel)
		if code != http.StatusOK || ctype != wt || cache != wc {
			t.Errorf("%s: %d %q %q, want %q %q", rel, code, ctype, cache, wt, wc)
		}
	}

	// a player reads it from the bucket through the CDN
	cdnURL := cdn(t, s3, "box1/")
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "csv=p=0",
		cdnURL+"vod/"+id+"/"+version+"/index.m3u8").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "h264") || !strings.Contains(string(out), "aac") {
		t.Errorf("ffprobe through the CDN: %v\n%s", err, out)
	}

	// /api/library points players at public_url
	srv := httptest.NewServer(b.cat.APIHandler(func(*http.Request) bool { return false }))
	defer srv.Close()
	_, body, _ := apptest.Get(t, http.DefaultClient, srv.URL)
	var items []library.Item
	if err := json.Unmarshal([]byte(body), &items); err != nil || len(items) != 1 {
		t.Fatalf("/api/library: %v %s", err, body)
	}
	base := "https://cdn.example.com/box1/vod/" + id + "/" + version + "/"
	if items[0].HLS != base+"index.m3u8" || items[0].Poster != base+"poster.jpg" {
		t.Errorf("/api/library: hls %q poster %q, want under %s", items[0].HLS, items[0].Poster, base)
	}
	if st := b.health.Status(); st != health.StatusOK {
		t.Errorf("health %s: %+v", st, b.health.Snapshot())
	}

	// removed from the catalogue: gone from the bucket, and /api/library
	// no longer lists it
	b.removeTitle(id)
	b.svc.TitleChanged(id)
	apptest.WaitFor(t, 20*time.Second, "the title gone from the bucket", func() bool {
		return len(s3.keys("box1/vod/")) == 0 && b.svc.URL(id, "index.m3u8") == ""
	})
	if got := s3.keys("box2/"); !slices.Equal(got, []string{"box2/vod/0123456789ab/v1/index.m3u8"}) {
		t.Errorf("another appliance's keys: %v", got)
	}
	if n := len(b.alerts.all()); n != 0 {
		t.Errorf("alerts: %v", b.alerts.all())
	}
}

// A title packaged again (same id, new files) is uploaded under a new
// version, and the old version is deleted once the new one is complete.
func TestVODTitleReplaced(t *testing.T) {
	s3 := newS3(t)
	b := newBox(t, "", publishConfig(s3, "box1/"), nil)
	b.run()
	id := b.addTitle("pelis/Film (2020).mkv")
	b.svc.TitleChanged(id)
	var v1 string
	apptest.WaitFor(t, 30*time.Second, "version 1", func() bool { _, v1 = titleKeys(s3, "box1/", id); return v1 != "" })
	b.removeTitle(id)
	time.Sleep(10 * time.Millisecond) // new modification times
	b.addTitle("pelis/Film (2020).mkv")
	b.svc.TitleChanged(id)
	apptest.WaitFor(t, 30*time.Second, "version 2 alone", func() bool {
		rels, v2 := titleKeys(s3, "box1/", id)
		return v2 != "" && v2 != v1 && len(rels) == len(b.localFiles(id)) && strings.Contains(b.svc.URL(id, "index.m3u8"), v2)
	})
}

// A restart reconciles the bucket with the catalogue: objects deleted by
// hand come back, a title removed while the appliance was stopped (and
// a stray title of this prefix) is deleted, a title added meanwhile is
// uploaded.
func TestRestartReconciles(t *testing.T) {
	s3 := newS3(t)
	cfg := publishConfig(s3, "box1/")
	b := newBox(t, "", cfg, nil)
	b.run()
	keep, drop := b.addTitle("pelis/Keep (2001).mkv"), b.addTitle("pelis/Drop (2002).mkv")
	b.svc.TitleChanged(keep)
	b.svc.TitleChanged(drop)
	var version string
	apptest.WaitFor(t, 30*time.Second, "two titles in the bucket", func() bool {
		_, version = titleKeys(s3, "box1/", keep)
		_, v2 := titleKeys(s3, "box1/", drop)
		return version != "" && v2 != ""
	})
	b.stop()

	// while stopped: objects deleted by hand, a title removed, one added,
	// a stray title of this prefix
	all, _ := titleKeys(s3, "box1/", keep)
	s3.delete("box1/vod/" + keep + "/" + version + "/index.m3u8")
	s3.delete("box1/vod/" + keep + "/" + version + "/240p/seg00002.m4s")
	s3.put("box1/vod/0123456789ab/v1/index.m3u8", "left over")
	s3.put("box1/live/gone/index.m3u8", "a stream of an earlier run")
	b2 := newBox(t, b.dir, cfg, nil)
	b2.removeTitle(drop)
	added := b2.addTitle("pelis/Added (2003).mkv")
	puts := s3.putCount()
	b2.run()
	apptest.WaitFor(t, 30*time.Second, "the bucket reconciled", func() bool {
		rels, v := titleKeys(s3, "box1/", keep)
		_, va := titleKeys(s3, "box1/", added)
		return v == version && slices.Equal(rels, all) && va != "" &&
			len(s3.keys("box1/vod/"+drop+"/")) == 0 && len(s3.keys("box1/vod/0123456789ab/")) == 0 &&
			len(s3.keys("box1/live/")) == 0
	})
	// resumed, not redone: only the two lost objects and the new title
	if n, want := s3.putCount()-puts, 2+len(b2.localFiles(added)); n != want {
		t.Errorf("%d PUTs after the restart, want %d", n, want)
	}
}

var reSeg = regexp.MustCompile(`_main_seg(\d+)\.mp4$`)

// videoSegments are the numbers of the video segments of a live stream in
// the bucket.
func videoSegments(s3 *s3Server, prefix string) []int {
	var out []int
	for _, k := range s3.keys(prefix) {
		if m := reSeg.FindStringSubmatch(k); m != nil {
			n := 0
			for _, c := range m[1] {
				n = n*10 + int(c-'0')
			}
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Two appliances publish into one bucket under their own prefixes: each
// uploads, lists (/api/library) and reconciles only its own titles.
func TestTwoAppliancesOneBucket(t *testing.T) {
	s3 := newS3(t)
	one := newBox(t, "", publishConfig(s3, "box1/"), nil)
	two := newBox(t, "", publishConfig(s3, "box2/"), nil)
	one.run()
	two.run()
	a, b := one.addTitle("pelis/One (2001).mkv"), two.addTitle("pelis/Two (2002).mkv")
	one.svc.TitleChanged(a)
	two.svc.TitleChanged(b)
	apptest.WaitFor(t, 30*time.Second, "both titles in the bucket", func() bool {
		_, va := titleKeys(s3, "box1/", a)
		_, vb := titleKeys(s3, "box2/", b)
		return va != "" && vb != "" && one.svc.URL(a, "index.m3u8") != "" && two.svc.URL(b, "index.m3u8") != ""
	})
	// each one's reconciliation at a restart keeps the other's titles
	one.stop()
	one2 := newBox(t, one.dir, publishConfig(s3, "box1/"), nil)
	one2.run()
	time.Sleep(time.Second)
	if _, vb := titleKeys(s3, "box2/", b); vb == "" {
		t.Error("box1's restart touched box2's title")
	}
	for _, c := range []struct {
		b    *box
		want string
	}{{one2, a}, {two, b}} {
		srv := httptest.NewServer(c.b.cat.APIHandler(func(*http.Request) bool { return false }))
		_, body, _ := apptest.Get(t, http.DefaultClient, srv.URL)
		srv.Close()
		var items []library.Item
		if err := json.Unmarshal([]byte(body), &items); err != nil || len(items) != 1 || items[0].ID != c.want ||
			!strings.HasPrefix(items[0].HLS, c.b.cfg.PublicURL+"vod/"+c.want+"/") {
			t.Errorf("/api/library of %s: %v %s", c.b.cfg.Prefix, err, body)
		}
	}
}

// At most publish.s3.concurrency uploads of titles are in flight at once,
// and they do run side by side.
func TestBoundedConcurrency(t *testing.T) {
	s3 := newS3(t)
	s3.slow(30 * time.Millisecond)
	cfg := publishConfig(s3, "box1/")
	cfg.Concurrency = 3
	b := newBox(t, "", cfg, nil)
	b.run()
	ids := []string{b.addTitle("pelis/A (2001).mkv"), b.addTitle("pelis/B (2002).mkv")}
	for _, id := range ids {
		b.svc.TitleChanged(id)
	}
	apptest.WaitFor(t, 60*time.Second, "both titles in the bucket", func() bool {
		return b.svc.URL(ids[0], "index.m3u8") != "" && b.svc.URL(ids[1], "index.m3u8") != ""
	})
	if n := s3.mostAtOnce(); n != 3 {
		t.Errorf("at most %d PUTs at once, want 3 (concurrency)", n)
	}
}
