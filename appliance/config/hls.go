package config

import "time"

// HLS variants of the live muxer.
const (
	HLSLowLatency = "lowlatency" // LL-HLS: fMP4 segments and parts, blocking playlist reloads
	HLSFMP4       = "fmp4"       // HLS with fMP4 segments
	HLSMPEGTS     = "mpegts"     // classic HLS with MPEG-TS segments (oldest players)
)

// HLS configures the live HLS muxers (one per live stream).
type HLS struct {
	Variant         string   `toml:"variant"`
	SegmentDuration Duration `toml:"segment_duration"` // minimum; segments are cut at keyframes
	PartDuration    Duration `toml:"part_duration"`    // LL-HLS partial segments
	SegmentCount    int      `toml:"segment_count"`    // segments in the live window
	// RequestTimeout bounds a blocking playlist or part request.
	RequestTimeout Duration `toml:"request_timeout"`
	// SegmentDir keeps the segments of every live window on the file
	// system, one folder per publication (relative to data_dir); "": in
	// memory.
	SegmentDir string `toml:"segment_dir"`
}

func defaultHLS() HLS {
	return HLS{
		Variant:         HLSLowLatency,
		SegmentDuration: Duration(time.Second),
		PartDuration:    Duration(200 * time.Millisecond),
		SegmentCount:    7,
		RequestTimeout:  Duration(10 * time.Second),
		SegmentDir:      "live",
	}
}

func (v *validator) hls(c *HLS) {
	v.oneOf(c.Variant, "hls.variant", HLSLowLatency, HLSFMP4, HLSMPEGTS)
	v.check(c.SegmentDuration >= Duration(100*time.Millisecond), "hls.segment_duration", "must be at least 100ms")
	v.check(c.PartDuration >= Duration(10*time.Millisecond), "hls.part_duration", "must be at least 10ms")
	v.check(c.PartDuration <= c.SegmentDuration, "hls.part_duration", "must not be longer than hls.segment_duration")
	min := 3
	if c.Variant == HLSLowLatency {
		min = 7
	}
	if c.SegmentCount < min {
		v.fail("hls.segment_count", "must be at least %d for variant %q", min, c.Variant)
	}
	v.check(c.RequestTimeout >= Duration(time.Second), "hls.request_timeout", "must be at least 1s")
	v.check(c.SegmentDir != "." && c.SegmentDir != "/", "hls.segment_dir", "must be a folder of its own (\"\" keeps the segments in memory)")
}
