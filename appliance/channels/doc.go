// Package channels plays library titles out as continuous live channels
// ([[channels]] in the config) without re-encoding on air, and publishes
// their guide: /api/channels, /channels.m3u and /epg.xml.
package channels

import "time"

// Entry is one programme on a channel's timeline.
type Entry struct {
	Title   string    `json:"title"`              // what the guide shows
	TitleID string    `json:"title_id,omitempty"` // catalogue id; "" for the slate
	Kind    string    `json:"kind"`               // "film", "episode", "track" or "slate"
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// Channel is a channel as the guide shows it.
type Channel struct {
	Name  string `json:"name"`           // stream name: /live/NAME/index.m3u8, rtmp://HOST/live/NAME
	Title string `json:"title"`          // display name
	Logo  string `json:"logo,omitempty"` // URL path of its logo; "" for none
}

// Timeline is what the guide needs from the playout.
type Timeline interface {
	// Channels lists the configured channels in config order.
	Channels() []Channel
	// Programme lists, in order, the entries of channel name that overlap
	// [from, to); nil for an unknown name.
	Programme(name string, from, to time.Time) []Entry
}
