package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/ffmpeg"
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/live"
	"thecure/appliance/live/livetest"
	"thecure/appliance/publish"
	"thecure/appliance/store"
)

const bucket = "cdn"

// s3Server is gofakes3 on a loopback port that can be stopped and started
// again on the same address, its objects kept.
type s3Server struct {
	t    testing.TB
	addr string
	be   *s3mem.Backend

	mu       sync.Mutex
	srv      *http.Server
	puts     int           // PUT requests served
	inflight int           // PUT requests being served
	most     int           // the most PUT requests served at once
	delay    time.Duration // added to every PUT (a slow server)
}

// mostAtOnce is the most PUT requests the server served at once.
func (s *s3Server) mostAtOnce() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

func (s *s3Server) slow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// putCount is how many PUT requests the server has served.
func (s *s3Server) putCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

func newS3(t testing.TB) *s3Server {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &s3Server{t: t, addr: ln.Addr().String(), be: be}
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *s3Server) serve(ln net.Listener) {
	h := gofakes3.New(s.be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			s.mu.Lock()
			s.puts++
			s.inflight++
			s.most = max(s.most, s.inflight)
			d := s.delay
			s.mu.Unlock()
			defer func() {
				s.mu.Lock()
				s.inflight--
				s.mu.Unlock()
			}()
			time.Sleep(d)
		}
		h.ServeHTTP(w, r)
	})}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.t.Errorf("s3 server: %v", err)
		}
	}()
}

// stop closes the server and every connection to it.
func (s *s3Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

// start serves again on the same address.
func (s *s3Server) start() {
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

// url is where a key of the bucket is read over plain HTTP (path style).
func (s *s3Server) url(key string) string { return "http://" + s.addr + "/" + bucket + "/" + key }

// keys lists the bucket's keys under prefix, sorted.
func (s *s3Server) keys(prefix string) []string {
	s.t.Helper()
	res, err := s.be.ListBucket(bucket, &gofakes3.Prefix{HasPrefix: true, Prefix: prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, o := range res.Contents {
		out = append(out, o.Key)
	}
	sort.Strings(out)
	return out
}

func (s *s3Server) put(key, body string) {
	s.t.Helper()
	if _, err := s.be.PutObject(bucket, key, map[string]string{"Content-Type": "text/plain"},
		strings.NewReader(body), int64(len(body)), nil); err != nil {
		s.t.Fatal(err)
	}
}

func (s *s3Server) delete(key string) {
	s.t.Helper()
	if _, err := s.be.DeleteObject(bucket, key); err != nil {
		s.t.Fatal(err)
	}
}

// cdn is a plain net/http proxy in front of the bucket's prefix, standing
// in for a CDN: GET /X is GET bucket/prefix/X, headers passed on.
func cdn(t testing.TB, s3 *s3Server, prefix string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(s3.url(prefix + strings.TrimPrefix(r.URL.Path, "/")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "ETag", "Last-Modified"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// box is one appliance's publishing side: store, catalogue, live hub and
// the service, run until the test ends or stop.
type box struct {
	t      testing.TB
	dir    string
	st     *store.Store
	cat    *library.Catalogue
	hub    *live.Hub
	svc    *publish.Service
	cfg    config.PublishS3
	health *health.Registry
	alerts *alerts
	cancel context.CancelFunc
	done   chan error
}

// alerts records the alerts raised.
type alerts struct {
	mu   sync.Mutex
	list []string
}

func (a *alerts) Alert(_ context.Context, key string, args ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, key+": "+strings.Join(args, ", "))
}

func (a *alerts) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.list...)
}

func publishConfig(s3 *s3Server, prefix string) config.PublishS3 {
	c := config.Default().Publish.S3
	c.Endpoint, c.Bucket, c.Prefix = s3.addr, bucket, prefix
	c.AccessKey, c.SecretKey, c.PathStyle, c.UseTLS = "AKIDTEST", "secret", true, false
	c.PublicURL = "https://cdn.example.com/" + prefix
	return c
}

// newBox opens a store in dir (a new one when "") and builds the service.
func newBox(t testing.TB, dir string, cfg config.PublishS3, hls func(*config.HLS)) *box {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(filepath.Join(dir, "data"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b := &box{t: t, dir: dir, st: st, cfg: cfg, health: health.NewRegistry(), alerts: &alerts{}}
	b.cat = library.New(st, filepath.Join(dir, "hls"))
	log := slog.New(slog.NewTextHandler(apptest.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	b.svc, err = publish.New(st, b.cat, log, prometheus.NewRegistry(), publish.Options{
		Config:    cfg,
		Health:    func(s health.State, d string) { b.health.Set("publish", s, d) },
		Alerter:   b.alerts,
		LiveGrace: 2 * time.Second,
		RetryMin:  100 * time.Millisecond,
		RetryMax:  time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	hc := config.Default().HLS
	if hls != nil {
		hls(&hc)
	}
	b.hub = live.NewHub(hc, log, prometheus.NewRegistry())
	if hc.SegmentDir != "" { // as the appliance does: segments on disk, read back for the bucket
		if err := b.hub.SetSegmentDir(filepath.Join(dir, hc.SegmentDir)); err != nil {
			t.Fatal(err)
		}
	}
	b.hub.SetSink(b.svc)
	b.cat.SetRemote(b.svc.URL)
	return b
}

func (b *box) run() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan error, 1)
	go func() { b.done <- b.svc.Run(ctx) }()
	b.t.Cleanup(b.stop)
}

// stop ends Run and closes the store.
func (b *box) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	if err := <-b.done; err != nil {
		b.t.Errorf("Run: %v", err)
	}
	b.cancel = nil
	if err := b.st.Close(); err != nil {
		b.t.Error(err)
	}
}

var (
	packagedOnce sync.Once
	packagedDir  string
	packagedErr  error
)

// packaged is a real VOD title's HLS tree (ffmpeg + library.Package: two
// renditions, fMP4, 2 s segments, a poster), made once per test binary.
func packaged(t testing.TB) string {
	t.Helper()
	packagedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "publish-title-")
		if err != nil {
			packagedErr = err
			return
		}
		src := filepath.Join(dir, "in.mkv")
		if out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6", "-f", "lavfi", "-i", "sine=duration=6",
			"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", src).CombinedOutput(); err != nil {
			packagedErr = fmt.Errorf("ffmpeg: %v\n%s", err, out)
			return
		}
		hls := filepath.Join(dir, "hls")
		packagedErr = ffmpeg.Tools{FFmpeg: "ffmpeg", FFprobe: "ffprobe"}.Run(context.Background(), ffmpeg.Cmd{
			Args: ffmpeg.Args(ffmpeg.Job{Input: src,
				Video: &ffmpeg.Video{Renditions: []ffmpeg.Rung{{Height: 240, Kbps: 300}, {Height: 144, Kbps: 150}}, Preset: "ultrafast", KeyframeSeconds: 2},
				Audio: &ffmpeg.Audio{Kbps: 64}}),
			Stdout: func(r io.Reader) error {
				_, err := library.Package(r, hls, library.PackageOptions{SegmentDuration: 2 * time.Second, Names: []string{"240p", "144p"}})
				return err
			},
		})
		if packagedErr != nil {
			return
		}
		if out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", src,
			"-frames:v", "1", filepath.Join(hls, "poster.jpg")).CombinedOutput(); err != nil {
			packagedErr = fmt.Errorf("poster: %v\n%s", err, out)
		}
		packagedDir = hls
	})
	if packagedErr != nil {
		t.Fatal(packagedErr)
	}
	return packagedDir
}

// addTitle makes source (relative to media_dir) a ready title with a copy
// of the packaged tree, and returns its id.
func (b *box) addTitle(source string) string {
	b.t.Helper()
	id := library.ItemID(source)
	dst := b.cat.Dir(id)
	if err := os.CopyFS(dst, os.DirFS(packaged(b.t))); err != nil {
		b.t.Fatal(err)
	}
	err := b.cat.Ready(id, library.Published{Source: source, Meta: library.ParseName(config.KindMovies, source),
		Method: "encode", Duration: 6 * time.Second, Poster: true,
		Variants: []library.VariantInfo{{Name: "240p", Height: 240}, {Name: "144p", Height: 144}}})
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

// removeTitle takes a title out of the catalogue as the transcode queue does.
func (b *box) removeTitle(id string) {
	b.t.Helper()
	if _, err := b.cat.Forget(id); err != nil {
		b.t.Fatal(err)
	}
	if err := b.cat.RemoveFiles(id); err != nil {
		b.t.Fatal(err)
	}
}

// localFiles lists a title's files on disk, relative to its folder.
func (b *box) localFiles(id string) []string {
	b.t.Helper()
	var out []string
	root := b.cat.Dir(id)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// readClip makes an MPEG-TS clip with ffmpeg (1 s GOPs) and reads its
// access units, as a live source hands them to the hub.
func readClip(t testing.TB, seconds int) (live.Tracks, []livetest.AU) {
	t.Helper()
	return livetest.Clip(t, seconds, 25, "160x120", "200k")
}

// goLive publishes the clip to the hub as stream name in real time (or
// faster by speed), looping, until stop; stop ends the stream.
func (b *box) goLive(name string, tracks live.Tracks, aus []livetest.AU, speed float64) (stop func()) {
	b.t.Helper()
	s, err := b.hub.Publish(name, tracks)
	if err != nil {
		b.t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		span := aus[len(aus)-1].PTS - aus[0].PTS + 40*time.Millisecond
		for loop := time.Duration(0); ; loop += span {
			for _, a := range aus {
				pts := loop + a.PTS
				select {
				case <-quit:
					return
				case <-time.After(time.Until(start.Add(time.Duration(float64(pts) / speed)))):
				}
				if err := a.PutAt(s, pts); err != nil {
					b.t.Errorf("write: %v", err)
					return
				}
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			<-done
			s.Close()
		})
	}
	b.t.Cleanup(stop)
	return stop
}

// head returns the status, Content-Type and Cache-Control of a URL.
func head(t testing.TB, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control")
}
