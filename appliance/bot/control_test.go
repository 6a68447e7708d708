package bot

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"thecure/appliance/control"
	"thecure/appliance/store"
)

// TestControlStats: GET /bot/stats on a real control socket answers what
// ComputeStats gives for the same period; a malformed period is refused.
func TestControlStats(t *testing.T) {
	dir, err := os.MkdirTemp("", "botctl") // short: a unix socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	if err := writeLog(st, []LogEntry{
		{Time: d, User: 7, Chat: 7, Dir: "in", Text: "[button] n:upload"},
		{Time: d.Add(time.Minute), User: 7, Chat: 7, Dir: "out", Text: "Use FTPS with your user"},
	}); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := control.New(log)
	ControlRoutes(srv, st, log)
	path := filepath.Join(dir, control.SocketName)
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	c := NewClient(control.NewClient(path))
	since, until := d.Add(-time.Hour), time.Now()
	got, err := c.Stats(ctx, since, until)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ComputeStats(st, since, until, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Conversations != 1 || got.WithoutTicket != 1 || want.Conversations != 1 {
		t.Errorf("through the socket: %d conversations, %d without a ticket; want 1, 1 (store: %d)", got.Conversations, got.WithoutTicket, want.Conversations)
	}
	if !got.Since.Equal(want.Since) || !got.Until.Equal(want.Until) || !reflect.DeepEqual(got.PerDay, want.PerDay) || !reflect.DeepEqual(got.TopAnswers, want.TopAnswers) {
		t.Errorf("through the socket %+v\nfrom the store %+v", got, want)
	}
	if err := control.NewClient(path).Do(ctx, "GET", "/bot/stats?since=yesterday", nil, nil); err == nil {
		t.Error("GET /bot/stats?since=yesterday: no error")
	}
}
