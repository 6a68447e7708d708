package rtmp_test

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIngest measures the ingest of one publisher, in this process:
// go-rtmp's reading, the FLV parsing, the RTMP side's caching (no player)
// and the LL-HLS muxer (no viewer). Each op is one 10 s 1280x720 30 fps
// 3 Mb/s stream with a 2 s GOP and AAC, published by ffmpeg (a child
// process, not counted) from a prepared FLV as fast as it goes, until the
// stream has ended. cpu-ms/stream is this process's CPU (user + system)
// per op: what one such stream costs the server, apart from the read
// pacing of a real-time publisher (merged reads: see .ci/bench-live's
// stage "one" for real time, beside nginx-rtmp).
func BenchmarkIngest(b *testing.B) {
	clip := filepath.Join(b.TempDir(), "clip.flv")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
		"-b:v", "3M", "-minrate", "3M", "-maxrate", "3M", "-bufsize", "3M", "-x264-params", "nal-hrd=cbr:force-cfr=1",
		"-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "128k", clip).CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e := start(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		c0 := processCPU(b)
		out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", clip,
			"-c", "copy", "-f", "flv", e.url("bench")).CombinedOutput()
		if err != nil {
			b.Fatalf("publisher: %v\n%s", err, out)
		}
		for deadline := time.Now().Add(10 * time.Second); e.hub.Live("bench"); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("the stream did not end 10 s after its publisher")
			}
		}
		cpu += processCPU(b) - c0
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/stream")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
