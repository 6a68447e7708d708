package live

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// Routes are the HTTP routes the hub serves, as net/http patterns, for the
// web server. GET /live/{name} (no trailing part) is left to the player page.
func (h *Hub) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /live/{name}/{file}":     http.HandlerFunc(h.ServeHLS),
		"OPTIONS /live/{name}/{file}": http.HandlerFunc(h.ServeHLS),
		"GET /api/live":               http.HandlerFunc(h.ServeAPI),
		"GET /api/live/{name}":        http.HandlerFunc(h.ServeStatus),
	}
}

func cors(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Range, Origin, Accept")
	hd.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range")
}

// ServeAPI answers the list of live streams as JSON.
func (h *Hub) ServeAPI(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Streams []StreamInfo `json:"streams"`
	}{h.Streams()})
}

// ServeStatus answers one stream name's Status as JSON: the live player
// page polls it to follow the stream (off air, on air, ended).
func (h *Hub) ServeStatus(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(h.Status(r.PathValue("name"))); err != nil {
		h.log.Debug("live status", "err", err)
	}
}

// ServeHLS serves /live/{name}/{file}: the playlists, init files, segments
// and parts of a live stream's muxer, with 404 for unknown streams and
// files, a timeout on blocking (LL-HLS) requests, and client disconnects
// honoured.
func (h *Hub) ServeHLS(w http.ResponseWriter, r *http.Request) {
	cors(w)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	name, file := r.PathValue("name"), r.PathValue("file")
	s := h.get(name)
	if s == nil || !hlsFile(file) {
		http.Error(w, "no such live stream", http.StatusNotFound)
		return
	}
	s.sawViewer(viewerKey(r), time.Now())

	if strings.HasSuffix(file, ".m3u8") && s.isClosed() {
		h.serveFinalPlaylist(w, r, s)
		return
	}
	bw := bufPool.Get().(*bufferWriter)
	bw.reset()
	if !strings.HasSuffix(file, ".m3u8") && !strings.Contains(file, "_part") {
		// init files and whole segments: answered at once from memory
		s.muxer.Handle(bw, r)
		bw.send(w, s)
		bufPool.Put(bw)
		return
	}

	// Playlists and parts may block until the muxer has them: the muxer
	// ignores the request context, so it answers into a buffer on its own
	// goroutine while this one waits for it, the client or the timeout.
	select {
	case s.pending <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many waiting requests", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout.Std())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer func() { <-s.pending }()
		defer close(done)
		s.muxer.Handle(bw, r)
	}()
	select {
	case <-done:
	case <-s.done:
		select {
		case <-done: // answered as the stream ended: use the answer
		default:
			if strings.HasSuffix(file, ".m3u8") {
				h.serveFinalPlaylist(w, r, s)
			} else {
				// a part announced by the preload hint that will never
				// come: gone, not "not found"
				http.Error(w, "the stream has ended", http.StatusGone)
			}
			return
		}
	case <-ctx.Done():
		// bw stays with the muxer's goroutine (and the garbage collector)
		if r.Context().Err() != nil {
			return // the client went away
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, "timed out waiting for the stream", http.StatusServiceUnavailable)
		return
	}
	bw.send(w, s)
	bufPool.Put(bw)
}

// finalWait bounds how long an ended stream's muxer may take to answer a
// playlist; it only blocks when the stream ended before its first segment.
const finalWait = time.Second

// serveFinalPlaylist answers a playlist of an ended stream at once: the
// muxer's last one, without blocking (LL-HLS query parameters dropped), and a
// media playlist with its unfinished parts and preload hint taken out and
// EXT-X-ENDLIST added. A stream that ended before its first segment is 404.
func (h *Hub) serveFinalPlaylist(w http.ResponseWriter, r *http.Request, s *Stream) {
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = ""
	bw := &bufferWriter{header: http.Header{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.muxer.Handle(bw, r2)
	}()
	select {
	case <-done:
	case <-time.After(finalWait):
		http.Error(w, "the stream has ended", http.StatusNotFound)
		return
	case <-r.Context().Done():
		return
	}
	if bw.code != 0 && bw.code != http.StatusOK || bw.body.Len() == 0 {
		http.Error(w, "the stream has ended", http.StatusNotFound)
		return
	}
	body, err := endPlaylist(bw.body.Bytes())
	if err != nil {
		s.log().Warn("final playlist", "stream", s.name, "err", err)
		http.Error(w, "the stream has ended", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", bw.header.Get("Content-Type"))
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if _, err := w.Write(body); err != nil {
		s.log().Debug("final playlist", "stream", s.name, "err", err)
	}
}

// endPlaylist turns a live media playlist into a finished one, with
// gohlslib's playlist package: the parts of the segment that will never be
// completed and the preload hint go, and EXT-X-ENDLIST is added. A
// multivariant playlist is given back as it is.
func endPlaylist(b []byte) ([]byte, error) {
	pl, err := playlist.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	m, ok := pl.(*playlist.Media)
	if !ok {
		return b, nil
	}
	m.Parts, m.PreloadHint, m.Endlist = nil, nil, true
	return m.Marshal()
}

// send writes the buffered response, with its length: one write instead of
// a chunked stream of small ones.
func (b *bufferWriter) send(w http.ResponseWriter, s *Stream) {
	switch {
	case b.code == 0 && b.body.Len() == 0:
		http.Error(w, "no such file", http.StatusNotFound)
		return
	case b.code >= 500 && s.isClosed():
		http.Error(w, "the stream has ended", http.StatusNotFound)
		return
	}
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	w.Header().Set("Content-Length", strconv.Itoa(b.body.Len()))
	w.WriteHeader(b.code)
	_, _ = w.Write(b.body.Bytes())
}

var bufPool = sync.Pool{New: func() any { return &bufferWriter{header: http.Header{}} }}

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// hlsFile tells whether file is a name the muxer may serve.
func hlsFile(file string) bool {
	if file == "" || strings.ContainsAny(file, "/\\") || file[0] == '.' {
		return false
	}
	for _, ext := range []string{".m3u8", ".mp4", ".ts"} {
		if strings.HasSuffix(file, ext) {
			return true
		}
	}
	return false
}

// viewerKey tells HLS clients apart: address and user agent.
func viewerKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return host + " " + r.UserAgent()
}

// bufferWriter is a ResponseWriter that keeps the response in memory.
type bufferWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) reset() {
	clear(b.header)
	b.code = 0
	b.body.Reset()
}

func (b *bufferWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
