// Package web is the appliance's one HTTP server: HLS, the JSON API, pages,
// /healthz and /metrics. Other subsystems add their routes with Handle before
// Serve is called; nothing here lists directories.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"thecure/appliance/health"
	"thecure/appliance/logsafe"
	"thecure/appliance/reason"
)

// Health is the view of service states that /healthz and /readyz report.
type Health interface {
	Snapshot() []health.Service
	Status() health.Status
}

// Server is the HTTP server.
type Server struct {
	log             *slog.Logger
	mux             *http.ServeMux
	health          Health
	shutdownTimeout time.Duration
	requests        *prometheus.CounterVec
	sent            *prometheus.CounterVec
	wrap            []func(http.Handler) http.Handler
}

// New builds the server with /healthz and /metrics (served from gatherer);
// it registers its own metrics on reg.
func New(log *slog.Logger, h Health, reg prometheus.Registerer, gatherer prometheus.Gatherer, shutdownTimeout time.Duration) *Server {
	s := &Server{
		log:             log,
		mux:             http.NewServeMux(),
		health:          h,
		shutdownTimeout: shutdownTimeout,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thecure_http_requests_total",
			Help: "HTTP requests answered, by method and status code.",
		}, []string{"method", "code"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thecure_http_sent_bytes_total",
			Help: "Response body bytes sent, by kind (hls: /vod/ and /live/ media; other).",
		}, []string{"kind"}),
	}
	reg.MustRegister(s.requests, s.sent)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	return s
}

// Handle adds a route, in net/http.ServeMux pattern syntax.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Wrap adds a middleware around every route (an access check, say); the
// first added is the outermost. Call it before Serve.
func (s *Server) Wrap(mw func(http.Handler) http.Handler) { s.wrap = append(s.wrap, mw) }

// Handler is the server's whole handler, with request logging and metrics.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	for i := len(s.wrap) - 1; i >= 0; i-- {
		h = s.wrap[i](h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.requests.WithLabelValues(r.Method, strconv.Itoa(rec.code)).Inc()
		s.sent.WithLabelValues(bytesKind(r.URL.Path)).Add(float64(rec.bytes))
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", clip(r.Method)), slog.String("path", clip(r.URL.Path)),
			slog.Int("code", rec.code), slog.Int64("bytes", rec.bytes),
			slog.Duration("took", time.Since(start)), slog.String("remote", r.RemoteAddr))
	})
}

// maxLogValue is how much of a value a client chose (a path, a method) goes
// into a log line.
const maxLogValue = 256

func clip(v string) string { return logsafe.Value(v, maxLogValue) }

// bytesKind tells HLS media (VOD and live playlists and segments) from the rest.
func bytesKind(p string) string {
	if strings.HasPrefix(p, "/vod/") || (strings.HasPrefix(p, "/live/") && strings.Contains(p[len("/live/"):], "/")) {
		return "hls"
	}
	return "other"
}

// Serve answers on ln until ctx is cancelled, then lets running requests
// finish for at most the shutdown timeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("requests still running at the shutdown timeout; closing them", "err", err)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

// healthz is the liveness probe: the process serves HTTP, so 200, whatever
// its services' states; the body says them ("status": ok, degraded or
// unhealthy). /readyz is the one that answers 503.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.report(w, http.StatusOK)
}

// report writes the box's status and each service's state with code.
func (s *Server) report(w http.ResponseWriter, code int) {
	svcs := s.health.Snapshot()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	// an error here is a client gone away: nobody to tell
	_ = json.NewEncoder(w).Encode(struct {
		Status   health.Status   `json:"status"`
		Services []publicService `json:"services"`
	}{s.health.Status(), public(svcs)})
}

// publicService is what anyone may see of a service: its state and, when it
// is not up, a short reason. The details (listen addresses, the control
// socket, paths) are for admins: /admin and `thecure status`.
type publicService struct {
	Name   string       `json:"name"`
	State  health.State `json:"state"`
	Since  time.Time    `json:"since"`
	Reason string       `json:"reason,omitempty"`
}

func public(svcs []health.Service) []publicService {
	out := make([]publicService, len(svcs))
	for i, s := range svcs {
		out[i] = publicService{Name: s.Name, State: s.State, Since: s.Since}
		if !s.State.OK() {
			out[i].Reason = reason.Public(s.Detail)
		}
	}
	return out
}

// recorder remembers the status code and body size of a response.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the server's own ReadFrom reachable, so files served with
// http.ServeContent (VOD segments) go out with sendfile instead of through a
// user-space buffer.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		// straight to net/http's ReadFrom, which sends an *os.File with
		// sendfile (io.Copy would take the file's WriteTo, which cannot
		// see the socket behind a ResponseWriter and copies through memory)
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(r.ResponseWriter, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
