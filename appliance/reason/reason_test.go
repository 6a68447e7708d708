package reason

import (
	"strings"
	"testing"
)

func TestPublic(t *testing.T) {
	for detail, want := range map[string]string{
		"": "",
		"ffprobe: exit status 1: /srv/thecure/media/pelis/x.mp4: Invalid data found when processing input; the source was moved to admin/quarantine/pelis/x.mp4": "not a readable media file; the source was moved to quarantine",
		"ffmpeg: exit status 187: [libx264 @ 0x55] height not divisible by 2":                                                                                    "encoding failed",
		"disk full: mkdir /var/lib/thecure/hls/.staging/ab12-3: no space left on device":                                                                         "disk full",
		"staging: mkdir /var/lib/thecure/hls/.staging/ab12-3: permission denied":                                                                                 "cannot write the output",
		"ffmpeg not found: exec: \"ffmpeg\": executable file not found in $PATH; jobs wait (set transcode.ffmpeg and transcode.ffprobe)":                         "ffmpeg not found",
		"no audio or video stream; the source was moved to admin/quarantine/a.txt":                                                                               "no audio or video stream; the source was moved to quarantine",
		"no video stream in a movies folder": "no video stream in a movies folder",
		"cannot reach the Bot API: Get \"https://api.telegram.org/bot123:abc/getMe\": dial tcp: i/o timeout": "cannot reach the Bot API",
		"/var/lib/thecure/control.sock":                   Failed,
		"[::]:8080 127.0.0.1:2121":                        Failed,
		"http: accept tcp [::]:8080: too many open files": "http",
		"stopped unexpectedly":                            "stopped unexpectedly",
		"rename C:\\x y: denied":                          Failed,
		strings.Repeat("x", 200):                          Failed,
		"last backup failed\x1b[31m: boom":                Failed,
	} {
		got := Public(detail)
		if got != want {
			t.Errorf("Public(%q) = %q, want %q", detail, got, want)
		}
	}
}

// FuzzPublic: whatever the detail, the public reason holds no slash, no
// colon of an address and is short.
func FuzzPublic(f *testing.F) {
	f.Add("ffprobe: exit status 1: /a/b: Invalid data; the source was moved to admin/quarantine/b")
	f.Add("disk full: write /x: no space left on device")
	f.Add("[::1]:8080")
	f.Fuzz(func(t *testing.T, detail string) {
		got := Public(detail)
		if strings.ContainsAny(got, `/\"`) || len([]rune(got)) > MaxLen+len("; the source was moved to quarantine") {
			t.Fatalf("Public(%q) = %q", detail, got)
		}
		if detail != "" && strings.TrimSpace(detail) != "" && got == "" {
			t.Fatalf("Public(%q) is empty", detail)
		}
	})
}
