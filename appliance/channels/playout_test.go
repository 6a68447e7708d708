package channels

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
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
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/live"
	"thecure/appliance/rtmp"
	"thecure/appliance/store"
)

// testbed is a real store and catalogue, a real RTMP server and live hub
// behind a real HTTP server, on loopback.
type testbed struct {
	dir      string
	st       *store.Store
	cat      *library.Catalogue
	srv      *rtmp.Server
	rtmpAddr string
	httpURL  string
	logs     *apptest.SyncBuffer
	log      *slog.Logger
	health   *health.Registry
	alerts   *alertLog
}

type alertLog struct {
	mu   sync.Mutex
	keys []string
}

func (a *alertLog) Alert(_ context.Context, key string, args ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = append(a.keys, key+": "+strings.Join(args, " | "))
}

func (a *alertLog) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.keys...)
}

func newTestbed(t *testing.T) *testbed { return newTestbedHLS(t, config.HLSMPEGTS) }

// newTestbedHLS is a testbed whose live HLS is of that variant.
func newTestbedHLS(t *testing.T, variant string) *testbed {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.RTMP.Listen = "127.0.0.1:0"
	cfg.RTMP.MaxConnectionsPerAddress = 200
	cfg.HLS.Variant = variant
	cfg.HLS.SegmentDuration = config.Duration(time.Second)
	cfg.HLS.SegmentCount = 7
	logs := &apptest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, apptest.LogWriter(t)), &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := prometheus.NewRegistry()
	hub := live.NewHub(cfg.HLS, log.With("svc", "live"), reg)
	srv, err := rtmp.New(cfg.RTMP, log.With("svc", "rtmp"), hub, reg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range hub.Routes() {
		mux.Handle(p, h)
	}
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		hs.Close()
	})
	return &testbed{dir: dir, st: st, cat: library.New(st, filepath.Join(dir, "hls")), srv: srv,
		rtmpAddr: ln.Addr().String(), httpURL: hs.URL, logs: logs, log: log, health: health.NewRegistry(), alerts: &alertLog{}}
}

// title packages a generated clip as a ready title of the catalogue: its
// source path, seconds, size and video codec (libx264 or libx265).
func (tb *testbed) title(t *testing.T, source string, secs, height int, vcodec, tone string) string {
	t.Helper()
	return tb.titlePreset(t, source, secs, height, vcodec, tone, "veryfast")
}

// titlePreset is title with that x264 preset (other parameter sets).
func (tb *testbed) titlePreset(t *testing.T, source string, secs, height int, vcodec, tone, preset string) string {
	t.Helper()
	id := library.ItemID(source)
	width := height * 16 / 9
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=25:duration=%d", width, height, secs),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%s:sample_rate=48000:duration=%d", tone, secs),
		"-map", "0:v", "-map", "1:a", "-ac", "2",
		"-c:v", vcodec, "-preset", preset, "-pix_fmt", "yuv420p", "-g", "12",
		"-c:a", "aac", "-b:a", "64k",
		"-f", "mp4", "-movflags", "+empty_moov+default_base_moof", "-frag_duration", "500000", "pipe:1"}
	if vcodec == "libx265" {
		args = append(args[:len(args)-1], "-tag:v", "hvc1", "-x265-params", "log-level=error", "pipe:1")
	}
	cmd := exec.Command("ffmpeg", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, errb.String())
	}
	name := fmt.Sprintf("%dp", height)
	pk, err := library.Package(&out, tb.cat.Dir(id), library.PackageOptions{SegmentDuration: time.Second, Names: []string{name}})
	if vcodec == "libx265" {
		// the packager takes H.264 only: an HEVC title is in the catalogue
		// with no rendition a channel can air
		pk = &library.Packaged{Duration: time.Duration(secs) * time.Second}
		err = nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.cat.Ready(id, library.Published{Source: source, Meta: library.Meta{Kind: "movie", Title: strings.TrimSuffix(filepath.Base(source), ".mp4")},
		Method: "encode", Duration: pk.Duration, Variants: pk.Variants}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (tb *testbed) service(t *testing.T, ch config.Channel, now func() time.Time) *Service {
	t.Helper()
	svc := New(tb.st, tb.cat, testOutput{tb.srv}, tb.log.With("svc", "channels"), tb.health, Options{
		Channels: []config.Channel{ch}, Dir: filepath.Join(tb.dir, "channels"), FFmpeg: "ffmpeg", Now: now, Alerter: tb.alerts})
	tb.srv.Reserve(svc.Names()...)
	return svc
}

type testOutput struct{ srv *rtmp.Server }

func (o testOutput) OpenFeed(name string, log *slog.Logger) (Feed, error) {
	return o.srv.OpenFeed(name, log)
}

func runService(t *testing.T, svc *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func testChannel() config.Channel {
	c := config.Channel{Name: "tv", Folder: "pelis", Profile: "360p"}
	c.SetDefaults()
	return c
}

// packet is one packet as ffprobe tells it.
type packet struct {
	stream   string
	pts, dts float64
}

// packets lists the packets of a recorded file, in file order.
func packets(t *testing.T, file string) []packet {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=codec_type,pts_time,dts_time",
		"-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	cr := csv.NewReader(bytes.NewReader(out))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ps []packet
	for _, r := range recs {
		if len(r) < 3 {
			continue
		}
		pts, _ := strconv.ParseFloat(r[1], 64)
		dts, err := strconv.ParseFloat(r[2], 64)
		if err != nil {
			continue
		}
		ps = append(ps, packet{stream: r[0], pts: pts, dts: dts})
	}
	return ps
}

// checkTimeline wants decode times that only grow, with no hole longer than
// gap, per stream, and returns the span of the video.
func checkTimeline(t *testing.T, what string, ps []packet, gap float64) float64 {
	t.Helper()
	last := map[string]float64{}
	first := map[string]float64{}
	for _, p := range ps {
		if l, ok := last[p.stream]; ok {
			if p.dts < l {
				t.Errorf("%s: %s decode time goes back: %.3f after %.3f", what, p.stream, p.dts, l)
			}
			if p.dts-l > gap {
				t.Errorf("%s: %s hole of %.3fs at %.3f", what, p.stream, p.dts-l, l)
			}
		} else {
			first[p.stream] = p.dts
		}
		last[p.stream] = p.dts
	}
	if len(last) != 2 {
		t.Errorf("%s: streams %v, want video and audio", what, last)
	}
	return last["video"] - first["video"]
}

// record runs ffmpeg on input for wall, copying what it gets to out and
// decoding it (to null: decode errors show), and returns ffmpeg's errors
// and how much media it output against the wall clock between its first
// and its last progress reports (from 2 s after the first one).
func record(t *testing.T, input, out string, wall time.Duration) (errs string, media, clock time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wall)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-progress", "pipe:1", "-stats_period", "0.2",
		"-i", input, "-map", "0:v", "-map", "0:a", "-c", "copy", "-f", "mpegts", out,
		"-map", "0:v", "-map", "0:a", "-f", "null", "-")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var started, first, last time.Time
	var firstOut, lastOut time.Duration
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "out_time_us=")
		if !ok {
			continue
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil || us <= 0 {
			continue
		}
		now := time.Now()
		if started.IsZero() {
			started = now
		}
		// the first reports come in a rush: what ffmpeg buffered while it
		// probed the input (and the GOP a player gets when it joins)
		if first.IsZero() && now.Sub(started) >= 2*time.Second {
			first, firstOut = now, time.Duration(us)*time.Microsecond
		}
		last, lastOut = now, time.Duration(us)*time.Microsecond
	}
	if err := cmd.Wait(); err != nil && ctx.Err() == nil {
		t.Fatalf("ffmpeg %s: %v\n%s", input, err, errb.String())
	}
	return errb.String(), lastOut - firstOut, last.Sub(first)
}

// TestPlayoutThroughTitleChanges plays a channel over three titles (two
// H.264 ones of the profile's size, one HEVC that cannot air as it is)
// under ffmpeg over RTMP and HLS, through two title changes.
func TestPlayoutThroughTitleChanges(t *testing.T) {
	tb := newTestbed(t)
	a := tb.title(t, "pelis/a.mp4", 3, 360, "libx264", "440")
	b := tb.title(t, "pelis/b.mp4", 3, 360, "libx264", "880")
	hevc := tb.title(t, "pelis/c.mp4", 3, 360, "libx265", "660")
	svc := tb.service(t, testChannel(), nil)
	start := time.Now()
	runService(t, svc)

	apptest.WaitFor(t, 20*time.Second, "the channel on air", func() bool {
		resp, err := http.Get(tb.httpURL + "/live/tv/index.m3u8")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	prog := svc.Programme("tv", start, start.Add(20*time.Second))
	var ids []string
	for _, e := range prog {
		ids = append(ids, e.TitleID)
		if e.TitleID == hevc {
			t.Errorf("the HEVC title is in the rotation: %+v", prog)
		}
	}
	if len(prog) < 6 || prog[0].TitleID != a || prog[1].TitleID != b || prog[2].TitleID != a {
		t.Fatalf("programme %v, want a, b, a, b...", ids)
	}
	for i := 1; i < len(prog); i++ {
		if !prog[i].Start.Equal(prog[i-1].End) {
			t.Errorf("entry %d starts at %v, the one before ends at %v", i, prog[i].Start, prog[i-1].End)
		}
	}

	// RTMP and HLS at once, for 8 seconds: two title changes at least
	var wg sync.WaitGroup
	rtmpOut, hlsOut := filepath.Join(tb.dir, "rtmp.ts"), filepath.Join(tb.dir, "hls.ts")
	var rtmpErr, hlsErr string
	var media, clock time.Duration
	const wall = 8 * time.Second
	wg.Go(func() { rtmpErr, media, clock = record(t, "rtmp://"+tb.rtmpAddr+"/live/tv", rtmpOut, wall) })
	wg.Go(func() { hlsErr, _, _ = record(t, tb.httpURL+"/live/tv/index.m3u8", hlsOut, wall+3*time.Second) })
	wg.Wait()
	for what, e := range map[string]string{"rtmp": rtmpErr, "hls": hlsErr} {
		if strings.TrimSpace(e) != "" {
			t.Errorf("%s: ffmpeg errors:\n%s", what, e)
		}
	}
	span := checkTimeline(t, "rtmp", packets(t, rtmpOut), 0.2)
	// the player plays at the pace of the wall clock: no stall, no rush
	if clock < 3*time.Second || (media-clock).Abs() > time.Second {
		t.Errorf("rtmp: %v of media played in %v of wall time", media, clock)
	}
	hp := packets(t, hlsOut)
	hspan := checkTimeline(t, "hls", hp, 0.2)
	t.Logf("rtmp: %.2fs of video, %v of media in %v of wall time; hls: %.2fs of video in %d packets", span, media, clock, hspan, len(hp))
	if span < 6 || hspan < 6 {
		t.Errorf("rtmp: %.2fs, hls: %.2fs of video", span, hspan)
	}
	// the same parameters throughout: no discontinuity
	if pl := mediaPlaylist(t, tb.httpURL+"/live/tv/"); strings.Contains(pl, "DISCONTINUITY") {
		t.Errorf("a discontinuity where the parameters do not change:\n%s", pl)
	}
	if a := tb.alerts.list(); len(a) > 0 {
		t.Errorf("alerts: %v", a)
	}

	// a publisher cannot take the channel's name
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-f", "flv", "rtmp://"+tb.rtmpAddr+"/live/tv").CombinedOutput()
	if err == nil {
		t.Errorf("publishing the channel's name was accepted:\n%s", out)
	}
	if !strings.Contains(tb.logs.String(), "playout channel") {
		t.Errorf("no refusal logged:\n%s", tb.logs.String())
	}
}
