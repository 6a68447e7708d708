package logsafe

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Refusals from one key make one line per interval; the ones held back are
// counted on the next line or by the sweep; other keys have their own
// lines; quiet keys are forgotten; past MaxRefusalKeys new keys share one.
func TestRefusals(t *testing.T) {
	var buf strings.Builder
	c := &clock{t: time.Unix(1e9, 0)}
	r := NewRefusals(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn, time.Minute, c.now)
	lines := func() []string { return strings.Split(strings.TrimSpace(buf.String()), "\n") }

	for range 100 {
		r.Note("192.0.2.1", "refused", "reason", "x")
	}
	r.Note("2001:db8::1", "refused", "reason", "y")
	if l := lines(); len(l) != 2 || !strings.Contains(l[0], "reason=x remote=192.0.2.1 count=1 per=1m0s") ||
		!strings.Contains(l[1], "remote=2001:db8::1 count=1") {
		t.Fatalf("101 refusals from 2 keys, want 2 lines with count=1:\n%s", buf.String())
	}
	r.Sweep() // within the interval: nothing may log yet
	if len(lines()) != 2 {
		t.Fatalf("a sweep within the interval wrote:\n%s", buf.String())
	}
	c.add(time.Minute)
	r.Sweep()
	if l := lines(); len(l) != 3 || !strings.Contains(l[2], "remote=192.0.2.1 count=99") {
		t.Errorf("the sweep must report the 99 held back:\n%s", buf.String())
	}
	c.add(time.Minute)
	for range 6 {
		r.Note("192.0.2.1", "refused", "reason", "x")
	}
	c.add(time.Minute)
	r.Note("192.0.2.1", "refused", "reason", "x")
	if l := lines(); !strings.Contains(l[len(l)-1], "count=6") {
		t.Errorf("the next line must count the 5 held back and itself:\n%s", buf.String())
	}
	c.add(time.Minute)
	r.Sweep()
	if r.Len() != 0 {
		t.Errorf("%d quiet keys still followed", r.Len())
	}
	for i := range MaxRefusalKeys + 10 {
		r.Note(fmt.Sprintf("10.0.%d.%d", i>>8, i&255), "refused")
	}
	if r.Len() != MaxRefusalKeys+1 || !strings.Contains(buf.String(), "remote=\"other addresses\"") {
		t.Errorf("%d keys followed, want %d and the shared entry", r.Len(), MaxRefusalKeys+1)
	}
}
