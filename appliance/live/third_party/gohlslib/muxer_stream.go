package gohlslib

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/bluenviron/gohlslib/v2/pkg/codecparams"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/gohlslib/v2/pkg/storage"
)

func mediaPlaylistPath(streamID string) string {
	return streamID + "_stream.m3u8"
}

func initFilePath(prefix string, streamID string) string {
	return prefix + "_" + streamID + "_init.mp4"
}

func filterOutHLSParams(rawQuery string) string {
	// thecure: no allocation when there are only LL-HLS parameters
	onlyHLS := true
	for rest := rawQuery; rest != "" && onlyHLS; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		onlyHLS = strings.HasPrefix(kv, "_HLS_")
	}
	if onlyHLS {
		return ""
	}
	if rawQuery != "" {
		if q, err := url.ParseQuery(rawQuery); err == nil {
			for k := range q {
				if strings.HasPrefix(k, "_HLS_") {
					delete(q, k)
				}
			}
			rawQuery = q.Encode()
		}
	}
	return rawQuery
}

func targetDuration(segments []muxerSegment) int {
	ret := int(0)

	// EXTINF, when rounded to the nearest integer, must be <= EXT-X-TARGETDURATION
	for _, sog := range segments {
		v := int(math.Round(sog.getDuration().Seconds()))
		if v > ret {
			ret = v
		}
	}

	return ret
}

func partTargetDuration(
	segments []muxerSegment,
	nextSegmentParts []*muxerPart,
) time.Duration {
	var ret time.Duration

	for _, seg := range segments {
		seg, ok := seg.(*muxerSegmentFMP4)
		if !ok {
			continue
		}

		for _, part := range seg.parts {
			if part.getDuration() > ret {
				ret = part.getDuration()
			}
		}
	}

	for _, part := range nextSegmentParts {
		if part.getDuration() > ret {
			ret = part.getDuration()
		}
	}

	// round to milliseconds to minimize changes
	return time.Millisecond * time.Duration(math.Ceil(float64(ret)/float64(time.Millisecond)))
}

type generateMediaPlaylistFunc func(
	isDeltaUpdate bool,
	rawQuery string,
) ([]byte, error)

type muxerStream struct {
	variant        MuxerVariant
	segmentMaxSize uint64
	segmentCount   int
	onEncodeError  MuxerOnEncodeErrorFunc
	mutex          *sync.Mutex
	cond           *sync.Cond
	notify         *muxerNotify  // thecure
	segMinDuration time.Duration // thecure: for the provisional target duration
	prefix         string
	storageFactory storage.Factory
	directory      string
	server         *muxerServer
	tracks         []*muxerTrack
	id             string
	isLeading      bool
	isRendition    bool
	name           string
	language       string
	isDefault      bool
	nextSegmentID  uint64
	nextPartID     uint64

	generateMediaPlaylist  generateMediaPlaylistFunc
	mpegtsSwitchableWriter *switchableWriter // mpegts only
	mpegtsWriter           *mpegts.Writer    // mpegts only
	segments               []muxerSegment
	nextSegment            muxerSegment
	nextPart               *muxerPart // low-latency only
	initFilePresent        bool       // fmp4 only
	segmentDeleteCount     int
	closed                 bool
	targetDuration         int
	partTargetDuration     time.Duration
	ended                  bool             // thecure: finished, playlists end with EXT-X-ENDLIST
	plCache                [2]playlistCache // thecure: full and delta media playlists
	initFile               []byte           // thecure: for Muxer.OnPublish
	pubInit                bool             // thecure: the init file was published
	pubNext                uint64           // thecure: the first segment not yet published
	publishing             bool             // thecure: Muxer.OnPublish is set
	partFiles              []*mediaFile     // thecure: the served parts of the segment in progress
	pubGone                []string         // thecure: segments gone since the last publication

	// thecure: EXT-X-DISCONTINUITY where the H.264 parameters change: the
	// next segment starts one; how many left the playlist
	discontinuityNext    bool
	discontinuityDeleted int
}

func (s *muxerStream) initialize() error {
	for _, track := range s.tracks {
		track.stream = s
	}

	if s.variant == MuxerVariantMPEGTS {
		s.generateMediaPlaylist = s.generateMediaPlaylistMPEGTS

		tracks := make([]*mpegts.Track, len(s.tracks))
		for i, track := range s.tracks {
			tracks[i] = track.mpegtsTrack
		}
		s.mpegtsSwitchableWriter = &switchableWriter{}
		s.mpegtsWriter = &mpegts.Writer{W: s.mpegtsSwitchableWriter, Tracks: tracks}
		err := s.mpegtsWriter.Initialize()
		if err != nil {
			return err
		}
	} else {
		s.generateMediaPlaylist = s.generateMediaPlaylistFMP4
	}

	s.server.registerPath(mediaPlaylistPath(s.id), s.handleMediaPlaylist)
	return nil
}

func (s *muxerStream) close() {
	s.closed = true

	for _, segment := range s.segments {
		segment.close()
	}

	if s.nextPart != nil {
		s.nextPart.finalize(0) //nolint:errcheck
	}

	if s.nextSegment != nil {
		s.nextSegment.finalize(0) //nolint:errcheck
		s.nextSegment.close()
	}
}

func (s *muxerStream) populateMultivariantPlaylist(
	pl *playlist.Multivariant,
	rawQuery string,
) error {
	mv := pl.Variants[0]

	for _, track := range s.tracks {
		codec := codecparams.Marshal(track.Codec)
		if codec != "" && !slices.Contains(mv.Codecs, codec) {
			mv.Codecs = append(mv.Codecs, codec)
		}

		switch codec := track.Codec.(type) {
		case *codecs.AV1:
			var sh av1.SequenceHeader
			err := sh.Unmarshal(codec.SequenceHeader)
			if err != nil {
				return err
			}

			mv.Resolution = strconv.FormatInt(int64(sh.Width()), 10) + "x" + strconv.FormatInt(int64(sh.Height()), 10)

			// TODO: FPS

		case *codecs.VP9:
			mv.Resolution = strconv.FormatInt(int64(codec.Width), 10) + "x" + strconv.FormatInt(int64(codec.Height), 10)

			// TODO: FPS

		case *codecs.H265:
			var sps h265.SPS
			err := sps.Unmarshal(codec.SPS)
			if err != nil {
				return err
			}

			mv.Resolution = strconv.FormatInt(int64(sps.Width()), 10) + "x" + strconv.FormatInt(int64(sps.Height()), 10)

			f := sps.FPS()
			if f != 0 {
				mv.FrameRate = &f
			}

		case *codecs.H264:
			var sps h264.SPS
			err := sps.Unmarshal(codec.SPS)
			if err != nil {
				return err
			}

			mv.Resolution = strconv.FormatInt(int64(sps.Width()), 10) + "x" + strconv.FormatInt(int64(sps.Height()), 10)

			f := sps.FPS()
			if f != 0 {
				mv.FrameRate = &f
			}
		}
	}

	uri := mediaPlaylistPath(s.id)
	if rawQuery != "" {
		uri += "?" + rawQuery
	}

	if s.isLeading {
		mv.URI = uri
	}

	if s.isRendition {
		mv.Audio = "audio"

		r := &playlist.MultivariantRendition{
			Type:       playlist.MultivariantRenditionTypeAudio,
			GroupID:    "audio",
			Name:       s.name,
			Language:   s.language,
			Autoselect: true,
			Default:    s.isDefault,
		}

		// draft-pantos-hls-rfc8216bis:
		// If the media type is VIDEO or AUDIO, a missing URI attribute
		// indicates that the media data for this Rendition is included in the
		// Media Playlist of any EXT-X-STREAM-INF tag referencing this EXT-
		// X-MEDIA tag.
		if !s.isLeading {
			r.URI = &uri
		}

		pl.Renditions = append(pl.Renditions, r)
	}

	return nil
}

func (s *muxerStream) hasContent() bool {
	switch {
	case s.variant == MuxerVariantFMP4 && !s.ended:
		return len(s.segments) >= 2
	case s.variant == MuxerVariantLowLatency && len(s.segments) == 0:
		// thecure: a LL-HLS playlist is published as soon as the first
		// part is complete (its only segment in progress)
		seg, ok := s.nextSegment.(*muxerSegmentFMP4)
		return ok && len(seg.parts) >= 1
	}
	return len(s.segments) >= 1
}

// partsBandwidth estimates the bandwidth from the parts of the segment in
// progress, before the first segment is complete (thecure).
func (s *muxerStream) partsBandwidth() (int, int) {
	seg, ok := s.nextSegment.(*muxerSegmentFMP4)
	if !ok {
		return 0, 0
	}
	var maxBandwidth, sizes uint64
	var durations time.Duration
	for _, part := range seg.parts {
		d := part.getDuration()
		if d <= 0 {
			continue
		}
		size := uint64(0)
		for _, c := range storageChunks(part.storage) {
			size += uint64(len(c))
		}
		maxBandwidth = max(maxBandwidth, 8*size*uint64(time.Second)/uint64(d))
		sizes += size
		durations += d
	}
	if durations == 0 {
		return 0, 0
	}
	return int(maxBandwidth), int(8 * sizes * uint64(time.Second) / uint64(durations))
}

func (s *muxerStream) hasPart(segmentID uint64, partID uint64) bool {
	if segmentID == s.nextSegmentID {
		if partID < uint64(len(s.nextSegment.(*muxerSegmentFMP4).parts)) {
			return true
		}
	} else {
		for _, sop := range s.segments {
			if seg, ok := sop.(*muxerSegmentFMP4); ok && segmentID == seg.id {
				// If the Client requests a Part Index greater than that of the final
				// Partial Segment of the Parent Segment, the Server MUST treat the
				// request as one for Part Index 0 of the following Parent Segment.
				if partID >= uint64(len(seg.parts)) {
					segmentID++
					partID = 0
					continue
				}

				return true
			}
		}
	}

	return false
}

func (s *muxerStream) mediaPlaylistMaxAge() string {
	if s.variant == MuxerVariantLowLatency || len(s.segments) == 0 || s.ended {
		return "no-cache"
	}

	lastSeg := s.segments[len(s.segments)-1]
	maxAge := int(math.Floor(lastSeg.getDuration().Seconds()))

	return "public, max-age=" + strconv.FormatInt(int64(maxAge), 10)
}

// thecure: the wait honours the request's context (503 when it ends), an
// ended stream answers its final playlist at once, a closed one or one
// without content 404, and the bytes are made once per muxer update when
// the request has no query other than the LL-HLS ones.
func (s *muxerStream) handleMediaPlaylist(w http.ResponseWriter, r *http.Request) {
	var msn, part, skip string
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		msn = queryVal(q, "_HLS_msn")
		part = queryVal(q, "_HLS_part")
		skip = queryVal(q, "_HLS_skip")
	}

	isDeltaUpdate := false
	ctx := r.Context()

	s.mutex.Lock()
	ready := func() bool { return s.closed || s.ended || s.hasContent() }

	if s.variant == MuxerVariantLowLatency {
		isDeltaUpdate = skip == "YES" || skip == "v2"

		msnint, partint, err := parseMSNPart(msn, part)
		if err != nil {
			s.mutex.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}

		switch {
		case msn != "":
			// If the _HLS_msn is greater than the Media Sequence Number of the last
			// Media Segment in the current Playlist plus two, or if the _HLS_part
			// exceeds the last Partial Segment in the current Playlist by the
			// Advance Part Limit, then the server SHOULD immediately return Bad
			// Request, such as HTTP 400.
			if !s.ended && !s.closed &&
				(msnint > (s.nextSegmentID+1) || msnint+uint64(len(s.segments)) < s.nextSegmentID) {
				s.mutex.Unlock()
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			ready = func() bool {
				return s.closed || s.ended || (s.hasContent() && s.hasPart(msnint, partint))
			}

		case part != "": // part without msn is not supported.
			s.mutex.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}

	if err := waitLocked(ctx, s.mutex, s.notify, ready); err != nil {
		s.mutex.Unlock()
		unavailable(w)
		return
	}
	if s.closed || !s.hasContent() {
		s.mutex.Unlock()
		http.NotFound(w, r)
		return
	}

	var byts []byte
	var etag []string
	var err error
	rawQuery := filterOutHLSParams(r.URL.RawQuery)
	if rawQuery == "" || s.variant == MuxerVariantMPEGTS && r.URL.RawQuery == "" {
		c := &s.plCache[0]
		if isDeltaUpdate {
			c = &s.plCache[1]
		}
		byts, etag, err = c.get(s.notify.version, s.prefix+"-"+s.id, func() ([]byte, error) {
			return s.generateMediaPlaylist(isDeltaUpdate, "")
		})
	} else {
		byts, err = s.generateMediaPlaylist(isDeltaUpdate, r.URL.RawQuery)
	}
	maxAge := s.mediaPlaylistMaxAge()
	s.mutex.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	servePlaylist(w, r, byts, etag, maxAge)
}

func (s *muxerStream) generateMediaPlaylistMPEGTS(
	_ bool,
	rawQuery string,
) ([]byte, error) {
	pl := &playlist.Media{
		Version:        3,
		AllowCache:     ptrOf(false),
		TargetDuration: s.provisionalTargetDuration(),
		MediaSequence:  s.segmentDeleteCount,
		Endlist:        s.ended, // thecure
	}
	if s.discontinuityDeleted > 0 { // thecure
		pl.DiscontinuitySequence = ptrOf(s.discontinuityDeleted)
	}

	for _, s := range s.segments {
		if seg, ok := s.(*muxerSegmentMPEGTS); ok {
			uri := seg.path
			if rawQuery != "" {
				uri += "?" + rawQuery
			}

			pl.Segments = append(pl.Segments, &playlist.MediaSegment{
				DateTime:      &seg.startNTP,
				Duration:      seg.getDuration(),
				URI:           uri,
				Discontinuity: seg.discontinuity, // thecure
			})
		}
	}

	return pl.Marshal()
}

func (s *muxerStream) generateMediaPlaylistFMP4(
	isDeltaUpdate bool,
	rawQuery string,
) ([]byte, error) {
	skipBoundary := time.Duration(s.provisionalTargetDuration()) * 6 * time.Second
	rawQuery = filterOutHLSParams(rawQuery)

	pl := &playlist.Media{
		Version:        10,
		TargetDuration: s.provisionalTargetDuration(),
		MediaSequence:  s.segmentDeleteCount,
		Endlist:        s.ended, // thecure
	}
	if s.discontinuityDeleted > 0 { // thecure
		pl.DiscontinuitySequence = ptrOf(s.discontinuityDeleted)
	}

	if s.variant == MuxerVariantLowLatency {
		partHoldBack := (s.partTargetDuration * 25) / 10

		pl.ServerControl = &playlist.MediaServerControl{
			CanBlockReload: true,
			PartHoldBack:   &partHoldBack,
			CanSkipUntil:   &skipBoundary,
		}

		pl.PartInf = &playlist.MediaPartInf{
			PartTarget: s.partTargetDuration,
		}
	}

	skipped := 0

	if !isDeltaUpdate {
		uri := initFilePath(s.prefix, s.id)
		if rawQuery != "" {
			uri += "?" + rawQuery
		}

		pl.Map = &playlist.MediaMap{
			URI: uri,
		}
	} else {
		var curDuration time.Duration
		shown := 0
		for _, segment := range s.segments {
			curDuration += segment.getDuration()
			if curDuration >= skipBoundary {
				break
			}
			shown++
		}
		skipped = len(s.segments) - shown

		pl.Skip = &playlist.MediaSkip{
			SkippedSegments: skipped,
		}
	}

	for i, sog := range s.segments {
		if i < skipped {
			continue
		}

		switch seg := sog.(type) {
		case *muxerSegmentFMP4:
			u := seg.path
			if rawQuery != "" {
				u += "?" + rawQuery
			}

			plse := &playlist.MediaSegment{
				Duration:      seg.getDuration(),
				URI:           u,
				Discontinuity: seg.discontinuity, // thecure
			}

			if (len(s.segments) - i) <= 2 {
				plse.DateTime = &seg.startNTP
			}

			if s.variant == MuxerVariantLowLatency && (len(s.segments)-i) <= 2 {
				for _, part := range seg.parts {
					u = part.path
					if rawQuery != "" {
						u += "?" + rawQuery
					}

					plse.Parts = append(plse.Parts, &playlist.MediaPart{
						Duration:    part.getDuration(),
						URI:         u,
						Independent: part.isIndependent,
					})
				}
			}

			pl.Segments = append(pl.Segments, plse)

		case *muxerGap:
			pl.Segments = append(pl.Segments, &playlist.MediaSegment{
				Gap:      true,
				Duration: seg.duration,
				URI:      "gap.mp4",
			})
		}
	}

	if s.variant == MuxerVariantLowLatency && !s.ended { // thecure: nothing more comes after the end
		pl.PartsDiscontinuity = s.nextSegment.(*muxerSegmentFMP4).discontinuity // thecure
		for _, part := range s.nextSegment.(*muxerSegmentFMP4).parts {
			u := part.path
			if rawQuery != "" {
				u += "?" + rawQuery
			}

			pl.Parts = append(pl.Parts, &playlist.MediaPart{
				Duration:    part.getDuration(),
				URI:         u,
				Independent: part.isIndependent,
			})
		}

		// preload hint must always be present
		// otherwise hls.js goes into a loop
		uri := partPath(s.prefix, s.id, s.nextPartID)
		if rawQuery != "" {
			uri += "?" + rawQuery
		}
		pl.PreloadHint = &playlist.MediaPreloadHint{
			URI: uri,
		}
	}

	return pl.Marshal()
}

func (s *muxerStream) generateAndCacheInitFile() error {
	var init fmp4.Init
	trackID := 1

	for _, track := range s.tracks {
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{
			ID:        trackID,
			TimeScale: uint32(track.ClockRate),
			Codec:     toFMP4(track.Codec),
		})
		trackID++
	}

	var w seekablebuffer.Buffer
	err := init.Marshal(&w)
	if err != nil {
		return err
	}

	initFile := w.Bytes()
	s.initFile = initFile // thecure: for Muxer.OnPublish

	if s.directory != "" && s.variant != MuxerVariantLowLatency {
		err = os.WriteFile(filepath.Join(s.directory, initFilePath(s.prefix, s.id)), initFile, 0o644)
		if err != nil {
			return err
		}
	}

	var contentType string
	if areAllAudio(s.tracks) {
		contentType = "audio/mp4"
	} else {
		contentType = "video/mp4"
	}

	name := initFilePath(s.prefix, s.id)
	s.server.registerPath(name, newMediaFile(name, contentType, [][]byte{initFile}, nil).serve)

	return nil
}

func (s *muxerStream) createFirstSegment(
	nextDTS time.Duration,
	nextNTP time.Time,
) error {
	if s.variant == MuxerVariantMPEGTS { //nolint:dupl
		seg := &muxerSegmentMPEGTS{
			segmentMaxSize: s.segmentMaxSize,
			prefix:         s.prefix,
			storageFactory: s.storageFactory,
			streamID:       s.id,
			mpegtsWriter:   s.mpegtsWriter,
			id:             s.nextSegmentID,
			startNTP:       nextNTP,
			startDTS:       nextDTS,
		}
		err := seg.initialize()
		if err != nil {
			return err
		}
		s.nextSegment = seg

		s.mpegtsSwitchableWriter.w = seg.bw
	} else {
		seg := &muxerSegmentFMP4{
			prefix:         s.prefix,
			storageFactory: s.storageFactory,
			streamID:       s.id,
			id:             s.nextSegmentID,
			startNTP:       nextNTP,
			startDTS:       nextDTS,
		}
		err := seg.initialize()
		if err != nil {
			return err
		}
		s.nextSegment = seg

		s.nextPart = &muxerPart{
			segmentMaxSize: s.segmentMaxSize,
			streamID:       s.id,
			streamTracks:   s.tracks,
			segment:        seg,
			startDTS:       seg.startDTS,
			prefix:         seg.prefix,
			id:             s.nextPartID,
			storage:        seg.storage.NewPart(),
		}
		s.nextPart.initialize()
	}

	return nil
}

func (s *muxerStream) rotateParts(
	nextDTS time.Duration,
	createNew bool,
) error {
	s.nextPartID++

	part := s.nextPart
	s.nextPart = nil

	err := part.finalize(nextDTS)
	if err != nil {
		return err
	}

	if s.variant == MuxerVariantLowLatency {
		part.segment.parts = append(part.segment.parts, part)

		// thecure: bytes served from memory with ServeContent semantics
		f := newMediaFile(part.path, s.mediaContentType(), storageChunks(part.storage), part.reader)
		s.partFiles = append(s.partFiles, f)
		s.server.registerPath(part.path, f.serve)

		// EXT-X-PRELOAD-HINT (thecure: the wait honours the request's
		// context; a part that never comes, the stream having ended, is 410)
		capturePartID := s.nextPartID
		partPath := partPath(s.prefix, s.id, capturePartID)
		s.server.registerPath(
			partPath,
			func(w http.ResponseWriter, r *http.Request) {
				s.mutex.Lock()
				err := waitLocked(r.Context(), s.mutex, s.notify, func() bool {
					return s.closed || s.ended || s.nextPartID > capturePartID
				})
				closed, produced := s.closed, s.nextPartID > capturePartID
				var h http.HandlerFunc
				if produced {
					h = s.server.getPathHandler(partPath)
				}
				s.mutex.Unlock()

				switch {
				case err != nil:
					unavailable(w)
				case closed:
					http.NotFound(w, r)
				case !produced || h == nil:
					http.Error(w, "the stream has ended", http.StatusGone)
				default:
					h(w, r)
				}
			})

		// thecure: the init file comes with the first part, so that the
		// playlist can be published then
		if !s.initFilePresent {
			err = s.generateAndCacheInitFile()
			if err != nil {
				return err
			}
			s.initFilePresent = true
		}
	}

	if createNew {
		nextPart := &muxerPart{
			segmentMaxSize: s.segmentMaxSize,
			streamID:       s.id,
			streamTracks:   s.tracks,
			segment:        part.segment,
			startDTS:       nextDTS,
			prefix:         s.prefix,
			id:             s.nextPartID,
			storage:        part.segment.storage.NewPart(),
		}
		nextPart.initialize()
		s.nextPart = nextPart
	}

	// while segment target duration can be increased indefinitely,
	// part target duration cannot, since
	// "The duration of a Partial Segment MUST be at least 85% of the Part Target Duration"
	// so it's better to reset it every time.
	if s.isLeading {
		partTargetDuration := partTargetDuration(s.segments, s.nextSegment.(*muxerSegmentFMP4).parts)
		if s.partTargetDuration == 0 {
			s.partTargetDuration = partTargetDuration
		} else if partTargetDuration != s.partTargetDuration {
			s.onEncodeError(fmt.Errorf("part duration changed from %v to %v - this will cause an error in iOS clients",
				s.partTargetDuration, partTargetDuration))
			s.partTargetDuration = partTargetDuration
		}
	}

	return nil
}

func (s *muxerStream) rotateSegments(
	nextDTS time.Duration,
	nextNTP time.Time,
) error {
	if s.variant != MuxerVariantMPEGTS {
		err := s.rotateParts(nextDTS, false)
		if err != nil {
			return err
		}
	}

	s.nextSegmentID++

	segment := s.nextSegment
	s.nextSegment = nil

	err := segment.finalize(nextDTS)
	if err != nil {
		segment.close()
		return err
	}

	// thecure: upstream adds 7 gap segments before the first one here;
	// their URI (gap.mp4) answers 404, and players that do not honour
	// EXT-X-GAP fetch them (see PATCHED.md)

	s.segments = append(s.segments, segment)

	s.registerSegment(segment)

	// delete old segments and parts
	if len(s.segments) > s.segmentCount {
		toDelete := s.segments[0]

		if toDeleteSeg, ok := toDelete.(*muxerSegmentFMP4); ok {
			for _, part := range toDeleteSeg.parts {
				s.server.unregisterPath(part.path)
			}
		}

		toDelete.close()
		if isDiscontinuity(toDelete) { // thecure
			s.discontinuityDeleted++
		}

		s.server.unregisterPath(toDelete.getPath())
		if s.publishing { // thecure: for Muxer.OnPublish
			s.pubGone = append(s.pubGone, toDelete.getPath())
		}

		s.segments = s.segments[1:]

		s.segmentDeleteCount++
	}

	if s.variant != MuxerVariantMPEGTS && !s.initFilePresent {
		err = s.generateAndCacheInitFile()
		if err != nil {
			return err
		}
		s.initFilePresent = true
	}

	if s.variant == MuxerVariantMPEGTS { //nolint:dupl
		seg := &muxerSegmentMPEGTS{
			segmentMaxSize: s.segmentMaxSize,
			prefix:         s.prefix,
			storageFactory: s.storageFactory,
			streamID:       s.id,
			mpegtsWriter:   s.mpegtsWriter,
			id:             s.nextSegmentID,
			startNTP:       nextNTP,
			startDTS:       nextDTS,
			discontinuity:  s.discontinuityNext, // thecure
		}
		err = seg.initialize()
		if err != nil {
			return err
		}
		s.nextSegment = seg

		s.mpegtsSwitchableWriter.w = seg.bw
	} else {
		seg := &muxerSegmentFMP4{
			prefix:         s.prefix,
			storageFactory: s.storageFactory,
			streamID:       s.id,
			id:             s.nextSegmentID,
			startNTP:       nextNTP,
			startDTS:       nextDTS,
			discontinuity:  s.discontinuityNext, // thecure
		}
		err = seg.initialize()
		if err != nil {
			return err
		}
		s.nextSegment = seg

		s.nextPart = &muxerPart{
			segmentMaxSize: s.segmentMaxSize,
			streamID:       s.id,
			streamTracks:   s.tracks,
			segment:        seg,
			startDTS:       seg.startDTS,
			prefix:         seg.prefix,
			id:             s.nextPartID,
			storage:        seg.storage.NewPart(),
		}
		s.nextPart.initialize()
	}

	s.discontinuityNext = false // thecure

	if s.isLeading {
		targetDuration := targetDuration(s.segments)
		if s.targetDuration == 0 {
			s.targetDuration = targetDuration
		} else if targetDuration > s.targetDuration {
			s.onEncodeError(fmt.Errorf(
				"segment duration changed from %ds to %ds - this will cause an error in iOS clients",
				s.targetDuration, targetDuration))
			s.targetDuration = targetDuration
		}
	}

	return nil
}

// mediaContentType is the type of the stream's segments and parts (thecure).
func (s *muxerStream) mediaContentType() string {
	switch {
	case s.variant == MuxerVariantMPEGTS:
		return "video/mp2t"
	case areAllAudio(s.tracks):
		return "audio/mp4"
	}
	return "video/mp4"
}

// registerSegment serves a finalized segment (thecure: from memory, with
// ServeContent semantics).
func (s *muxerStream) registerSegment(segment muxerSegment) {
	var chunks [][]byte
	switch seg := segment.(type) {
	case *muxerSegmentFMP4:
		// one slice per segment (one write per request), its parts
		// served from pieces of it
		if j, ok := seg.storage.(interface{ Join() }); ok {
			j.Join()
			for i, part := range seg.parts {
				if i < len(s.partFiles) {
					s.server.registerPath(part.path, s.partFiles[i].withChunks(storageChunks(part.storage)).serve)
				}
			}
		}
		s.partFiles = nil
		chunks = storageChunks(seg.storage)
	case *muxerSegmentMPEGTS:
		chunks = storageChunks(seg.storage)
	}
	path := segment.getPath()
	s.server.registerPath(path, newMediaFile(path, s.mediaContentType(), chunks, segment.reader).serve)

	// thecure: with disk storage, the segment's parts were served from
	// memory while it was made; now they are ranges of its file, and the
	// memory is freed (unless the file could not be written: chunks)
	if seg, ok := segment.(*muxerSegmentFMP4); ok && chunks == nil && s.variant == MuxerVariantLowLatency {
		for _, part := range seg.parts {
			s.server.registerPath(part.path, newMediaFile(part.path, s.mediaContentType(), nil, part.reader).serve)
		}
	}
}

// provisionalTargetDuration is the target duration, or before the first
// segment is complete (LL-HLS), the minimum segment duration (thecure).
func (s *muxerStream) provisionalTargetDuration() int {
	if s.targetDuration > 0 {
		return s.targetDuration
	}
	return max(1, int(math.Ceil(s.segMinDuration.Seconds())))
}

// finish closes the part and the segment in progress and keeps them
// (thecure, see Muxer.Finish). Called with the mutex held, after the
// segmenter wrote the samples it held.
func (s *muxerStream) finish() error {
	s.ended = true
	if s.nextSegment == nil {
		return nil
	}

	var end time.Duration
	var segment muxerSegment
	switch seg := s.nextSegment.(type) {
	case *muxerSegmentMPEGTS:
		end = seg.endDTS0
		if seg.size == 0 {
			seg.finalize(seg.startDTS) //nolint:errcheck
			seg.close()
			s.nextSegment = nil
			return nil
		}
		segment = seg

	case *muxerSegmentFMP4:
		for _, track := range s.tracks {
			if track.fmp4EndDTS != 0 {
				end = max(end, timestampToDuration(track.fmp4EndDTS, track.ClockRate))
			}
		}
		if s.nextPart != nil && s.nextPart.hasSamples() {
			if err := s.rotateParts(max(end, s.nextPart.startDTS), false); err != nil {
				return err
			}
		}
		s.nextPart = nil
		if seg.size == 0 {
			seg.finalize(seg.startDTS) //nolint:errcheck
			seg.close()
			s.nextSegment = nil
			return nil
		}
		if len(seg.parts) > 0 {
			end = max(end, seg.parts[len(seg.parts)-1].endDTS)
		}
		segment = seg
	}

	s.nextSegment = nil
	s.nextSegmentID++
	if err := segment.finalize(end); err != nil {
		segment.close()
		return err
	}
	s.segments = append(s.segments, segment)
	s.registerSegment(segment)

	if s.variant != MuxerVariantMPEGTS && !s.initFilePresent {
		if err := s.generateAndCacheInitFile(); err != nil {
			return err
		}
		s.initFilePresent = true
	}
	if s.isLeading {
		s.targetDuration = max(s.targetDuration, targetDuration(s.segments))
	}
	return nil
}

// isDiscontinuity tells whether a segment starts with new parameters (thecure).
func isDiscontinuity(seg muxerSegment) bool {
	switch x := seg.(type) {
	case *muxerSegmentFMP4:
		return x.discontinuity
	case *muxerSegmentMPEGTS:
		return x.discontinuity
	}
	return false
}
