package transcode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/apptest"
	"thecure/appliance/library"
)

// lockedBuffer is a log sink read while the queue writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// oldTitle puts in the store and on disk a ready title as 0.1.0 left it:
// its record without a packaging version (duration 2 s too long), a done
// job, and HLS whose media time starts at 2 s (ffmpeg's HLS muxer with
// -output_ts_offset 2), one variant per encode (name, ffmpeg's options).
func (e *env) oldTitle(rel, method string, secs float64, variants map[string][]string) string {
	e.t.Helper()
	id := library.ItemID(rel)
	src := filepath.Join(e.media, filepath.FromSlash(rel))
	dir := e.cat.Dir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	var master strings.Builder
	master.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	var vinfo []map[string]any
	for name, enc := range variants {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			e.t.Fatal(err)
		}
		apptest.FFmpeg(e.t, cat([]string{"-i", src}, enc, []string{"-output_ts_offset", "2",
			"-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
			"-hls_segment_filename", filepath.Join(dir, name, "seg%03d.ts"), filepath.Join(dir, name, "index.m3u8")})...)
		fmt.Fprintf(&master, "#EXT-X-STREAM-INF:BANDWIDTH=500000,CODECS=\"avc1.42c00d,mp4a.40.2\"\n%s/index.m3u8\n", name)
		vinfo = append(vinfo, map[string]any{"name": name, "bandwidth": 500000, "average_bandwidth": 400000,
			"codecs": []string{"avc1.42c00d", "mp4a.40.2"}, "segments": int(secs)})
	}
	if err := os.WriteFile(filepath.Join(dir, library.MasterPlaylist), []byte(master.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if len(variants) == 0 { // a title whose source is gone: its HLS stays
		if err := os.WriteFile(filepath.Join(dir, library.MasterPlaylist), []byte("#EXTM3U\n"), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	var size int64
	mtime := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	if fi, err := os.Stat(src); err == nil {
		if err := os.Chtimes(src, mtime, mtime); err != nil {
			e.t.Fatal(err)
		}
		size = fi.Size()
	}
	// the record as 0.1.0 wrote it: no "packaging" key
	rec := map[string]any{"id": id, "kind": "movie", "title": strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel)),
		"state": "ready", "hls": "/vod/" + id + "/index.m3u8", "duration": secs + 2, "source": rel,
		"source_size": size, "source_mtime": mtime, "method": method, "variants": vinfo, "updated": mtime}
	job := map[string]any{"id": id, "source": rel, "folder_kind": "movies", "state": "done", "seq": 1, "method": method,
		"progress": 100, "attempts": 1, "enqueued": mtime, "finished": mtime}
	err := e.st.Update(func(tx *bolt.Tx) error {
		for bucket, v := range map[string]map[string]any{"library_items": rec, "transcode_jobs": job} {
			b, err := tx.CreateBucketIfNotExists([]byte(bucket))
			if err != nil {
				return err
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if bucket == "transcode_jobs" && b.Sequence() < 10 {
				// as 0.1.0's queue numbered its jobs
				if err := b.SetSequence(10); err != nil {
					return err
				}
			}
			if err := b.Put([]byte(id), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// startTimes is ffprobe's start_time of every stream of a playlist.
func startTimes(t *testing.T, playlist string) []float64 {
	t.Helper()
	var out []float64
	for _, s := range ffprobe(t, playlist).Streams {
		var f float64
		if _, err := fmt.Sscanf(s.StartTime, "%g", &f); err != nil {
			t.Fatalf("ffprobe %s: start_time %q", playlist, s.StartTime)
		}
		out = append(out, f)
	}
	return out
}

// TestRepackageOldTitles: the upgrade from 0.1.0. Titles packaged by it
// (media time from 2 s, durations 2 s too long, no packaging version in
// their records) are re-packaged at start through the durable queue,
// counted in its jobs: a remux from its source, an encoded one by copying
// its packaged renditions (nothing encoded again). They stay ready and
// playable meanwhile, a stop in the middle resumes without queueing twice,
// a title whose source is gone is left as it is and reported, and a second
// start queues nothing.
func TestRepackageOldTitles(t *testing.T) {
	e := newEnv(t, nil)
	logs := &lockedBuffer{}
	e.logTo = logs
	const secs = 4.0
	remux := e.clip("pelis/Old Remux (2020).mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
		"-g", "25", "-c:a", "aac", "-shortest")
	encoded := e.clip("pelis/Old Encoded (2019).mkv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:v", "mpeg4", "-q:v", "5", "-c:a", "aac", "-shortest")
	idRemux := e.oldTitle(remux, MethodRemux, secs, map[string][]string{"240p": {"-c", "copy"}})
	// Baseline: what thecure encodes is High, so a Baseline rendition
	// afterwards was copied, not encoded again.
	x264 := func(h string) []string {
		return []string{"-map", "0:v:0", "-map", "0:a:0", "-vf", "scale=-2:" + h, "-c:v", "libx264", "-preset", "ultrafast",
			"-profile:v", "baseline", "-force_key_frames", "expr:gte(t,n_forced*1)", "-c:a", "copy"}
	}
	idEnc := e.oldTitle(encoded, MethodEncode, secs, map[string][]string{"240p": x264("240"), "180p": x264("180")})
	idGone := e.oldTitle("pelis/Gone (2018).mp4", MethodRemux, secs, nil)
	for _, id := range []string{idRemux, idEnc} {
		if st := startTimes(t, e.master(id)); len(st) == 0 || st[0] < 1.9 {
			t.Fatalf("the old title %s starts at %v, want 2 s (the test's premise)", id, st)
		}
	}

	// First start, slowed to real time: stopped in the middle of a job.
	e.readRate = 1
	e.build()
	e.start()
	var first map[string]Job
	deadline := time.Now().Add(60 * time.Second)
	for {
		jobs, err := e.q.Jobs()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{idRemux, idEnc} {
			if it, _, _ := e.cat.Get(id); it.State != library.StateReady || !e.cat.HasHLS(id) {
				t.Fatalf("title %s at the first start: state %q, HLS on disk %v", id, it.State, e.cat.HasHLS(id))
			}
		}
		first = map[string]Job{}
		running := false
		for _, j := range jobs {
			first[j.ID] = j
			running = running || (j.State == Running && j.Progress > 0)
		}
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no re-packaging job ran: %+v", jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, id := range []string{idRemux, idEnc} {
		if j := first[id]; !j.Repackage || j.Seq <= 10 || (j.State != Pending && j.State != Running) {
			t.Errorf("job of %s at the first start = %+v, want a queued re-packaging", id, j)
		}
	}
	if j, ok := first[idGone]; ok && j.Repackage {
		t.Errorf("a title whose source is gone was queued: %+v", j)
	}
	if !strings.Contains(logs.String(), "its source is gone") || !strings.Contains(logs.String(), "Gone (2018).mp4") {
		t.Errorf("the title whose source is gone is not reported; log:\n%s", logs.String())
	}
	e.stop()

	// Second start: the stop resumes, nothing queued twice; the titles
	// stay ready with HLS on disk all along.
	e.readRate = 0
	e.build()
	e.start()
	for {
		done := 0
		for _, id := range []string{idRemux, idEnc} {
			it, _, err := e.cat.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if it.State != library.StateReady || !e.cat.HasHLS(id) {
				t.Fatalf("title %s during the upgrade: state %q, HLS on disk %v", id, it.State, e.cat.HasHLS(id))
			}
			if it.Packaging == library.PackagingVersion && e.jobSettled(id) {
				done++
			}
		}
		if done == 2 {
			break
		}
		if time.Now().After(deadline.Add(60 * time.Second)) {
			jobs, _ := e.q.Jobs()
			t.Fatalf("not re-packaged: %+v", jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, id := range []string{idRemux, idEnc} {
		j, _, _ := e.q.Job(id)
		if j.Seq != first[id].Seq || j.State != Done || !j.Repackage {
			t.Errorf("job of %s after the restart = %+v, want the same one (seq %d) done", id, j, first[id].Seq)
		}
		it, _, _ := e.cat.Get(id)
		p := ffprobe(t, e.master(id))
		// ffprobe shows the B-frame delay (2 frames) on fMP4 video's
		// start, where browsers show the first picture at 0 (see
		// library.TestPackageStartsAtZero); the title starts at 0
		starts := startTimes(t, e.master(id))
		if !near(p.start(), 0, 0.05) {
			t.Errorf("title %s: start_time %.3f (streams %.3f), want within 0.05 s of 0", id, p.start(), starts)
		}
		for _, st := range starts {
			if st < -0.005 || st > 2.0/25+0.005 {
				t.Errorf("title %s: stream start_time %.3f, want within 2 frames of 0", id, st)
			}
		}
		// within one segment (1 s here) of the source
		if !near(p.seconds(), secs, 1) || !near(it.Duration, secs, 1) {
			t.Errorf("title %s: ffprobe duration %.3f, catalogue %.3f, want %.1f within a segment", id, p.seconds(), it.Duration, secs)
		}
	}
	enc, _, _ := e.cat.Get(idEnc)
	if enc.Method != MethodEncode || len(enc.Variants) != 2 {
		t.Errorf("encoded title after re-packaging: method %q, variants %+v", enc.Method, enc.Variants)
	}
	for _, v := range []string{"240p", "180p"} {
		p := ffprobe(t, filepath.Join(e.cat.Dir(idEnc), v, library.MasterPlaylist))
		if len(p.Streams) == 0 || p.Streams[0].Profile != "Constrained Baseline" {
			t.Errorf("encoded title's %s after re-packaging: %+v, want the old Baseline rendition copied", v, p.Streams)
		}
	}
	if gone, _, _ := e.cat.Get(idGone); gone.Packaging != 0 || !e.cat.HasHLS(idGone) {
		t.Errorf("the title whose source is gone was changed: %+v", gone)
	}
	e.stop()

	// Third start: nothing to do.
	before, err := e.q.Jobs()
	if err != nil {
		t.Fatal(err)
	}
	mark := len(logs.String())
	e.build()
	if err := e.q.queueRepackaging(); err != nil {
		t.Fatal(err)
	}
	after, err := e.q.Jobs()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("a second start changed the jobs:\n%+v\n%+v", before, after)
	}
	if strings.Contains(logs.String()[mark:], "are re-packaged") {
		t.Errorf("a second start queued titles again: %s", logs.String()[mark:])
	}
}
