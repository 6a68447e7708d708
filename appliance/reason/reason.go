// Package reason turns the detailed reason of a failure (an error chain
// with file paths, addresses and the stderr of ffprobe) into the short
// reason shown to anyone: public endpoints show states and short reasons,
// never paths; the details stay for admins (/admin, the control socket).
package reason

import (
	"strings"
	"unicode/utf8"
)

// MaxLen bounds a public reason, in characters.
const MaxLen = 80

// Failed is the reason shown when nothing of the detail may be.
const Failed = "failed"

// known are details whose cause is known by their start, with the short
// reason each gives.
var known = []struct{ prefix, public string }{
	{"ffprobe:", "not a readable media file"},
	{"ffprobe output:", "not a readable media file"},
	{"ffmpeg:", "encoding failed"},
	{"ffmpeg not found", "ffmpeg not found"},
	{"disk full", "disk full"},
	{"staging:", "cannot write the output"},
	{"publish:", "cannot publish the output"},
	{"store:", "database error"},
}

// Public returns the short reason of a detail: a known cause, else the
// detail's first clause (what comes before the first ": " of an error
// chain) when it holds no path, address or URL, else Failed. A source moved
// to quarantine says so, without the path. "" stays "".
func Public(detail string) string {
	detail = strings.TrimSpace(detail)
	if detail == "" {
		return ""
	}
	main, note, _ := strings.Cut(detail, "; ")
	out := ""
	for _, k := range known {
		if strings.HasPrefix(main, k.prefix) {
			out = k.public
			break
		}
	}
	if out == "" {
		first, _, _ := strings.Cut(main, ": ")
		out = first
		if !clean(out) {
			out = Failed
		}
	}
	if strings.Contains(note, "moved to") {
		out += "; the source was moved to quarantine"
	}
	return out
}

// clean reports a short clause with nothing that may name a place: no
// slash or backslash (paths, URLs), no colon (addresses, schemes), no
// quotes (quoted client values), no control characters.
func clean(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > MaxLen || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || r == '\\' || r == ':' || r == '"' || r == '\'' || r == '`' || r < ' ' || r == 0x7f ||
			(r >= 0x80 && r < 0xa0)
	})
}
