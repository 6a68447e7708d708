package config

import (
	"strings"
	"testing"
)

func TestBotMenuProblems(t *testing.T) {
	src := `
[bot]
enabled = true
token = ""

[[bot.menu]]
id = "start"
text = "no root here"
buttons = ["a"]

[[bot.menu]]
id = "a"
label = "A"
text = "a"
buttons = ["b", "ghost"]

[[bot.menu]]
id = "a"
label = "A again"
text = "dup"

[[bot.menu]]
id = "b"
label = "B"
action = "dance"
`
	t.Setenv("THECURE_BOT_TOKEN", "")
	_, _, err := Parse("bot.toml", []byte(src))
	probs, ok := err.(Problems)
	if !ok {
		t.Fatalf("want Problems, got %v", err)
	}
	want := map[string]string{
		"bot.token":              "needs a token",
		"bot.menu":               `no node has id "root"`,
		"bot.menu[1].buttons[1]": `no node has id "ghost"`,
		"bot.menu[2].id":         `already used by bot.menu[1]`,
		"bot.menu[3].action":     `"dance" is not one of`,
		"bot.menu[0].label":      "must not be empty",
	}
	got := map[string]string{}
	for _, p := range probs {
		got[p.Key] = p.Msg
		if p.Line == 0 {
			t.Errorf("%s: no line number", p.Key)
		}
	}
	for k, w := range want {
		if !strings.Contains(got[k], w) {
			t.Errorf("%s: got %q, want it to mention %q", k, got[k], w)
		}
	}
	if t.Failed() {
		t.Logf("all problems:\n%v", probs)
	}
}

func TestBotMenuUnreachable(t *testing.T) {
	src := `
[[bot.menu]]
id = "root"
text = "hi"
buttons = ["a"]

[[bot.menu]]
id = "a"
label = "A"
text = "a"

[[bot.menu]]
id = "island"
label = "I"
text = "nobody links here"
buttons = ["a"]
`
	_, _, err := Parse("bot.toml", []byte(src))
	probs, ok := err.(Problems)
	if !ok || len(probs) != 1 || probs[0].Key != "bot.menu[2]" || !strings.Contains(probs[0].Msg, "cannot be reached") {
		t.Fatalf("want one unreachable-node problem at bot.menu[2], got %v", err)
	}
	if probs[0].Line != 12 {
		t.Errorf("line %d, want 12", probs[0].Line)
	}
}

func TestBotWebhookNeedsSecret(t *testing.T) {
	t.Setenv("THECURE_BOT_WEBHOOK_SECRET", "")
	_, _, err := Parse("bot.toml", []byte("[bot]\nwebhook_url = \"https://example.org/tg\"\n"))
	if err == nil || !strings.Contains(err.Error(), "bot.webhook_secret") {
		t.Fatalf("want a webhook_secret problem, got %v", err)
	}
}

// The character-set checks that replaced regular expressions accept and
// refuse what those did: ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ (stream names),
// ^[a-z0-9_-]{1,32}$ (menu ids), ^[A-Za-z0-9_-]{1,256}$ (webhook secrets).
func TestCharsetChecks(t *testing.T) {
	for _, c := range []struct {
		s                   string
		stream, menu, token bool
	}{
		{"", false, false, false},
		{"a", true, true, true},
		{"Live_1-x", true, false, true},
		{"live_1-x", true, true, true},
		{"_live", false, true, true},
		{"-live", false, true, true},
		{"9", true, true, true},
		{"a b", false, false, false},
		{"a/b", false, false, false},
		{"caf\u00e9", false, false, false},
		{"a.b", false, false, false},
		{strings.Repeat("a", 32), true, true, true},
		{strings.Repeat("a", 33), true, false, true},
		{strings.Repeat("a", 64), true, false, true},
		{strings.Repeat("a", 65), false, false, true},
		{strings.Repeat("a", 256), false, false, true},
		{strings.Repeat("a", 257), false, false, false},
	} {
		if got := ValidStreamName(c.s); got != c.stream {
			t.Errorf("ValidStreamName(%.20q) = %v", c.s, got)
		}
		if got := menuID(c.s); got != c.menu {
			t.Errorf("menuID(%.20q) = %v", c.s, got)
		}
		if got := secretToken(c.s); got != c.token {
			t.Errorf("secretToken(%.20q) = %v", c.s, got)
		}
	}
}
