package config

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Segment formats of the VOD HLS output.
const (
	SegmentFMP4   = "fmp4"
	SegmentMPEGTS = "mpegts"
)

// Transcode configures the VOD pipeline: the durable job queue and the
// ffmpeg encodes that turn uploads into HLS.
type Transcode struct {
	// Workers is how many jobs run at once (each runs one ffmpeg).
	Workers int `toml:"workers"`
	// FFmpeg and FFprobe are the programs, by name (looked up in PATH) or path.
	FFmpeg  string `toml:"ffmpeg"`
	FFprobe string `toml:"ffprobe"`
	// SegmentDuration is the target HLS segment length; segments are cut at
	// the first keyframe at or after it.
	SegmentDuration Duration `toml:"segment_duration"`
	// SegmentFormat is fmp4 (default) or mpegts.
	SegmentFormat string `toml:"segment_format"`
	// Preset is the x264 preset used when a source must be encoded.
	Preset string `toml:"preset"`
	// AudioKbps is the AAC bitrate of encoded audio.
	AudioKbps int `toml:"audio_kbps"`
	// QuarantineDir, relative to library.media_dir, receives sources that
	// cannot be processed (corrupt or not media). The default lies inside
	// the admin folder, so admins see it over FTP.
	QuarantineDir string `toml:"quarantine_dir"`
	// Rescan is how often the media folders are scanned for sources copied
	// in by other means than FTPS (rsync, scp, cp) while thecure runs; a
	// file is taken once it has not changed for a whole interval. 0: only at
	// start.
	Rescan Duration `toml:"rescan"`
	// Renditions is the ABR ladder for sources that must be encoded; rungs
	// above the source's height are skipped.
	Renditions []Rendition `toml:"renditions"`
}

// Rendition is one rung of the encode ladder.
type Rendition struct {
	Height    int `toml:"height"`     // pixels; the width follows the aspect ratio
	VideoKbps int `toml:"video_kbps"` // H.264 target bitrate
}

func defaultTranscode() Transcode {
	return Transcode{
		Workers:         1,
		FFmpeg:          "ffmpeg",
		FFprobe:         "ffprobe",
		SegmentDuration: Duration(4e9),
		SegmentFormat:   SegmentFMP4,
		Preset:          "veryfast",
		AudioKbps:       128,
		QuarantineDir:   "admin/quarantine",
		Rescan:          Duration(time.Minute),
		Renditions: []Rendition{
			{Height: 1080, VideoKbps: 5000},
			{Height: 720, VideoKbps: 2800},
			{Height: 480, VideoKbps: 1400},
			{Height: 360, VideoKbps: 800},
		},
	}
}

func (v *validator) transcode(c *Transcode, folders []Folder) {
	v.check(c.Workers >= 1 && c.Workers <= 64, "transcode.workers", "must be between 1 and 64")
	v.check(c.FFmpeg != "", "transcode.ffmpeg", "must not be empty")
	v.check(c.FFprobe != "", "transcode.ffprobe", "must not be empty")
	d := c.SegmentDuration.Std()
	v.check(d >= 1e9 && d <= 30e9, "transcode.segment_duration", "must be between 1s and 30s")
	v.oneOf(c.SegmentFormat, "transcode.segment_format", SegmentFMP4, SegmentMPEGTS)
	v.oneOf(c.Preset, "transcode.preset", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
	v.check(c.Rescan == 0 || c.Rescan.Std() >= time.Second, "transcode.rescan", "must be 0 (off) or at least 1s")
	v.check(c.AudioKbps >= 32 && c.AudioKbps <= 512, "transcode.audio_kbps", "must be between 32 and 512")
	q := c.QuarantineDir
	switch {
	case q == "" || strings.HasPrefix(q, "/") || strings.Contains(q, `\`):
		v.fail("transcode.quarantine_dir", "%q must be a relative path inside library.media_dir", q)
	case path.Clean(q) != q || q == "." || strings.HasPrefix(q, ".."):
		v.fail("transcode.quarantine_dir", "%q must be a clean relative path inside library.media_dir", q)
	default:
		top, _, _ := strings.Cut(q, "/")
		for _, f := range folders {
			if f.Name == top && f.Kind != KindFiles {
				v.fail("transcode.quarantine_dir", "%q lies in folder %q of kind %s: put it in a folder of kind files (or a new one)", q, f.Name, f.Kind)
			}
		}
	}
	v.check(len(c.Renditions) > 0, "transcode.renditions", "at least one rendition is needed")
	seen := map[int]bool{}
	for i, r := range c.Renditions {
		key := fmt.Sprintf("transcode.renditions[%d]", i)
		switch {
		case r.Height < 144 || r.Height > 4320 || r.Height%2 != 0:
			v.fail(key+".height", "%d must be an even number between 144 and 4320", r.Height)
		case seen[r.Height]:
			v.fail(key+".height", "height %d is listed twice", r.Height)
		}
		seen[r.Height] = true
		v.check(r.VideoKbps >= 100 && r.VideoKbps <= 100000, key+".video_kbps", "must be between 100 and 100000")
	}
}
