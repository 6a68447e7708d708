package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestRTMPRelays(t *testing.T) {
	good := `
[[rtmp.push]]
stream = "*"
url = "rtmp://edge1.example/live"
[[rtmp.push]]
stream = "studio"
url = "rtmp://a.rtmp.youtube.com:1935/live2/KEY?x=1"
[[rtmp.pull]]
name = "origin-cam"
url = "rtmp://[2001:db8::1]:1935/live/cam"
`
	cfg, _, err := Parse("t.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RTMP.Push) != 2 || cfg.RTMP.Push[1].URL != "rtmp://a.rtmp.youtube.com:1935/live2/KEY?x=1" ||
		len(cfg.RTMP.Pull) != 1 || cfg.RTMP.Pull[0].Name != "origin-cam" {
		t.Errorf("parsed: %+v %+v", cfg.RTMP.Push, cfg.RTMP.Pull)
	}

	bad := []struct{ toml, want string }{
		{"[[rtmp.push]]\nstream = \"a b\"\nurl = \"rtmp://h/live/x\"\n", `t.toml:2: rtmp.push[0].stream: must be "*" or a stream name`},
		{"[[rtmp.push]]\nstream = \"x\"\nurl = \"http://h/live/x\"\n", "t.toml:3: rtmp.push[0].url: must be an RTMP URL like rtmp://HOST[:PORT]/APP/NAME"},
		{"[[rtmp.push]]\nstream = \"x\"\nurl = \"rtmp://h/live\"\n", "rtmp.push[0].url: needs a path: rtmp://HOST[:PORT]/APP/NAME"},
		{"[[rtmp.push]]\nstream = \"*\"\nurl = \"rtmp://h/\"\n", "rtmp.push[0].url: needs a path: rtmp://HOST[:PORT]/APP"},
		{"[[rtmp.push]]\nstream = \"*\"\nurl = \"rtmp://user:pw@h/live\"\n", "rtmp.push[0].url: must be an RTMP URL"},
		{"[[rtmp.push]]\nstream = \"x\"\nurl = \"\"\n", "rtmp.push[0].url: must be an RTMP URL"},
		{"[[rtmp.push]]\nstream = \"x\"\nurl = \"rtmp://h/live/x\"\n[[rtmp.push]]\nstream = \"x\"\nurl = \"rtmp://h/live/x\"\n",
			"rtmp.push[1]: same stream and url as an earlier [[rtmp.push]]"},
		{"[[rtmp.pull]]\nname = \"../x\"\nurl = \"rtmp://h/live/x\"\n", "t.toml:2: rtmp.pull[0].name: stream name must be"},
		{"[[rtmp.pull]]\nname = \"x\"\nurl = \"rtmp:///live/x\"\n", "rtmp.pull[0].url: must be an RTMP URL"},
		{"[[rtmp.pull]]\nname = \"x\"\nurl = \"rtmp://h/live\"\n", "rtmp.pull[0].url: needs a path"},
		{"[[rtmp.pull]]\nname = \"x\"\nurl = \"rtmp://h/live/x\"\n[[rtmp.pull]]\nname = \"x\"\nurl = \"rtmp://g/live/x\"\n",
			"rtmp.pull[1].name: stream already pulled by an earlier [[rtmp.pull]]"},
		{"[[rtmp.pull]]\nname = \"x\"\nurl = \"rtmp://h/live/x\"\nport = 3\n", "rtmp.pull"}, // strict decoding
	}
	for _, c := range bad {
		_, _, err := Parse("t.toml", []byte(c.toml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.toml, err, c.want)
		}
	}

	// counts are bounded
	var b strings.Builder
	for i := range maxRelays + 1 {
		fmt.Fprintf(&b, "[[rtmp.pull]]\nname = \"s%d\"\nurl = \"rtmp://h/live/s%d\"\n", i, i)
	}
	if _, _, err := Parse("t.toml", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "rtmp.pull: 65 is above the maximum 64") {
		t.Errorf("65 pulls: %v", err)
	}
	b.Reset()
	for i := range maxRelays {
		fmt.Fprintf(&b, "[[rtmp.push]]\nstream = \"*\"\nurl = \"rtmp://h%d/live\"\n", i)
	}
	if _, _, err := Parse("t.toml", []byte(b.String())); err != nil {
		t.Errorf("64 pushes: %v", err)
	}
}
