package transcode

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/ffmpeg"
	"thecure/appliance/library"
)

// Benchmark sources, 1080p25 testsrc2 with a sine, made once per machine in
// the temp dir: an H.264 4:2:0 + AAC file (remuxed) and an H.264 4:2:2 one
// (which browsers do not play, so it is encoded).
const (
	benchRemuxSeconds  = 30
	benchEncodeSeconds = 20
)

func benchSource(b *testing.B, name string, seconds int, pixfmt string) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "thecure-bench")
	out := filepath.Join(dir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := out + ".tmp.mp4"
	apptest.FFmpeg(b, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=1920x1080:rate=25:duration=%d", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", pixfmt,
		"-c:a", "aac", "-b:a", "128k", "-shortest", tmp)
	if err := os.Rename(tmp, out); err != nil {
		b.Fatal(err)
	}
	return out
}

func copyFile(b *testing.B, src, dst string) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Link(src, dst); err == nil {
		return
	}
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	out.Close()
}

// cpu returns the user+system CPU time of this process and of its waited-for children.
func cpu() (self, children time.Duration) {
	var s, c syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &s)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c)
	tv := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return tv(s), tv(c)
}

func benchEnv(b *testing.B, mutate func(*config.Config)) *env {
	e := newEnv(b, func(c *config.Config) {
		c.Transcode.Preset = "veryfast"
		c.Transcode.SegmentDuration = config.Duration(4 * time.Second)
		c.Transcode.Renditions = config.Default().Transcode.Renditions
		if mutate != nil {
			mutate(c)
		}
	})
	e.quiet = true
	e.build()
	return e
}

// BenchmarkRemux1080p: a 30 s 1080p H.264/AAC source through the whole job
// (probe, remux, packaging, poster, publish). Reports times realtime and
// seconds per minute of source.
func BenchmarkRemux1080p(b *testing.B) {
	src := benchSource(b, "src-1080p-420.mp4", benchRemuxSeconds, "yuv420p")
	e := benchEnv(b, nil)
	e.start()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		rel := fmt.Sprintf("pelis/Remux %d.mp4", i)
		copyFile(b, src, filepath.Join(e.media, filepath.FromSlash(rel)))
		it := e.waitItem(e.enqueue(rel), library.StateReady)
		if it.Method != MethodRemux {
			b.Fatalf("method %s", it.Method)
		}
	}
	el := time.Since(start).Seconds()
	media := float64(b.N * benchRemuxSeconds)
	b.ReportMetric(media/el, "x_realtime")
	b.ReportMetric(el/(media/60), "s/min_of_source")
}

// BenchmarkEncodeJobVsBareFFmpeg: the same ladder encode of a 20 s 1080p
// source as our job (probe, ffmpeg to a pipe, our packager, poster,
// publish) and as the bare ffmpeg command writing MPEG-TS to /dev/null.
func BenchmarkEncodeJobVsBareFFmpeg(b *testing.B) {
	src := benchSource(b, "src-1080p-422.mp4", benchEncodeSeconds, "yuv422p")
	e := benchEnv(b, nil)
	e.start()
	probe, err := e.q.tools.Probe(context.Background(), src)
	if err != nil {
		b.Fatal(err)
	}
	p, err := e.q.plan(config.KindMovies, probe)
	if err != nil || p.method != MethodEncode {
		b.Fatalf("plan %+v %v", p, err)
	}
	p.job.Input = src
	bareArgs := ffmpeg.Args(p.job)
	if i := slices.Index(bareArgs, "-progress"); i >= 0 {
		bareArgs = slices.Delete(bareArgs, i, i+2)
	}
	b.ResetTimer()
	var ours, bare, oursCPU, bareCPU, selfCPU, childCPU time.Duration
	for i := range b.N {
		rel := fmt.Sprintf("pelis/Encode %d.mp4", i)
		copyFile(b, src, filepath.Join(e.media, filepath.FromSlash(rel)))
		s0, c0 := cpu()
		t0 := time.Now()
		it := e.waitItem(e.enqueue(rel), library.StateReady)
		ours += time.Since(t0)
		s1, c1 := cpu()
		oursCPU += s1 - s0 + c1 - c0
		selfCPU += s1 - s0  // our process: packaging, the queue, the store
		childCPU += c1 - c0 // ffprobe, ffmpeg, the poster
		if it.Method != MethodEncode || len(it.Variants) != 4 {
			b.Fatalf("item %+v", it)
		}

		t0 = time.Now()
		runBare(b, bareArgs)
		bare += time.Since(t0)
		s2, c2 := cpu()
		bareCPU += s2 - s1 + c2 - c1
	}
	b.ReportMetric(ours.Seconds()/float64(b.N), "job_s")
	b.ReportMetric(bare.Seconds()/float64(b.N), "bare_s")
	b.ReportMetric(100*(ours.Seconds()-bare.Seconds())/bare.Seconds(), "wall_overhead_%")
	b.ReportMetric(100*(oursCPU.Seconds()-bareCPU.Seconds())/bareCPU.Seconds(), "cpu_overhead_%")
	// steadier than the differences above on a busy machine: what thecure
	// itself spends, relative to its ffmpeg children
	b.ReportMetric(100*selfCPU.Seconds()/childCPU.Seconds(), "thecure_cpu_%_of_ffmpeg")
}

// BenchmarkLadderOneVsFourProcesses: the 4-rendition ladder of a 20 s 1080p
// source in one ffmpeg (decode once, split, scale) against four ffmpeg runs
// of one rendition each; reports the CPU time of each and their ratio.
func BenchmarkLadderOneVsFourProcesses(b *testing.B) {
	src := benchSource(b, "src-1080p-422.mp4", benchEncodeSeconds, "yuv422p")
	var rungs []ffmpeg.Rung
	for _, r := range config.Default().Transcode.Renditions {
		rungs = append(rungs, ffmpeg.Rung{Height: r.Height, Kbps: r.VideoKbps})
	}
	job := func(rs []ffmpeg.Rung) []string {
		a := ffmpeg.Args(ffmpeg.Job{Input: src, Video: &ffmpeg.Video{Renditions: rs, Preset: "veryfast", KeyframeSeconds: 4},
			Audio: &ffmpeg.Audio{Kbps: 128}})
		i := slices.Index(a, "-progress")
		return slices.Delete(a, i, i+2)
	}
	run := func(args []string) { runBare(b, args) }
	b.ResetTimer()
	var one, four, oneWall, fourWall time.Duration
	for range b.N {
		_, c0 := cpu()
		t0 := time.Now()
		run(job(rungs))
		oneWall += time.Since(t0)
		_, c1 := cpu()
		t1 := time.Now()
		for _, r := range rungs {
			run(job([]ffmpeg.Rung{r}))
		}
		fourWall += time.Since(t1)
		_, c2 := cpu()
		one += c1 - c0
		four += c2 - c1
	}
	n := float64(b.N)
	b.ReportMetric(one.Seconds()/n, "one_cpu_s")
	b.ReportMetric(four.Seconds()/n, "four_cpu_s")
	b.ReportMetric(four.Seconds()/one.Seconds(), "four/one_cpu")
	b.ReportMetric(oneWall.Seconds()/n, "one_wall_s")
	b.ReportMetric(fourWall.Seconds()/n, "four_wall_s")
}

// runBare runs ffmpeg with stdout to /dev/null.
func runBare(b *testing.B, args []string) {
	b.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	var stderr strings.Builder
	cmd := exec.Command("ffmpeg", args...)
	cmd.Stdout, cmd.Stderr = null, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
}

// BenchmarkRescan is one periodic rescan of a library of 4000 ready titles
// (nothing to queue): the scan through an os.Root with every title
// reconciled against its files, beside the bare filepath.WalkDir + stat the
// scan used to be (the peer: no PATH_MAX safety, no missing titles).
func BenchmarkRescan(b *testing.B) {
	e := newEnv(b, nil)
	e.quiet = true
	e.build()
	const n = 4000
	for i := range n {
		rel := fmt.Sprintf("series/Show %d/Season %d/Show.S%02dE%02d.mp4", i/100, i/10%10, i/10%10+1, i%10+1)
		p := filepath.Join(e.media, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		id := library.ItemID(rel)
		if err := os.MkdirAll(e.cat.Dir(id), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.cat.Dir(id), library.MasterPlaylist), []byte("#EXTM3U\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		meta := library.ParseName(config.KindSeries, strings.SplitN(rel, "/", 2)[1])
		if err := e.cat.Queued(id, rel, fi.Size(), fi.ModTime(), meta); err != nil {
			b.Fatal(err)
		}
		if err := e.cat.Ready(id, library.Published{Source: rel, Meta: meta}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("thecure-os.Root", func(b *testing.B) {
		for b.Loop() {
			if err := e.q.scan(context.Background(), 0); err != nil {
				b.Fatal(err)
			}
		}
		if all, _ := e.cat.List(); len(all) != n || all[0].State != library.StateReady {
			b.Fatalf("the rescan changed the catalogue: %d titles, first %+v", len(all), all[0])
		}
	})
	b.Run("peer-filepath.WalkDir", func(b *testing.B) {
		for b.Loop() {
			files := 0
			err := filepath.WalkDir(filepath.Join(e.media, "series"), func(p string, d os.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				if _, err := d.Info(); err != nil {
					return err
				}
				files++
				return nil
			})
			if err != nil || files != n {
				b.Fatalf("walked %d files: %v", files, err)
			}
		}
	})
}
