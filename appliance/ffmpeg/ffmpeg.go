// Package ffmpeg runs ffmpeg and ffprobe for the VOD pipeline: argv builders
// are pure functions, Run starts ffmpeg under a context (SIGINT on cancel,
// bounded wait, stderr tail kept for errors), hands its stdout to a consumer
// and parses its -progress stream; Probe reads ffprobe's JSON.
package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// waitDelay is how long a cancelled ffmpeg gets to exit after SIGINT before
// it is killed and its pipes are closed.
const waitDelay = 5 * time.Second

// Tools names the two programs (a name looked up in PATH, or a path).
type Tools struct {
	FFmpeg  string
	FFprobe string
}

// Check reports whether both programs can be found.
func (t Tools) Check() error {
	for _, p := range []string{t.FFmpeg, t.FFprobe} {
		if _, err := exec.LookPath(p); err != nil {
			return err // exec: "PATH": why
		}
	}
	return nil
}

// Cmd is one ffmpeg run. Args should send the media to pipe:1 (Stdout reads
// it) and may use -progress pipe:3 (Progress receives each report).
type Cmd struct {
	Args     []string
	Stdout   func(r io.Reader) error // nil: stdout is discarded
	Progress func(Progress)          // nil: fd 3 is not opened
}

// Error is a failed ffmpeg or ffprobe run, with the end of its stderr.
type Error struct {
	Prog   string
	Err    error
	Stderr string
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		return fmt.Sprintf("%s: %v", e.Prog, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Prog, e.Err, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs ffmpeg until it exits, ctx is cancelled (ffmpeg gets SIGINT, then
// is killed after a grace period) or the stdout consumer fails. It returns
// ctx.Err() when cancelled, the consumer's error if it failed, else an *Error
// for a non-zero exit.
func (t Tools) Run(ctx context.Context, c Cmd) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(rctx, t.FFmpeg, c.Args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = waitDelay
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	tail := &tailBuffer{max: 4096}
	cmd.Stderr = tail
	var stdout io.ReadCloser
	if c.Stdout != nil {
		var err error
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return fmt.Errorf("ffmpeg stdout: %w", err)
		}
	}
	var progR, progW *os.File
	if c.Progress != nil {
		var err error
		if progR, progW, err = os.Pipe(); err != nil {
			return fmt.Errorf("ffmpeg progress pipe: %w", err)
		}
		defer progR.Close()
		cmd.ExtraFiles = []*os.File{progW}
	}
	if err := cmd.Start(); err != nil {
		if progW != nil {
			progW.Close()
		}
		return &Error{Prog: "ffmpeg", Err: err}
	}
	var wg sync.WaitGroup
	if progW != nil {
		progW.Close() // the child has its copy
		wg.Go(func() {
			_ = ParseProgress(progR, c.Progress)
			_, _ = io.Copy(io.Discard, progR)
		})
	}
	var consumerErr error
	eof := &eofReader{r: stdout}
	if stdout != nil {
		consumerErr = c.Stdout(eof)
		if consumerErr != nil && !eof.seen {
			cancel() // the consumer gave up first; ffmpeg would block on a full pipe
		}
		_, _ = io.Copy(io.Discard, stdout)
	}
	err := cmd.Wait()
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case consumerErr != nil && (!eof.seen || err == nil):
		return consumerErr
	case err != nil:
		// ffmpeg failed first: the consumer only saw its output end
		return &Error{Prog: "ffmpeg", Err: err, Stderr: tail.String()}
	}
	return nil
}

// eofReader remembers whether its reader reached the end.
type eofReader struct {
	r    io.Reader
	seen bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.seen = true
	}
	return n, err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Probe is what ffprobe says about a file.
type Probe struct {
	Format  Format   `json:"format"`
	Streams []Stream `json:"streams"`
}

// Format is ffprobe's container section.
type Format struct {
	Name     string            `json:"format_name"`
	Duration string            `json:"duration"`
	BitRate  string            `json:"bit_rate"`
	Tags     map[string]string `json:"tags"`
}

// Stream is one stream as ffprobe reports it.
type Stream struct {
	Index       int               `json:"index"`
	CodecType   string            `json:"codec_type"` // video | audio | subtitle | data
	CodecName   string            `json:"codec_name"` // h264, hevc, aac, mp3, ...
	Profile     string            `json:"profile"`
	Level       int               `json:"level"`
	PixFmt      string            `json:"pix_fmt"`
	Width       int               `json:"width"`
	Height      int               `json:"height"`
	FrameRate   string            `json:"avg_frame_rate"`
	SampleRate  string            `json:"sample_rate"`
	Channels    int               `json:"channels"`
	Duration    string            `json:"duration"`
	Disposition map[string]int    `json:"disposition"`
	Tags        map[string]string `json:"tags"`
}

// Seconds is the container's duration in seconds (0 when unknown).
func (p *Probe) Seconds() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

// Video is the first real video stream (cover art excluded), or nil.
func (p *Probe) Video() *Stream {
	for i := range p.Streams {
		s := &p.Streams[i]
		if s.CodecType == "video" && s.Disposition["attached_pic"] == 0 {
			return s
		}
	}
	return nil
}

// CoverArt is the first attached picture (an mp3's cover), or nil.
func (p *Probe) CoverArt() *Stream {
	for i := range p.Streams {
		s := &p.Streams[i]
		if s.CodecType == "video" && s.Disposition["attached_pic"] != 0 {
			return s
		}
	}
	return nil
}

// Audio is the first audio stream, or nil.
func (p *Probe) Audio() *Stream {
	for i := range p.Streams {
		if p.Streams[i].CodecType == "audio" {
			return &p.Streams[i]
		}
	}
	return nil
}

// Tag returns a container or stream tag, matched without regard to case.
func (p *Probe) Tag(name string) string {
	maps := []map[string]string{p.Format.Tags}
	for _, s := range p.Streams {
		maps = append(maps, s.Tags)
	}
	for _, m := range maps {
		for k, v := range m {
			if strings.EqualFold(k, name) && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// ErrNotMedia means ffprobe read the file but found no audio or video in it.
var ErrNotMedia = errors.New("no audio or video stream")

// Probe runs ffprobe on path. A file ffprobe cannot read gives an *Error
// carrying ffprobe's own reason.
func (t Tools) Probe(ctx context.Context, path string) (*Probe, error) {
	cmd := exec.CommandContext(ctx, t.FFprobe, ProbeArgs(path)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = waitDelay
	var out bytes.Buffer
	tail := &tailBuffer{max: 2048}
	cmd.Stdout, cmd.Stderr = &out, tail
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Prog: "ffprobe", Err: err, Stderr: tail.String()}
	}
	var p Probe
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		return nil, fmt.Errorf("ffprobe output: %w", err)
	}
	if p.Video() == nil && p.Audio() == nil {
		return &p, ErrNotMedia
	}
	return &p, nil
}
