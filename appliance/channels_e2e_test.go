package appliance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
)

// TestChannelE2E runs the binary with a [[channels]] channel over a library
// folder: the uploads play out on air (RTMP, without a decode error), the
// name cannot be published, the channel is on /healthz, and a title deleted
// over FTPS leaves the rotation.
func TestChannelE2E(t *testing.T) {
	dir := t.TempDir()
	pelis := filepath.Join(dir, "data", "media", "pelis")
	if err := os.MkdirAll(pelis, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, tone := range map[string]string{"Alpha.2020.mp4": "440", "Bravo.2021.mp4": "880"} {
		dst := filepath.Join(pelis, name)
		apptest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3",
			"-f", "lavfi", "-i", "sine=frequency="+tone+":sample_rate=48000:duration=3", "-ac", "2",
			"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "12", "-c:a", "aac", dst)
		old := time.Now().Add(-time.Minute)
		if err := os.Chtimes(dst, old, old); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeConfig(t, dir, `max_connections_per_address = 64
[hls]
variant = "mpegts"
segment_duration = "1s"
segment_count = 5
[transcode]
segment_duration = "1s"
[[transcode.renditions]]
height = 360
video_kbps = 600
[[channels]]
name = "tv"
title = "TV"
folder = "pelis"
profile = "360p"
on_delete = "cut"
`)
	p := start(t, dir, "run", "-c", cfg)
	httpAddr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	rtmpAddr := waitLog(t, p, `msg=listening svc=rtmp key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]
	ftpAddr := waitLog(t, p, `msg=listening svc=\S+ key=ftp.listen addr=(\S+)`, 30*time.Second)[1]
	password := readFirstPassword(t, waitLog(t, p, firstPasswordLog, 30*time.Second)[1])
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)

	onAir := regexp.MustCompile(`msg="channel: on air" svc=channels channel=tv title=(\S+)`)
	aired := func(title string) int {
		n := 0
		for _, m := range onAir.FindAllStringSubmatch(p.output(), -1) {
			if m[1] == title {
				n++
			}
		}
		return n
	}
	apptest.WaitFor(t, 2*time.Minute, "both titles on air", func() bool { return aired("Alpha") > 0 && aired("Bravo") > 0 })

	var hz healthz
	getJSON(t, "http://"+httpAddr+"/healthz", &hz)
	found := false
	for _, s := range hz.Services {
		found = found || s.Name == "channels" && s.State == "up"
	}
	if !found {
		t.Errorf("no channels service up on /healthz: %+v", hz)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-i", "rtmp://"+rtmpAddr+"/live/tv", "-t", "3", "-f", "null", "-").CombinedOutput()
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("RTMP player: %s", out)
	}
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-f", "flv", "rtmp://"+rtmpAddr+"/live/tv").CombinedOutput(); err == nil {
		t.Errorf("publishing the channel's name was accepted:\n%s", out)
	}

	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password,
		"ftp://"+ftpAddr+"/", "-Q", "DELE pelis/Bravo.2021.mp4").CombinedOutput(); err != nil {
		t.Fatalf("FTPS delete: %v\n%s", err, out)
	}
	time.Sleep(500 * time.Millisecond) // a cut (on_delete = "cut") is at most a second of media away
	bravo, alpha := aired("Bravo"), aired("Alpha")
	apptest.WaitFor(t, 30*time.Second, "Alpha on air twice more", func() bool { return aired("Alpha") >= alpha+2 })
	if n := aired("Bravo"); n != bravo {
		t.Errorf("Bravo aired %d more times after its deletion over FTPS", n-bravo)
	}
}

// TestChannelsChangeNeedsRestart: a reload names [[channels]] among the
// keys that need a restart (no live service applies them).
func TestChannelsChangeNeedsRestart(t *testing.T) {
	a, b := config.Default(), config.Default()
	b.Channels = []config.Channel{{Name: "tv", Folder: "pelis"}}
	if got := changedKeys(a, b); !slices.Equal(got, []string{"channels"}) {
		t.Errorf("changed keys %v, want [channels]", got)
	}
	app := &app{cfg: a}
	for name, svc := range app.liveServices() {
		if coveredBy("channels", svc.LiveKeys()) {
			t.Errorf("%s applies channels live", name)
		}
	}
}
