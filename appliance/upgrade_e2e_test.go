package appliance

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/apptest"
	"thecure/appliance/library"
	"thecure/appliance/store"
)

// TestUpgradeRepackagesOldTitles: the appliance started on the data dir of
// 0.1.0, whose title was packaged with media time from 2 s (its record has
// no packaging version, its duration is 2 s too long), re-packages it by
// itself: /api/jobs counts the job, the title stays ready while it runs,
// and afterwards ffprobe finds it starting at 0 with the source's duration
// (within one segment); a second start queues nothing.
func TestUpgradeRepackagesOldTitles(t *testing.T) {
	const secs = 4.0
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const rel = "pelis/Vieja (2020).mp4"
	id := library.ItemID(rel)
	src := filepath.Join(data, "media", filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", fmt.Sprint(secs), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-movflags", "+faststart", src)
	mtime := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(src, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	// 0.1.0's HLS: media time from 2 s
	hls := filepath.Join(data, "hls", id)
	if err := os.MkdirAll(filepath.Join(hls, "180p"), 0o755); err != nil {
		t.Fatal(err)
	}
	apptest.FFmpeg(t, "-i", src, "-c", "copy", "-output_ts_offset", "2", "-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(hls, "180p", "seg%03d.ts"), filepath.Join(hls, "180p", "index.m3u8"))
	master := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180,CODECS=\"avc1.64000d,mp4a.40.2\"\n180p/index.m3u8\n"
	if err := os.WriteFile(filepath.Join(hls, "index.m3u8"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	// 0.1.0's records: a ready title without "packaging", its job done
	st, err := store.Open(data, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf(`{"id":%q,"kind":"movie","title":"Vieja","state":"ready","hls":"/vod/%s/index.m3u8","duration":%g,"year":2020,`+
		`"source":%q,"source_size":%d,"source_mtime":%q,"method":"remux","variants":[{"name":"180p","width":320,"height":180,"bandwidth":400000,"average_bandwidth":300000,"codecs":["avc1.64000d","mp4a.40.2"],"segments":1}],"updated":%q}`,
		id, id, secs+2, rel, fi.Size(), mtime.Format(time.RFC3339Nano), mtime.Format(time.RFC3339Nano))
	job := fmt.Sprintf(`{"id":%q,"source":%q,"folder_kind":"movies","state":"done","seq":3,"method":"remux","progress":100,"attempts":1,"enqueued":%q,"finished":%q}`,
		id, rel, mtime.Format(time.RFC3339Nano), mtime.Format(time.RFC3339Nano))
	err = st.Update(func(tx *bolt.Tx) error {
		items, err := tx.CreateBucketIfNotExists([]byte("library_items"))
		if err != nil {
			return err
		}
		jobs, err := tx.CreateBucketIfNotExists([]byte("transcode_jobs"))
		if err != nil {
			return err
		}
		if err := jobs.SetSequence(3); err != nil {
			return err
		}
		if err := items.Put([]byte(id), []byte(rec)); err != nil {
			return err
		}
		return jobs.Put([]byte(id), []byte(job))
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	type apiJob struct {
		ID, State string
		Seq       uint64
		Repackage bool
	}
	type apiItem struct {
		ID, State, HLS string
		Duration       float64
		Packaging      int
	}
	cfg := writeConfigHTTP(t, dir, "", "")
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	base := "http://" + addr
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	var it apiItem
	var j apiJob
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var items []apiItem
		var jobs []apiJob
		// The jobs first: a job is marked done after its title is ready,
		// so a title read after a done job is the re-packaged one (read
		// the other way round, the job may finish in between).
		getJSON(t, base+"/api/jobs", &jobs)
		getJSON(t, base+"/api/library", &items)
		for _, i := range items {
			if i.ID == id {
				it = i
			}
		}
		for _, x := range jobs {
			if x.ID == id {
				j = x
			}
		}
		if it.State != "ready" {
			t.Fatalf("during the upgrade the title is %+v, want ready (playing its old packaging)", it)
		}
		if code, _, _ := apptest.Get(t, http.DefaultClient, base+it.HLS); code != 200 {
			t.Fatalf("during the upgrade GET %s = %d", it.HLS, code)
		}
		if j.State == "done" && j.Seq > 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not re-packaged after 2 minutes: title %+v, job %+v", it, j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !j.Repackage || it.Packaging != library.PackagingVersion {
		t.Errorf("after the upgrade: job %+v, title %+v", j, it)
	}
	if !strings.Contains(p.output(), "titles packaged by an older release are re-packaged") {
		t.Error("the log does not say the titles are re-packaged")
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=start_time,duration", "-of", "json", base+it.HLS).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var pr struct {
		Format struct {
			StartTime string `json:"start_time"`
			Duration  string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &pr); err != nil {
		t.Fatal(err)
	}
	st0, err1 := strconv.ParseFloat(pr.Format.StartTime, 64)
	dur, err2 := strconv.ParseFloat(pr.Format.Duration, 64)
	// one segment: the default segment_duration, 4 s
	if err1 != nil || err2 != nil || math.Abs(st0) > 0.05 || math.Abs(dur-secs) > 4 || math.Abs(it.Duration-secs) > 4 {
		t.Errorf("after the upgrade ffprobe says %s, /api/library duration %.3f; want start 0, duration %.0f s within a segment", out, it.Duration, secs)
	}
	t.Logf("after the upgrade: ffprobe start_time %s duration %s, /api/library duration %.3f", pr.Format.StartTime, pr.Format.Duration, it.Duration)

	// A second start queues nothing.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 30*time.Second)
	p = start(t, dir, "run", "-c", cfg)
	addr = waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	time.Sleep(time.Second)
	var jobs []apiJob
	getJSON(t, "http://"+addr+"/api/jobs", &jobs)
	if len(jobs) != 1 || jobs[0] != j {
		t.Errorf("after a second start the jobs are %+v, want only %+v", jobs, j)
	}
	if strings.Contains(p.output(), "re-packaged") {
		t.Errorf("a second start re-packages again:\n%s", p.output())
	}
}
