package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseCallback: callback data comes from any Telegram client and may be
// forged. Only ids the menu could contain may come out, and every id the menu
// can contain round-trips.
func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{"n:root", "n:conn_none", "n:", "n:../x", "x:root", "", "n:" + strings.Repeat("a", 33), "n:ROOT", "n:a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		id, ok := parseCallback(data)
		if !ok {
			if id != "" {
				t.Fatalf("rejected %q but returned %q", data, id)
			}
			return
		}
		if !validID(id) || len(callbackData(id)) > 64 {
			t.Fatalf("accepted %q as id %q", data, id)
		}
		if callbackData(id) != data {
			t.Fatalf("%q does not round-trip (id %q)", data, id)
		}
		if back, ok := parseCallback(callbackData(id)); !ok || back != id {
			t.Fatalf("id %q does not round-trip", id)
		}
	})
}

// FuzzParseCommand: message texts come from anyone.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/start", "/allow 123", "/close@thecure_bot 7", "/help@other_bot", "/", "/ x", "hola", "/ALLOW  1  2", "/a@", "/é", "/start\n\nx"} {
		f.Add(s, "thecure_bot")
	}
	f.Fuzz(func(t *testing.T, text, botName string) {
		cmd, args, ok := parseCommand(text, botName)
		if !ok {
			if cmd != "" || args != nil {
				t.Fatalf("rejected %q but returned %q %q", text, cmd, args)
			}
			return
		}
		if !strings.HasPrefix(text, "/") || cmd == "" || len(cmd) > 32 || strings.ToLower(cmd) != cmd {
			t.Fatalf("%q gave command %q", text, cmd)
		}
		for i := 0; i < len(cmd); i++ {
			if c := cmd[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				t.Fatalf("%q gave command %q with %q", text, cmd, c)
			}
		}
		for _, a := range args {
			if a == "" || strings.ContainsAny(a, " \t\n") {
				t.Fatalf("%q gave argument %q", text, a)
			}
			if utf8.ValidString(text) && !utf8.ValidString(a) {
				t.Fatalf("%q gave invalid UTF-8 argument %q", text, a)
			}
		}
		if !strings.Contains(strings.ToLower(text), cmd) {
			t.Fatalf("command %q is not in %q", cmd, text)
		}
	})
}

// FuzzEscapeMD: escaped text never opens a Markdown entity.
func FuzzEscapeMD(f *testing.F) {
	for _, s := range []string{"a_b", "*bold*", "`x`", "[l](u)", "plain", "\\_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escapeMD(s)
		for i := 0; i < len(e); i++ {
			switch e[i] {
			case '\\':
				if i+1 < len(e) && strings.IndexByte("_*`[", e[i+1]) >= 0 {
					i++
				}
			case '_', '*', '`', '[':
				t.Fatalf("unescaped %q at %d in %q", e[i], i, e)
			}
		}
	})
}
