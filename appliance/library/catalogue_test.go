package library

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPublishSwapsInOneStep: publishing a title again replaces its HLS
// tree while a reader that reads its master playlist all along never finds
// it absent nor half made; the old tree and the staging dir are gone.
func TestPublishSwapsInOneStep(t *testing.T) {
	c := New(nil, t.TempDir())
	const id = "0123456789ab"
	stage := func(run int) string {
		dir := c.StagingDir(id, uint64(run))
		if err := os.MkdirAll(filepath.Join(dir, "v"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{filepath.Join("v", MasterPlaylist), MasterPlaylist} {
			if err := os.WriteFile(filepath.Join(dir, f), fmt.Appendf(nil, "run %d", run), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	if err := c.Publish(id, stage(0)); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var misses atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if _, err := os.ReadFile(filepath.Join(c.Dir(id), MasterPlaylist)); err != nil {
				misses.Add(1)
			}
		}
	})
	const runs = 300
	for run := 1; run <= runs; run++ {
		dir := stage(run)
		if err := c.Publish(id, dir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("run %d: the staging dir is still there (%v)", run, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := misses.Load(); n > 0 {
		t.Errorf("a reader found no master playlist %d times while the title was published again", n)
	}
	got, err := os.ReadFile(filepath.Join(c.Dir(id), "v", MasterPlaylist))
	if err != nil || string(got) != fmt.Sprintf("run %d", runs) {
		t.Errorf("published tree holds %q (%v), want the last run", got, err)
	}
	left, err := os.ReadDir(filepath.Join(c.HLSDir(), ".staging"))
	if err != nil || len(left) != 0 {
		t.Errorf("left in .staging: %v (%v)", left, err)
	}
}
