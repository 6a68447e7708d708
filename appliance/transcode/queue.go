// Package transcode is the VOD pipeline's durable job queue: every finished
// upload into a movies, series or music folder is written to the store as a
// job first, then a worker is woken; workers claim the oldest pending job,
// probe the source, remux or encode it with ffmpeg into our own HLS
// packaging (library.Package), publish it and update the catalogue. Jobs
// left running by a crash or a shutdown run again at the next start, and a
// scan at start queues sources that have no catalogue entry yet.
package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/config"
	"thecure/appliance/ffmpeg"
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/reason"
)

// Job states.
const (
	Pending = "pending"
	Running = "running"
	Done    = "done"
	Failed  = "failed"
)

// Job is one source to turn into HLS, as stored and as /api/jobs shows it.
type Job struct {
	ID       string    `json:"id"`     // the catalogue item's id
	Source   string    `json:"source"` // relative to library.media_dir
	Folder   string    `json:"folder_kind"`
	State    string    `json:"state"` // pending | running | done | failed
	Seq      uint64    `json:"seq"`   // queue order; a new Enqueue of the same source gives a new one
	Method   string    `json:"method,omitempty"`
	Progress float64   `json:"progress"`        // percent
	Speed    float64   `json:"speed,omitempty"` // times realtime
	ETA      float64   `json:"eta,omitempty"`   // seconds left
	Error    string    `json:"error,omitempty"`
	Attempts int       `json:"attempts"`
	Crashes  int       `json:"crashes,omitempty"` // runs ended by ffmpeg killed by a signal
	Enqueued time.Time `json:"enqueued"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`

	// Repackage: the job makes again a title packaged by an older release
	// (queued at start); the title plays from its old packaging meanwhile.
	Repackage bool `json:"repackage,omitempty"`

	// A normalisation for channels (normalise.go): the title and the size.
	Title  string `json:"title_id,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// Store is what the queue needs of the database.
type Store interface {
	Update(fn func(tx *bolt.Tx) error) error
	View(fn func(tx *bolt.Tx) error) error
}

// Health is where the queue says why it cannot work (ffmpeg missing, disk full).
type Health interface {
	Set(name string, st health.State, detail string)
}

var bucketJobs = []byte("transcode_jobs")

// Options configure a Queue.
type Options struct {
	MediaDir  string          // absolute library.media_dir
	Folders   []config.Folder // [[ftp.folders]]
	Transcode config.Transcode
	HealthKey string // the service name in the health registry
	// Alerter, when not nil, is told about every failed job (the support
	// bot's admins).
	Alerter Alerter
	// Publisher, when not nil, is told of every title made ready, failed
	// or removed (a copy of the library elsewhere follows it).
	Publisher Publisher
}

// Publisher follows the titles' changes (appliance/publish); it records
// them durably and returns without waiting for the copy.
type Publisher interface {
	TitleChanged(id string)
}

// titleChanged tells the Publisher, if any, that title id changed.
func (q *Queue) titleChanged(id string) {
	if q.opts.Publisher != nil {
		q.opts.Publisher.TitleChanged(id)
	}
}

// Alerter passes an alert to the administrators, a key and its arguments
// (the bot words it in its language); it never blocks.
type Alerter interface {
	Alert(ctx context.Context, key string, args ...string)
}

// AlertFailed is the alert raised when a job fails: source, reason.
const AlertFailed = "transcode_failed"

// Queue is the durable job queue and its workers.
type Queue struct {
	st     Store
	cat    *library.Catalogue
	log    *slog.Logger
	health Health
	opts   Options
	tools  ffmpeg.Tools
	kinds  map[string]string // top folder name -> kind

	wake chan struct{}

	mu      sync.Mutex
	live    map[string]*liveJob
	down    string            // why the queue cannot work, "" when it can
	skipped map[string]string // paths the scan skipped, and why (reported once)

	jobsTotal    *prometheus.CounterVec
	mediaSeconds prometheus.Counter
	running      prometheus.Gauge

	// readRate slows ffmpeg's reading in tests (see ffmpeg.Job.ReadRate).
	readRate float64
	// diskRetry is how long a worker waits after a full disk.
	diskRetry time.Duration
	// stageHook, in tests, sees each staging dir before ffmpeg starts
	// (to plant a file that fails with ENOSPC).
	stageHook func(dir string)
}

// liveJob is the in-memory state of a running job.
type liveJob struct {
	seq                  uint64
	cancel               context.CancelFunc
	progress, speed, eta float64
}

// New builds the queue; nothing runs until Run.
func New(st Store, cat *library.Catalogue, log *slog.Logger, h Health, reg prometheus.Registerer, opts Options) *Queue {
	if opts.HealthKey == "" {
		opts.HealthKey = "transcode"
	}
	q := &Queue{
		st: st, cat: cat, log: log, health: h, opts: opts,
		tools: ffmpeg.Tools{FFmpeg: opts.Transcode.FFmpeg, FFprobe: opts.Transcode.FFprobe},
		kinds: map[string]string{},
		wake:  make(chan struct{}, max(opts.Transcode.Workers, 1)),
		live:  map[string]*liveJob{},

		diskRetry: 30 * time.Second,
		jobsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thecure_transcode_jobs_total",
			Help: "Transcode jobs finished, by result (done, failed) and method (remux, encode).",
		}, []string{"result", "method"}),
		mediaSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "thecure_transcode_media_seconds_total",
			Help: "Seconds of media turned into HLS.",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "thecure_transcode_running_jobs",
			Help: "Transcode jobs running now.",
		}),
	}
	for _, f := range opts.Folders {
		q.kinds[f.Name] = f.Kind
	}
	if reg != nil {
		reg.MustRegister(q.jobsTotal, q.mediaSeconds, q.running)
	}
	return q
}

// kindOf returns the folder kind of a source path and whether the queue
// processes it (movies, series, music; not hidden, not in quarantine).
func (q *Queue) kindOf(rel string) (string, bool) {
	top, rest, ok := strings.Cut(rel, "/")
	if !ok || rest == "" {
		return "", false
	}
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return "", false
		}
	}
	if qd := q.opts.Transcode.QuarantineDir; rel == qd || strings.HasPrefix(rel, qd+"/") {
		return "", false
	}
	switch k := q.kinds[top]; k {
	case config.KindMovies, config.KindSeries, config.KindMusic:
		return k, true
	}
	return "", false
}

func cleanSource(p string) (string, error) {
	p = strings.TrimPrefix(filepath.ToSlash(p), "/")
	if p == "" || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return "", fmt.Errorf("source path %q is not a clean path inside the media dir", p)
	}
	return p, nil
}

func getJob(tx *bolt.Tx, id string) (Job, bool, error) {
	var j Job
	b := tx.Bucket(bucketJobs)
	if b == nil {
		return j, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return j, false, nil
	}
	if err := json.Unmarshal(v, &j); err != nil {
		return j, false, fmt.Errorf("job %s: %w", id, err)
	}
	return j, true, nil
}

// eachJob calls fn with every job in b (none when b is nil).
func eachJob(b *bolt.Bucket, fn func(Job) error) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("job %s: %w", k, err)
		}
		return fn(j)
	})
}

func putJob(tx *bolt.Tx, j Job) error {
	b, err := tx.CreateBucketIfNotExists(bucketJobs)
	if err != nil {
		return err
	}
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return b.Put([]byte(j.ID), v)
}

// Enqueue records a job for the source at path (slash-separated, relative to
// library.media_dir) and wakes a worker. Sources outside movies, series and
// music folders are ignored. Enqueueing a source again (it was replaced)
// processes it again, stopping a run in progress.
func (q *Queue) Enqueue(ctx context.Context, p string) error {
	rel, err := cleanSource(p)
	if err != nil {
		return err
	}
	kind, ok := q.kindOf(rel)
	if !ok {
		return nil
	}
	fi, err := os.Stat(q.abs(rel))
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	id := library.ItemID(rel)
	meta := library.ParseName(kind, strings.SplitN(rel, "/", 2)[1])
	err = q.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketJobs)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		j := Job{ID: id, Source: rel, Folder: kind, State: Pending, Seq: seq, Enqueued: time.Now().UTC()}
		return putJob(tx, j)
	})
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", rel, err)
	}
	// Durable first: the job is stored; the title follows.
	if err := q.cat.Queued(id, rel, fi.Size(), fi.ModTime(), meta); err != nil {
		return fmt.Errorf("enqueue %s: %w", rel, err)
	}
	q.log.Info("queued", "source", rel, "id", id)
	q.stopLive(id) // a replaced source: its running job starts over
	q.signal()
	return nil
}

// Remove forgets the source at path (a file, or a folder and everything
// under it): its job, its title and its HLS. A path in the quarantine
// folder removes the failed titles whose source was moved there.
func (q *Queue) Remove(ctx context.Context, p string) error {
	rel, err := cleanSource(p)
	if err != nil {
		return err
	}
	if qd := q.opts.Transcode.QuarantineDir; rel == qd || strings.HasPrefix(rel, qd+"/") {
		items, err := q.cat.List()
		if err != nil {
			return fmt.Errorf("remove %s: %w", rel, err)
		}
		for _, it := range items {
			if it.State == library.StateFailed && (it.Quarantined == rel || strings.HasPrefix(it.Quarantined, rel+"/")) {
				if err := q.removeOne(it.Source); err != nil {
					return err
				}
			}
		}
		return nil
	}
	_, ok, err := q.cat.Get(library.ItemID(rel))
	if err != nil {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	if !ok {
		// maybe a folder: every title under it
		items, err := q.cat.List()
		if err != nil {
			return fmt.Errorf("remove %s: %w", rel, err)
		}
		for _, it := range items {
			if strings.HasPrefix(it.Source, rel+"/") {
				if err := q.removeOne(it.Source); err != nil {
					return err
				}
			}
		}
	}
	return q.removeOne(rel)
}

// ErrNoTitle means no title has the id or source path asked for.
var ErrNoTitle = errors.New("no such title")

// RemoveTitle is the admin's explicit removal of one title, found by id or
// by source path, whatever its state (missing and failed ones included):
// its job, its record, its HLS and its files (the source, or where a failed
// title's source was quarantined), so that no scan brings it back.
func (q *Queue) RemoveTitle(ctx context.Context, ref string) (library.Item, error) {
	items, err := q.cat.List()
	if err != nil {
		return library.Item{}, err
	}
	for _, it := range items {
		if it.ID != ref && it.Source != ref {
			continue
		}
		root, err := os.OpenRoot(q.opts.MediaDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return it, err
		}
		if root != nil {
			defer root.Close()
			for _, f := range []string{it.Source, it.Quarantined} {
				if f == "" {
					continue
				}
				if err := root.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return it, fmt.Errorf("remove %s: %w", f, err)
				}
			}
		}
		return it, q.removeOne(it.Source)
	}
	return library.Item{}, fmt.Errorf("%q: %w (give its id or its source path, as `thecure library list` shows them)", ref, ErrNoTitle)
}

func (q *Queue) removeOne(rel string) error {
	id := library.ItemID(rel)
	err := q.st.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketJobs); b != nil {
			return b.Delete([]byte(id))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	found, err := q.cat.Forget(id)
	if err != nil {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	q.stopLive(id)
	if err := q.cat.RemoveFiles(id); err != nil {
		return err
	}
	if found {
		q.titleChanged(id)
	}
	if found {
		q.log.Info("removed", "source", rel, "id", id)
	}
	return nil
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) stopLive(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.live[id]; l != nil {
		l.cancel()
	}
}

func (q *Queue) abs(rel string) string {
	return filepath.Join(q.opts.MediaDir, filepath.FromSlash(rel))
}

// Jobs returns every job, running ones with live progress: running first,
// then pending in queue order, then finished ones, newest first.
func (q *Queue) Jobs() ([]Job, error) {
	var out []Job
	err := q.st.View(func(tx *bolt.Tx) error {
		return eachJob(tx.Bucket(bucketJobs), func(j Job) error {
			out = append(out, j)
			return nil
		})
	})
	q.mu.Lock()
	for i := range out {
		if l := q.live[out[i].ID]; l != nil && out[i].State == Running && l.seq == out[i].Seq {
			out[i].Progress, out[i].Speed, out[i].ETA = l.progress, l.speed, l.eta
		}
	}
	q.mu.Unlock()
	rank := map[string]int{Running: 0, Pending: 1, Failed: 2, Done: 2}
	slices.SortStableFunc(out, func(a, b Job) int {
		if rank[a.State] != rank[b.State] {
			return rank[a.State] - rank[b.State]
		}
		if a.State == Pending {
			return int(a.Seq) - int(b.Seq)
		}
		return b.Finished.Compare(a.Finished)
	})
	return out, err
}

// Job returns one job.
func (q *Queue) Job(id string) (j Job, ok bool, err error) {
	err = q.st.View(func(tx *bolt.Tx) error {
		j, ok, err = getJob(tx, id)
		return err
	})
	return j, ok, err
}

// Run resets jobs left running to pending, queues the titles packaged by an
// older release (queueRepackaging), queues sources with no catalogue
// entry, then runs the workers until ctx is cancelled. ffmpeg children are
// stopped on the way out; their jobs run again at the next start.
func (q *Queue) Run(ctx context.Context) error {
	if err := q.resetRunning(); err != nil {
		return err
	}
	if err := q.queueRepackaging(); err != nil {
		return err
	}
	if err := q.cat.CleanStaging(); err != nil {
		q.log.Warn("cannot clean the staging dir", "err", err)
	}
	// Files written in the last moments may still be being copied: with
	// the periodic rescan on, they are left to it.
	settle := min(q.opts.Transcode.Rescan.Std(), startupSettle)
	if err := q.scan(ctx, settle); err != nil {
		q.log.Warn("scanning the media folders failed", "err", err)
	}
	var wg sync.WaitGroup
	for i := range max(q.opts.Transcode.Workers, 1) {
		wg.Go(func() { q.worker(ctx, i) })
	}
	if every := q.opts.Transcode.Rescan.Std(); every > 0 {
		wg.Go(func() { q.rescan(ctx, every) })
	}
	wg.Wait()
	return nil
}

// startupSettle: at start, files modified this recently are left to the
// periodic rescan, as they may still be being copied.
const startupSettle = 2 * time.Second

// rescan scans the media folders every interval for sources copied in by
// other means than FTPS; a file must have stood unchanged for a whole
// interval, so one still being copied is left for a later scan.
func (q *Queue) rescan(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := q.scan(ctx, every); err != nil && ctx.Err() == nil {
			q.log.Warn("scanning the media folders failed", "err", err)
		}
	}
}

// keepDone is how long finished jobs stay listed; failed ones stay until
// their source is queued again or removed.
const keepDone = 7 * 24 * time.Hour

// resetRunning puts jobs left running back to pending and forgets old
// finished ones.
func (q *Queue) resetRunning() error {
	var n int
	var reset []Job
	err := q.st.Update(func(tx *bolt.Tx) error {
		reset = nil
		b, err := tx.CreateBucketIfNotExists(bucketJobs)
		if err != nil {
			return err
		}
		var old []string
		err = eachJob(b, func(j Job) error {
			if j.State == Running {
				j.State, j.Progress, j.Speed, j.ETA = Pending, 0, 0, 0
				reset = append(reset, j)
			}
			if j.State == Done && time.Since(j.Finished) > keepDone {
				old = append(old, j.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range old {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for _, j := range reset {
			if err := putJob(tx, j); err != nil {
				return err
			}
		}
		n = len(reset)
		return nil
	})
	if err != nil {
		return fmt.Errorf("transcode: reset running jobs: %w", err)
	}
	for _, j := range reset {
		if j.Repackage {
			continue // its title stays ready, playing its old packaging
		}
		if err := q.cat.SetState(j.ID, library.StateQueued); err != nil {
			return fmt.Errorf("transcode: reset running jobs: %w", err)
		}
	}
	if n > 0 {
		q.log.Info("jobs interrupted by the last stop will run again", "jobs", n)
	}
	return nil
}

// pathMax is the longest path ffmpeg and the kernel open in one call
// (PATH_MAX, with its NUL).
const pathMax = 4095

// scan queues every source in the media folders with no catalogue entry, or
// whose size or time changed. A title whose source or HLS output is gone is
// never deleted: it becomes missing (hidden from viewers, shown to admins)
// and ready again when its files are back; a failed title whose quarantined
// file was deleted is removed. Files modified less than settle ago are left
// for a later scan. The tree is read through an os.Root, one name at a
// time: a path that cannot be read (or that ffmpeg could not open, beyond
// PATH_MAX) is skipped and reported once, never the whole scan.
func (q *Queue) scan(ctx context.Context, settle time.Duration) error {
	items, err := q.cat.List()
	if err != nil {
		return err
	}
	byID := map[string]library.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	// A media dir that is not there (a restore without media) is empty.
	root, err := os.OpenRoot(q.opts.MediaDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if root != nil {
		defer root.Close()
	}
	seen := map[string]bool{}
	var queued int
	for _, f := range q.opts.Folders {
		if _, ok := q.kindOf(f.Name + "/x"); !ok || root == nil {
			continue
		}
		err := fs.WalkDir(root.FS(), f.Name, func(rel string, d fs.DirEntry, err error) error {
			if err != nil {
				if rel == f.Name && errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				q.skip(rel, err)
				if d != nil && d.IsDir() && rel != f.Name {
					return fs.SkipDir
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if strings.HasPrefix(d.Name(), ".") && rel != f.Name {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if _, ok := q.kindOf(rel); !ok {
				return nil
			}
			if n := len(q.abs(rel)); n > pathMax {
				q.skip(rel, fmt.Errorf("its path is %d bytes long; ffmpeg opens at most %d: move it higher up or shorten its folders", n, pathMax))
				return nil
			}
			id := library.ItemID(rel)
			seen[id] = true
			fi, err := d.Info()
			if err != nil {
				q.skip(rel, err)
				return nil
			}
			if settle > 0 && time.Since(fi.ModTime()) < settle {
				return nil // still being written, perhaps
			}
			if it, known := byID[id]; known {
				changed := fi.Size() != it.SourceSize || !fi.ModTime().UTC().Equal(it.SourceModTime)
				settled := it.State == library.StateReady || it.State == library.StateFailed || it.State == library.StateMissing
				if !changed || !settled {
					return nil
				}
			}
			if err := q.Enqueue(ctx, rel); err != nil {
				q.log.Warn("cannot queue", "source", rel, "err", err)
				return nil
			}
			queued++
			return nil
		})
		if err != nil {
			return err
		}
	}
	if queued > 0 {
		q.log.Info("queued sources found in the media folders", "jobs", queued)
	}
	// Titles whose files went away, or came back. The list read before the
	// walk serves (reading it again costs as much as the walk); a title is
	// read again before anything is done to it.
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := q.reconcile(ctx, root, it, seen[it.ID]); err != nil {
			return err
		}
	}
	return nil
}

// unchanged reports whether title it is still as it was read (no job, no
// upload and no other scan changed it since).
func (q *Queue) unchanged(it library.Item) bool {
	cur, ok, err := q.cat.Get(it.ID)
	return err == nil && ok && cur.State == it.State && cur.Updated.Equal(it.Updated)
}

// reconcile compares one title with what is on disk: a failed title whose
// quarantined file was deleted goes; a title missing its source or HLS
// output becomes missing; a missing one whose files are back is ready (or
// queued, when only its source is back).
func (q *Queue) reconcile(ctx context.Context, root *os.Root, it library.Item, haveSource bool) error {
	if it.State == library.StateFailed {
		if it.Quarantined == "" || haveSource {
			return nil
		}
		if root == nil {
			return nil // no media dir at all: nothing to tell
		}
		if _, err := root.Lstat(it.Quarantined); errors.Is(err, fs.ErrNotExist) && q.unchanged(it) {
			q.log.Info("the quarantined source was deleted; removing its failed title", "source", it.Source, "quarantined", it.Quarantined)
			return q.removeOne(it.Source)
		}
		return nil
	}
	if it.State != library.StateReady && it.State != library.StateMissing {
		return nil // queued or processing: its job decides
	}
	haveHLS := q.cat.HasHLS(it.ID)
	if haveSource && haveHLS && it.State == library.StateReady {
		return nil // the usual case: nothing to do
	}
	if !q.unchanged(it) {
		return nil // the next scan looks again
	}
	switch {
	case haveSource && haveHLS:
		if it.State == library.StateMissing {
			q.log.Info("the files of a missing title are back", "source", it.Source, "id", it.ID)
			return q.setMissing(it.ID, "")
		}
		return nil
	case haveSource && it.State == library.StateMissing:
		// Its source is back, its HLS is not: make it again.
		q.log.Info("the source of a missing title is back; processing it again", "source", it.Source, "id", it.ID)
		return q.Enqueue(ctx, it.Source)
	}
	var what []string
	if !haveSource {
		what = append(what, "source")
	}
	if !haveHLS {
		what = append(what, "HLS output")
	}
	how := "copy " + it.Source + " back into media_dir (or restore a backup made with include_media = true)"
	if haveSource {
		how = "it is made again from the source at the next scan"
	} else if haveHLS {
		how = "copy " + it.Source + " back into media_dir; the HLS output is still there"
	}
	msg := "no " + strings.Join(what, ", no ") + " on disk: " + how + "; it returns to ready by itself (delete the title to drop it)"
	if it.State == library.StateMissing && it.Missing == msg {
		return nil
	}
	if it.State != library.StateMissing {
		q.log.Warn("a title's files are missing; it is hidden until they are back", "source", it.Source, "id", it.ID, "missing", strings.Join(what, ", "))
	}
	if !haveSource && haveHLS {
		return q.setMissing(it.ID, msg)
	}
	if haveSource {
		// HLS gone, source there: make it again.
		return q.Enqueue(ctx, it.Source)
	}
	return q.setMissing(it.ID, msg)
}

// setMissing marks title id missing with why (or ready again, with "").
func (q *Queue) setMissing(id, why string) error {
	if err := q.cat.Missing(id, why); err != nil {
		return err
	}
	if why == "" {
		q.titleChanged(id) // ready again: its copy elsewhere may lack it
	}
	return nil
}

// skip reports a path the scan cannot use, once per path and reason for the
// life of the process (not at every rescan).
func (q *Queue) skip(rel string, err error) {
	msg := err.Error()
	q.mu.Lock()
	if q.skipped == nil {
		q.skipped = map[string]string{}
	}
	seen := q.skipped[rel] == msg
	q.skipped[rel] = msg
	q.mu.Unlock()
	if !seen {
		q.log.Warn("the media scan skips a path", "path", shorten(rel), "err", shorten(strings.ReplaceAll(msg, q.opts.MediaDir+"/", "")))
	}
}

// shorten keeps log lines short: a path beyond PATH_MAX is 4 KB.
func shorten(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return s[:max/2] + "..." + s[len(s)-max/2:]
}

// claim marks the oldest pending job running, in one transaction.
func (q *Queue) claim() (Job, bool, error) {
	var j Job
	var found bool
	err := q.st.Update(func(tx *bolt.Tx) error {
		err := eachJob(tx.Bucket(bucketJobs), func(c Job) error {
			if c.State == Pending && (!found || c.Seq < j.Seq) {
				j, found = c, true
			}
			return nil
		})
		if err != nil || !found {
			return err
		}
		j.State, j.Started, j.Attempts, j.Error = Running, time.Now().UTC(), j.Attempts+1, ""
		j.Progress, j.Speed, j.ETA = 0, 0, 0
		return putJob(tx, j)
	})
	if err != nil || !found || j.Method == MethodNormalise {
		return j, found, err
	}
	if j.Repackage {
		return j, true, nil // its title stays ready, playing its old packaging
	}
	if err := q.cat.SetState(j.ID, library.StateProcessing); err != nil {
		// the job runs all the same; its title shows "queued" until it ends
		q.log.Error("cannot mark the title processing", "source", j.Source, "err", err)
	}
	return j, true, nil
}

// setDown says the queue cannot work (ffmpeg missing): the box is unhealthy.
func (q *Queue) setDown(reason string) { q.setWaiting(health.Down, reason) }

// setDegraded says jobs wait for something outside the queue (a full disk):
// the box still streams and serves, so it is degraded, not unhealthy.
func (q *Queue) setDegraded(reason string) { q.setWaiting(health.Degraded, reason) }

func (q *Queue) setWaiting(st health.State, reason string) {
	q.mu.Lock()
	changed := q.down != reason
	q.down = reason
	q.mu.Unlock()
	if changed {
		q.log.Warn("transcoding is waiting", "reason", reason)
		q.health.Set(q.opts.HealthKey, st, reason)
	}
}

func (q *Queue) setUp() {
	q.mu.Lock()
	was := q.down
	q.down = ""
	q.mu.Unlock()
	if was != "" {
		q.log.Info("transcoding resumes")
		q.health.Set(q.opts.HealthKey, health.Up, "")
	}
}

// wait blocks until a wake-up, d or ctx, and reports whether ctx is still live.
func (q *Queue) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-q.wake:
		return true
	case <-t.C:
		return true
	}
}

// toolRetry is how often a worker looks for ffmpeg again while it is missing.
const toolRetry = 5 * time.Second

func (q *Queue) worker(ctx context.Context, n int) {
	for ctx.Err() == nil {
		if err := q.tools.Check(); err != nil {
			q.setDown(fmt.Sprintf("ffmpeg not found: %v; jobs wait (set transcode.ffmpeg and transcode.ffprobe)", err))
			q.wait(ctx, toolRetry)
			continue
		}
		j, ok, err := q.claim()
		if err != nil {
			q.log.Error("cannot claim a job", "err", err)
			q.wait(ctx, toolRetry)
			continue
		}
		if !ok {
			q.setUp()
			q.wait(ctx, time.Minute)
			continue
		}
		if diskFull := q.process(ctx, j); diskFull {
			q.wait(ctx, q.diskRetry)
			continue
		}
		q.setUp()
		q.signal() // another worker may be idle while more jobs wait
	}
}

// JobsHandler answers GET /api/jobs: every job as a JSON array (state,
// progress %, speed, ETA, error). Requests for which details is false
// (anyone but an admin) get each error's short public reason instead of its
// details (ffprobe's output, staging and quarantine paths).
func (q *Queue) JobsHandler(details func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jobs, err := q.Jobs()
		if err != nil {
			http.Error(w, "jobs unavailable", http.StatusInternalServerError)
			return
		}
		if jobs == nil {
			jobs = []Job{}
		}
		if !details(r) {
			for i := range jobs {
				jobs[i].Error = reason.Public(jobs[i].Error)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := json.NewEncoder(w).Encode(jobs); err != nil {
			q.log.Debug("jobs answer not sent", "err", err) // the client left
		}
	})
}

// QueueLength counts the jobs waiting and running (for the support bot's
// status answer).
func (q *Queue) QueueLength(ctx context.Context) (pending, running int, err error) {
	err = q.st.View(func(tx *bolt.Tx) error {
		return eachJob(tx.Bucket(bucketJobs), func(j Job) error {
			switch j.State {
			case Pending:
				pending++
			case Running:
				running++
			}
			return nil
		})
	})
	return pending, running, err
}
