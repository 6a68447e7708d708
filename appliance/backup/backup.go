// Package backup is thecure's self-backup: a hot, consistent snapshot of the
// store, the config file, the TLS certificates and (optionally) the media
// library, written incrementally by content hash to a local folder and/or an
// S3-compatible bucket; scheduled runs, restic-like retention, verification
// and restore.
//
// A repository holds content-addressed objects and one manifest per backup
// (see Repo). A backup is complete only once its commit marker, written last,
// matches its manifest; a failed backup never deletes anything.
package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/store"
)

// Snapshotter writes a consistent copy of the database (store.Store.Backup).
type Snapshotter interface {
	Backup(w io.Writer) (int64, error)
}

// Alerter tells a human that something went wrong (the support bot): an
// alert key and its arguments, worded by the bot in its language.
type Alerter interface {
	Alert(ctx context.Context, key string, args ...string)
}

// The alerts backups raise.
const (
	AlertFailed  = "backup_failed"  // the error
	AlertDamaged = "backup_damaged" // what is damaged
	AlertWarning = "backup_warning" // backup id, the problem
)

// Options says what to back up and where.
type Options struct {
	Config     config.Backup
	DataDir    string   // absolute
	ConfigFile string   // the config file the appliance runs with; "" for built-in defaults
	MediaDir   string   // absolute library.media_dir
	HLSDir     string   // absolute library.hls_dir
	ExtraFiles []string // operator-given files to keep too (certificate, key), absolute
	Version    string
}

// Deps are the optional collaborators; every field may be nil.
type Deps struct {
	Alerter  Alerter
	Registry prometheus.Registerer
	// Health is told how backups go: up, or degraded (the last one failed,
	// or a permission problem stops pruning): never down, a backup's
	// trouble does not stop the box serving.
	Health func(st health.State, detail string)
	Clock  func() time.Time
}

// Service runs backups: on its schedule in Run, or on demand.
type Service struct {
	opts  Options
	st    Snapshotter
	log   *slog.Logger
	deps  Deps
	repos []*Repo
	now   func() time.Time

	running sync.Mutex // one backup at a time
	// prunePolicyLoc is the zone retention counts days and weeks in.
	prunePolicyLoc *time.Location
	trigger        chan struct{}
	rescheduled    chan struct{}                   // Reload changed the schedule (reload.go)
	liveSchedule   atomic.Pointer[config.Schedule] // set by Reload

	mu       sync.Mutex
	status   Status
	reported map[string]bool // unreadable paths already logged

	mFailures, mRuns                                prometheus.Counter
	mLastSuccess, mDuration, mSize, mCopied, mFiles prometheus.Gauge
}

// Status is what a running appliance reports about its backups.
type Status struct {
	Running   bool   `json:"running"`
	Phase     string `json:"phase,omitempty"`
	Done      int64  `json:"done"`
	Total     int64  `json:"total"`
	Requested uint64 `json:"requested"` // on-demand runs asked for
	Served    uint64 `json:"served"`    // requests answered by a finished run
	LastID    string `json:"last_id,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// LastWarning: the last backup was made but needs an operator (pruning failed).
	LastWarning string    `json:"last_warning,omitempty"`
	LastSuccess time.Time `json:"last_success"`
	LastCopied  int64     `json:"last_copied"`
	LastSize    int64     `json:"last_size"`
	LastTook    float64   `json:"last_took_seconds"`
}

// New builds the service; it starts nothing and connects nowhere.
func New(opts Options, st Snapshotter, log *slog.Logger, deps Deps) (*Service, error) {
	repos, err := Repos(opts.Config, opts.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Service{opts: opts, st: st, log: log, deps: deps, repos: repos, now: deps.Clock, trigger: make(chan struct{}, 1), rescheduled: make(chan struct{}, 1), prunePolicyLoc: time.Local}
	if s.now == nil {
		s.now = time.Now
	}
	s.mFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_backup_failures_total", Help: "Backups that failed."})
	s.mRuns = prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_backup_runs_total", Help: "Backups attempted."})
	s.mLastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Name: "thecure_backup_last_success_timestamp_seconds", Help: "Time of the last successful backup (Unix seconds)."})
	s.mDuration = prometheus.NewGauge(prometheus.GaugeOpts{Name: "thecure_backup_last_duration_seconds", Help: "How long the last successful backup took."})
	s.mSize = prometheus.NewGauge(prometheus.GaugeOpts{Name: "thecure_backup_last_size_bytes", Help: "Total size of the files in the last successful backup."})
	s.mCopied = prometheus.NewGauge(prometheus.GaugeOpts{Name: "thecure_backup_last_copied_bytes", Help: "Bytes the last successful backup wrote (new content only)."})
	s.mFiles = prometheus.NewGauge(prometheus.GaugeOpts{Name: "thecure_backup_last_files", Help: "Files in the last successful backup."})
	if deps.Registry != nil {
		for _, c := range []prometheus.Collector{s.mFailures, s.mRuns, s.mLastSuccess, s.mDuration, s.mSize, s.mCopied, s.mFiles} {
			if err := deps.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("backup metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Repos opens the configured repositories: the local folder first, then S3.
func Repos(c config.Backup, dataDir string) ([]*Repo, error) {
	var repos []*Repo
	if c.Dir != "" {
		dir := c.Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(dataDir, dir)
		}
		repos = append(repos, OpenDir(dir))
	}
	if c.S3.Enabled {
		t, err := newS3Target(c.S3)
		if err != nil {
			return nil, err
		}
		repos = append(repos, &Repo{t: t})
	}
	if len(repos) == 0 {
		return nil, errors.New("no backup repository configured (backup.dir or [backup.s3])")
	}
	return repos, nil
}

// Repos are the service's repositories, local folder first.
func (s *Service) Repos() []*Repo { return s.repos }

// LastBackup is the time of the last successful backup known to this process
// (read from the repository when Run starts); zero when there is none. It
// fits the support bot's Backups view.
func (s *Service) LastBackup(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.LastSuccess, nil
}

// Status reports the current or last run.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Request asks Run for a backup as soon as possible and returns a ticket:
// the request is answered once Status().Served reaches it.
func (s *Service) Request() uint64 {
	s.mu.Lock()
	s.status.Requested++
	n := s.status.Requested
	s.mu.Unlock()
	select {
	case s.trigger <- struct{}{}:
	default:
	}
	return n
}

// Run runs backups on the schedule and on request until ctx is cancelled.
func (s *Service) Run(ctx context.Context) error {
	if t, ok := s.latestComplete(ctx); ok {
		s.mu.Lock()
		if s.status.LastSuccess.IsZero() {
			s.status.LastSuccess = t
			s.mLastSuccess.Set(float64(t.Unix()))
		}
		s.mu.Unlock()
	}
	// An interval counts from the last attempt, failed or not, so that a
	// failing backup is retried once per interval, not in a loop.
	lastRun, _ := s.LastBackup(ctx)
	nextVerify := s.nextVerify(ctx)
	for {
		next := s.schedule().Next(s.now(), lastRun)
		var timer, verifyTimer <-chan time.Time
		var t, vt *time.Timer
		if !next.IsZero() {
			s.log.Debug("next scheduled backup", "at", next)
			t = time.NewTimer(next.Sub(s.now()))
			timer = t.C
		}
		if !nextVerify.IsZero() {
			vt = time.NewTimer(nextVerify.Sub(s.now()))
			verifyTimer = vt.C
		}
		verify := false
		rescheduled := false
		select {
		case <-ctx.Done():
		case <-s.trigger:
		case <-timer:
		case <-verifyTimer:
			verify = true
		case <-s.rescheduled:
			rescheduled = true
		}
		if t != nil {
			t.Stop()
		}
		if vt != nil {
			vt.Stop()
		}
		if rescheduled && ctx.Err() == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if verify {
			s.VerifyLatest(ctx)
			nextVerify = s.now().Add(s.opts.Config.VerifyEvery.Std())
			continue
		}
		s.mu.Lock()
		serving := s.status.Requested
		s.mu.Unlock()
		lastRun = s.now()
		_, err := s.Backup(ctx, nil)
		s.mu.Lock()
		s.status.Served = serving
		s.mu.Unlock()
		if err != nil && ctx.Err() != nil {
			return nil
		}
	}
}

func (s *Service) latestComplete(ctx context.Context) (time.Time, bool) {
	list, err := s.repos[0].List(ctx)
	if err != nil {
		return time.Time{}, false
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Usable() {
			return list[i].Time, true
		}
	}
	return time.Time{}, false
}

// nextVerify is when the scheduled verify is due: verify_every after the
// last verify recorded in the first repository (or after now, when none
// is); zero when it is off.
func (s *Service) nextVerify(ctx context.Context) time.Time {
	every := s.opts.Config.VerifyEvery.Std()
	if every <= 0 {
		return time.Time{}
	}
	last := s.now()
	if list, err := s.repos[0].List(ctx); err == nil {
		var newest time.Time
		for _, in := range list {
			if in.Verified.After(newest) {
				newest = in.Verified
			}
		}
		if !newest.IsZero() {
			last = newest
		}
	}
	return last.Add(every)
}

// VerifyLatest verifies the latest backup of every repository, records the
// result (shown by `backup list`) and alerts on damage. It returns the
// problems found, by repository.
func (s *Service) VerifyLatest(ctx context.Context) map[string][]Problem {
	s.running.Lock() // not while a backup writes (or prunes) the repository
	defer s.running.Unlock()
	out := map[string][]Problem{}
	var bad []string
	for _, r := range s.repos {
		id, err := r.Resolve(ctx, "latest")
		if err != nil {
			s.log.Info("scheduled verify: nothing to verify", "repo", r.String(), "err", err)
			continue
		}
		_, probs, err := r.VerifyAndRecord(ctx, id, s.now(), nil)
		if ctx.Err() != nil {
			return out
		}
		if err != nil {
			probs = append(probs, Problem{Path: id, Msg: err.Error()})
		}
		out[r.String()] = probs
		if len(probs) > 0 {
			s.log.Error("scheduled verify found a damaged backup", "repo", r.String(), "id", id, "problems", len(probs), "first", probs[0].String())
			bad = append(bad, fmt.Sprintf("%s in %s: %d damaged file(s), first %s", id, r, len(probs), probs[0]))
			continue
		}
		s.log.Info("scheduled verify: backup intact", "repo", r.String(), "id", id)
	}
	if len(bad) > 0 {
		damaged := strings.Join(bad, "; ")
		if s.deps.Health != nil {
			s.deps.Health(health.Degraded, "backup damaged: "+damaged+" (make a new backup with `thecure backup run`)")
		}
		if s.deps.Alerter != nil {
			s.deps.Alerter.Alert(context.WithoutCancel(ctx), AlertDamaged, damaged)
		}
	}
	return out
}

// source is one file to back up and where it is read from.
type source struct {
	File
	from string                   // for messages
	open func() (*os.File, error) // nil: os.Open(from)
}

func (s source) reader() (*os.File, error) {
	if s.open != nil {
		return s.open()
	}
	return os.Open(s.from)
}

// objectMode is the mode of the object holding a file of mode m: never more
// than the original's owner and group may read (the TLS key stays 0600).
func objectMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m).Perm() & 0o640
	if mode&0o400 == 0 {
		return 0o600
	}
	return mode
}

// Backup makes one backup into every repository, then prunes each by the
// retention policy. It returns the manifest written to the first repository
// that succeeded. progress may be nil. On failure nothing is deleted, the
// failure is counted and alerted.
func (s *Service) Backup(ctx context.Context, progress Progress) (*Manifest, error) {
	s.running.Lock()
	defer s.running.Unlock()
	start := s.now()
	s.mRuns.Inc()
	s.setStatus(func(st *Status) { st.Running, st.Phase, st.Done, st.Total = true, "starting", 0, 0 })
	report := func(phase string, done, total int64) {
		s.setStatus(func(st *Status) { st.Phase, st.Done, st.Total = phase, done, total })
		progress.report(phase, done, total)
	}
	m, err := s.backup(ctx, start, report)
	took := s.now().Sub(start)
	var degraded *degradedError
	warning := ""
	if errors.As(err, &degraded) {
		// The backup is made; only pruning failed.
		msg := s.advice(degraded.err)
		warning = msg
		s.log.Error("backup made, but the repository needs an operator", "id", m.ID, "err", msg)
		if s.deps.Health != nil {
			s.deps.Health(health.Degraded, msg)
		}
		if s.deps.Alerter != nil {
			s.deps.Alerter.Alert(context.WithoutCancel(ctx), AlertWarning, m.ID, msg)
		}
		err = nil
	}
	s.setStatus(func(st *Status) {
		st.Running, st.Phase = false, ""
		if err != nil {
			st.LastError = err.Error()
			return
		}
		st.LastError, st.LastWarning = "", warning
		st.LastID, st.LastSuccess, st.LastCopied, st.LastSize, st.LastTook = m.ID, m.Time, m.Copied, m.Size, took.Seconds()
	})
	if err != nil && ctx.Err() != nil {
		s.log.Warn("backup interrupted", "err", err)
		return nil, err
	}
	if err != nil {
		s.mFailures.Inc()
		msg := s.advice(err)
		s.log.Error("backup failed", "err", msg, "took", took.Round(time.Millisecond))
		if s.deps.Health != nil {
			// A failed backup (its disk, its S3 target, its permissions)
			// does not stop the box serving: degraded, not down.
			s.deps.Health(health.Degraded, "last backup failed: "+msg)
		}
		if s.deps.Alerter != nil {
			s.deps.Alerter.Alert(context.WithoutCancel(ctx), AlertFailed, msg)
		}
		return nil, err
	}
	s.mLastSuccess.Set(float64(m.Time.Unix()))
	s.mDuration.Set(took.Seconds())
	s.mSize.Set(float64(m.Size))
	s.mCopied.Set(float64(m.Copied))
	s.mFiles.Set(float64(len(m.Files)))
	if s.deps.Health != nil && degraded == nil {
		s.deps.Health(health.Up, "last backup "+m.ID)
	}
	s.log.Info("backup done", "id", m.ID, "files", len(m.Files), "size", m.Size, "copied", m.Copied, "took", took.Round(time.Millisecond))
	return m, nil
}

func (s *Service) setStatus(fn func(*Status)) {
	s.mu.Lock()
	fn(&s.status)
	s.mu.Unlock()
}

// repoRun is one repository during one backup.
type repoRun struct {
	r      *Repo
	have   map[string]int64 // objects present, by key
	copied int64
	err    error
}

// storeChunkSize is the size of the store snapshot's pieces. bbolt keeps
// pages in place, so between two backups most pieces are unchanged and are
// not copied again.
const storeChunkSize = 1 << 20

func (s *Service) backup(ctx context.Context, start time.Time, report Progress) (*Manifest, error) {
	id := newID(start)
	host, _ := os.Hostname()
	m := &Manifest{ID: id, Time: start.UTC(), Version: s.opts.Version, Host: host, DataDir: s.opts.DataDir}

	runs := make([]*repoRun, len(s.repos))
	for i, r := range s.repos {
		runs[i] = &repoRun{r: r}
		runs[i].have, runs[i].err = r.t.list(ctx, objectsPrefix)
	}
	live := func() int {
		n := 0
		for _, rr := range runs {
			if rr.err == nil {
				n++
			}
		}
		return n
	}
	if live() == 0 {
		return nil, s.joinErrs(id, runs)
	}
	// What an interrupted run left goes first; then the backup is recorded
	// as started, so that if this one is interrupted it is listed as
	// incomplete.
	for _, rr := range runs {
		if rr.err != nil {
			continue
		}
		if n, size, err := rr.r.cleanTemp(ctx); err != nil {
			rr.err = err
			continue
		} else if n > 0 {
			s.log.Info("removed temporary files of an interrupted backup", "repo", rr.r.String(), "files", n, "bytes", size)
		}
		rr.err = rr.r.writeStarted(ctx, m)
	}
	if live() == 0 {
		return nil, s.joinErrs(id, runs)
	}

	// The parent (the newest complete backup) lends its checksums to files
	// whose size and modification time have not changed.
	parent := map[string]File{}
	for _, rr := range runs {
		if rr.err != nil {
			continue
		}
		if pid, err := rr.r.Resolve(ctx, "latest"); err == nil {
			if pm, err := rr.r.Manifest(ctx, pid); err == nil {
				for _, f := range pm.Files {
					parent[f.Kind+"\x00"+f.Path] = f
				}
				break
			}
		}
	}

	// 1. The store: streamed from one read transaction, in pieces, each
	// written only to the repositories that do not hold it yet.
	report("store snapshot", 0, 0)
	sf, err := s.snapshotStore(ctx, runs, report)
	if err != nil {
		return nil, err
	}
	sf.MTime = start.UTC()
	srcs := []source{{File: sf}}

	// 2. Everything else, listed.
	var files []source
	addInfo := func(kind, rel, from string, fi fs.FileInfo, open func() (*os.File, error)) {
		files = append(files, source{File: File{Kind: kind, Path: rel, Size: fi.Size(), Mode: uint32(fi.Mode().Perm()), MTime: fi.ModTime().UTC()}, from: from, open: open})
	}
	add := func(kind, rel, from string) error {
		fi, err := os.Stat(from)
		if err != nil {
			return err
		}
		addInfo(kind, rel, from, fi, nil)
		return nil
	}
	if s.opts.ConfigFile != "" {
		abs, err := filepath.Abs(s.opts.ConfigFile)
		if err != nil {
			return nil, err
		}
		if err := add(KindConfig, abs, abs); err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
	}
	var roots []*os.Root
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	walkInto := func(kind, dir, prefix string) error {
		return s.walk(dir, &roots, func(rel string, fi fs.FileInfo, open func() (*os.File, error)) {
			addInfo(kind, path.Join(prefix, rel), filepath.Join(dir, filepath.FromSlash(rel)), fi, open)
		})
	}
	if err := walkInto(KindTLS, filepath.Join(s.opts.DataDir, "tls"), "tls"); err != nil {
		return nil, fmt.Errorf("tls certificates: %w", err)
	}
	for _, p := range s.opts.ExtraFiles {
		if err := add(KindFile, p, p); err != nil {
			return nil, fmt.Errorf("certificate files: %w", err)
		}
	}
	if s.opts.Config.IncludeMedia {
		for _, d := range []struct{ kind, dir string }{{KindMedia, s.opts.MediaDir}, {KindHLS, s.opts.HLSDir}} {
			if d.dir == "" {
				continue
			}
			if err := walkInto(d.kind, d.dir, ""); err != nil {
				return nil, fmt.Errorf("%s: %w", d.kind, err)
			}
		}
	}

	// 3. Checksums: reused from the parent when size and time match.
	var hashTotal, hashDone int64
	for i := range files {
		f := &files[i]
		if p, ok := parent[f.Kind+"\x00"+f.Path]; ok && p.Size == f.Size && p.MTime.Equal(f.MTime) && len(p.SHA256) == 64 {
			f.SHA256 = p.SHA256
			continue
		}
		hashTotal += f.Size
	}
	for i := range files {
		f := &files[i]
		if f.SHA256 != "" {
			continue
		}
		sum, err := hashFile(ctx, *f, func(k int64) { hashDone += k; report("checksums", hashDone, hashTotal) })
		if errors.Is(err, fs.ErrNotExist) && f.Kind != KindConfig {
			continue // deleted since it was listed: not part of this backup
		}
		if err != nil {
			return nil, err
		}
		f.SHA256 = sum
	}
	for _, f := range files {
		if f.SHA256 != "" {
			srcs = append(srcs, f)
		}
	}
	for _, f := range srcs {
		m.Files = append(m.Files, f.File)
		m.Size += f.Size
	}

	// 4. Each repository: missing objects, then the manifest, then the commit.
	var first *Manifest
	var pruneErrs []error
	for _, rr := range runs {
		if rr.err != nil {
			continue
		}
		rm := *m
		rr.err = s.upload(ctx, rr, srcs[1:], report)
		if rr.err == nil {
			rm.Copied = rr.copied
			rm.Duration = s.now().Sub(start)
			rr.err = rr.r.writeManifest(ctx, &rm)
		}
		if rr.err != nil {
			continue
		}
		if first == nil {
			first = &rm
		}
		removed, freed, err := rr.r.prune(ctx, PolicyOf(s.opts.Config.Retention, s.prunePolicyLoc))
		if err != nil {
			// The backup itself is complete; a failed prune is retried
			// next time, but the disk grows meanwhile: someone must know.
			s.log.Warn("prune failed", "repo", rr.r.String(), "err", err)
			pruneErrs = append(pruneErrs, fmt.Errorf("pruning %s failed: %w", rr.r, err))
		} else if len(removed) > 0 {
			s.log.Info("pruned old backups", "repo", rr.r.String(), "removed", removed, "freed", freed)
		}
	}
	if err := s.joinErrs(id, runs); err != nil {
		return nil, err
	}
	if len(pruneErrs) > 0 {
		return first, &degradedError{errors.Join(pruneErrs...)}
	}
	return first, nil
}

// degradedError is a backup that was made but left the repository in need
// of an operator (pruning failed: the disk grows).
type degradedError struct{ err error }

func (e *degradedError) Error() string { return e.err.Error() }
func (e *degradedError) Unwrap() error { return e.err }

// advice adds how to fix a permission problem to its message.
func (s *Service) advice(err error) string {
	msg := err.Error()
	if !errors.Is(err, fs.ErrPermission) {
		return msg
	}
	who := "the service user"
	if o, oerr := dirOwner(s.opts.DataDir); oerr == nil {
		who = ownerLogin(o.UID)
	}
	var dirs []string
	for _, r := range s.repos {
		if d, ok := r.t.(dirTarget); ok {
			dirs = append(dirs, d.root)
		}
	}
	if len(dirs) == 0 {
		return msg
	}
	return msg + fmt.Sprintf(" (files there are not writable by thecure; fix with: chown -R %s: %s)", who, strings.Join(dirs, " "))
}

func (s *Service) joinErrs(id string, runs []*repoRun) error {
	var errs []error
	for _, rr := range runs {
		if rr.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rr.r, rr.err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("backup %s: %w", id, errors.Join(errs...))
	}
	return nil
}

// snapshotStore streams the store's hot snapshot in storeChunkSize pieces
// into every live repository and returns its manifest entry. Local
// repositories get their pieces at once; pieces for remote ones are spooled
// to a temporary folder in the data dir and sent after the read transaction
// has ended, so that a slow upload never holds the database's read
// transaction open (which would stall writers when the file must grow).
func (s *Service) snapshotStore(ctx context.Context, runs []*repoRun, report Progress) (File, error) {
	f := File{Kind: KindStore, Path: store.FileName, Mode: 0o600}
	buf := make([]byte, 0, storeChunkSize)
	var done int64
	// Spools left by a crash go first; backups never run side by side.
	if stale, _ := filepath.Glob(filepath.Join(s.opts.DataDir, ".backup-spool-*")); len(stale) > 0 {
		for _, p := range stale {
			os.RemoveAll(p)
		}
	}
	var spool string
	spooled := map[string]int64{}      // chunk key -> size, in spool
	pending := map[*repoRun][]string{} // chunk keys each remote repository needs
	defer func() {
		if spool != "" {
			os.RemoveAll(spool)
		}
	}()
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sum := sha256.Sum256(buf)
		h := hex.EncodeToString(sum[:])
		f.Chunks = append(f.Chunks, h)
		key := objectKey(h)
		size := int64(len(buf))
		for _, rr := range runs {
			if rr.err != nil {
				continue
			}
			if have, ok := rr.have[key]; ok && have == size {
				continue
			}
			if _, local := rr.r.t.(dirTarget); local {
				if rr.err = rr.r.t.put(ctx, key, bytes.NewReader(buf), size, 0o600); rr.err == nil {
					rr.have[key] = size
					rr.copied += size
				}
				continue
			}
			if _, ok := spooled[key]; !ok {
				if spool == "" {
					var err error
					if spool, err = os.MkdirTemp(s.opts.DataDir, ".backup-spool-*"); err != nil {
						return fmt.Errorf("store snapshot: %w", err)
					}
					// The service must be able to remove it if this run dies.
					if o, err := ownerOf(s.opts.DataDir); err != nil {
						return fmt.Errorf("store snapshot: %w", err)
					} else if err := ownLike(spool, o); err != nil {
						return fmt.Errorf("store snapshot: %w", err)
					}
				}
				if err := os.WriteFile(filepath.Join(spool, h), buf, 0o600); err != nil {
					return fmt.Errorf("store snapshot: %w", err)
				}
				spooled[key] = size
			}
			rr.have[key] = size // queued: a repeated piece is sent once
			pending[rr] = append(pending[rr], key)
		}
		done += size
		report("store snapshot", done, 0)
		buf = buf[:0]
		return nil
	}
	w := writerFunc(func(p []byte) (int, error) {
		n := len(p)
		for len(p) > 0 {
			k := min(len(p), storeChunkSize-len(buf))
			buf = append(buf, p[:k]...)
			p = p[k:]
			if len(buf) == storeChunkSize {
				if err := flush(); err != nil {
					return 0, err
				}
			}
		}
		return n, nil
	})
	n, err := s.st.Backup(w)
	if err == nil {
		err = flush()
	}
	if err != nil {
		return f, err
	}
	f.Size = n
	f.SHA256 = treeHash(f.Chunks)

	// The read transaction is over: send the spooled pieces.
	for _, rr := range runs {
		keys := pending[rr]
		var total, sent int64
		for _, k := range keys {
			total += spooled[k]
		}
		phase := "store to " + rr.r.String()
		for _, k := range keys {
			if rr.err != nil {
				break
			}
			in, err := os.Open(filepath.Join(spool, path.Base(k)))
			if err != nil {
				return f, fmt.Errorf("store snapshot: %w", err)
			}
			rr.err = rr.r.t.put(ctx, k, in, spooled[k], 0o600)
			in.Close()
			if rr.err == nil {
				rr.copied += spooled[k]
				sent += spooled[k]
				report(phase, sent, total)
			}
		}
	}
	return f, nil
}

type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// walk calls fn for every regular file under dir (slash-separated relative
// path, its info, how to open it), skipping hidden files and folders
// (uploads in progress, staging) and the backup repository itself. A
// missing dir is empty. The tree is read through an os.Root (kept open in
// *roots until the backup ends), one name at a time, so a path longer than
// PATH_MAX is read like any other; a path that cannot be read is skipped and
// reported once, never failing the walk.
func (s *Service) walk(dir string, roots *[]*os.Root, fn func(rel string, fi fs.FileInfo, open func() (*os.File, error))) error {
	var skip string
	if s.opts.Config.Dir != "" {
		skip = s.opts.Config.Dir
		if !filepath.IsAbs(skip) {
			skip = filepath.Join(s.opts.DataDir, skip)
		}
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	*roots = append(*roots, root)
	return fs.WalkDir(root.FS(), ".", func(rel string, e fs.DirEntry, err error) error {
		if err != nil {
			if rel == "." {
				return err
			}
			s.skipped(filepath.Join(dir, filepath.FromSlash(rel)), err)
			if e != nil && e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if rel != "." && strings.HasPrefix(e.Name(), ".") || filepath.Join(dir, filepath.FromSlash(rel)) == skip {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			s.skipped(filepath.Join(dir, filepath.FromSlash(rel)), err)
			return nil
		}
		fn(rel, fi, func() (*os.File, error) { return root.Open(rel) })
		return nil
	})
}

// skipped reports a path the backup could not read, once per path for the
// life of the process (not at every run).
func (s *Service) skipped(p string, err error) {
	s.mu.Lock()
	seen := s.reported[p]
	if s.reported == nil {
		s.reported = map[string]bool{}
	}
	s.reported[p] = true
	s.mu.Unlock()
	if !seen {
		s.log.Warn("backup skips a path it cannot read", "path", shorten(p), "err", shorten(err.Error()))
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

func hashFile(ctx context.Context, src source, fn func(int64)) (string, error) {
	f, err := src.reader()
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, &progressReader{r: f, fn: fn}}); err != nil {
		return "", fmt.Errorf("read %s: %w", src.from, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// upload writes the objects rr's repository does not hold yet.
func (s *Service) upload(ctx context.Context, rr *repoRun, srcs []source, report Progress) error {
	var total, done int64
	var todo []source
	queued := map[string]bool{}
	for _, f := range srcs {
		if size, ok := rr.have[objectKey(f.SHA256)]; (ok && size == f.Size) || queued[f.SHA256] {
			continue
		}
		queued[f.SHA256] = true
		todo = append(todo, f)
		total += f.Size
	}
	phase := "upload to " + rr.r.String()
	report(phase, 0, total)
	for _, f := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := putFile(ctx, rr.r, f, func(k int64) { done += k; report(phase, done, total) }); err != nil {
			return err
		}
		rr.have[objectKey(f.SHA256)] = f.Size
		rr.copied += f.Size
	}
	return nil
}

// putFile stores one file as the object named by its checksum, checking the
// checksum again while it is read: a file changed since it was hashed is an
// error, and its object is removed.
func putFile(ctx context.Context, r *Repo, f source, fn func(int64)) error {
	in, err := f.reader()
	if err != nil {
		return err
	}
	defer in.Close()
	h := sha256.New()
	key := objectKey(f.SHA256)
	body := io.TeeReader(io.LimitReader(&progressReader{r: in, fn: fn}, f.Size), h)
	if err := r.t.put(ctx, key, body, f.Size, objectMode(f.Mode)); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		if err := r.t.remove(ctx, key); err != nil {
			return fmt.Errorf("%s changed while it was backed up, and its object could not be removed: %w", f.from, err)
		}
		return fmt.Errorf("%s changed while it was backed up; the next backup will take it", f.from)
	}
	return nil
}
