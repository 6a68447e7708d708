package backup

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/config"
	"thecure/appliance/store"
)

func envMB(name string, def int) int64 {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return int64(v) << 20
	}
	return int64(def) << 20
}

// writeRandom writes size bytes of incompressible data to p.
func writeRandom(b *testing.B, p string, size int64, seed uint64) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}), size); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBackupIncremental measures a first backup of a store plus media,
// then an incremental one after one new media file and one changed record.
// Sizes (MiB) come from THECURE_BENCH_STORE_MB (default 8),
// THECURE_BENCH_MEDIA_MB (default 32) and THECURE_BENCH_NEW_MB (default 4);
// .ci/bench-backup runs it at 500 / 2048 / 50.
func BenchmarkBackupIncremental(b *testing.B) {
	storeSize, mediaSize, newSize := envMB("THECURE_BENCH_STORE_MB", 8), envMB("THECURE_BENCH_MEDIA_MB", 32), envMB("THECURE_BENCH_NEW_MB", 4)
	dir := b.TempDir()
	st, err := store.Open(dir, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rng := rand.NewChaCha8([32]byte{7})
	val := make([]byte, 64<<10)
	for written, key := int64(0), uint64(0); written < storeSize; {
		err := st.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(bucketRecords)
			if err != nil {
				return err
			}
			for range 128 {
				rng.Read(val)
				if err := bk.Put([]byte(fmt.Sprintf("%016d", key)), val); err != nil {
					return err
				}
				key++
				written += int64(len(val))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	const fileSize = 100 << 20
	for i, left := 0, mediaSize; left > 0; i++ {
		n := min(left, fileSize)
		writeRandom(b, filepath.Join(dir, "media", "pelis", fmt.Sprintf("film%03d.mp4", i)), n, uint64(i))
		left -= n
	}
	c := config.Default().Backup
	c.IncludeMedia = true
	c.Retention = config.Retention{}
	c.Dir = filepath.Join(b.TempDir(), "repo")
	opts := Options{Config: c, DataDir: dir, MediaDir: filepath.Join(dir, "media"), HLSDir: filepath.Join(dir, "hls")}

	// The data just written must not be flushed on the backup's time.
	if err := (dirTarget{root: dir}).sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	var first, incr *Manifest
	type phaseAt struct {
		name string
		at   time.Duration
	}
	var phases []phaseAt
	var firstTook, incrTook time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		os.RemoveAll(c.Dir)
		os.Remove(filepath.Join(dir, "media", "pelis", "new.mp4"))
		if err := (dirTarget{root: dir}).sync(b.Context()); err != nil {
			b.Fatal(err)
		}
		s, err := New(opts, st, slog.New(slog.DiscardHandler), Deps{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if first, err = s.Backup(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		firstTook = time.Since(t0)
		b.StopTimer()
		writeRandom(b, filepath.Join(dir, "media", "pelis", "new.mp4"), newSize, 1000+uint64(i))
		if err := putRecord(st, uint64(i)); err != nil {
			b.Fatal(err)
		}
		if err := (dirTarget{root: dir}).sync(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 = time.Now()
		phases = phases[:0]
		if incr, err = s.Backup(b.Context(), func(phase string, _, _ int64) {
			if len(phases) == 0 || phases[len(phases)-1].name != phase {
				phases = append(phases, phaseAt{phase, time.Since(t0)})
			}
		}); err != nil {
			b.Fatal(err)
		}
		incrTook = time.Since(t0)
	}
	dbSize := storeOf(incr).Size
	changed := changedChunkBytes(storeOf(first), storeOf(incr))
	b.ReportMetric(firstTook.Seconds(), "first-s")
	b.ReportMetric(incrTook.Seconds(), "incr-s")
	b.ReportMetric(float64(first.Copied)/(1<<20), "first-MiB")
	b.ReportMetric(float64(incr.Copied)/(1<<20), "incr-MiB")
	b.Logf("store %d MiB (snapshot %d MiB), media %d MiB, new file %d MiB", storeSize>>20, dbSize>>20, mediaSize>>20, newSize>>20)
	b.Logf("first backup:       %8.2f s, copied %6d MiB (%d files)", firstTook.Seconds(), first.Copied>>20, len(first.Files))
	b.Logf("incremental backup: %8.2f s, copied %6.1f MiB = %.1f MiB of changed store chunks + the new file %d MiB (exact: %v); %.1f%% of the first run's time",
		incrTook.Seconds(), float64(incr.Copied)/(1<<20), float64(changed)/(1<<20), newSize>>20, incr.Copied == changed+newSize, 100*incrTook.Seconds()/firstTook.Seconds())
	for i, p := range phases {
		end := incrTook
		if i+1 < len(phases) {
			end = phases[i+1].at
		}
		b.Logf("  incremental phase %-40s %6.2f s", p.name, (end - p.at).Seconds())
	}
}
