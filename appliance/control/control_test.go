package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), SocketName)
	c := NewClient(path)
	if err := c.Do(context.Background(), "GET", "/x", nil, nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("no socket: %v, want ErrNotRunning", err)
	}
	os.WriteFile(path, nil, 0o600) // a stale file where the socket goes
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("listen over a stale file: %v", err)
	}
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle("POST /echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		if err := DecodeJSON(r, &in); err != nil {
			Error(w, http.StatusBadRequest, err)
			return
		}
		if in["name"] == "" {
			Error(w, http.StatusBadRequest, errors.New("name is required"))
			return
		}
		JSON(w, http.StatusOK, in)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	var out map[string]string
	if err := c.Do(ctx, "POST", "/echo", map[string]string{"name": "ana"}, &out); err != nil || out["name"] != "ana" {
		t.Errorf("echo: %v %v", out, err)
	}
	if err := c.Do(ctx, "POST", "/echo", map[string]string{}, nil); err == nil || err.Error() != "name is required" {
		t.Errorf("server error message: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
