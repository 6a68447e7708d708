package ffmpeg

import (
	"fmt"
	"strconv"
	"strings"
)

// Job describes one conversion of an input to a single fragmented MP4 stream
// on stdout: the video renditions (copied, or encoded from one decode), then
// at most one audio stream. The packager (library.Package) reads that stream.
type Job struct {
	Input string
	Video *Video // nil: no video in the output
	Audio *Audio // nil: no audio in the output
	// ReadRate, when positive, limits input reading to that multiple of
	// realtime (-readrate); zero reads as fast as possible.
	ReadRate float64
}

// Video is the video part of a Job.
type Video struct {
	Copy bool // remux the source's H.264 as it is; Renditions unused
	// Renditions are encoded in one process: one decode, split, one scale
	// each, keyframes forced at the same times in every rendition.
	Renditions      []Rung
	Preset          string  // x264 preset
	KeyframeSeconds float64 // forced keyframe interval (the segment duration)
}

// Rung is one encoded rendition.
type Rung struct {
	Height int
	Kbps   int
}

// Audio is the audio part of a Job.
type Audio struct {
	Copy bool // remux AAC as it is
	Kbps int  // AAC bitrate when encoding
}

// Input prefixes a path so that ffmpeg reads it as a file whatever its name
// holds (a colon would otherwise name a protocol).
func Input(path string) string { return "file:" + path }

// ProbeArgs is the ffprobe command line for Probe.
func ProbeArgs(path string) []string {
	return []string{"-hide_banner", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", Input(path)}
}

// common starts every ffmpeg command line: quiet, no stdin, progress on fd 3.
func common(progress bool) []string {
	a := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"}
	if progress {
		a = append(a, "-progress", "pipe:3")
	}
	return a
}

// Args is the ffmpeg command line for j, writing fragmented MP4 to stdout
// and progress to fd 3.
func Args(j Job) []string {
	a := common(true)
	if j.ReadRate > 0 {
		a = append(a, "-readrate", strconv.FormatFloat(j.ReadRate, 'f', -1, 64))
	}
	a = append(a, "-i", Input(j.Input))
	if v := j.Video; v != nil {
		if v.Copy {
			a = append(a, "-map", "0:v:0", "-c:v", "copy")
		} else {
			a = append(a, encodeVideo(v)...)
		}
	}
	if au := j.Audio; au != nil {
		a = append(a, "-map", "0:a:0")
		if au.Copy {
			a = append(a, "-c:a", "copy", "-bsf:a", "aac_adtstoasc")
		} else {
			a = append(a, "-c:a", "aac", "-b:a", fmt.Sprintf("%dk", au.Kbps), "-ac", "2")
		}
	}
	return append(a, fmp4Out()...)
}

// fmp4Out ends a command line: fragments of about a second, streamable
// (empty moov), data offsets relative to each moof, on stdout: what
// library.Package reads.
func fmp4Out() []string {
	return []string{"-sn", "-dn", "-map_metadata", "-1", "-max_muxing_queue_size", "4096",
		"-f", "mp4", "-movflags", "+empty_moov+default_base_moof", "-frag_duration", "1000000", "pipe:1"}
}

// RepackArgs is the ffmpeg command line that copies already packaged HLS
// renditions (one media playlist each, of the same timeline) into one
// fragmented MP4 stream on stdout, progress on fd 3: the H.264 of every
// input in order, then the first input's AAC when it has one, copied, or
// encoded at audioKbps when it is not 0 (MPEG-TS segments carry ADTS AAC,
// whose decoder config comes too late for a streamed MP4 header). The video
// is never encoded; ffmpeg starts the output at zero.
func RepackArgs(playlists []string, video bool, audioKbps int, readRate float64) []string {
	a := common(true)
	if readRate > 0 {
		a = append(a, "-readrate", strconv.FormatFloat(readRate, 'f', -1, 64))
	}
	for _, p := range playlists {
		a = append(a, "-i", Input(p))
	}
	if video {
		for i := range playlists {
			a = append(a, "-map", fmt.Sprintf("%d:v:0", i))
		}
		a = append(a, "-c:v", "copy")
	}
	a = append(a, "-map", "0:a:0?")
	if audioKbps > 0 {
		a = append(a, "-c:a", "aac", "-b:a", fmt.Sprintf("%dk", audioKbps), "-ac", "2")
	} else {
		a = append(a, "-c:a", "copy")
	}
	return append(a, fmp4Out()...)
}

func encodeVideo(v *Video) []string {
	n := len(v.Renditions)
	var g strings.Builder
	if n == 1 {
		fmt.Fprintf(&g, "[0:v:0]format=yuv420p,scale=-2:%d[v0]", v.Renditions[0].Height)
	} else {
		g.WriteString("[0:v:0]format=yuv420p,split=" + strconv.Itoa(n))
		for i := range n {
			fmt.Fprintf(&g, "[s%d]", i)
		}
		for i, r := range v.Renditions {
			fmt.Fprintf(&g, ";[s%d]scale=-2:%d[v%d]", i, r.Height, i)
		}
	}
	a := []string{"-filter_complex", g.String()}
	for i := range n {
		a = append(a, "-map", fmt.Sprintf("[v%d]", i))
	}
	ks := strconv.FormatFloat(v.KeyframeSeconds, 'f', -1, 64)
	// -fps_mode vfr: frames keep their times (duplicates dropped); the
	// default for MP4, cfr, adds a picture when the video starts a little
	// after the audio (as in most Matroska files), one frame too long
	a = append(a, "-fps_mode", "vfr", "-c:v", "libx264", "-preset", v.Preset, "-profile:v", "high",
		"-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*"+ks+")")
	for i, r := range v.Renditions {
		a = append(a,
			fmt.Sprintf("-b:v:%d", i), fmt.Sprintf("%dk", r.Kbps),
			fmt.Sprintf("-maxrate:v:%d", i), fmt.Sprintf("%dk", r.Kbps*107/100),
			fmt.Sprintf("-bufsize:v:%d", i), fmt.Sprintf("%dk", r.Kbps*3/2))
	}
	return a
}

// PosterArgs is the ffmpeg command line writing one JPEG frame of the
// input's first video stream at offset seconds, at most height pixels high.
// For cover art (an attached picture) give offset 0.
func PosterArgs(input, out string, offset float64, height int) []string {
	a := common(false)
	if offset > 0 {
		a = append(a, "-ss", strconv.FormatFloat(offset, 'f', 3, 64))
	}
	return append(a, "-i", Input(input), "-map", "0:v:0", "-frames:v", "1",
		"-vf", fmt.Sprintf("scale=-2:'min(%d,ih)':flags=bicubic,format=yuvj420p", height),
		"-q:v", "4", "-f", "image2", "-y", out)
}
