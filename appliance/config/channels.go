package config

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Channel is one 24/7 playout channel ([[channels]]): library titles
// played one after the other as a live stream named Name, served like a
// published stream (rtmp://HOST/live/NAME, /live/NAME/index.m3u8).
type Channel struct {
	Name  string `toml:"name"`  // stream name
	Title string `toml:"title"` // display name; "" means Name
	Logo  string `toml:"logo"`  // URL (or URL path) of a logo for the guide; optional
	// Folder is a library folder ([[ftp.folders]] name), optionally with a
	// subfolder ("pelis/clasicos"): its ready titles join the rotation.
	Folder string `toml:"folder"`
	// Titles are title ids or source paths (relative to library.media_dir).
	Titles []string `toml:"titles"`
	Order  string   `toml:"order"` // sequential | shuffle
	Loop   bool     `toml:"loop"`  // start over after the last title (default true)
	// Profile is the rung of transcode.renditions the channel plays, by
	// its name ("720p"): titles without a rendition of that size are
	// normalised once by the transcode queue before they air.
	Profile string `toml:"profile"`
	// OnDelete says what happens to a title deleted while on air: finish
	// it (default) or cut to the next one at once.
	OnDelete string        `toml:"on_delete"`
	Schedule []ChannelSlot `toml:"schedule"`
}

// ChannelSlot is one [[channels.schedule]] entry: at At, the title or the
// folder takes the air (cutting what plays); the rotation follows.
type ChannelSlot struct {
	At     string `toml:"at"`     // "Mon-Fri 21:00", "Sat,Sun 10:30", "daily 08:00" or RFC 3339
	Title  string `toml:"title"`  // a title id or source path
	Folder string `toml:"folder"` // or a library folder, played through once in order
}

// Channel orders and on_delete choices.
const (
	OrderSequential = "sequential"
	OrderShuffle    = "shuffle"
	OnDeleteFinish  = "finish"
	OnDeleteCut     = "cut"
)

// SetDefaults gives a [[channels]] entry starts from before its keys are
// decoded (the decoder calls it for each new list element).
func (c *Channel) SetDefaults() {
	c.Order = OrderSequential
	c.Loop = true
	c.OnDelete = OnDeleteFinish
}

// DefaultChannelProfile is the profile of a channel that names none.
const DefaultChannelProfile = "720p"

const (
	maxChannels     = 64  // [[channels]]
	maxChannelSlots = 256 // [[channels.schedule]] per channel
	maxChannelItems = 1000
)

// ProfileHeight is the height of a profile name ("720p" -> 720).
func ProfileHeight(p string) (int, bool) {
	s, ok := strings.CutSuffix(p, "p")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// ChannelProfile is the profile a channel plays: its own or the default.
func (c *Channel) ChannelProfile() string {
	if c.Profile == "" {
		return DefaultChannelProfile
	}
	return c.Profile
}

// DisplayTitle is the channel's title, or its name.
func (c *Channel) DisplayTitle() string {
	if c.Title == "" {
		return c.Name
	}
	return c.Title
}

func (v *validator) channels(cs []Channel, folders []Folder, rtmp *RTMP, rungs []Rendition) {
	atMost(v, "channels", len(cs), maxChannels)
	names := map[string]bool{}
	for _, p := range rtmp.Pull {
		names[p.Name] = true
	}
	for i, c := range cs {
		key := fmt.Sprintf("channels[%d]", i)
		switch {
		case !ValidStreamName(c.Name):
			v.fail(key+".name", "stream name must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
		case names[c.Name]:
			v.fail(key+".name", "%q is already the name of another channel or of a [[rtmp.pull]]", c.Name)
		}
		names[c.Name] = true
		v.check(len(c.Title) <= 200, key+".title", "must be at most 200 bytes")
		v.check(len(c.Logo) <= 2000, key+".logo", "must be at most 2000 bytes")
		v.check(c.Folder != "" || len(c.Titles) > 0, key, "needs a folder or titles")
		if c.Folder != "" {
			v.libraryFolder(c.Folder, key+".folder", folders)
		}
		atMost(v, key+".titles", len(c.Titles), maxChannelItems)
		for j, t := range c.Titles {
			v.check(t != "" && len(t) <= 1024, fmt.Sprintf("%s.titles[%d]", key, j), "must be a title id or a source path")
		}
		v.oneOf(c.Order, key+".order", OrderSequential, OrderShuffle)
		v.oneOf(c.OnDelete, key+".on_delete", OnDeleteFinish, OnDeleteCut)
		if h, ok := ProfileHeight(c.ChannelProfile()); !ok || !slices.ContainsFunc(rungs, func(r Rendition) bool { return r.Height == h }) {
			var have []string
			for _, r := range rungs {
				have = append(have, fmt.Sprintf("%dp", r.Height))
			}
			v.fail(key+".profile", "%q is not a rung of transcode.renditions (%s)", c.ChannelProfile(), strings.Join(have, ", "))
		}
		atMost(v, key+".schedule", len(c.Schedule), maxChannelSlots)
		for j, s := range c.Schedule {
			sk := fmt.Sprintf("%s.schedule[%d]", key, j)
			if _, err := ParseSlotTime(s.At); err != nil {
				v.fail(sk+".at", "%v", err)
			}
			v.check((s.Title == "") != (s.Folder == ""), sk, "needs a title or a folder (one of them)")
			if s.Folder != "" {
				v.libraryFolder(s.Folder, sk+".folder", folders)
			}
		}
	}
}

// libraryFolder checks a folder of the library, optionally with subfolders.
func (v *validator) libraryFolder(f, key string, folders []Folder) {
	top, _, _ := strings.Cut(f, "/")
	clean := path.Clean(f) == f && !strings.HasPrefix(f, "/") && !slices.Contains(strings.Split(f, "/"), "..")
	i := slices.IndexFunc(folders, func(x Folder) bool { return x.Name == top })
	switch {
	case !clean:
		v.fail(key, "%q is not a clean relative path (FOLDER or FOLDER/SUB)", f)
	case i < 0:
		v.fail(key, "%q is not a library folder ([[ftp.folders]])", top)
	case folders[i].Kind == KindFiles:
		v.fail(key, "%q holds plain files, not titles", top)
	}
}

// SlotTime is when a schedule entry takes the air: once (At) or weekly, on
// Days at Minute (minutes after local midnight).
type SlotTime struct {
	At     time.Time // non-zero: once
	Days   [7]bool   // by time.Weekday
	Minute int
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseSlotTime reads "Mon-Fri 21:00", "Sat,Sun 10:30", "daily 08:00",
// "21:00" (every day) or an RFC 3339 date-time.
func ParseSlotTime(s string) (SlotTime, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return SlotTime{At: t}, nil
	}
	bad := fmt.Errorf(`%q is not a time: write "Mon-Fri 21:00", "Sat,Sun 10:30", "daily 08:00" or an RFC 3339 date-time`, s)
	f := strings.Fields(s)
	var days, clock string
	switch len(f) {
	case 1:
		days, clock = "daily", f[0]
	case 2:
		days, clock = f[0], f[1]
	default:
		return SlotTime{}, bad
	}
	var st SlotTime
	hh, mm, ok := strings.Cut(clock, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(mm) != 2 {
		return SlotTime{}, bad
	}
	st.Minute = h*60 + m
	if strings.EqualFold(days, "daily") {
		st.Days = [7]bool{true, true, true, true, true, true, true}
		return st, nil
	}
	for _, part := range strings.Split(strings.ToLower(days), ",") {
		a, b, isRange := strings.Cut(part, "-")
		i, j := slices.Index(dayNames, a), slices.Index(dayNames, b)
		if !isRange {
			j = i
		}
		if i < 0 || j < 0 {
			return SlotTime{}, bad
		}
		for d := i; ; d = (d + 1) % 7 {
			st.Days[d] = true
			if d == j {
				break
			}
		}
	}
	return st, nil
}

// Next is the first time the slot takes the air strictly after t (zero
// when it never does again).
func (st SlotTime) Next(t time.Time) time.Time {
	if !st.At.IsZero() {
		if st.At.After(t) {
			return st.At
		}
		return time.Time{}
	}
	lt := t.Local()
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.Local)
	for i := range 8 {
		d := day.AddDate(0, 0, i)
		if !st.Days[d.Weekday()] {
			continue
		}
		at := d.Add(time.Duration(st.Minute) * time.Minute)
		if at.After(t) {
			return at
		}
	}
	return time.Time{}
}
