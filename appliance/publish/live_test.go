package publish_test

import (
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/health"
)

// A live stream is in the bucket as it is made: segments immutable,
// playlists max-age=1 and without LL-HLS tags; ffprobe plays it from the
// bucket through a CDN; segments that left the window and, after the end,
// the whole stream are deleted.
func TestLiveStream(t *testing.T) {
	s3 := newS3(t)
	b := newBox(t, "", publishConfig(s3, "box1/"), func(c *config.HLS) {
		c.SegmentDuration = config.Duration(time.Second)
		c.SegmentCount = 7 // the least LL-HLS allows
	})
	b.run()
	tracks, aus := readClip(t, 4)
	stop := b.goLive("cam", tracks, aus, 1)
	apptest.WaitFor(t, 20*time.Second, "three segments in the bucket", func() bool {
		return len(videoSegments(s3, "box1/live/cam/")) >= 3 && slices.Contains(s3.keys("box1/live/cam/"), "box1/live/cam/index.m3u8")
	})
	if u := b.svc.LiveURL("cam"); u != "https://cdn.example.com/box1/live/cam/index.m3u8" {
		t.Errorf("LiveURL = %q", u)
	}
	for _, k := range s3.keys("box1/live/cam/") {
		code, ctype, cache := head(t, s3.url(k))
		want, wantCache := "video/mp4", "public, max-age=31536000, immutable"
		switch {
		case strings.HasSuffix(k, ".m3u8"):
			want, wantCache = "application/vnd.apple.mpegurl", "public, max-age=1"
		case strings.Contains(k, "_audio"):
			want = "audio/mp4"
		}
		if code != http.StatusOK || ctype != want || cache != wantCache {
			t.Errorf("%s: %d %q %q, want %q %q", k, code, ctype, cache, want, wantCache)
		}
	}
	_, pl, _ := apptest.Get(t, http.DefaultClient, s3.url("box1/live/cam/main_stream.m3u8"))
	for _, tag := range []string{"EXT-X-PART", "PRELOAD-HINT", "CAN-BLOCK-RELOAD"} {
		if strings.Contains(pl, tag) {
			t.Errorf("the bucket's playlist has %s:\n%s", tag, pl)
		}
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
		cdn(t, s3, "box1/")+"live/cam/index.m3u8").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "h264") || !strings.Contains(string(out), "aac") {
		t.Errorf("ffprobe through the CDN: %v\n%s", err, out)
	}
	// the window is 7 segments: older ones go LiveGrace (2 s) later
	apptest.WaitFor(t, 20*time.Second, "old segments deleted", func() bool {
		segs := videoSegments(s3, "box1/live/cam/")
		return len(segs) > 0 && segs[0] > 0 && len(segs) <= 12
	})
	stop()
	apptest.WaitFor(t, 20*time.Second, "the ENDLIST playlist", func() bool {
		_, pl, _ := apptest.Get(t, http.DefaultClient, s3.url("box1/live/cam/main_stream.m3u8"))
		return strings.Contains(pl, "#EXT-X-ENDLIST")
	})
	apptest.WaitFor(t, 20*time.Second, "the ended stream deleted", func() bool {
		return len(s3.keys("box1/live/")) == 0 && b.svc.LiveURL("cam") == ""
	})
}

var reExtinf = regexp.MustCompile(`#EXTINF:([0-9.]+),`)

// The S3 server stopped for 20 s loses nothing: the box says degraded and
// alerts, and once the server is back every title and every live segment
// made meanwhile arrives; then the box is healthy again.
func TestBucketDownLosesNothing(t *testing.T) {
	s3 := newS3(t)
	b := newBox(t, "", publishConfig(s3, "box1/"), func(c *config.HLS) {
		c.SegmentDuration = config.Duration(time.Second)
		c.SegmentCount = 40 // the window outlasts the outage
	})
	b.run()
	tracks, aus := readClip(t, 4)
	stop := b.goLive("cam", tracks, aus, 1)
	apptest.WaitFor(t, 20*time.Second, "the stream in the bucket", func() bool { return len(videoSegments(s3, "box1/live/cam/")) >= 1 })

	s3.stop()
	id := b.addTitle("pelis/During (2024).mkv")
	b.svc.TitleChanged(id)
	apptest.WaitFor(t, 20*time.Second, "degraded health", func() bool { return b.health.Status() == health.StatusDegraded })
	if a := b.alerts.all(); len(a) != 1 || !strings.HasPrefix(a[0], "publish_failed: ") {
		t.Errorf("alerts: %v", a)
	}
	time.Sleep(20 * time.Second)
	s3.start()

	apptest.WaitFor(t, 30*time.Second, "the title in the bucket", func() bool {
		rels, v := titleKeys(s3, "box1/", id)
		return v != "" && len(rels) == len(b.localFiles(id))
	})
	// every video segment from the first to the newest is there: none was
	// lost during the outage (about 20 were made)
	stop()
	apptest.WaitFor(t, 30*time.Second, "the stream's end in the bucket", func() bool {
		_, pl, _ := apptest.Get(t, http.DefaultClient, s3.url("box1/live/cam/main_stream.m3u8"))
		return strings.Contains(pl, "#EXT-X-ENDLIST")
	})
	segs := videoSegments(s3, "box1/live/cam/")
	if len(segs) < 10 || segs[0] != 0 || segs[len(segs)-1] != len(segs)-1 {
		t.Errorf("video segments in the bucket: %v", segs)
	}
	_, pl, _ := apptest.Get(t, http.DefaultClient, s3.url("box1/live/cam/main_stream.m3u8"))
	if n := strings.Count(pl, "#EXTINF"); n != len(segs) {
		t.Errorf("the playlist lists %d segments, the bucket has %d", n, len(segs))
	}
	total := 0.0
	for _, m := range reExtinf.FindAllStringSubmatch(pl, -1) {
		d, _ := strconv.ParseFloat(m[1], 64)
		total += d
	}
	if total < 21 { // about 1 s before the outage, 20 s of it, and after
		t.Errorf("the bucket's playlist holds %.1f s of the stream:\n%s", total, pl)
	}
	apptest.WaitFor(t, 10*time.Second, "healthy again", func() bool { return b.health.Status() == health.StatusOK })
}
