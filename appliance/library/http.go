package library

import (
	"encoding/json"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"thecure/appliance/reason"
)

// mimeTypes are the only files served under /vod/.
var mimeTypes = map[string]string{
	".m3u8": "application/vnd.apple.mpegurl",
	".m4s":  "video/iso.segment",
	".mp4":  "video/mp4",
	".ts":   "video/mp2t",
	".jpg":  "image/jpeg",
}

// VODHandler serves the HLS tree for the pattern "GET /vod/{id}/{file...}":
// playlists, init segments, media segments and posters, with their MIME
// types, Range requests and cache headers. Directories are never listed.
func (c *Catalogue) VODHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, file := r.PathValue("id"), r.PathValue("file")
		ext := path.Ext(file)
		ctype, known := mimeTypes[ext]
		if !ValidID(id) || !known || !cleanRel(file) {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(c.Dir(id), filepath.FromSlash(file)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Content-Type-Options", "nosniff")
		if ext == ".m3u8" || ext == ".jpg" {
			// a replaced source is processed again under the same id
			h.Set("Cache-Control", "public, max-age=60")
		} else {
			h.Set("Cache-Control", "public, max-age=3600")
		}
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
}

// cleanRel reports whether p is a clean relative slash path with no hidden
// or parent components.
func cleanRel(p string) bool {
	if p == "" || path.Clean(p) != p || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || strings.HasPrefix(part, ".") {
			return false
		}
	}
	return true
}

// APIHandler answers GET /api/library: every item as a JSON array;
// ?kind=movie|episode|track and ?state=... filter it. Requests for which
// details is false (anyone but an admin) get each failure's short public
// reason instead of its details (ffprobe's output, quarantine paths).
func (c *Catalogue) APIHandler(details func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := c.List()
		if err != nil {
			http.Error(w, "catalogue unavailable", http.StatusInternalServerError)
			return
		}
		kind, state := r.URL.Query().Get("kind"), r.URL.Query().Get("state")
		admin := details(r)
		out := make([]Item, 0, len(items))
		for _, it := range items {
			if it.State == StateMissing && !admin {
				continue // hidden from viewers until its files are back
			}
			if (kind == "" || it.Kind == kind) && (state == "" || it.State == state) {
				c.ForViewers(&it)
				if !admin {
					it.Error = reason.Public(it.Error)
					it.Missing, it.Quarantined = "", "" // they name paths
				}
				out = append(out, it)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	})
}
