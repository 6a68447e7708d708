package live

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"
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

// CORS header values, shared by every response (net/http replaces header
// values, it never appends to them).
var (
	corsOrigin  = []string{"*"}
	corsMethods = []string{"GET, OPTIONS"}
	corsHeaders = []string{"Range, Origin, Accept"}
	corsExpose  = []string{"Content-Length, Content-Range"}
	corsMaxAge  = []string{"86400"}
)

// cors sets the CORS headers of a response. Allow-Methods and
// Allow-Headers mean something only in the answer to a preflight (OPTIONS)
// request: other answers go without them, so that a segment's response
// headers stay few (net/http copies the header map of every response).
func cors(w http.ResponseWriter) {
	hd := w.Header()
	hd["Access-Control-Allow-Origin"] = corsOrigin
	hd["Access-Control-Expose-Headers"] = corsExpose
}

// preflight answers a CORS preflight request.
func preflight(w http.ResponseWriter) {
	hd := w.Header()
	hd["Access-Control-Allow-Methods"] = corsMethods
	hd["Access-Control-Allow-Headers"] = corsHeaders
	hd["Access-Control-Max-Age"] = corsMaxAge
	w.WriteHeader(http.StatusNoContent)
}

// ServeAPI answers the list of live streams as JSON.
func (h *Hub) ServeAPI(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// an error here is a client gone away: nobody to tell
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
// files, a timeout on blocking (LL-HLS) requests (503), and client
// disconnects honoured. The muxer (patched gohlslib) answers from bytes it
// prepared once per update, with http.ServeContent semantics (ETag,
// conditional and range requests), and waits on the request's context. An
// ended stream answers its final playlist (EXT-X-ENDLIST, every segment
// kept) at once, and 410 for the part its last preload hint announced.
func (h *Hub) ServeHLS(w http.ResponseWriter, r *http.Request) {
	cors(w)
	if r.Method == http.MethodOptions {
		preflight(w)
		return
	}
	name, file := r.PathValue("name"), r.PathValue("file")
	s := h.get(name)
	if s == nil || !hlsFile(file) {
		http.Error(w, "no such live stream", http.StatusNotFound)
		return
	}
	s.sawViewer(viewerKey(r), time.Now())

	if !strings.HasSuffix(file, ".m3u8") && !strings.Contains(file, "_part") {
		// init files and whole segments: answered at once from memory
		s.muxer.Handle(w, r)
		return
	}

	// Playlists and parts may wait until the muxer has them.
	select {
	case s.pending <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many waiting requests", http.StatusServiceUnavailable)
		return
	}
	defer func() { <-s.pending }()
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout.Std())
	defer cancel()
	s.muxer.Handle(w, r.WithContext(ctx))
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
