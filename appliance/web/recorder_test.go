package web

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// readerFromWriter records what its ReadFrom was given.
type readerFromWriter struct {
	*httptest.ResponseRecorder
	src io.Reader
}

func (w *readerFromWriter) ReadFrom(src io.Reader) (int64, error) {
	w.src = src
	return io.Copy(w.ResponseRecorder, src)
}

// A file reaches net/http's ReadFrom as the *os.File it is, so that it is
// sent with sendfile: io.Copy would hand over the file's WriteTo, which
// copies through memory.
func TestRecorderPassesFilesOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg.mp4")
	if err := os.WriteFile(path, []byte("segment bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	under := &readerFromWriter{ResponseRecorder: httptest.NewRecorder()}
	rec := &recorder{ResponseWriter: under}
	n, err := io.Copy(rec, io.Reader(struct{ io.Reader }{f}))
	if err != nil || n != 13 {
		t.Fatalf("copy: %d %v", n, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	n, err = rec.ReadFrom(f)
	if err != nil || n != 13 || rec.bytes != 26 {
		t.Fatalf("ReadFrom: %d %v, %d bytes counted", n, err, rec.bytes)
	}
	if under.src != f {
		t.Fatalf("the writer's ReadFrom got %T, not the file", under.src)
	}
	if got := under.Body.String(); got != "segment bytessegment bytes" {
		t.Fatalf("body %q", got)
	}
}
