package channels

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"thecure/appliance/ffmpeg"
	"thecure/appliance/library"
)

// makeSlate makes a channel's slate (shown when it has nothing to play)
// for a profile: colour bars and silence, slateLength long, of the
// profile's height (16:9) with the channels' audio, packaged as a title is,
// into dir/PROFILE. It is written to a temporary directory and renamed into
// place, so a half-made slate is never used.
func makeSlate(ctx context.Context, prog, dir, profile string, height int) error {
	width := profileWidth(height)
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	secs := strconv.Itoa(int(slateLength / time.Second))
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("smptehdbars=size=%dx%d:rate=25:duration=%s", width, height, secs),
		"-f", "lavfi", "-i", fmt.Sprintf("anullsrc=r=%d:cl=stereo", channelAudio.SampleRate),
		"-t", secs, "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-b:a", "64k", "-ac", "2",
		"-f", "mp4", "-movflags", "+empty_moov+default_base_moof", "-frag_duration", "1000000", "pipe:1"}
	err := ffmpeg.Tools{FFmpeg: prog}.Run(ctx, ffmpeg.Cmd{Args: args, Stdout: func(r io.Reader) error {
		_, err := library.Package(r, tmp, library.PackageOptions{SegmentDuration: time.Second, Names: []string{profile}})
		return err
	}})
	if err != nil {
		_ = os.RemoveAll(tmp) // a failed slate is made again next time
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}
