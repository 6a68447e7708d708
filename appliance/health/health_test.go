package health

import (
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	r.Set("http", Up, ":8080")
	r.Set("transcode", Up, "")
	if !r.Healthy() {
		t.Error("up services are healthy")
	}
	now = now.Add(time.Minute)
	r.Set("transcode", Down, "ffmpeg not found")
	if r.Healthy() {
		t.Error("a down service is unhealthy")
	}
	r.Set("transcode", Down, "ffmpeg still not found")
	s := r.Snapshot()
	if len(s) != 2 || s[0].Name != "http" || s[1].Name != "transcode" {
		t.Fatalf("snapshot order: %+v", s)
	}
	if s[1].Detail != "ffmpeg still not found" || !s[1].Since.Equal(now) {
		t.Errorf("same state again keeps Since and updates Detail: %+v", s[1])
	}
}

func TestStatus(t *testing.T) {
	r := NewRegistry()
	r.Optional("bot")
	r.Set("http", Up, "")
	r.Set("bot", Up, "")
	r.Set("backup", Up, "")
	if got := r.Status(); got != StatusOK || !got.Ready() {
		t.Errorf("all up: %s, want ok and ready", got)
	}
	r.Set("bot", Down, "cannot reach the Bot API")
	if got := r.Status(); got != StatusDegraded || !got.Ready() {
		t.Errorf("optional bot down: %s, want degraded and ready", got)
	}
	r.Set("bot", Up, "")
	r.Set("backup", Degraded, "cannot prune: permission denied")
	if got := r.Status(); got != StatusDegraded {
		t.Errorf("backup degraded: %s, want degraded", got)
	}
	r.Set("http", Down, "")
	if got := r.Status(); got != StatusUnhealthy || got.Ready() {
		t.Errorf("http down: %s, want unhealthy and not ready", got)
	}
	r.Set("http", Up, "")
	r.Set("bot", Failed, "stopped")
	r.Set("backup", Stopping, "")
	if got := r.Status(); got != StatusUnhealthy {
		t.Errorf("a required service stopping: %s, want unhealthy", got)
	}
}
