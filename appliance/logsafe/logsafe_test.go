package logsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValue(t *testing.T) {
	for in, want := range map[string]string{
		"maria":                 "maria",
		"maría":                 "maría",
		"a\nb\u202ec":           `a\nb\u202ec`,
		"x\xffy":                `x\xffy`,
		`say "hi"`:              `say \"hi\"`,
		strings.Repeat("é", 40): strings.Repeat("é", 32) + "...",
	} {
		if got := Value(in, Max); got != want {
			t.Errorf("Value(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzValue: whatever the input, the result is valid UTF-8 with no control
// or bidi characters and of bounded length.
func FuzzValue(f *testing.F) {
	f.Add("a\nb")
	f.Add(strings.Repeat("\u202e", 100))
	f.Fuzz(func(t *testing.T, s string) {
		got := Value(s, Max)
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\u202e' }) {
			t.Fatalf("Value(%q) = %q", s, got)
		}
		if len(got) > 4*Max+3 {
			t.Fatalf("Value(%q) is %d bytes", s, len(got))
		}
	})
}
