package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestChannels(t *testing.T) {
	cfg, _, err := Parse("c.toml", []byte("[[channels]]\nname = \"cine\"\nfolder = \"pelis\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Channels[0]
	if !c.Loop || c.Order != OrderSequential || c.OnDelete != OnDeleteFinish || c.ChannelProfile() != "720p" || c.DisplayTitle() != "cine" {
		t.Errorf("defaults of a channel: %+v", c)
	}
	cfg, _, err = Parse("c.toml", []byte("[[channels]]\nname = \"cine\"\nfolder = \"pelis\"\nloop = false\n"))
	if err != nil || cfg.Channels[0].Loop {
		t.Errorf("loop = false: %v %+v", err, cfg)
	}
	bad := []struct{ doc, want string }{
		{"[[rtmp.pull]]\nname = \"cine\"\nurl = \"rtmp://o/live/x\"\n[[channels]]\nname = \"cine\"\nfolder = \"pelis\"\n",
			"c.toml:5: channels[0].name: \"cine\" is already the name of another channel or of a [[rtmp.pull]]"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis\"\n[[channels]]\nname = \"a\"\nfolder = \"pelis\"\n",
			"c.toml:5: channels[1].name: \"a\" is already the name"},
		{"[[channels]]\nname = \"a\"\n", "channels[0]: needs a folder or titles"},
		{"[[channels]]\nname = \"a\"\nfolder = \"admin\"\n", "channels[0].folder: \"admin\" holds plain files"},
		{"[[channels]]\nname = \"a\"\nfolder = \"nope/x\"\n", "channels[0].folder: \"nope\" is not a library folder"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis/../x\"\n", "not a clean relative path"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis\"\nprofile = \"721p\"\n", "c.toml:4: channels[0].profile: \"721p\" is not a rung"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis\"\norder = \"random\"\n", "channels[0].order"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis\"\non_delete = \"skip\"\n", "channels[0].on_delete"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis\"\nbogus = 1\n", "c.toml:4: channels[0].bogus: unknown key"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis\"\n[[channels.schedule]]\nat = \"Mon-Fry 21:00\"\ntitle = \"x\"\n",
			"c.toml:5: channels[0].schedule[0].at: \"Mon-Fry 21:00\" is not a time"},
		{"[[channels]]\nname = \"a\"\nfolder = \"pelis\"\n[[channels.schedule]]\nat = \"21:00\"\n",
			"channels[0].schedule[0]: needs a title or a folder"},
	}
	for _, b := range bad {
		_, _, err := Parse("c.toml", []byte(b.doc))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: got %v, want %q", b.doc, err, b.want)
		}
	}
	var b strings.Builder
	for i := range maxChannels + 1 {
		fmt.Fprintf(&b, "[[channels]]\nname = \"c%d\"\nfolder = \"pelis\"\n", i)
	}
	if _, _, err := Parse("c.toml", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "channels: 65 is above the maximum 64") {
		t.Errorf("65 channels: %v", err)
	}
}

func TestSlotTime(t *testing.T) {
	loc := time.Local
	// a Friday
	fri := time.Date(2026, 11, 27, 20, 0, 0, 0, loc)
	for _, c := range []struct {
		at   string
		from time.Time
		want time.Time
	}{
		{"Mon-Fri 21:00", fri, time.Date(2026, 11, 27, 21, 0, 0, 0, loc)},
		{"Mon-Fri 19:00", fri, time.Date(2026, 11, 30, 19, 0, 0, 0, loc)},
		{"Sat,Sun 10:30", fri, time.Date(2026, 11, 28, 10, 30, 0, 0, loc)},
		{"Fri-Mon 08:00", fri, time.Date(2026, 11, 28, 8, 0, 0, 0, loc)},
		{"20:00", fri, time.Date(2026, 11, 28, 20, 0, 0, 0, loc)},
		{"daily 20:01", fri, time.Date(2026, 11, 27, 20, 1, 0, 0, loc)},
		{"2026-11-27T20:00:00Z", fri.Add(-24 * time.Hour), time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)},
		{"2026-11-27T20:00:00Z", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), time.Time{}},
	} {
		st, err := ParseSlotTime(c.at)
		if err != nil {
			t.Fatalf("%s: %v", c.at, err)
		}
		if got := st.Next(c.from); !got.Equal(c.want) {
			t.Errorf("%s after %v: %v, want %v", c.at, c.from, got, c.want)
		}
	}
	for _, s := range []string{"", "Mon 25:00", "Mon 9:5", "Funday 10:00", "Mon-Fri 21:00 x"} {
		if _, err := ParseSlotTime(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
