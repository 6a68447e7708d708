package gohlslib

// thecure: serving without blocking goroutines on a sync.Cond, honouring the
// request's context, with bytes prepared once (see PATCHED.md).

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// muxerNotify wakes requests waiting for the muxer to change: ch is closed
// and replaced at every update, version counts the updates. Guarded by the
// muxer's mutex.
type muxerNotify struct {
	ch      chan struct{}
	version uint64
}

func newMuxerNotify() *muxerNotify {
	return &muxerNotify{ch: make(chan struct{})}
}

// bump is called with the muxer's mutex held, after every change.
func (n *muxerNotify) bump() {
	n.version++
	close(n.ch)
	n.ch = make(chan struct{})
}

// errWaitDone tells that a wait ended with the request's context.
var errWaitDone = errors.New("request ended while waiting")

// waitLocked waits, with mu held on entry and on return, until ready() is
// true, or ctx ends (errWaitDone, mu held too).
func waitLocked(ctx context.Context, mu *sync.Mutex, n *muxerNotify, ready func() bool) error {
	for !ready() {
		ch := n.ch
		mu.Unlock()
		select {
		case <-ch:
			mu.Lock()
		case <-ctx.Done():
			mu.Lock()
			return errWaitDone
		}
	}
	return nil
}

// unavailable answers a request that waited in vain.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "timed out waiting for the stream", http.StatusServiceUnavailable)
}

// playlistCache keeps the last bytes of one playlist and the muxer version
// they were made at.
type playlistCache struct {
	version uint64
	etag    []string
	body    []byte
}

// get returns the cached bytes for the version, or makes them with gen.
func (c *playlistCache) get(version uint64, prefix string, gen func() ([]byte, error)) ([]byte, []string, error) {
	if c.body != nil && c.version == version {
		return c.body, c.etag, nil
	}
	b, err := gen()
	if err != nil {
		return nil, nil, err
	}
	c.version, c.body = version, b
	c.etag = []string{`"` + prefix + "-" + strconv.FormatUint(version, 10) + `"`}
	return b, c.etag, nil
}

// Header values shared by every response (never modified: net/http replaces
// values, it does not append to them).
var (
	hdrPlaylistType = []string{"application/vnd.apple.mpegurl"}
	hdrNoCache      = []string{"no-cache"}
	hdrMultivariant = []string{"public, max-age=" + multivariantPlaylistMaxAge}
	hdrMedia        = []string{"public, max-age=" + segmentMaxAge}
)

// servePlaylist answers playlist bytes, with http.ServeContent semantics
// (ETag, conditional requests, ranges).
func servePlaylist(w http.ResponseWriter, r *http.Request, body []byte, etag []string, cacheControl string) {
	h := w.Header()
	switch cacheControl {
	case "no-cache":
		h["Cache-Control"] = hdrNoCache
	case hdrMultivariant[0]:
		h["Cache-Control"] = hdrMultivariant
	default:
		h["Cache-Control"] = []string{cacheControl}
	}
	h["Content-Type"] = hdrPlaylistType
	if etag != nil {
		h["Etag"] = etag
	}
	if plainGet(r) {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(http.StatusOK)
		w.Write(body) //nolint:errcheck // the client went away: nothing to do
		return
	}
	http.ServeContent(w, r, "", time.Time{}, &chunkReader{chunks: [][]byte{body}, size: int64(len(body))})
}

// plainGet tells whether r is a GET with no range and no condition: then
// the bytes are written as they are (one write per chunk, no copy through
// a 32 KiB buffer, fewer system calls), what http.ServeContent would do
// with more work.
func plainGet(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, k := range conditionalHeaders {
		if _, ok := r.Header[k]; ok {
			return false
		}
	}
	return true
}

var conditionalHeaders = []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"}

var hdrBytes = []string{"bytes"}

// mediaFile is an immutable file of the muxer (init file, segment, part),
// with its response headers made once.
type mediaFile struct {
	contentType []string
	etag        []string // from the name, unique to the muxing session
	modTime     time.Time
	lastMod     []string // modTime as HTTP wants it
	length      []string // size, for Content-Length
	chunks      [][]byte // nil: not in memory
	size        int64
	open        func() (io.ReadCloser, error)
}

func newMediaFile(name, contentType string, chunks [][]byte, open func() (io.ReadCloser, error)) *mediaFile {
	f := &mediaFile{
		contentType: []string{contentType},
		etag:        []string{`"` + name + `"`},
		modTime:     time.Now(),
		chunks:      chunks,
		open:        open,
	}
	for _, c := range chunks {
		f.size += int64(len(c))
	}
	f.lastMod = []string{f.modTime.UTC().Format(http.TimeFormat)}
	f.length = []string{strconv.FormatInt(f.size, 10)}
	return f
}

// withChunks is the same file with its bytes in other slices (thecure: a
// part whose segment joined its parts' bytes in one slice).
func (f *mediaFile) withChunks(chunks [][]byte) *mediaFile {
	if chunks == nil {
		return f
	}
	g := *f
	g.chunks = chunks
	return &g
}

// serve answers the file: from memory with http.ServeContent semantics
// (ranges, conditional requests, no copy), else from its reader.
func (f *mediaFile) serve(w http.ResponseWriter, r *http.Request) {
	if f.chunks == nil {
		f.serveOpened(w, r)
		return
	}
	h := w.Header()
	h["Cache-Control"] = hdrMedia
	h["Content-Type"] = f.contentType
	h["Etag"] = f.etag
	if plainGet(r) {
		h["Last-Modified"] = f.lastMod
		h["Accept-Ranges"] = hdrBytes
		h["Content-Length"] = f.length
		w.WriteHeader(http.StatusOK)
		for _, c := range f.chunks {
			if _, err := w.Write(c); err != nil {
				return // the client went away
			}
		}
		return
	}
	http.ServeContent(w, r, "", f.modTime, &chunkReader{chunks: f.chunks, size: f.size})
}

// chunks returns the bytes of a storage file or part when they are in
// memory (nil otherwise).
func storageChunks(st any) [][]byte {
	switch v := st.(type) {
	case interface{ Chunks() [][]byte }:
		return v.Chunks()
	case interface{ Bytes() []byte }:
		return [][]byte{v.Bytes()}
	}
	return nil
}

// serveOpened answers media that is not in memory (disk storage, thecure):
// with http.ServeContent semantics when the reader can seek (a whole file
// then goes out with sendfile), else as it is read. A file already removed
// (its segment left the window) is 404.
func (f *mediaFile) serveOpened(w http.ResponseWriter, r *http.Request) {
	rc, err := f.open()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer rc.Close()
	h := w.Header()
	h["Cache-Control"] = hdrMedia
	h["Content-Type"] = f.contentType
	h["Etag"] = f.etag
	if file, ok := rc.(*os.File); ok && plainGet(r) {
		// what ServeContent would do, with less work (as for memory):
		// the headers, then the file with sendfile
		if fi, err := file.Stat(); err == nil {
			h["Last-Modified"] = f.lastMod
			h["Accept-Ranges"] = hdrBytes
			h["Content-Length"] = []string{strconv.FormatInt(fi.Size(), 10)}
			w.WriteHeader(http.StatusOK)
			sendFile(w, file)
			return
		}
	}
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", f.modTime, rs)
		return
	}
	w.WriteHeader(http.StatusOK)
	io.Copy(w, rc) //nolint:errcheck // the client went away: nothing to do
}

// sendFile sends a whole file after the headers (thecure) with sendfile:
// the headers are flushed first, so that net/http does not read the file's
// first 512 bytes into memory to send them with the headers, and the file
// is given to the writer's ReadFrom (io.Copy would take the file's WriteTo,
// which cannot see the socket behind a ResponseWriter and copies through
// memory).
func sendFile(w http.ResponseWriter, f *os.File) {
	if http.NewResponseController(w).Flush() != nil {
		return // the client went away
	}
	if rf, ok := w.(io.ReaderFrom); ok {
		rf.ReadFrom(f) //nolint:errcheck // the client went away: nothing to do
		return
	}
	io.Copy(w, f) //nolint:errcheck // the client went away: nothing to do
}

// chunkReader is an io.ReadSeeker over byte slices.
type chunkReader struct {
	chunks [][]byte
	size   int64
	off    int64
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.off >= c.size {
		return 0, io.EOF
	}
	n := 0
	pos := int64(0)
	for _, ch := range c.chunks {
		end := pos + int64(len(ch))
		if c.off < end && n < len(p) {
			k := copy(p[n:], ch[c.off-pos:])
			n += k
			c.off += int64(k)
		}
		pos = end
		if n == len(p) {
			break
		}
	}
	return n, nil
}

// WriteTo lets io.Copy write the slices without an intermediate buffer.
func (c *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	pos := int64(0)
	for _, ch := range c.chunks {
		end := pos + int64(len(ch))
		if c.off < end {
			k, err := w.Write(ch[c.off-pos:])
			total += int64(k)
			c.off += int64(k)
			if err != nil {
				return total, err
			}
		}
		pos = end
	}
	return total, nil
}

func (c *chunkReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.off
	case io.SeekEnd:
		offset += c.size
	default:
		return 0, errors.New("invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("negative position")
	}
	c.off = offset
	return offset, nil
}
