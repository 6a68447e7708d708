package gohlslib

import (
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// thecure: Muxer.OnPublish hands a plain (not low-latency) HLS copy of the
// stream to the caller as it is made, for object storage behind a CDN: the
// files of every segment once it is complete, then playlists that list only
// complete segments (no parts, no preload hints, no blocking reload, which
// a CDN cannot do). LL-HLS parts stay with the muxer's own server.

// MuxerFile is one file of a publication. Data is the file's bytes in
// chunks; they are never modified and stay valid after the muxer drops them.
type MuxerFile struct {
	Path        string
	ContentType string
	Data        [][]byte
	// Duration and Start are a segment's (zero for other files).
	Duration time.Duration
	Start    time.Time
}

// MuxerPublication is what changed since the previous one.
type MuxerPublication struct {
	// Files are init files (once) and the segments completed since the
	// previous publication, in order.
	Files []MuxerFile
	// Playlists are the media playlists and then the multivariant playlist
	// ("index.m3u8"), listing only complete segments; they refer to Files
	// by relative paths.
	Playlists []MuxerFile
	// Gone are the segments that left the live window since the previous
	// publication.
	Gone []string
	// Ended: the stream has ended; the playlists end with EXT-X-ENDLIST.
	Ended bool
}

// MuxerOnPublishFunc is the prototype of Muxer.OnPublish. It is called by
// the goroutine that writes samples (or calls Finish), after the muxer's
// lock is released, and must not block.
type MuxerOnPublishFunc func(MuxerPublication)

// publication collects what is new since the previous one. Called with the
// mutex held.
func (m *Muxer) publication() (MuxerPublication, bool) {
	var p MuxerPublication
	if m.OnPublish == nil {
		return p, false
	}
	p.Ended = m.ended
	for _, s := range m.streams {
		if s.variant != MuxerVariantMPEGTS && s.initFile != nil && !s.pubInit {
			p.Files = append(p.Files, MuxerFile{
				Path: initFilePath(s.prefix, s.id), ContentType: s.initContentType(), Data: [][]byte{s.initFile},
			})
			s.pubInit = true
		}
		for _, seg := range s.segments {
			id, start := segmentIDStart(seg)
			if id < s.pubNext {
				continue
			}
			data, err := segmentChunks(seg)
			if err != nil { // thecure: a segment on disk that cannot be read back
				m.OnEncodeError(fmt.Errorf("publish %s: %w", seg.getPath(), err))
			}
			p.Files = append(p.Files, MuxerFile{
				Path: seg.getPath(), ContentType: s.mediaContentType(), Data: data,
				Duration: seg.getDuration(), Start: start,
			})
			s.pubNext = id + 1
		}
		p.Gone = append(p.Gone, s.pubGone...)
		s.pubGone = nil
	}
	if len(p.Files) == 0 && len(p.Gone) == 0 && !p.Ended {
		return p, false
	}
	for _, s := range m.streams {
		byts, err := s.plainMediaPlaylist()
		if err != nil {
			m.OnEncodeError(err)
			return p, false
		}
		p.Playlists = append(p.Playlists, MuxerFile{
			Path: mediaPlaylistPath(s.id), ContentType: "application/vnd.apple.mpegurl", Data: [][]byte{byts},
		})
	}
	byts, err := m.generateMultivariantPlaylist("")
	if err != nil {
		m.OnEncodeError(err)
		return p, false
	}
	p.Playlists = append(p.Playlists, MuxerFile{
		Path: "index.m3u8", ContentType: "application/vnd.apple.mpegurl", Data: [][]byte{byts},
	})
	return p, true
}

// publish hands the publication over, if any: after the mutex is released.
func (m *Muxer) publish(p MuxerPublication, ok bool) {
	if ok && m.OnPublish != nil {
		m.OnPublish(p)
	}
}

func segmentIDStart(seg muxerSegment) (uint64, time.Time) {
	switch s := seg.(type) {
	case *muxerSegmentFMP4:
		return s.id, s.startNTP
	case *muxerSegmentMPEGTS:
		return s.id, s.startNTP
	}
	return 0, time.Time{}
}

func segmentChunks(seg muxerSegment) ([][]byte, error) {
	var chunks [][]byte
	switch s := seg.(type) {
	case *muxerSegmentFMP4:
		chunks = storageChunks(s.storage)
	case *muxerSegmentMPEGTS:
		chunks = storageChunks(s.storage)
	}
	if chunks != nil {
		return chunks, nil
	}
	// thecure: a segment on disk is read back for the publication (once,
	// when it is complete; the caller keeps it only until it is uploaded)
	r, err := seg.reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

func (s *muxerStream) initContentType() string {
	if areAllAudio(s.tracks) {
		return "audio/mp4"
	}
	return "video/mp4"
}

// plainMediaPlaylist is the media playlist of complete segments only.
func (s *muxerStream) plainMediaPlaylist() ([]byte, error) {
	if s.variant == MuxerVariantMPEGTS {
		return s.generateMediaPlaylistMPEGTS(false, "")
	}
	pl := &playlist.Media{
		Version:        7,
		TargetDuration: s.provisionalTargetDuration(),
		MediaSequence:  s.segmentDeleteCount,
		Endlist:        s.ended,
		Map:            &playlist.MediaMap{URI: initFilePath(s.prefix, s.id)},
	}
	if s.discontinuityDeleted > 0 { // thecure: where the H.264 parameters changed
		pl.DiscontinuitySequence = ptrOf(s.discontinuityDeleted)
	}
	for _, sog := range s.segments {
		if seg, ok := sog.(*muxerSegmentFMP4); ok {
			pl.Segments = append(pl.Segments, &playlist.MediaSegment{
				DateTime:      &seg.startNTP,
				Duration:      seg.getDuration(),
				URI:           seg.path,
				Discontinuity: seg.discontinuity,
			})
		}
	}
	return pl.Marshal()
}
