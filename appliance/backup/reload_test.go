package backup

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"thecure/appliance/config"
)

// TestReloadSchedule: Run without a schedule makes backups only when asked;
// a reload that sets one takes effect at once (the running loop recomputes
// its next backup from it).
func TestReloadSchedule(t *testing.T) {
	b := newBox(t, localConfig())
	var offset atomic.Int64 // the clock, moved forward by the test
	s := b.service(t, Deps{Clock: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	ticket := s.Request()
	waitFor(t, "the requested backup", func() bool { return s.Status().Served >= ticket })
	first := s.Status().LastID

	// Two minutes later, with no schedule, nothing runs by itself.
	offset.Store(int64(2 * time.Minute))
	time.Sleep(300 * time.Millisecond)
	if got := s.Status().LastID; got != first {
		t.Fatalf("a backup ran without a schedule: %s", got)
	}
	cfg := config.Default()
	sched, err := config.ParseSchedule("1m")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Backup.Schedule = sched
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	// The last backup is more than a minute old on the clock: one is due now.
	waitFor(t, "a scheduled backup after the reload", func() bool { st := s.Status(); return st.LastID != first && !st.Running })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
