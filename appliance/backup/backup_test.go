package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/store"
	"thecure/appliance/tlscert"
)

var bucketRecords = []byte("records")

// box is a data dir with a store, a certificate, a config file and media.
type box struct {
	dir, configFile string
	st              *store.Store
	opts            Options
}

func newBox(t *testing.T, c config.Backup) *box {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, _, err := tlscert.Load("", "", dir, nil); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, cfgFile, "data_dir = \""+dir+"\"\n")
	b := &box{dir: dir, configFile: cfgFile, st: st}
	b.opts = Options{Config: c, DataDir: dir, ConfigFile: cfgFile,
		MediaDir: filepath.Join(dir, "media"), HLSDir: filepath.Join(dir, "hls"), Version: "test"}
	writeFile(t, filepath.Join(dir, "media", "pelis", "film.mp4"), strings.Repeat("film", 50000))
	writeFile(t, filepath.Join(dir, "media", "musica", "song.mp3"), strings.Repeat("song", 3000))
	writeFile(t, filepath.Join(dir, "media", "pelis", ".upload-123.part"), "half an upload")
	writeFile(t, filepath.Join(dir, "hls", "film", "index.m3u8"), "#EXTM3U\n")
	writeFile(t, filepath.Join(dir, "hls", "film", "seg0.m4s"), strings.Repeat("\x01\x02", 20000))
	writeFile(t, filepath.Join(dir, "hls", ".staging", "x", "seg0.m4s"), "staging")
	return b
}

func (b *box) service(t *testing.T, deps Deps) *Service {
	t.Helper()
	s, err := New(b.opts, b.st, slog.New(slog.DiscardHandler), deps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func localConfig() config.Backup {
	c := config.Default().Backup
	c.IncludeMedia = true
	return c
}

func recordValue(i uint64) []byte {
	return bytes.Repeat(binary.BigEndian.AppendUint64(nil, i*7919), 64)
}

// putRecord writes record i in its own transaction, as the services do.
func putRecord(st *store.Store, i uint64) error {
	return st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRecords)
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, i), recordValue(i))
	})
}

// checkRecords opens the store in dir and checks that it holds records
// 0..n-1 exactly, each intact; it returns n.
func checkRecords(t *testing.T, dir string) uint64 {
	t.Helper()
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatalf("open restored store: %v", err)
	}
	defer st.Close()
	var n uint64
	err = st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			i := binary.BigEndian.Uint64(k)
			if i != n {
				return fmt.Errorf("record %d missing (found %d): not a consistent snapshot", n, i)
			}
			if !bytes.Equal(v, recordValue(i)) {
				return fmt.Errorf("record %d damaged", i)
			}
			n++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatalf("restored file: %v", err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s differs from %s", b, a)
	}
}

func TestBackupWhileWritingThenRestore(t *testing.T) {
	ctx := t.Context()
	b := newBox(t, localConfig())
	reg := prometheus.NewRegistry()
	s := b.service(t, Deps{Registry: reg})

	// A few MiB first, so that the snapshot spans several chunks.
	const prefill = 8000
	if err := b.st.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketRecords)
		if err != nil {
			return err
		}
		for i := range uint64(prefill) {
			if err := bk.Put(binary.BigEndian.AppendUint64(nil, i), recordValue(i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A writer keeps adding records through the store during the backup.
	var written atomic.Uint64
	written.Store(prefill)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(prefill); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := putRecord(b.st, i); err != nil {
				t.Error(err)
				return
			}
			written.Store(i + 1)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for written.Load() < prefill+200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := written.Load()
	m, err := s.Backup(ctx, nil)
	during := written.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if during == before {
		t.Logf("note: the writer made no progress during the backup")
	}

	kinds := map[string]int{}
	for _, f := range m.Files {
		kinds[f.Kind]++
		if strings.Contains(f.Path, "/.") || strings.HasPrefix(f.Path, ".") {
			t.Errorf("hidden file backed up: %s", f.Path)
		}
	}
	if kinds[KindStore] != 1 || kinds[KindConfig] != 1 || kinds[KindTLS] != 2 || kinds[KindMedia] != 2 || kinds[KindHLS] != 2 {
		t.Errorf("files by kind = %v", kinds)
	}
	if got := testutil.ToFloat64(s.mLastSuccess); got != float64(m.Time.Unix()) {
		t.Errorf("last success metric = %v, want %v", got, m.Time.Unix())
	}
	if last, err := s.LastBackup(ctx); err != nil || !last.Equal(m.Time) {
		t.Errorf("LastBackup = %v %v", last, err)
	}

	list, err := s.Repos()[0].List(ctx)
	if err != nil || len(list) != 1 || list[0].State != StateComplete || list[0].ID != m.ID || list[0].Files != len(m.Files) {
		t.Fatalf("list = %+v, %v", list, err)
	}

	fresh := filepath.Join(t.TempDir(), "data")
	cfgTo := filepath.Join(fresh, "config.toml")
	if _, err := s.Repos()[0].Restore(ctx, m.ID, RestoreOptions{DataDir: fresh, ConfigTo: cfgTo,
		MediaDir: filepath.Join(fresh, "media"), HLSDir: filepath.Join(fresh, "hls")}); err != nil {
		t.Fatal(err)
	}
	n := checkRecords(t, fresh)
	if n < before || n > during+1 {
		t.Errorf("restored %d records; %d were written before the backup started and %d when it ended", n, before, during)
	}
	sameFile(t, b.configFile, cfgTo)
	for _, rel := range []string{tlscert.SelfSignedCert, tlscert.SelfSignedKey, "media/pelis/film.mp4", "media/musica/song.mp3", "hls/film/index.m3u8", "hls/film/seg0.m4s"} {
		sameFile(t, filepath.Join(b.dir, rel), filepath.Join(fresh, rel))
	}
	if _, err := os.Stat(filepath.Join(fresh, "media/pelis/.upload-123.part")); err == nil {
		t.Error("an upload in progress was restored")
	}
	if _, _, err := tlscert.Load("", "", fresh, nil); err != nil {
		t.Errorf("restored certificate: %v", err)
	}

	// Incremental: one new file and a changed store are all that is copied.
	final := written.Load()
	if err := putRecord(b.st, final); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(b.dir, "media", "pelis", "new.mp4"), strings.Repeat("new!", 10000))
	m2, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := storeOf(m), storeOf(m2)
	if len(s1.Chunks) < 3 {
		t.Errorf("store of %d bytes in %d chunks", s1.Size, len(s1.Chunks))
	}
	newChunks := changedChunkBytes(s1, s2)
	if want := newChunks + 40000; m2.Copied != want {
		t.Errorf("incremental backup copied %d bytes, want %d (changed store chunks %d + new file 40000)", m2.Copied, want, newChunks)
	}
	if newChunks >= s2.Size {
		t.Errorf("the whole store (%d bytes) was copied again for one new record", s2.Size)
	}
	if n := checkRestoredStore(t, s.Repos()[0], m2.ID); n != final+1 {
		t.Errorf("second backup restored %d records, want %d", n, final+1)
	}
	if got := testutil.ToFloat64(s.mCopied); got != float64(m2.Copied) {
		t.Errorf("copied metric = %v", got)
	}
}

func storeOf(m *Manifest) File {
	for _, f := range m.Files {
		if f.Kind == KindStore {
			return f
		}
	}
	return File{}
}

// changedChunkBytes is the size of the chunks of cur that prev does not hold.
func changedChunkBytes(prev, cur File) int64 {
	held := map[string]bool{}
	for _, c := range prev.Chunks {
		held[c] = true
	}
	var n int64
	for i, c := range cur.Chunks {
		if held[c] {
			continue
		}
		held[c] = true
		size := int64(storeChunkSize)
		if i == len(cur.Chunks)-1 {
			size = cur.Size - int64(i)*storeChunkSize
		}
		n += size
	}
	return n
}

// checkRestoredStore restores backup id's store alone into a new dir and
// checks its records.
func checkRestoredStore(t *testing.T, r *Repo, id string) uint64 {
	t.Helper()
	dir := t.TempDir()
	if _, err := r.Restore(t.Context(), id, RestoreOptions{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	return checkRecords(t, dir)
}

type recordingAlerter struct {
	mu   sync.Mutex
	msgs []string
}

func (a *recordingAlerter) Alert(_ context.Context, key string, args ...string) {
	a.mu.Lock()
	a.msgs = append(a.msgs, strings.Join(append([]string{key}, args...), ": "))
	a.mu.Unlock()
}

func TestFailedBackupKeepsOlderAndAlerts(t *testing.T) {
	ctx := t.Context()
	b := newBox(t, localConfig())
	al := &recordingAlerter{}
	var healthStates []health.State
	s := b.service(t, Deps{Alerter: al, Registry: prometheus.NewRegistry(), Health: func(st health.State, _ string) { healthStates = append(healthStates, st) }})
	m1, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(b.dir, "media", "pelis", "big.mp4"), strings.Repeat("x", 1<<20))
	// Cancelled in the middle of the upload (the appliance stops): not a
	// failure to alert about, and listed as incomplete.
	cctx, cancel := context.WithCancel(ctx)
	_, err = s.Backup(cctx, func(phase string, done, total int64) {
		if strings.HasPrefix(phase, "upload") && done > 0 {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("backup cancelled mid-upload succeeded")
	}
	if len(al.msgs) != 0 || testutil.ToFloat64(s.mFailures) != 0 {
		t.Errorf("an interrupted backup was alerted (%q) or counted", al.msgs)
	}
	if list, err := s.Repos()[0].List(ctx); err != nil || len(list) != 2 || list[1].State != StateIncomplete {
		t.Errorf("an interrupted backup is listed as incomplete: %+v %v", list, err)
	}
	// The repository refuses the new file's object: a real failure.
	sum := sha256.Sum256(bytes.Repeat([]byte("x"), 1<<20))
	blocker := s.Repos()[0].t.(dirTarget).file(objectKey(hex.EncodeToString(sum[:])))
	writeFile(t, filepath.Join(blocker, "in-the-way"), "")
	_, err = s.Backup(ctx, nil)
	if err == nil {
		t.Fatal("backup into a broken repository succeeded")
	}
	if got := testutil.ToFloat64(s.mFailures); got != 1 {
		t.Errorf("failures metric = %v", got)
	}
	if len(al.msgs) != 1 || !strings.HasPrefix(al.msgs[0], AlertFailed+": ") {
		t.Errorf("alerts = %q", al.msgs)
	}
	if len(healthStates) != 2 || healthStates[0] != health.Up || healthStates[1] != health.Degraded {
		t.Errorf("health reports = %v", healthStates)
	}
	repo := s.Repos()[0]
	if id, err := repo.Resolve(ctx, "latest"); err != nil || id != m1.ID {
		t.Errorf("latest = %s, %v; want %s", id, err, m1.ID)
	}
	if _, probs, err := repo.Verify(ctx, m1.ID, nil); err != nil || len(probs) > 0 {
		t.Errorf("older backup after a failure: %v %v", probs, err)
	}

	// A manifest without its commit marker (a crash between the two) is incomplete.
	m := *m1
	m.ID = newID(time.Now().Add(time.Hour))
	data := []byte(`{"id":"` + m.ID + `"}`)
	if err := repo.t.put(ctx, snapshotKey(m.ID, manifestName), bytes.NewReader(data), int64(len(data)), 0o640); err != nil {
		t.Fatal(err)
	}
	list, err := repo.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, in := range list {
		states[in.ID] = in.State
	}
	if states[m.ID] != StateIncomplete || states[m1.ID] != StateComplete {
		t.Errorf("states = %v", states)
	}
	if id, _ := repo.Resolve(ctx, "latest"); id != m1.ID {
		t.Errorf("latest = %s, want the complete %s", id, m1.ID)
	}
}

func TestVerifyCatchesCorruption(t *testing.T) {
	ctx := t.Context()
	b := newBox(t, localConfig())
	s := b.service(t, Deps{})
	m, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo := s.Repos()[0]
	if _, probs, err := repo.Verify(ctx, m.ID, nil); err != nil || len(probs) != 0 {
		t.Fatalf("fresh backup: %v %v", probs, err)
	}
	var film File
	for _, f := range m.Files {
		if f.Path == "pelis/film.mp4" {
			film = f
		}
	}
	obj := repo.t.(dirTarget).file(objectKey(film.SHA256))
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x20
	if err := os.WriteFile(obj, data, 0o640); err != nil {
		t.Fatal(err)
	}
	_, probs, err := repo.Verify(ctx, m.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 1 || !strings.Contains(probs[0].String(), "media:pelis/film.mp4") || !strings.Contains(probs[0].Msg, "checksum mismatch") {
		t.Errorf("problems = %v", probs)
	}
	_, err = repo.Restore(ctx, m.ID, RestoreOptions{DataDir: t.TempDir(), MediaDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "corrupted") {
		t.Errorf("restore from a corrupted object: %v", err)
	}

	// So is a damaged piece of the store.
	data[len(data)/2] ^= 0x20 // the film again as it was
	if err := os.WriteFile(obj, data, 0o640); err != nil {
		t.Fatal(err)
	}
	st := storeOf(m)
	chunk := repo.t.(dirTarget).file(objectKey(st.Chunks[len(st.Chunks)-1]))
	cdata, err := os.ReadFile(chunk)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chunk, cdata[:len(cdata)-1], 0o640); err != nil {
		t.Fatal(err)
	}
	_, probs, err = repo.Verify(ctx, m.ID, nil)
	if err != nil || len(probs) != 1 || !strings.Contains(probs[0].String(), "store:thecure.db") {
		t.Errorf("problems with a truncated store chunk = %v, %v", probs, err)
	}
	_, err = repo.Restore(ctx, m.ID, RestoreOptions{DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "corrupted") {
		t.Errorf("restore with a truncated store chunk: %v", err)
	}

	// A changed manifest no longer matches its commit marker.
	mk := repo.t.(dirTarget).file(snapshotKey(m.ID, manifestName))
	mdata, _ := os.ReadFile(mk)
	if err := os.WriteFile(mk, bytes.Replace(mdata, []byte(`"version": "test"`), []byte(`"version": "evil"`), 1), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := repo.Verify(ctx, m.ID, nil); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("verify of a changed manifest: %v", err)
	}
}

func TestRestoreRefusesWhileRunning(t *testing.T) {
	ctx := t.Context()
	b := newBox(t, localConfig())
	s := b.service(t, Deps{})
	m, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// b.st holds the store open, as a running appliance does.
	_, err = s.Repos()[0].Restore(ctx, m.ID, RestoreOptions{DataDir: b.dir})
	if err != ErrRunning {
		t.Fatalf("restore into a data dir in use: %v", err)
	}
}

func TestRunServesRequests(t *testing.T) {
	b := newBox(t, localConfig())
	s := b.service(t, Deps{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	ticket := s.Request()
	deadline := time.Now().Add(60 * time.Second)
	for s.Status().Served < ticket {
		if time.Now().After(deadline) {
			t.Fatalf("request not served: %+v", s.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := s.Status()
	if st.LastError != "" || st.LastID == "" || st.Running {
		t.Errorf("status = %+v", st)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	// A new service reads the last backup time from the repository.
	s2 := b.service(t, Deps{})
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { done <- s2.Run(ctx2) }()
	deadline = time.Now().Add(30 * time.Second)
	for {
		if last, _ := s2.LastBackup(ctx2); !last.IsZero() {
			if last.Unix() != st.LastSuccess.Unix() {
				t.Errorf("LastBackup after restart = %v, want %v", last, st.LastSuccess)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("LastBackup not loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel2()
	<-done
}

func TestRetention(t *testing.T) {
	ctx := t.Context()
	c := localConfig()
	c.Retention = config.Retention{KeepLast: 2, KeepDaily: 3, KeepWeekly: 2}
	b := newBox(t, c)
	var now time.Time
	s := b.service(t, Deps{Clock: func() time.Time { return now }})
	s.now = func() time.Time { return now }
	s.prunePolicyLoc = time.UTC
	at := func(s string) time.Time {
		tm, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// Mon 2026-11-02 .. Thu 2026-11-19.
	times := []string{
		"2026-11-02 10:00:00", // week 45
		"2026-11-03 10:00:00", // week 45: newest of week 45
		"2026-11-09 10:00:00", // week 46
		"2026-11-10 09:00:00", // week 46, newest of 11-10 is 18:00
		"2026-11-10 18:00:00", // week 46: newest of week 46
		"2026-11-17 08:00:00", // week 47
		"2026-11-18 08:00:00", // week 47
		"2026-11-19 07:00:00", // week 47
		"2026-11-19 20:00:00", // week 47: newest
	}
	ids := map[string]string{}
	for i, ts := range times {
		now = at(ts)
		// Each backup has its own store content, so each has its own object.
		if err := putRecord(b.st, uint64(i)); err != nil {
			t.Fatal(err)
		}
		m, err := s.Backup(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[m.ID] = ts
	}
	list, err := s.Repos()[0].List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, in := range list {
		kept = append(kept, ids[in.ID])
	}
	// last 2: 11-19 20:00, 11-19 07:00; daily 3: 11-19 20:00, 11-18, 11-17;
	// weekly 2: 11-19 20:00 (week 47), 11-10 18:00 (week 46).
	want := []string{"2026-11-10 18:00:00", "2026-11-17 08:00:00", "2026-11-18 08:00:00", "2026-11-19 07:00:00", "2026-11-19 20:00:00"}
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("kept %v\nwant %v", kept, want)
	}
	// Pruning removed every object no kept backup references.
	used := map[string]bool{}
	for _, in := range list {
		m, err := s.Repos()[0].Manifest(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m.Files {
			used[f.SHA256] = true
		}
	}
	objs, err := s.Repos()[0].t.list(ctx, objectsPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(used) {
		t.Errorf("%d objects in the repository, %d referenced", len(objs), len(used))
	}
	for _, in := range list {
		if _, probs, err := s.Repos()[0].Verify(ctx, in.ID, nil); err != nil || len(probs) > 0 {
			t.Errorf("verify %s after pruning: %v %v", in.ID, probs, err)
		}
	}
}

func TestPolicyKeepsEverythingWhenZero(t *testing.T) {
	list := []Info{{ID: "a", Time: time.Unix(1, 0)}, {ID: "b", Time: time.Unix(2, 0)}}
	if k := (Policy{}).Keep(list); len(k) != 2 {
		t.Errorf("zero policy kept %v", k)
	}
	if k := (Policy{Last: 1}).Keep(list); len(k) != 1 || !k["b"] {
		t.Errorf("keep_last 1 kept %v", k)
	}
}

// `backup verify` is recorded: list shows complete, then verified TIME,
// then damaged; a damaged backup is not "latest"; the scheduled verify
// alerts and degrades the service on damage.
func TestVerifyRecordedAndScheduled(t *testing.T) {
	ctx := t.Context()
	b := newBox(t, localConfig())
	al := &recordingAlerter{}
	var states []health.State
	s := b.service(t, Deps{Alerter: al, Health: func(st health.State, _ string) { states = append(states, st) }})
	m1, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(b.dir, "media", "pelis", "new.mp4"), strings.Repeat("new film", 4000))
	m2, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo := s.Repos()[0]
	state := func(id string) Info {
		t.Helper()
		in, ok, err := repo.Find(ctx, id)
		if err != nil || !ok {
			t.Fatalf("find %s: %v %v", id, ok, err)
		}
		return in
	}
	if in := state(m2.ID); in.State != StateComplete || in.Describe() != "complete" {
		t.Errorf("unverified backup: %+v", in)
	}
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, probs, err := repo.VerifyAndRecord(ctx, m2.ID, when, nil); err != nil || len(probs) > 0 {
		t.Fatal(probs, err)
	}
	if in := state(m2.ID); in.State != StateVerified || !in.Verified.Equal(when) || !strings.HasPrefix(in.Describe(), "verified 2026-03-01") {
		t.Errorf("verified backup: %+v (%s)", in, in.Describe())
	}
	// The new file's object is damaged: the scheduled verify finds it.
	var nf File
	for _, f := range m2.Files {
		if f.Path == "pelis/new.mp4" {
			nf = f
		}
	}
	obj := repo.t.(dirTarget).file(objectKey(nf.SHA256))
	if err := os.WriteFile(obj, []byte("rot"), 0o640); err != nil {
		t.Fatal(err)
	}
	probs := s.VerifyLatest(ctx)[repo.String()]
	if len(probs) != 1 || !strings.Contains(probs[0].String(), "pelis/new.mp4") {
		t.Errorf("scheduled verify: %v", probs)
	}
	if in := state(m2.ID); in.State != StateDamaged || in.Problems != 1 || !strings.HasPrefix(in.Describe(), "damaged (verify ") {
		t.Errorf("damaged backup: %+v", in)
	}
	if len(al.msgs) != 1 || !strings.HasPrefix(al.msgs[0], AlertDamaged+": "+m2.ID) {
		t.Errorf("alerts: %q", al.msgs)
	}
	if states[len(states)-1] != health.Degraded {
		t.Errorf("health after damage: %v", states)
	}
	if id, _ := repo.Resolve(ctx, "latest"); id != m1.ID {
		t.Errorf("latest = %s, want the undamaged %s", id, m1.ID)
	}
	// The schedule: due verify_every after the last recorded verify.
	s.opts.Config.VerifyEvery = config.Duration(7 * 24 * time.Hour)
	if got := s.nextVerify(ctx); !got.After(time.Now().Add(6 * 24 * time.Hour)) {
		t.Errorf("next verify at %v, want a week after the last one", got)
	}
}

// kill -9 in the middle of a backup: the backup is listed as incomplete,
// its temporary files go at the next run; a CLI that lost the appliance
// reads the outcome from the repository.
func TestInterruptedBackupAndOutcome(t *testing.T) {
	ctx := t.Context()
	b := newBox(t, localConfig())
	s := b.service(t, Deps{})
	repo := s.Repos()[0]
	asked := time.Now()
	if msg, done := OutcomeText(ctx, repo, asked); done || !strings.Contains(msg, "before the backup started") {
		t.Errorf("no backup yet: %q %v", msg, done)
	}
	m1, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if msg, done := OutcomeText(ctx, repo, asked); !done || !strings.Contains(msg, m1.ID+" done") {
		t.Errorf("a backup that completed: %q %v", msg, done)
	}
	// What a kill leaves: a started manifest without commit, and a
	// half-written object.
	askedAgain := time.Now()
	killed := &Manifest{ID: newID(time.Now()), Time: time.Now().UTC()}
	if err := repo.writeStarted(ctx, killed); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(repo.t.(dirTarget).root, "objects", "ab", tmpPrefix+"123")
	writeFile(t, tmp, strings.Repeat("half", 1000))
	if msg, done := OutcomeText(ctx, repo, askedAgain); done || !strings.Contains(msg, "listed as incomplete") {
		t.Errorf("a backup that was killed: %q %v", msg, done)
	}
	list, err := repo.List(ctx)
	if err != nil || len(list) != 2 || list[1].State != StateIncomplete || list[1].ID != killed.ID {
		t.Fatalf("after a kill: %+v %v", list, err)
	}
	if _, err := s.Backup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary object of the killed backup still there: %v", err)
	}
	// Pruning removes temporary files too (and the killed backup, older
	// than the newest complete one).
	writeFile(t, tmp, "again")
	if _, _, err := repo.prune(ctx, Policy{Last: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("prune kept a temporary object: %v", err)
	}
	if _, ok, _ := repo.Find(ctx, killed.ID); ok {
		t.Error("prune kept the killed backup")
	}
}

// A media tree deeper than PATH_MAX (made by any FTP user with write
// rights) neither fails the backup nor the restore: both go through an
// os.Root, one name at a time.
func TestPathsBeyondPathMax(t *testing.T) {
	ctx := t.Context()
	c := localConfig()
	c.IncludeMedia = true
	b := newBox(t, c)
	root, err := os.OpenRoot(b.opts.MediaDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	deep := "pelis"
	for i := range 17 {
		deep += "/" + strings.Repeat(string(rune('a'+i)), 255)
	}
	if err := root.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := root.WriteFile(deep+"/deep.mp4", []byte("deep down"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := len(filepath.Join(b.opts.MediaDir, deep)); n <= 4096 {
		t.Fatalf("the tree is only %d bytes deep", n)
	}
	s := b.service(t, Deps{})
	m, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatalf("backup with a path beyond PATH_MAX: %v", err)
	}
	found := false
	for _, f := range m.Files {
		found = found || f.Path == deep+"/deep.mp4"
	}
	if !found {
		t.Error("the deep file is not in the backup")
	}
	fresh := t.TempDir()
	if _, err := s.Repos()[0].Restore(ctx, m.ID, RestoreOptions{DataDir: fresh, MediaDir: filepath.Join(fresh, "media")}); err != nil {
		t.Fatalf("restore with a path beyond PATH_MAX: %v", err)
	}
	froot, err := os.OpenRoot(filepath.Join(fresh, "media"))
	if err != nil {
		t.Fatal(err)
	}
	defer froot.Close()
	if got, err := froot.ReadFile(deep + "/deep.mp4"); err != nil || string(got) != "deep down" {
		t.Errorf("restored deep file: %q %v", got, err)
	}
}

// A restore that fails while it moves files into place puts back what it
// had moved and removes the folders it made: nothing changes.
func TestRestoreRollsBackAFailedPlacement(t *testing.T) {
	ctx := t.Context()
	c := localConfig()
	c.IncludeMedia = true
	b := newBox(t, c)
	s := b.service(t, Deps{})
	m, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, media := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(data, "tls", "selfsigned.crt"), "the certificate in place")
	// A folder where the backup has a file: its placement fails, after
	// the certificate and musica/song.mp3 (in a new folder) were placed.
	if err := os.MkdirAll(filepath.Join(media, "pelis", "film.mp4"), 0o755); err != nil {
		t.Fatal(err)
	}
	list := func(dirs ...string) []string {
		var out []string
		for _, d := range dirs {
			filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				out = append(out, p)
				return err
			})
		}
		return out
	}
	before := list(data, media)
	_, err = s.Repos()[0].Restore(ctx, m.ID, RestoreOptions{DataDir: data, MediaDir: media})
	if err == nil || !strings.Contains(err.Error(), "a folder is in the way") {
		t.Fatalf("restore onto a folder in the way: %v", err)
	}
	if after := list(data, media); !slices.Equal(before, after) {
		t.Errorf("a failed restore changed the tree:\nbefore %q\nafter  %q", before, after)
	}
	if got, _ := os.ReadFile(filepath.Join(data, "tls", "selfsigned.crt")); string(got) != "the certificate in place" {
		t.Errorf("the certificate was not put back: %q", got)
	}
}
