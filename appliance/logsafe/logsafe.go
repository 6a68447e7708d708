// Package logsafe makes values that clients chose (user names, paths,
// stream names) safe for a log line: clipped, so a 64 KB name cannot make a
// 64 KB line, and escaped, so control and bidi characters cannot forge or
// hide log lines.
package logsafe

import (
	"strconv"
	"unicode/utf8"
)

// Max is how many bytes of a client's value go into a log line.
const Max = 64

// Value returns v clipped to max bytes on a rune boundary (a cut is marked
// with "...") with control, bidi and other unprintable characters and
// invalid UTF-8 escaped as Go quotes them (\n, \u202e, \xff). slog adds the
// surrounding quotes where the value needs them.
func Value(v string, max int) string {
	cut := ""
	if len(v) > max {
		n := max
		for n > 0 && !utf8.RuneStart(v[n]) {
			n--
		}
		v, cut = v[:n], "..."
	}
	q := strconv.Quote(v)
	return q[1:len(q)-1] + cut
}
