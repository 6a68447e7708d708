package transcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/store"
)

// env is a queue on a real store in a temp dir, with real ffmpeg.
type env struct {
	t        testing.TB
	quiet    bool
	cfg      *config.Config
	media    string
	st       *store.Store
	cat      *library.Catalogue
	q        *Queue
	health   *health.Registry
	cancel   context.CancelFunc
	done     chan error
	readRate float64
	alerts   alertLog
	changed  alertLog  // titles told to the Publisher
	logTo    io.Writer // also gets the queue's log, when set
}

func newEnv(t testing.TB, mutate func(*config.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Transcode.SegmentDuration = config.Duration(time.Second)
	cfg.Transcode.Preset = "veryfast" // not ultrafast: its Baseline output would look like a remux
	cfg.Transcode.Renditions = []config.Rendition{{Height: 240, VideoKbps: 400}, {Height: 180, VideoKbps: 250}}
	cfg.Transcode.Rescan = 0 // only at start, and take every file: clips are made just before
	if mutate != nil {
		mutate(cfg)
	}
	if probs := cfg.Validate(); len(probs) > 0 {
		t.Fatal(probs)
	}
	st, err := store.Open(filepath.Join(dir, "data"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, cfg: cfg, media: cfg.Path(cfg.Library.MediaDir), st: st}
	e.cat = library.New(st, cfg.Path(cfg.Library.HLSDir))
	e.build()
	return e
}

// build makes a new Queue on the same store and folders (a restart).
func (e *env) build() {
	e.health = health.NewRegistry()
	e.health.Set("transcode", health.Up, "")
	var w io.Writer = apptest.LogWriter(e.t)
	if e.quiet {
		w = io.Discard
	}
	if e.logTo != nil {
		w = io.MultiWriter(w, e.logTo)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.q = New(e.st, e.cat, log, e.health, prometheus.NewRegistry(), Options{
		MediaDir: e.media, Folders: e.cfg.FTP.Folders, Transcode: e.cfg.Transcode, Alerter: &e.alerts,
		Publisher: &e.changed,
	})
	e.q.readRate = e.readRate
}

func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.q.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Fatal("Run did not return 30s after cancel")
	}
	e.cancel = nil
}

// clip generates a media file at rel (inside the media dir) with ffmpeg.
func (e *env) clip(rel string, args ...string) string {
	e.t.Helper()
	dst := filepath.Join(e.media, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		e.t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(dst), ".tmp-"+filepath.Base(dst))
	apptest.FFmpeg(e.t, append(args, "-f", formatFor(dst), tmp)...)
	if err := os.Rename(tmp, dst); err != nil {
		e.t.Fatal(err)
	}
	return rel
}

func formatFor(p string) string {
	switch filepath.Ext(p) {
	case ".mkv":
		return "matroska"
	case ".mp3":
		return "mp3"
	case ".ts":
		return "mpegts"
	}
	return "mp4"
}

// Sources used by the tests: 2 s, tiny.
var (
	videoH264 = []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2"}
	audioSine = []string{"-f", "lavfi", "-i", "sine=frequency=440:duration=2"}
	h264Enc   = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25"}
)

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func (e *env) enqueue(rel string) string {
	e.t.Helper()
	if err := e.q.Enqueue(context.Background(), rel); err != nil {
		e.t.Fatal(err)
	}
	return library.ItemID(rel)
}

// waitItem polls the catalogue until item id reaches state.
func (e *env) waitItem(id, state string) library.Item {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var it library.Item
	for time.Now().Before(deadline) {
		var ok bool
		var err error
		it, ok, err = e.cat.Get(id)
		if err != nil {
			e.t.Fatal(err)
		}
		if ok && it.State == state && (state != library.StateReady || e.jobSettled(id)) {
			return it
		}
		if ok && state != library.StateFailed && it.State == library.StateFailed {
			e.t.Fatalf("item %s failed: %s", id, it.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("item %s: state %q after 90s, want %q (%+v)", id, it.State, state, it)
	return it
}

// jobSettled says whether item id's job is done (or gone): the title is
// marked ready just before its job is marked done.
func (e *env) jobSettled(id string) bool {
	j, ok, err := e.q.Job(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return !ok || j.State == Done
}

// probeOut is ffprobe's view of a published master playlist.
type probeOut struct {
	Format struct {
		Duration  string `json:"duration"`
		StartTime string `json:"start_time"`
	} `json:"format"`
	Streams []struct {
		CodecName string `json:"codec_name"`
		Profile   string `json:"profile"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
		StartTime string `json:"start_time"`
	} `json:"streams"`
}

func ffprobe(t testing.TB, path string) probeOut {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probeOut
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p probeOut) seconds() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

// start is the format's start_time (NaN when ffprobe gave none).
func (p probeOut) start() float64 {
	s, err := strconv.ParseFloat(p.Format.StartTime, 64)
	if err != nil {
		return math.NaN()
	}
	return s
}

func (e *env) master(id string) string {
	return filepath.Join(e.cat.Dir(id), library.MasterPlaylist)
}

func near(got, want, tol float64) bool { return got >= want-tol && got <= want+tol }

// waitDown waits until the transcode service is down with a reason that
// mentions detail.
func (e *env) waitDown(detail string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var s health.Service
		for _, sv := range e.health.Snapshot() {
			if sv.Name == "transcode" {
				s = sv
			}
		}
		if s.State == health.Down && strings.Contains(s.Detail, detail) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("health %+v, want down: %s", s, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRemuxH264AAC(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	rel := e.clip("pelis/Película del año (2024).mp4", cat(videoH264, audioSine, h264Enc, []string{"-c:a", "aac", "-shortest"})...)
	id := e.enqueue(rel)
	it := e.waitItem(id, library.StateReady)

	if it.Kind != library.KindMovie || it.Title != "Película del año" || it.Year != 2024 {
		t.Errorf("metadata %+v", it)
	}
	if it.Method != MethodRemux {
		t.Errorf("method %q, want remux", it.Method)
	}
	// no encode: the output keeps the source's baseline profile (our encodes are High)
	if len(it.Variants) != 1 || it.Variants[0].Height != 240 || !strings.HasPrefix(it.Variants[0].Codecs[0], "avc1.42") {
		t.Errorf("variants %+v, want one 240p variant with the source's baseline H.264", it.Variants)
	}
	if !near(it.Duration, 2, 0.2) || it.HLS != "/vod/"+id+"/index.m3u8" || it.Poster != "/vod/"+id+"/poster.jpg" {
		t.Errorf("item %+v", it)
	}
	p := ffprobe(t, e.master(id))
	if !near(p.seconds(), 2, 0.2) {
		t.Errorf("ffprobe duration %s, want 2", p.Format.Duration)
	}
	var codecs []string
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecName+"/"+s.Profile)
	}
	if strings.Join(codecs, ",") != "h264/Constrained Baseline,aac/LC" {
		t.Errorf("streams %v", codecs)
	}
	j, ok, _ := e.q.Job(id)
	if !ok || j.State != Done || j.Progress != 100 || j.Method != MethodRemux {
		t.Errorf("job %+v", j)
	}
	if _, err := os.Stat(filepath.Join(e.media, filepath.FromSlash(rel))); err != nil {
		t.Errorf("source must stay: %v", err)
	}

	// the HTTP side: playlists, Range, MIME types, no listings, API
	mux := http.NewServeMux()
	mux.Handle("GET /vod/{id}/{file...}", e.cat.VODHandler())
	admin := func(r *http.Request) bool { return r.Header.Get("X-Test-Admin") == "1" }
	mux.Handle("GET /api/library", e.cat.APIHandler(admin))
	mux.Handle("GET /api/jobs", e.q.JobsHandler(admin))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string, hdr ...string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := get(it.HLS); r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Errorf("master: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	r := get("/vod/"+id+"/240p/seg00001.m4s", "Range", "bytes=0-99")
	if b, _ := io.ReadAll(r.Body); r.StatusCode != 206 || len(b) != 100 || r.Header.Get("Content-Type") != "video/iso.segment" || r.Header.Get("Cache-Control") == "" {
		t.Errorf("range: %d, %d bytes, %q", r.StatusCode, len(b), r.Header.Get("Content-Type"))
	}
	for _, bad := range []string{"/vod/" + id + "/", "/vod/" + id + "/240p", "/vod/" + id + "/index.txt", "/vod/" + id + "/.staging/index.m3u8", "/vod/zzzz/index.m3u8"} {
		if r := get(bad); r.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", bad, r.StatusCode)
		}
	}
	if r := get(it.Poster); r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("poster: %d", r.StatusCode)
	}
	var items []map[string]any
	if err := json.NewDecoder(get("/api/library").Body).Decode(&items); err != nil || len(items) != 1 {
		t.Fatalf("api/library: %v %v", items, err)
	}
	for _, k := range []string{"id", "kind", "title", "state", "hls", "duration", "year", "poster"} {
		if _, ok := items[0][k]; !ok {
			t.Errorf("api/library item lacks %q: %v", k, items[0])
		}
	}
	var jobs []Job
	if err := json.NewDecoder(get("/api/jobs").Body).Decode(&jobs); err != nil || len(jobs) != 1 || jobs[0].State != Done {
		t.Errorf("api/jobs: %+v %v", jobs, err)
	}

	// a deleted source removes its title and its HLS
	if err := e.q.Remove(context.Background(), rel); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.cat.Get(id); ok {
		t.Error("title still in the catalogue after Remove")
	}
	if _, err := os.Stat(e.cat.Dir(id)); !os.IsNotExist(err) {
		t.Errorf("HLS still on disk after Remove: %v", err)
	}
}

func TestEncodeHEVCLadder(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	rel := e.clip("series/Show - 1x02.mkv", cat(videoH264, audioSine,
		[]string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", "-c:a", "libopus", "-shortest"})...)
	id := e.enqueue(rel)
	it := e.waitItem(id, library.StateReady)
	if it.Method != MethodEncode {
		t.Errorf("method %q, want encode", it.Method)
	}
	if it.Kind != library.KindEpisode || it.Show != "Show" || it.Season != 1 || it.Episode != 2 {
		t.Errorf("metadata %+v", it)
	}
	if len(it.Variants) != 2 || it.Variants[0].Height != 240 || it.Variants[1].Height != 180 {
		t.Fatalf("variants %+v, want 240p and 180p", it.Variants)
	}
	p := ffprobe(t, e.master(id))
	if !near(p.seconds(), 2, 0.2) {
		t.Errorf("duration %s", p.Format.Duration)
	}
	heights := map[int]bool{}
	for _, s := range p.Streams {
		if s.CodecName == "h264" {
			heights[s.Height] = true
			if s.Profile != "High" {
				t.Errorf("encoded profile %q, want High", s.Profile)
			}
		}
	}
	if !heights[240] || !heights[180] {
		t.Errorf("renditions by ffprobe: %v", heights)
	}
	// audio and video start together at 0: ffprobe reads the negative
	// composition offsets that put the first picture at 0 as a B-frame
	// delay on the video (2 frames at most here)
	for _, s := range p.Streams {
		if st, err := strconv.ParseFloat(s.StartTime, 64); err != nil || st < 0 || st > 0.085 {
			t.Errorf("stream start times: %+v, want from 0 to 0.085", p.Streams)
			break
		}
	}
	// keyframes aligned: both variants have the same segment durations
	pl := func(name string) string {
		b, err := os.ReadFile(filepath.Join(e.cat.Dir(id), name, "index.m3u8"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a, b := pl("240p"), pl("180p")
	if a != b || strings.Count(a, "#EXTINF") < 2 || !strings.Contains(a, "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(a, "#EXT-X-ENDLIST") {
		t.Errorf("media playlists differ or are not VOD:\n%s\n%s", a, b)
	}
	m, _ := os.ReadFile(e.master(id))
	for _, want := range []string{"BANDWIDTH=", "RESOLUTION=320x240", "CODECS=\"avc1.64", "mp4a.40.2"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("master lacks %q:\n%s", want, m)
		}
	}
}

func TestVideoWithoutAudioMPEGTS(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Transcode.SegmentFormat = config.SegmentMPEGTS })
	e.start()
	rel := e.clip("series/La Casa/Temporada 3/05 - El robo.mp4", cat(videoH264, h264Enc)...)
	id := e.enqueue(rel)
	it := e.waitItem(id, library.StateReady)
	if it.Show != "La Casa" || it.Season != 3 || it.Episode != 5 || it.Title != "El robo" {
		t.Errorf("metadata %+v", it)
	}
	if it.Method != MethodRemux || len(it.Variants) != 1 || len(it.Variants[0].Codecs) != 1 {
		t.Errorf("item %+v", it)
	}
	p := ffprobe(t, e.master(id))
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "h264" || !near(p.seconds(), 2, 0.2) {
		t.Errorf("ffprobe %+v", p)
	}
	if _, err := os.Stat(filepath.Join(e.cat.Dir(id), "240p", "seg00001.ts")); err != nil {
		t.Errorf("mpegts segment: %v", err)
	}
}

func TestMP3WithTags(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	rel := e.clip("musica/unknown.mp3", cat(audioSine, []string{"-c:a", "libmp3lame", "-b:a", "64k",
		"-metadata", "title=Canción de prueba", "-metadata", "artist=Los Tests", "-metadata", "album=Primer disco"})...)
	id := e.enqueue(rel)
	it := e.waitItem(id, library.StateReady)
	if it.Kind != library.KindTrack || it.Title != "Canción de prueba" || it.Artist != "Los Tests" || it.Album != "Primer disco" {
		t.Errorf("metadata %+v", it)
	}
	if it.Method != MethodEncode || len(it.Variants) != 1 || it.Variants[0].Name != "audio" || it.Poster != "" {
		t.Errorf("item %+v", it)
	}
	p := ffprobe(t, e.master(id))
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "aac" || !near(p.seconds(), 2, 0.2) {
		t.Errorf("ffprobe %+v", p)
	}

	// no tags, cover art: names from the folders, the cover as poster, no video in the HLS
	rel = e.clip("musica/Band/Album/02 - Cover song.mp3", cat(audioSine, []string{"-f", "lavfi", "-i", "testsrc=size=200x200:duration=0.04",
		"-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "mjpeg", "-frames:v", "1", "-disposition:v", "attached_pic", "-id3v2_version", "3"})...)
	id = e.enqueue(rel)
	it = e.waitItem(id, library.StateReady)
	if it.Title != "Cover song" || it.Artist != "Band" || it.Album != "Album" || it.Poster == "" {
		t.Errorf("item %+v", it)
	}
	if _, err := os.Stat(filepath.Join(e.cat.Dir(id), "poster.jpg")); err != nil {
		t.Errorf("cover poster: %v", err)
	}
	if p := ffprobe(t, e.master(id)); len(p.Streams) != 1 || p.Streams[0].CodecName != "aac" {
		t.Errorf("ffprobe %+v, want audio only", p)
	}
}

func TestCorruptSourceQuarantined(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	bad := "pelis/broken.mp4"
	if err := os.MkdirAll(filepath.Join(e.media, "pelis"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.media, "pelis", "broken.mp4"), []byte(strings.Repeat("not a video ", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	badID := e.enqueue(bad)
	good := e.clip("pelis/Good (2020).mp4", cat(videoH264, h264Enc)...)
	goodID := e.enqueue(good)

	it := e.waitItem(badID, library.StateFailed)
	if !strings.Contains(it.Error, "Invalid data") || !strings.Contains(it.Error, "admin/quarantine/pelis/broken.mp4") {
		t.Errorf("error %q, want ffprobe's reason and the quarantine path", it.Error)
	}
	if _, err := os.Stat(filepath.Join(e.media, "admin", "quarantine", "pelis", "broken.mp4")); err != nil {
		t.Errorf("source not in quarantine: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.media, "pelis", "broken.mp4")); !os.IsNotExist(err) {
		t.Errorf("source still in place: %v", err)
	}
	e.waitItem(goodID, library.StateReady)
	j, _, _ := e.q.Job(badID)
	if j.State != Failed || j.Error == "" {
		t.Errorf("job %+v", j)
	}
	if got := e.alerts.texts(); len(got) != 1 || !strings.HasPrefix(got[0], AlertFailed+": pelis/broken.mp4: ") {
		t.Errorf("alerts %q, want one naming the failed source", got)
	}
	// the Publisher is told of the failed title and of the ready one, then
	// of the removed one
	apptest.WaitFor(t, 10*time.Second, "both titles told to the Publisher", func() bool {
		got := e.changed.texts()
		return slices.Contains(got, badID) && slices.Contains(got, goodID)
	})
	if _, err := e.q.RemoveTitle(context.Background(), goodID); err != nil {
		t.Fatal(err)
	}
	if got := e.changed.texts(); len(got) != 3 || got[2] != goodID {
		t.Errorf("titles told to the Publisher after a removal: %q", got)
	}
}

// alertLog records the alerts a queue raises (the Alerter contract).
type alertLog struct {
	mu  sync.Mutex
	got []string
}

func (a *alertLog) Alert(_ context.Context, key string, args ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, strings.Join(append([]string{key}, args...), ": "))
}

// TitleChanged records a title told to the Publisher.
func (a *alertLog) TitleChanged(id string) { a.Alert(context.Background(), id) }

func (a *alertLog) texts() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.got...)
}

func TestRestartInTheMiddleOfAJob(t *testing.T) {
	e := newEnv(t, nil)
	e.readRate = 1 // realtime: the job takes about 6 s
	e.build()
	e.start()
	rel := e.clip("pelis/Long (2021).mkv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=6",
		"-c:v", "mpeg4", "-q:v", "5")
	id := e.enqueue(rel)
	deadline := time.Now().Add(60 * time.Second)
	for {
		jobs, err := e.q.Jobs()
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 1 && jobs[0].State == Running && jobs[0].Progress > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never ran: %+v", jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.stop()
	j, _, _ := e.q.Job(id)
	if j.State != Running {
		t.Fatalf("after shutdown the job is %q, want still running (to re-run)", j.State)
	}
	if out, _ := exec.Command("pgrep", "-f", "Long \\(2021\\)").Output(); len(out) > 0 {
		t.Errorf("ffmpeg still running after Run returned: pids %s", out)
	}
	if _, err := os.Stat(e.cat.Dir(id)); !os.IsNotExist(err) {
		t.Errorf("half-made HLS published: %v", err)
	}

	e.readRate = 0
	e.build()
	e.start()
	it := e.waitItem(id, library.StateReady)
	if !near(it.Duration, 6, 0.3) {
		t.Errorf("duration %.2f, want 6", it.Duration)
	}
	j, _, _ = e.q.Job(id)
	if j.Attempts != 2 || j.State != Done {
		t.Errorf("job %+v, want done at the second attempt", j)
	}
}

func TestStartupScanAndGoneSources(t *testing.T) {
	e := newEnv(t, nil)
	a := e.clip("pelis/A (2001).mp4", cat(videoH264, h264Enc)...)
	b := e.clip("series/Show.S01E02.mp4", cat(videoH264, h264Enc)...)
	e.clip("admin/notes.mp4", cat(videoH264, h264Enc)...) // a files folder: not processed
	e.start()
	e.waitItem(library.ItemID(a), library.StateReady)
	e.waitItem(library.ItemID(b), library.StateReady)
	items, _ := e.cat.List()
	if len(items) != 2 {
		t.Errorf("catalogue has %d items, want 2", len(items))
	}
	e.stop()

	// while stopped: one source deleted, one replaced
	if err := os.Remove(filepath.Join(e.media, "pelis", "A (2001).mp4")); err != nil {
		t.Fatal(err)
	}
	e.clip("series/Show.S01E02.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	e.build()
	e.start()
	deadline := time.Now().Add(90 * time.Second)
	for {
		itA, okA, _ := e.cat.Get(library.ItemID(a))
		itB, _, _ := e.cat.Get(library.ItemID(b))
		// A gone source never deletes its title: it is missing, saying what
		// and how to bring it back.
		if okA && itA.State == library.StateMissing && itB.State == library.StateReady && near(itB.Duration, 3, 0.2) {
			if !strings.Contains(itA.Missing, "no source") || !strings.Contains(itA.Missing, "pelis/A (2001).mp4") {
				t.Errorf("missing title says %q", itA.Missing)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart: A=%+v (present %v), B=%+v", itA, okA, itB)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The source comes back (same file): ready again at the next scan,
	// without a new job (its HLS is still there).
	e.stop()
	e.clip("pelis/A (2001).mp4", cat(videoH264, h264Enc)...)
	e.build()
	e.start()
	e.waitItem(library.ItemID(a), library.StateReady)
}

// A restored catalogue without media: every title is missing (source and
// HLS), none is deleted, and each returns once its files are back; a title
// whose HLS alone is gone is made again from its source.
func TestMissingFilesKeepTheCatalogue(t *testing.T) {
	e := newEnv(t, nil)
	a := e.clip("pelis/A (2001).mp4", cat(videoH264, h264Enc)...)
	b := e.clip("musica/Artist/Album/01 - Song.mp3", cat(audioSine, []string{"-c:a", "libmp3lame"})...)
	e.start()
	idA, idB := library.ItemID(a), library.ItemID(b)
	e.waitItem(idA, library.StateReady)
	e.waitItem(idB, library.StateReady)
	e.stop()
	keep := t.TempDir()
	for _, d := range []string{e.media, e.cat.HLSDir()} {
		if err := os.Rename(d, filepath.Join(keep, filepath.Base(d))); err != nil {
			t.Fatal(err)
		}
	}
	e.build()
	e.start()
	for _, id := range []string{idA, idB} {
		it := e.waitItem(id, library.StateMissing)
		if !strings.Contains(it.Missing, "no source, no HLS output") {
			t.Errorf("%s missing: %q", id, it.Missing)
		}
	}
	e.stop()
	// Back: the media and HLS trees copied in again.
	for _, d := range []string{e.media, e.cat.HLSDir()} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(keep, filepath.Base(d)), d); err != nil {
			t.Fatal(err)
		}
	}
	// And one title's HLS alone lost: made again from its source.
	if err := os.RemoveAll(e.cat.Dir(idB)); err != nil {
		t.Fatal(err)
	}
	e.build()
	e.start()
	e.waitItem(idA, library.StateReady)
	if j, ok, _ := e.q.Job(idA); ok && j.Attempts != 1 {
		t.Errorf("title A processed again although its HLS was back: %+v", j)
	}
	e.waitItem(idB, library.StateReady)
	if _, err := os.Stat(e.master(idB)); err != nil {
		t.Errorf("HLS of B not made again: %v", err)
	}
}

// An upload cut short (curl -m): the container declares more than can be
// read. It fails as truncated, is not published, stays in place for a
// resume, and the whole file (the resumed upload) is published.
func TestTruncatedSourceNotPublished(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	for _, name := range []string{"pelis/Cut (2020).mkv", "pelis/Cut (2021).mp4"} {
		args := cat([]string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=12"}, audioSine[:3], []string{"sine=frequency=440:duration=12"}, h264Enc, []string{"-c:a", "aac"})
		if strings.HasSuffix(name, ".mp4") {
			args = append(args, "-movflags", "+faststart")
		}
		rel := e.clip(name, args...)
		full, err := os.ReadFile(filepath.Join(e.media, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.media, rel), full[:len(full)*4/10], 0o644); err != nil {
			t.Fatal(err)
		}
		id := e.enqueue(rel)
		it := e.waitItem(id, library.StateFailed)
		if !strings.HasPrefix(it.Error, "truncated: the file declares 12.") || !strings.Contains(it.Error, "Resume it") {
			t.Errorf("%s: error %q, want truncated with a resume hint", name, it.Error)
		}
		if it.HLS != "" || e.cat.HasHLS(id) {
			t.Errorf("%s: a truncated upload was published", name)
		}
		if _, err := os.Stat(filepath.Join(e.media, rel)); err != nil {
			t.Errorf("%s: a truncated upload left its place (a resume needs it): %v", name, err)
		}
		// The resume completes the file.
		if err := os.WriteFile(filepath.Join(e.media, rel), full, 0o644); err != nil {
			t.Fatal(err)
		}
		e.enqueue(rel)
		it = e.waitItem(id, library.StateReady)
		if !near(it.Duration, 12, 1) {
			t.Errorf("%s: duration %.2f after the resume, want 12", name, it.Duration)
		}
	}
}

// A failed title goes when its quarantined file is deleted; a tree deeper
// than PATH_MAX is skipped and reported once, and the rest is scanned.
func TestQuarantineDeleteAndDeepPaths(t *testing.T) {
	e := newEnv(t, nil)
	var logs apptest.SyncBuffer
	e.q.log = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, apptest.LogWriter(t)), nil))
	if err := os.MkdirAll(filepath.Join(e.media, "pelis"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"broken.mp4", "broken2.mp4", "broken3.mp4"} {
		if err := os.WriteFile(filepath.Join(e.media, "pelis", n), []byte(strings.Repeat("junk ", 300)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 16 nested 255-byte names, made through an os.Root (the path is too
	// long for one system call), with a film at the bottom.
	root, err := os.OpenRoot(e.media)
	if err != nil {
		t.Fatal(err)
	}
	deep := "pelis"
	for i := range 16 {
		deep += "/" + strings.Repeat(string(rune('a'+i)), 255)
	}
	if err := root.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := root.WriteFile(deep+"/Deep (2000).mp4", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	root.Close()
	good := e.clip("pelis/Good (2020).mp4", cat(videoH264, h264Enc)...)
	e.start()
	e.waitItem(library.ItemID(good), library.StateReady)
	badID := library.ItemID("pelis/broken.mp4")
	it := e.waitItem(badID, library.StateFailed)
	if it.Quarantined != "admin/quarantine/pelis/broken.mp4" {
		t.Fatalf("quarantined = %q", it.Quarantined)
	}
	for range 2 {
		if err := e.q.scan(context.Background(), 0); err != nil {
			t.Fatalf("scan with a tree deeper than PATH_MAX: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "the media scan skips a path"); n != 1 {
		t.Errorf("the deep path was reported %d times over three scans, want once:\n%s", n, logs.String())
	}
	// Told of the deletion (an FTP DELE), the title goes at once; found
	// by the scan otherwise.
	if err := e.q.Remove(context.Background(), "admin/quarantine/pelis/other.mp4"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.cat.Get(badID); !ok {
		t.Fatal("removing another quarantined file removed this failed title")
	}
	if err := os.Remove(filepath.Join(e.media, "admin", "quarantine", "pelis", "broken.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Remove(context.Background(), "admin/quarantine/pelis/broken.mp4"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.cat.Get(badID); ok {
		t.Error("failed title still listed after its quarantined file was deleted")
	}
	if _, ok, _ := e.q.Job(badID); ok {
		t.Error("failed job still listed after its quarantined file was deleted")
	}
	bad2 := library.ItemID("pelis/broken2.mp4")
	e.waitItem(bad2, library.StateFailed)
	if err := os.Remove(filepath.Join(e.media, "admin", "quarantine", "pelis", "broken2.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := e.q.scan(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.cat.Get(bad2); ok {
		t.Error("failed title still listed after the scan found its quarantined file deleted")
	}
	// The admin's removal (thecure library rm): record, job and quarantined file.
	bad3 := library.ItemID("pelis/broken3.mp4")
	e.waitItem(bad3, library.StateFailed)
	if _, err := e.q.RemoveTitle(context.Background(), bad3); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.cat.Get(bad3); ok {
		t.Error("failed title still listed after RemoveTitle")
	}
	if _, err := os.Stat(filepath.Join(e.media, "admin", "quarantine", "pelis", "broken3.mp4")); !os.IsNotExist(err) {
		t.Errorf("RemoveTitle kept the quarantined file: %v", err)
	}
	if _, err := e.q.RemoveTitle(context.Background(), bad3); !errors.Is(err, ErrNoTitle) {
		t.Errorf("removing it again: %v", err)
	}
}

// killFFmpeg sends SIGKILL to every transcoding ffmpeg child of this test
// process (the one writing to -progress pipe:3, not the poster's) whose
// command line names source, once per process; it reports how many it
// killed so far through the returned function, and stops with the test.
func killFFmpeg(t *testing.T, source string, limit int) func() int {
	var mu sync.Mutex
	killed := map[int]bool{}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ents, err := os.ReadDir("/proc")
			if err != nil {
				continue
			}
			for _, d := range ents {
				pid, err := strconv.Atoi(d.Name())
				if err != nil {
					continue
				}
				stat, err1 := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				cmdline, err2 := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				if err1 != nil || err2 != nil {
					continue
				}
				i := bytes.LastIndexByte(stat, ')')
				if i < 0 || i+2 > len(stat) {
					continue
				}
				f := strings.Fields(string(stat[i+2:]))
				if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
					continue
				}
				args := strings.Split(string(cmdline), "\x00")
				if filepath.Base(args[0]) != "ffmpeg" || !slices.Contains(args, "pipe:3") || !strings.Contains(string(cmdline), source) {
					continue
				}
				mu.Lock()
				if !killed[pid] && len(killed) < limit && syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed[pid] = true
				}
				mu.Unlock()
			}
		}
	}()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(killed)
	}
}

// TestFFmpegCrashRetried: ffmpeg killed by a signal in the middle of an
// encode is not the source's fault: the job runs again and the title is
// published whole, the source staying in place.
func TestFFmpegCrashRetried(t *testing.T) {
	e := newEnv(t, nil)
	e.readRate = 1 // realtime: about 4 s, time enough to be killed
	e.build()
	e.start()
	rel := e.clip("pelis/Crashy (2022).mkv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4",
		"-c:v", "mpeg4", "-q:v", "5")
	kills := killFFmpeg(t, "Crashy (2022)", 1)
	id := e.enqueue(rel)
	it := e.waitItem(id, library.StateReady)
	if kills() != 1 {
		t.Fatalf("ffmpeg was killed %d times, want 1", kills())
	}
	if !near(it.Duration, 4, 0.3) {
		t.Errorf("duration %.2f, want 4", it.Duration)
	}
	if p := ffprobe(t, e.master(id)); !near(p.seconds(), 4, 0.3) {
		t.Errorf("published HLS lasts %s, want 4 s", p.Format.Duration)
	}
	j, _, _ := e.q.Job(id)
	if j.Attempts != 2 || j.Crashes != 1 || j.State != Done || j.Error != "" {
		t.Errorf("job %+v, want done at the second attempt, one crash counted", j)
	}
	if _, err := os.Stat(filepath.Join(e.media, filepath.FromSlash(rel))); err != nil {
		t.Errorf("the source must stay in place: %v", err)
	}
}

// TestFFmpegCrashEveryTime: a source that crashes ffmpeg at every attempt
// fails at the maxCrashes-th crash, with the reason, and goes to quarantine.
func TestFFmpegCrashEveryTime(t *testing.T) {
	e := newEnv(t, nil)
	e.readRate = 1
	e.build()
	e.start()
	rel := e.clip("pelis/Cursed (2023).mkv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4",
		"-c:v", "mpeg4", "-q:v", "5")
	kills := killFFmpeg(t, "Cursed (2023)", 100)
	id := e.enqueue(rel)
	it := e.waitItem(id, library.StateFailed)
	if kills() != maxCrashes {
		t.Errorf("ffmpeg was killed %d times, want %d", kills(), maxCrashes)
	}
	if !strings.Contains(it.Error, fmt.Sprintf("ffmpeg crashed on this source %d times", maxCrashes)) || !strings.Contains(it.Error, "killed") {
		t.Errorf("reason %q", it.Error)
	}
	j, _, _ := e.q.Job(id)
	if j.Attempts != maxCrashes || j.Crashes != maxCrashes-1 || j.State != Failed {
		t.Errorf("job %+v, want failed at the %d-th crash", j, maxCrashes)
	}
	if _, err := os.Stat(filepath.Join(e.media, filepath.FromSlash(rel))); !os.IsNotExist(err) {
		t.Errorf("the source should be in quarantine: %v", err)
	}
}
