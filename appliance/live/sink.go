package live

import (
	"strconv"
	"time"

	"github.com/bluenviron/gohlslib/v2"
)

// Sink receives a plain HLS copy of every live stream as it is made, for
// object storage behind a CDN (appliance/publish): the files of each
// complete segment, then playlists listing only complete segments (no
// LL-HLS parts: a CDN cannot hold blocking playlist requests).
type Sink interface {
	// LiveUpdate is called by the stream's source goroutine; it must not
	// block.
	LiveUpdate(u Update)
}

// File is one file of an Update; Data must not be modified.
type File struct {
	Name        string // relative to the stream's folder
	ContentType string
	Data        [][]byte
	Duration    time.Duration // of a segment
}

// Update is what changed in a live stream: new files first, then the
// playlists that list them.
type Update struct {
	Stream string // its name
	// Publication tells one publication of the name from the next (their
	// segment names differ, their playlist names are the same).
	Publication string
	Files       []File // init files and complete segments, in order
	Playlists   []File // media playlists, then index.m3u8
	Gone        []string
	Ended       bool
	// Closed is when the newest segment closed.
	Closed time.Time
}

// SetSink hands every stream published from now on to sink as well. Call
// it before the first Publish.
func (h *Hub) SetSink(sink Sink) { h.sink = sink }

// onPublish is the muxer's callback for stream s, nil without a sink.
func (h *Hub) onPublish(s *Stream) gohlslib.MuxerOnPublishFunc {
	if h.sink == nil {
		return nil
	}
	pub := strconv.FormatInt(s.started.UnixNano(), 36)
	return func(p gohlslib.MuxerPublication) {
		u := Update{Stream: s.name, Publication: pub, Gone: p.Gone, Ended: p.Ended, Closed: time.Now()}
		for _, f := range p.Files {
			u.Files = append(u.Files, File{Name: f.Path, ContentType: f.ContentType, Data: f.Data, Duration: f.Duration})
		}
		for _, f := range p.Playlists {
			u.Playlists = append(u.Playlists, File{Name: f.Path, ContentType: f.ContentType, Data: f.Data})
		}
		h.sink.LiveUpdate(u)
	}
}
