// Package control is the appliance's local admin API: HTTP+JSON over a unix
// socket in the data directory, mode 0600, so that only the appliance's own
// user (and root) can manage it. Each feature registers its own routes and
// offers a typed client on Client (users, bot and backup: ControlRoutes and
// NewClient in their control.go); this package holds the socket, the server,
// the JSON helpers and GET /status. Management commands (`thecure status`,
// `thecure user ...`) reach the running appliance through it.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"thecure/appliance/health"
)

// SocketName is the control socket's file name inside the data directory.
const SocketName = "control.sock"

// SocketPath is the control socket of the appliance using dataDir.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// ErrNotRunning means no appliance answers on the control socket.
var ErrNotRunning = errors.New("thecure is not running")

// Listen binds the control socket at path with mode 0600. A socket file left by
// a crashed appliance is removed first: the caller holds the store's lock, so
// no other appliance can be using it.
func Listen(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	// Created 0700 under the umask: no window where others could connect.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod control socket: %w", err)
	}
	return ln, nil
}

// Server serves the control API. Other subsystems add their routes with Handle
// before Serve is called.
type Server struct {
	log *slog.Logger
	mux *http.ServeMux
}

// New returns a server with no routes.
func New(log *slog.Logger) *Server {
	return &Server{log: log, mux: http.NewServeMux()}
}

// Handle adds a route ("GET /status", "POST /users").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Serve answers on ln until ctx is cancelled.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("control socket: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// JSON writes v as a JSON response with status code.
func JSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Error writes {"error": msg} with status code.
func Error(w http.ResponseWriter, code int, err error) {
	JSON(w, code, map[string]string{"error": err.Error()})
}

// Client calls the control API of a running appliance.
type Client struct {
	hc *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{hc: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
		},
	}}
}

// Do sends method and path with in (if not nil) as JSON and decodes the JSON
// answer into out (if not nil). An error answer becomes an error with the
// server's message; no appliance on the socket is ErrNotRunning.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://thecure"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
			return ErrNotRunning
		}
		return fmt.Errorf("control socket: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("control socket: read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("control socket: %s", resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("control socket: decode answer: %w", err)
		}
	}
	return nil
}

// DecodeJSON reads a request's JSON body (at most 1 MiB) into v.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}

// Status is what GET /status answers: the appliance and each service's state.
type Status struct {
	Version  string           `json:"version"`
	Commit   string           `json:"commit"`
	PID      int              `json:"pid"`
	Started  time.Time        `json:"started"`
	DataDir  string           `json:"data_dir"`
	Status   health.Status    `json:"status"` // ok, degraded or unhealthy
	Services []health.Service `json:"services"`
}

// Status asks the running appliance for its Status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.Do(ctx, "GET", "/status", nil, &st)
	return st, err
}
