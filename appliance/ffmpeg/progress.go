package ffmpeg

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// Progress is one block of ffmpeg's -progress output.
type Progress struct {
	OutTime time.Duration // media time written so far
	Frame   int64
	FPS     float64
	Speed   float64 // times realtime; 0 when not known yet
	End     bool    // the last block (progress=end)
}

// ParseProgress reads ffmpeg's -progress stream (key=value lines, each block
// ending with progress=continue or progress=end) and calls fn per block.
func ParseProgress(r io.Reader, fn func(Progress)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var p Progress
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "out_time_us", "out_time_ms": // both are microseconds in ffmpeg
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				p.OutTime = time.Duration(n) * time.Microsecond
			}
		case "frame":
			p.Frame, _ = strconv.ParseInt(v, 10, 64)
		case "fps":
			p.FPS, _ = strconv.ParseFloat(v, 64)
		case "speed":
			if f, err := strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64); err == nil {
				p.Speed = f
			}
		case "progress":
			p.End = v == "end"
			fn(p)
			p = Progress{OutTime: p.OutTime}
		}
	}
	return sc.Err()
}
