// Package apptest holds helpers for thecure's tests only: a log buffer that
// is safe to read while a service writes to it, a writer that sends logs to
// the test's log, polling with a deadline, test media made with ffmpeg and
// a plain HTTP GET. No production code imports it.
package apptest

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that may be written and read at once (a
// service's log read by the test while the service runs).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// LogWriter sends each write (one log line) to t.Log.
func LogWriter(t testing.TB) io.Writer { return &logWriter{t} }

type logWriter struct{ t testing.TB }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// WaitFor polls cond until it holds, failing the test when timeout has
// passed first.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FFmpeg runs ffmpeg quietly (no banner, no stdin, errors only, overwrite)
// with args, which end with the output, and fails the test if it fails.
func FFmpeg(t testing.TB, args ...string) {
	t.Helper()
	a := append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
	if out, err := exec.Command("ffmpeg", a...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Clip makes a media file called name in a new temporary folder with ffmpeg
// args (inputs and codecs, without the output) and returns its path.
func Clip(t testing.TB, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	FFmpeg(t, append(args, out)...)
	return out
}

// Get fetches url with c and returns the status code, the body and the
// headers; a request that fails fails the test.
func Get(t testing.TB, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
