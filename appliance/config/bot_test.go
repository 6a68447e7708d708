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
