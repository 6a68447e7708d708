package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/health"
)

func serve(t *testing.T, reg *health.Registry, logs io.Writer) (string, func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pr := prometheus.NewRegistry()
	s := New(log, reg, pr, pr, time.Second)
	s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
	}
}

func TestHealthzReflectsServices(t *testing.T) {
	reg := health.NewRegistry()
	reg.Set("http", health.Up, "")
	reg.Set("transcode", health.Up, "")
	var logs apptest.SyncBuffer
	url, stop := serve(t, reg, &logs)
	defer stop()

	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != 200 || body["status"] != "ok" {
			t.Errorf("all up: %s %d %v", p, code, body)
		}
	}
	// An optional service that cannot reach the outside: the box is
	// degraded, still ready.
	reg.Optional("bot")
	reg.Set("bot", health.Down, "cannot reach the Bot API")
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != 200 || body["status"] != "degraded" {
			t.Errorf("bot down: %s %d %v, want 200 degraded", p, code, body)
		}
	}
	reg.Set("transcode", health.Down, "ffmpeg not found")
	// Liveness: the process serves, so 200; readiness: 503.
	if code, body := get("/healthz"); code != 200 || body["status"] != "unhealthy" {
		t.Errorf("one down: /healthz %d %v, want 200 unhealthy", code, body)
	}
	code, body := get("/readyz")
	if code != 503 || body["status"] != "unhealthy" || !strings.Contains(toJSON(body), "ffmpeg not found") {
		t.Errorf("one down: /readyz %d %v", code, body)
	}
	apptest.WaitFor(t, 5*time.Second, "a debug request log line", func() bool {
		return strings.Contains(logs.String(), "msg=request method=GET path=/readyz code=503")
	})
}

func TestShutdownLetsRequestsFinish(t *testing.T) {
	reg := health.NewRegistry()
	url, stop := serve(t, reg, io.Discard)
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	time.Sleep(100 * time.Millisecond) // let the request reach the handler
	stop()
	if s := <-got; s != "done" {
		t.Errorf("request during shutdown got %q, want done", s)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestWrapAndFiles: a middleware added with Wrap sees every request, and a
// file served with http.ServeContent arrives whole through the recorder
// (whose ReadFrom keeps sendfile reachable) and is counted in the log.
func TestWrapAndFiles(t *testing.T) {
	pr := prometheus.NewRegistry()
	var logs apptest.SyncBuffer
	s := New(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), health.NewRegistry(), pr, pr, time.Second)
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	path := t.TempDir() + "/seg.m4s"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /file", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }))
	s.Wrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Let-In") == "" {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/file")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the header = %d, want 403 from the middleware", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/file", nil)
	req.Header.Set("X-Let-In", "1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("file = %d, %d bytes, want 200 and %d bytes", resp.StatusCode, len(got), len(data))
	}
	// the line is written once the handler has returned, which may be just
	// after the client has read the whole body
	apptest.WaitFor(t, 5*time.Second, "a request log line counting the file's bytes", func() bool {
		return strings.Contains(logs.String(), "bytes=1000000")
	})
}

// TestHealthzShowsNoPaths: public /healthz shows states and short reasons;
// the details (listen addresses, the control socket, staging paths) stay in
// the registry for admins.
func TestHealthzShowsNoPaths(t *testing.T) {
	reg := health.NewRegistry()
	reg.Set("http", health.Up, "[::]:8080")
	reg.Set("control", health.Up, "/var/lib/thecure/control.sock")
	reg.Set("transcode", health.Down, "disk full: mkdir /var/lib/thecure/hls/.staging/ab12-3: no space left on device")
	reg.Set("bot", health.Down, `cannot reach the Bot API: Get "https://api.telegram.org/bot1:x/getMe": dial tcp 1.2.3.4:443: i/o timeout`)
	url, _ := serve(t, reg, io.Discard)
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, leak := range []string{"/var/lib", "control.sock", ".staging", "8080", "telegram", "1.2.3.4", "detail"} {
		if strings.Contains(body, leak) {
			t.Errorf("/healthz shows %q: %s", leak, body)
		}
	}
	for _, want := range []string{`"reason":"disk full"`, `"reason":"cannot reach the Bot API"`, `"name":"control","state":"up"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/healthz lacks %s: %s", want, body)
		}
	}
	if s := reg.Snapshot(); s[1].Detail != "/var/lib/thecure/control.sock" {
		t.Errorf("the registry lost the detail admins see: %+v", s[1])
	}
}

// TestRequestLogClipsPaths: a request path of thousands of bytes, with
// control and bidi characters, goes into the debug log clipped and escaped.
func TestRequestLogClipsPaths(t *testing.T) {
	reg := health.NewRegistry()
	var logs apptest.SyncBuffer
	url, stop := serve(t, reg, &logs)
	defer stop()
	long := "/" + strings.Repeat("a", 5000) + "%0A%E2%80%AE"
	resp, err := http.Get(url + long)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	apptest.WaitFor(t, 5*time.Second, "the request's log line", func() bool { return strings.Contains(logs.String(), "msg=request") })
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, "aaaa") {
			line = l
		}
	}
	if line == "" || len(line) > 600 || !strings.Contains(line, "...") || strings.Contains(line, "\u202e") {
		t.Errorf("request log line (%d bytes): %q", len(line), line)
	}
	if got := clip("a\nb\u202e"); got != `a\nb\u202e` {
		t.Errorf("clip escapes = %q", got)
	}
}
