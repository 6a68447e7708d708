package channels

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/transcode"
)

// TestNormalisedTitleJoins runs the real transcode queue over three
// uploads: two H.264/AAC ones of the profile's size (remuxed) and an HEVC
// one in 4:3 without sound (encoded to the ladder at another width). The HEVC title
// stays out of the channel until its rendition of the profile's size is
// made, once, by a job of the queue; then it airs, and players (RTMP and
// LL-HLS) go through the joins, where the H.264 parameters change, without
// a decode error.
func TestNormalisedTitleJoins(t *testing.T) {
	tb := newTestbedHLS(t, config.HLSLowLatency)
	media := filepath.Join(tb.dir, "media")
	if err := os.MkdirAll(filepath.Join(media, "pelis"), 0o755); err != nil {
		t.Fatal(err)
	}
	clip := func(name, vcodec string, w int, extra ...string) {
		args := []string{"-f", "lavfi", "-i", "testsrc2=size=" + itoa(w) + "x360:rate=25:duration=3",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3", "-ac", "2",
			"-c:v", vcodec, "-pix_fmt", "yuv420p", "-g", "12", "-c:a", "aac"}
		args = append(args, extra...)
		apptest.FFmpeg(t, append(args, filepath.Join(media, "pelis", name))...)
	}
	clip("a.mp4", "libx264", 640, "-preset", "veryfast")
	clip("b.mp4", "libx264", 640, "-preset", "veryfast")
	// HEVC, 4:3 and silent: normalised to 640x360 with a silent audio track
	clip("c.mp4", "libx265", 480, "-tag:v", "hvc1", "-x265-params", "log-level=error:keyint=12", "-an")

	tc := config.Default().Transcode
	tc.SegmentDuration = config.Duration(time.Second)
	tc.Preset = "ultrafast"
	tc.Rescan = 0
	tc.Renditions = []config.Rendition{{Height: 360, VideoKbps: 600}}
	q := transcode.New(tb.st, tb.cat, tb.log.With("svc", "transcode"), tb.health, prometheus.NewRegistry(), transcode.Options{
		MediaDir: media, Folders: config.Default().FTP.Folders, Transcode: tc})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	ch := testChannel()
	svc := New(tb.st, tb.cat, testOutput{tb.srv}, tb.log.With("svc", "channels"), tb.health, Options{
		Channels: []config.Channel{ch}, Dir: filepath.Join(tb.dir, "channels"), FFmpeg: "ffmpeg", Alerter: tb.alerts, Normaliser: q})
	tb.srv.Reserve(svc.Names()...)
	p := &plays{now: time.Now}
	svc.onPlay = p.hook
	runService(t, svc)

	c := "pelis/c.mp4"
	cid := ""
	apptest.WaitFor(t, 90*time.Second, "the HEVC title normalised and in the programme", func() bool {
		now := time.Now()
		for _, e := range svc.Programme("tv", now, now.Add(time.Minute)) {
			if e.Title == "c" {
				cid = e.TitleID
				return true
			}
		}
		return false
	})
	it, _, err := tb.cat.Get(cid)
	if err != nil || it.Source != c || it.Variants[0].Width != 480 {
		t.Fatalf("title c: %+v %v", it, err)
	}
	var jobs []transcode.Job
	apptest.WaitFor(t, 10*time.Second, "the normalisation job done", func() bool {
		jobs, err = q.Jobs()
		for _, j := range jobs {
			if j.Method == transcode.MethodNormalise && j.State == transcode.Running {
				return false
			}
		}
		return err == nil
	})
	n := 0
	for _, j := range jobs {
		if j.Method == transcode.MethodNormalise {
			n++
			if j.Title != cid || j.State != transcode.Done || j.Width != 640 || j.Height != 360 {
				t.Errorf("normalisation job %+v", j)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d normalisation jobs, want 1: %+v", n, jobs)
	}
	seg := filepath.Join(tb.cat.Dir(cid), q.NormalisedName(640, 360), "seg00001.m4s")
	init := filepath.Join(tb.cat.Dir(cid), q.NormalisedName(640, 360), "init.mp4")
	joined := filepath.Join(tb.dir, "joined.mp4")
	b1, err1 := os.ReadFile(init)
	b2, err2 := os.ReadFile(seg)
	if err1 != nil || err2 != nil || os.WriteFile(joined, append(b1, b2...), 0o644) != nil {
		t.Fatalf("normalised rendition: %v %v", err1, err2)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=codec_name,width,height",
		"-of", "csv=p=0", joined).Output()
	if err != nil || strings.TrimSpace(string(out)) != "h264,640,360" {
		t.Errorf("normalised rendition: %q %v", out, err)
	}
	out, err = exec.Command("ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=codec_name,sample_rate,channels",
		"-of", "csv=p=0", joined).Output()
	if err != nil || strings.TrimSpace(string(out)) != "aac,48000,2" {
		t.Errorf("normalised rendition's audio: %q %v", out, err)
	}

	// a player through the join into c and out of it
	apptest.WaitFor(t, 30*time.Second, "c about to air", func() bool {
		for _, x := range p.get() {
			if x.e.TitleID == cid {
				return true
			}
		}
		now := time.Now()
		prog := svc.Programme("tv", now, now.Add(2*time.Second))
		return len(prog) > 1 && prog[1].TitleID == cid
	})
	rec, hrec := filepath.Join(tb.dir, "rtmp.ts"), filepath.Join(tb.dir, "hls.ts")
	var errs, herrs string
	var wg sync.WaitGroup
	wg.Go(func() { errs, _, _ = record(t, "rtmp://"+tb.rtmpAddr+"/live/tv", rec, 6*time.Second) })
	wg.Go(func() { herrs, _, _ = record(t, tb.httpURL+"/live/tv/index.m3u8", hrec, 8*time.Second) })
	wg.Wait()
	if strings.TrimSpace(errs+herrs) != "" {
		t.Errorf("ffmpeg errors:\nrtmp: %s\nhls: %s", errs, herrs)
	}
	checkTimeline(t, "rtmp", packets(t, rec), 0.2)
	checkTimeline(t, "hls", packets(t, hrec), 0.2)
	aired := false
	for _, x := range p.get() {
		aired = aired || x.e.TitleID == cid
	}
	if !aired {
		t.Errorf("c did not air: %+v", p.get())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
