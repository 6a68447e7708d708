package procs

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPolicy(t *testing.T) {
	var p policy
	// Busy, or GOMAXPROCS already 1 (a 1-CPU default): nothing changes.
	for i := range 3 * calmFor {
		load, procs := 0.3, 2
		if i%2 == 1 {
			load, procs = 0, 1
		}
		if got := p.step(load, procs); got != keep {
			t.Fatalf("step %d (load %.2f, procs %d) = %v, want keep", i, load, procs, got)
		}
	}
	// calmFor quiet intervals in a row go down; one busy one starts over.
	for i := range calmFor - 1 {
		if got := p.step(0.1, 2); got != keep {
			t.Fatalf("quiet step %d = %v, want keep", i, got)
		}
	}
	if got := p.step(downLoad, 2); got != keep {
		t.Fatalf("a load of downLoad = %v, want keep", got)
	}
	for i := range calmFor - 1 {
		if got := p.step(0.2, 2); got != keep {
			t.Fatalf("quiet step %d after a busy one = %v, want keep", i, got)
		}
	}
	if got := p.step(0.2, 2); got != down {
		t.Fatalf("step %d quiet in a row = %v, want down", calmFor, got)
	}
	// Down: under upLoad stays; upLoad goes up at once.
	for _, load := range []float64{0, 0.3, upLoad - 0.01} {
		if got := p.step(load, 1); got != keep {
			t.Fatalf("low, load %.2f = %v, want keep", load, got)
		}
	}
	if got := p.step(upLoad, 1); got != up {
		t.Fatalf("low, load %.2f = %v, want up", upLoad, got)
	}
	if got := p.step(0, 2); got != keep {
		t.Fatalf("just up, quiet = %v, want keep (calmFor again)", got)
	}
}

// fakeLoad is a CPU clock that runs at load CPUs per second of wall time.
type fakeLoad struct {
	mu    sync.Mutex
	at    time.Time
	used  time.Duration
	load  float64
	calls atomic.Int64
}

func (f *fakeLoad) sample() (time.Duration, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if !f.at.IsZero() {
		f.used += time.Duration(float64(now.Sub(f.at)) * f.load)
	}
	f.at = now
	f.calls.Add(1)
	return f.used, now, nil
}

func (f *fakeLoad) set(load float64) {
	f.sample() // what ran so far at the old load
	f.mu.Lock()
	f.load = load
	f.mu.Unlock()
}

func waitProcs(t *testing.T, want int, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.GOMAXPROCS(0) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: GOMAXPROCS %d, want %d", why, runtime.GOMAXPROCS(0), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRun drives the real runtime setting with a CPU clock the test sets.
func TestRun(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // only to restore it after the Unsetenv
	if err := os.Unsetenv("GOMAXPROCS"); err != nil {
		t.Fatal(err)
	}
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	if def < 2 {
		t.Fatalf("this test needs a box with 2 CPUs or more, Go's default here is %d", def)
	}
	var logs bytes.Buffer
	c := New(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c.interval = 10 * time.Millisecond
	f := &fakeLoad{}
	c.sample = f.sample
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	waitProcs(t, 1, "idle")
	f.set(0.4)
	n := f.calls.Load()
	for f.calls.Load() < n+3*calmFor {
		time.Sleep(c.interval)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("0.4 CPUs used at GOMAXPROCS 1: went to %d", got)
	}
	f.set(0.9)
	waitProcs(t, def, "0.9 CPUs used")
	f.set(0.3)
	n = f.calls.Load()
	for f.calls.Load() < n+3*calmFor {
		time.Sleep(c.interval)
	}
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Fatalf("0.3 CPUs used at the default: went to %d", got)
	}
	f.set(0)
	waitProcs(t, 1, "idle again")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Fatalf("after Run: GOMAXPROCS %d, want the default %d back", got, def)
	}
	for _, want := range []string{"GOMAXPROCS 1: lightly loaded", "GOMAXPROCS back to Go's default"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestRunOperatorSetting: GOMAXPROCS in the environment is left alone.
func TestRunOperatorSetting(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	runtime.SetDefaultGOMAXPROCS()
	before := runtime.GOMAXPROCS(0)
	c := New(slog.New(slog.DiscardHandler))
	c.interval = time.Millisecond
	f := &fakeLoad{}
	c.sample = f.sample
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != 0 || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("Run with GOMAXPROCS set: read the CPU time %d times, GOMAXPROCS %d -> %d", f.calls.Load(), before, runtime.GOMAXPROCS(0))
	}
}

// TestCPUTime: the process's CPU clock counts work, every thread's, and not
// sleep.
func TestCPUTime(t *testing.T) {
	start, _, err := cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			x := 0
			for !stop.Load() {
				x++
			}
			_ = x
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, _, err := cpuTime()
		if err != nil {
			t.Fatal(err)
		}
		if now-start >= 200*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two spinning goroutines for 30 s: CPU time %v", now-start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	before, _, _ := cpuTime()
	time.Sleep(300 * time.Millisecond)
	after, _, _ := cpuTime()
	if after-before > 100*time.Millisecond {
		t.Fatalf("300 ms asleep counted %v of CPU", after-before)
	}
}
