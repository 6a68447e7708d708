package ffmpeg

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
)

var tools = Tools{FFmpeg: "ffmpeg", FFprobe: "ffprobe"}

func TestParseProgress(t *testing.T) {
	in := "frame=10\nfps=25.00\nout_time_us=400000\nspeed=2.5x\nprogress=continue\n" +
		"frame=50\nout_time_us=2000000\nspeed=N/A\nprogress=end\n"
	var got []Progress
	if err := ParseProgress(strings.NewReader(in), func(p Progress) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d blocks, want 2: %+v", len(got), got)
	}
	if got[0].OutTime != 400*time.Millisecond || got[0].Speed != 2.5 || got[0].Frame != 10 || got[0].End {
		t.Errorf("first block %+v", got[0])
	}
	if got[1].OutTime != 2*time.Second || got[1].Speed != 0 || !got[1].End {
		t.Errorf("last block %+v", got[1])
	}
}

func TestProbeAndRun(t *testing.T) {
	src := apptest.Clip(t, "in.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	p, err := tools.Probe(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Video(); v == nil || v.CodecName != "h264" || v.Height != 240 {
		t.Fatalf("video stream %+v", v)
	}
	if a := p.Audio(); a == nil || a.CodecName != "aac" {
		t.Fatalf("audio stream %+v", a)
	}
	if d := p.Seconds(); d < 1.9 || d > 2.2 {
		t.Errorf("duration %.2f, want about 2", d)
	}

	var out []byte
	var last Progress
	err = tools.Run(context.Background(), Cmd{
		Args: Args(Job{Input: src, Video: &Video{Copy: true}, Audio: &Audio{Copy: true}}),
		Stdout: func(r io.Reader) error {
			out, err = io.ReadAll(r)
			return err
		},
		Progress: func(p Progress) { last = p },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 1000 || string(out[4:8]) != "ftyp" || !strings.Contains(string(out[:4096]), "moof") {
		t.Errorf("stdout (%d bytes) is not fragmented MP4", len(out))
	}
	if !last.End || last.OutTime < 1500*time.Millisecond {
		t.Errorf("last progress %+v", last)
	}
}

func TestProbeCorrupt(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.mp4")
	if err := os.WriteFile(bad, []byte(strings.Repeat("this is not a video\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := tools.Probe(context.Background(), bad)
	var fe *Error
	if !errors.As(err, &fe) || fe.Prog != "ffprobe" || !strings.Contains(err.Error(), "Invalid data") {
		t.Fatalf("err = %v, want ffprobe's reason", err)
	}
}

func TestRunCancelStopsFFmpeg(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once bool
	errc := make(chan error, 1)
	go func() {
		errc <- tools.Run(ctx, Cmd{
			// an endless source, read at realtime
			Args: append(common(true), "-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
				"-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", "pipe:1"),
			Stdout: func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err },
			Progress: func(Progress) {
				if !once {
					once = true
					close(started)
				}
			},
		})
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("no progress from ffmpeg")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestMissingTool(t *testing.T) {
	bad := Tools{FFmpeg: "/nonexistent/ffmpeg", FFprobe: "ffprobe"}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), `"/nonexistent/ffmpeg"`) {
		t.Errorf("Check = %v", err)
	}
	if err := tools.Check(); err != nil {
		t.Errorf("Check with real tools: %v", err)
	}
}

func TestArgsLadder(t *testing.T) {
	a := strings.Join(Args(Job{Input: "x:y.mkv", Video: &Video{
		Renditions: []Rung{{720, 2800}, {360, 800}}, Preset: "veryfast", KeyframeSeconds: 4,
	}, Audio: &Audio{Kbps: 128}}), " ")
	for _, want := range []string{
		"-i file:x:y.mkv",
		"split=2[s0][s1];[s0]scale=-2:720[v0];[s1]scale=-2:360[v1]",
		"-map [v0] -map [v1]", "-b:v:1 800k", "expr:gte(t,n_forced*4)",
		"-c:a aac -b:a 128k", "-f mp4 -movflags +empty_moov+default_base_moof", "-progress pipe:3",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("args lack %q:\n%s", want, a)
		}
	}
}
