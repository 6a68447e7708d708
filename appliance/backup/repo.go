package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// Repository layout (the same in a folder and under an S3 prefix):
//
//	objects/ab/abcdef...         file contents, named by their SHA-256
//	snapshots/ID/manifest.json   what one backup holds, with every checksum
//	snapshots/ID/commit          SHA-256 of manifest.json, written last
//	snapshots/ID/verified        the last `backup verify` result (JSON)
//
// A backup's manifest is written first, with no files, when the backup
// starts, and again in full at the end, before the commit: a backup that
// was interrupted is listed as incomplete. A backup without a commit (or
// whose manifest does not match it) is not complete: it is never listed as
// such, restored from or kept by retention.
const (
	objectsPrefix   = "objects/"
	snapshotsPrefix = "snapshots/"
	manifestName    = "manifest.json"
	commitName      = "commit"
	verifiedName    = "verified"
)

// File kinds in a manifest.
const (
	KindStore  = "store"  // the database; Path is its file name in the data dir
	KindConfig = "config" // the config file; Path is where it was (absolute)
	KindTLS    = "tls"    // Path is relative to the data dir (tls/...)
	KindFile   = "file"   // an operator-given file (certificate, key); Path is absolute
	KindMedia  = "media"  // Path is relative to library.media_dir
	KindHLS    = "hls"    // Path is relative to library.hls_dir
)

// File is one file in a backup.
type File struct {
	Kind   string    `json:"kind"`
	Path   string    `json:"path"`
	Size   int64     `json:"size"`
	Mode   uint32    `json:"mode"`
	MTime  time.Time `json:"mtime"`
	SHA256 string    `json:"sha256"`
	// Chunks, when set, are the objects that hold the file, in order (the
	// store is kept in pieces), and SHA256 is their treeHash; else the one
	// object is named by SHA256.
	Chunks []string `json:"chunks,omitempty"`
}

// treeHash is a chunked file's checksum: the SHA-256 of its chunks'
// checksums, in order. Each chunk is checked against its own checksum.
func treeHash(chunks []string) string {
	h := sha256.New()
	for _, c := range chunks {
		io.WriteString(h, c)
		io.WriteString(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// objects are the object checksums f needs.
func (f File) objects() []string {
	if len(f.Chunks) > 0 {
		return f.Chunks
	}
	return []string{f.SHA256}
}

// chunkReader reads a chunked file's objects one after another, checking
// each against its checksum.
type chunkReader struct {
	ctx    context.Context
	r      *Repo
	chunks []string
	cur    io.ReadCloser
	sum    string
	h      hash.Hash
}

// errCorrupted is a checksum mismatch.
var errCorrupted = errors.New("checksum mismatch (content is corrupted)")

func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			if len(c.chunks) == 0 {
				return 0, io.EOF
			}
			rc, err := c.r.t.get(c.ctx, objectKey(c.chunks[0]))
			if err != nil {
				return 0, fmt.Errorf("object %s: %w", c.chunks[0][:12], err)
			}
			c.cur, c.sum, c.chunks = rc, c.chunks[0], c.chunks[1:]
			c.h = sha256.New()
		}
		n, err := c.cur.Read(p)
		c.h.Write(p[:n])
		if err == io.EOF {
			c.cur.Close()
			c.cur = nil
			if hex.EncodeToString(c.h.Sum(nil)) != c.sum {
				return n, fmt.Errorf("object %s: %w", c.sum[:12], errCorrupted)
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *chunkReader) Close() error {
	if c.cur != nil {
		return c.cur.Close()
	}
	return nil
}

// open reads a file's content back from its object(s).
func (r *Repo) open(ctx context.Context, f File) (io.ReadCloser, error) {
	if len(f.Chunks) > 0 {
		for _, c := range f.Chunks {
			if len(c) != 64 {
				return nil, errors.New("invalid chunk checksum in manifest")
			}
		}
		return &chunkReader{ctx: ctx, r: r, chunks: f.Chunks}, nil
	}
	if len(f.SHA256) != 64 {
		return nil, errors.New("invalid checksum in manifest")
	}
	return r.t.get(ctx, objectKey(f.SHA256))
}

// Manifest describes one backup.
type Manifest struct {
	ID       string        `json:"id"`
	Time     time.Time     `json:"time"`
	Version  string        `json:"version"`
	Host     string        `json:"host"`
	DataDir  string        `json:"data_dir"`
	Duration time.Duration `json:"duration_ns"`
	Size     int64         `json:"size"`   // sum of the files' sizes
	Copied   int64         `json:"copied"` // bytes this backup wrote to the repository
	Files    []File        `json:"files"`
}

// States of a backup in a repository.
const (
	StateComplete   = "complete"   // committed, not verified yet
	StateVerified   = "verified"   // committed, and the last verify found every checksum right
	StateIncomplete = "incomplete" // no commit marker: failed, interrupted or still running
	StateDamaged    = "damaged"    // the manifest does not match its commit, or verify found damage
)

// Info is one backup as `backup list` shows it.
type Info struct {
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Size  int64     `json:"size"`
	Files int       `json:"files"`
	State string    `json:"state"`
	// Verified is when verify last checked it (State verified or damaged).
	Verified time.Time `json:"verified,omitzero"`
	Problems int       `json:"problems,omitempty"` // what that verify found
}

// Describe is the state as `backup list` shows it: complete, verified
// TIME (local), damaged (N problems) or incomplete.
func (in Info) Describe() string {
	switch {
	case in.State == StateVerified:
		return "verified " + in.Verified.Local().Format(time.DateTime)
	case in.State == StateDamaged && !in.Verified.IsZero():
		return fmt.Sprintf("damaged (verify %s: %d problem(s))", in.Verified.Local().Format(time.DateTime), in.Problems)
	}
	return in.State
}

// Usable reports whether a backup may be restored from and counts for
// retention: committed and not found damaged.
func (in Info) Usable() bool { return in.State == StateComplete || in.State == StateVerified }

// VerifyRecord is what `backup verify` leaves in snapshots/ID/verified.
type VerifyRecord struct {
	Time     time.Time `json:"time"`
	Problems []Problem `json:"problems"`
}

// Repo is one backup repository.
type Repo struct {
	t target
}

// OpenDir is the repository in a local folder.
func OpenDir(dir string) *Repo { return &Repo{t: dirTarget{root: dir}} }

func (r *Repo) String() string { return r.t.String() }

func objectKey(sum string) string { return objectsPrefix + sum[:2] + "/" + sum }

func snapshotKey(id, name string) string { return snapshotsPrefix + id + "/" + name }

// ids returns every backup ID in the repository, complete or not, oldest first.
func (r *Repo) ids(ctx context.Context) ([]string, map[string]int64, error) {
	keys, err := r.t.list(ctx, snapshotsPrefix)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for k := range keys {
		id, _, ok := strings.Cut(strings.TrimPrefix(k, snapshotsPrefix), "/")
		if ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // IDs start with the UTC time
	return ids, keys, nil
}

// List returns every backup, oldest first.
func (r *Repo) List(ctx context.Context) ([]Info, error) {
	ids, keys, err := r.ids(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, id := range ids {
		in := Info{ID: id, State: StateIncomplete}
		if t, err := idTime(id); err == nil {
			in.Time = t
		}
		if _, ok := keys[snapshotKey(id, manifestName)]; ok {
			m, err := r.Manifest(ctx, id)
			switch {
			case err == nil:
				in.State = StateComplete
				if _, ok := keys[snapshotKey(id, verifiedName)]; ok {
					if v, err := r.verifyRecord(ctx, id); err == nil {
						in.State, in.Verified, in.Problems = StateVerified, v.Time, len(v.Problems)
						if len(v.Problems) > 0 {
							in.State = StateDamaged
						}
					}
				}
			case errors.Is(err, errDamaged):
				in.State = StateDamaged
			}
			if m != nil {
				in.Time, in.Size, in.Files = m.Time, m.Size, len(m.Files)
			}
		}
		out = append(out, in)
	}
	slices.SortStableFunc(out, func(a, b Info) int { return a.Time.Compare(b.Time) })
	return out, nil
}

var (
	errIncomplete = errors.New("backup is incomplete (no commit marker)")
	errDamaged    = errors.New("backup manifest does not match its commit marker")
)

func (r *Repo) readKey(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, err := r.t.get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

// Manifest reads a backup's manifest and checks it against its commit
// marker. An incomplete or damaged backup returns an error (with the
// manifest when it could be parsed).
func (r *Repo) Manifest(ctx context.Context, id string) (*Manifest, error) {
	data, err := r.readKey(ctx, snapshotKey(id, manifestName), 1<<30)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("backup %s: %w", id, errIncomplete)
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	var m *Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		m = nil
	}
	commit, err := r.readKey(ctx, snapshotKey(id, commitName), 1024)
	if errors.Is(err, errNotFound) {
		return m, fmt.Errorf("backup %s: %w", id, errIncomplete)
	}
	if err != nil {
		return m, fmt.Errorf("backup %s: %w", id, err)
	}
	sum := sha256.Sum256(data)
	if strings.TrimSpace(string(commit)) != hex.EncodeToString(sum[:]) || m == nil {
		return m, fmt.Errorf("backup %s: %w", id, errDamaged)
	}
	return m, nil
}

// Resolve turns "latest" into the newest complete backup's ID.
func (r *Repo) Resolve(ctx context.Context, id string) (string, error) {
	if id != "latest" {
		return id, nil
	}
	list, err := r.List(ctx)
	if err != nil {
		return "", err
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Usable() {
			return list[i].ID, nil
		}
	}
	return "", fmt.Errorf("no complete backup in %s", r)
}

// Find returns one backup's listing.
func (r *Repo) Find(ctx context.Context, id string) (Info, bool, error) {
	list, err := r.List(ctx)
	if err != nil {
		return Info{}, false, err
	}
	for _, in := range list {
		if in.ID == id {
			return in, true, nil
		}
	}
	return Info{}, false, nil
}

// writeStarted records that backup m has started: its manifest with no
// files and no commit, so an interrupted backup is listed as incomplete.
func (r *Repo) writeStarted(ctx context.Context, m *Manifest) error {
	started := *m
	started.Files = nil
	data, err := json.MarshalIndent(&started, "", " ")
	if err != nil {
		return err
	}
	return r.t.put(ctx, snapshotKey(m.ID, manifestName), bytes.NewReader(data), int64(len(data)), 0o640)
}

// writeManifest makes the objects durable, then stores the manifest, then
// its commit marker.
func (r *Repo) writeManifest(ctx context.Context, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	if err := r.t.sync(ctx); err != nil {
		return err
	}
	if err := r.t.put(ctx, snapshotKey(m.ID, manifestName), bytes.NewReader(data), int64(len(data)), 0o640); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	commit := []byte(hex.EncodeToString(sum[:]) + "\n")
	return r.t.put(ctx, snapshotKey(m.ID, commitName), bytes.NewReader(commit), int64(len(commit)), 0o640)
}

// RecordVerify stores the result of verifying backup id, which `backup list`
// then shows (verified TIME, or damaged).
func (r *Repo) RecordVerify(ctx context.Context, id string, when time.Time, probs []Problem) error {
	data, err := json.Marshal(VerifyRecord{Time: when.UTC(), Problems: probs})
	if err != nil {
		return err
	}
	return r.t.put(ctx, snapshotKey(id, verifiedName), bytes.NewReader(data), int64(len(data)), 0o640)
}

func (r *Repo) verifyRecord(ctx context.Context, id string) (VerifyRecord, error) {
	var v VerifyRecord
	data, err := r.readKey(ctx, snapshotKey(id, verifiedName), 1<<20)
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(data, &v)
}

// cleanTemp removes what unfinished writes left in a folder repository.
func (r *Repo) cleanTemp(ctx context.Context) (int, int64, error) {
	if d, ok := r.t.(dirTarget); ok {
		return d.cleanTemp(ctx)
	}
	return 0, 0, nil
}

// Problem is one thing verify found wrong.
type Problem struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Verify re-reads every object of backup id and checks every checksum. It
// returns the problems found; the error is for a backup it could not read at all.
func (r *Repo) Verify(ctx context.Context, id string, progress Progress) (*Manifest, []Problem, error) {
	m, err := r.Manifest(ctx, id)
	if err != nil {
		return m, nil, err
	}
	var total, done int64
	for _, f := range m.Files {
		total += f.Size
	}
	var probs []Problem
	checked := map[string]bool{}
	step := func(k int64) { done += k; progress.report("verify", done, total) }
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return m, probs, err
		}
		name := f.Kind + ":" + f.Path
		if len(f.SHA256) != 64 {
			probs = append(probs, Problem{name, "invalid checksum in manifest"})
			continue
		}
		if len(f.Chunks) == 0 && checked[f.SHA256] {
			done += f.Size
			continue
		}
		checked[f.SHA256] = true
		// Every object is read and checked against its name; a chunked
		// file is checked as a whole too.
		whole := sha256.New()
		var size int64
		bad := false
		for _, sum := range f.objects() {
			if len(sum) != 64 {
				probs = append(probs, Problem{name, "invalid checksum in manifest"})
				bad = true
				break
			}
			rc, err := r.t.get(ctx, objectKey(sum))
			if err != nil {
				probs = append(probs, Problem{name, fmt.Sprintf("object %s: %v", sum[:12], err)})
				bad = true
				continue
			}
			h := sha256.New()
			w := io.MultiWriter(h, whole)
			if len(f.Chunks) > 0 {
				w = h
			}
			n, err := io.Copy(w, &progressReader{r: rc, fn: step})
			rc.Close()
			size += n
			switch {
			case err != nil:
				probs = append(probs, Problem{name, fmt.Sprintf("read object %s: %v", sum[:12], err)})
				bad = true
			case hex.EncodeToString(h.Sum(nil)) != sum:
				probs = append(probs, Problem{name, fmt.Sprintf("object %s: checksum mismatch (content is corrupted)", sum[:12])})
				bad = true
			}
		}
		sum := hex.EncodeToString(whole.Sum(nil))
		if len(f.Chunks) > 0 {
			sum = treeHash(f.Chunks)
		}
		switch {
		case bad:
		case size != f.Size:
			probs = append(probs, Problem{name, fmt.Sprintf("holds %d bytes, manifest says %d", size, f.Size)})
		case sum != f.SHA256:
			probs = append(probs, Problem{name, "checksum mismatch (content is corrupted)"})
		}
	}
	return m, probs, nil
}

// VerifyAndRecord is Verify, then RecordVerify of its result (a backup
// that cannot be read at all is recorded as damaged too).
func (r *Repo) VerifyAndRecord(ctx context.Context, id string, now time.Time, progress Progress) (*Manifest, []Problem, error) {
	m, probs, err := r.Verify(ctx, id, progress)
	if ctx.Err() != nil {
		return m, probs, err
	}
	if err != nil && !errors.Is(err, errDamaged) {
		return m, probs, err
	}
	rec := probs
	if err != nil {
		rec = append(rec, Problem{Path: manifestName, Msg: err.Error()})
	}
	if rerr := r.RecordVerify(ctx, id, now, rec); rerr != nil {
		return m, probs, errors.Join(err, fmt.Errorf("record the result: %w", rerr))
	}
	return m, probs, err
}

// Outcome is what became of the backup asked for at asked: the first
// backup of the repository that started then or later (found false when
// none did). A CLI that lost the appliance while it ran reads this.
func (r *Repo) Outcome(ctx context.Context, asked time.Time) (Info, bool, error) {
	list, err := r.List(ctx)
	if err != nil {
		return Info{}, false, err
	}
	for _, in := range list {
		// IDs carry milliseconds; the request may be a moment older.
		if t, err := idTime(in.ID); err == nil && !t.Before(asked.Truncate(time.Millisecond)) {
			return in, true, nil
		}
	}
	return Info{}, false, nil
}

// OutcomeText says how the backup asked for at asked ended, for a CLI
// that lost the appliance before it answered; done is true when that
// backup is complete.
func OutcomeText(ctx context.Context, r *Repo, asked time.Time) (msg string, done bool) {
	in, found, err := r.Outcome(ctx, asked)
	switch {
	case err != nil:
		return fmt.Sprintf("thecure stopped while the backup ran, and %s cannot be read: %v", r, err), false
	case !found:
		return "thecure stopped before the backup started; none was made", false
	case in.Usable():
		return fmt.Sprintf("backup %s done: %d files (thecure stopped after it finished)", in.ID, in.Files), true
	}
	return fmt.Sprintf("thecure stopped before backup %s finished: it is listed as %s and will not be restored from", in.ID, in.State), false
}

// prune deletes the backups the policy does not keep (and incomplete ones
// older than the newest complete backup), then every object no remaining
// backup references. Backups never run side by side (the store's lock and
// Service.running see to it), so no object is in flight.
func (r *Repo) prune(ctx context.Context, p Policy) (removed []string, freed int64, err error) {
	list, err := r.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	var complete []Info
	for _, in := range list {
		if in.Usable() {
			complete = append(complete, in)
		}
	}
	keep := p.Keep(complete)
	var newest string
	if len(complete) > 0 {
		newest = complete[len(complete)-1].ID
	}
	_, keys, err := r.ids(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, in := range list {
		// Damaged backups stay for the operator to see.
		drop := (in.Usable() && !keep[in.ID]) || (in.State == StateIncomplete && in.ID < newest)
		if !drop {
			continue
		}
		// The commit marker goes first: a half-deleted backup is incomplete, never complete.
		for _, name := range []string{commitName, manifestName} {
			if err := r.t.remove(ctx, snapshotKey(in.ID, name)); err != nil {
				return removed, freed, fmt.Errorf("remove backup %s: %w", in.ID, err)
			}
		}
		for k := range keys {
			if strings.HasPrefix(k, snapshotsPrefix+in.ID+"/") {
				if err := r.t.remove(ctx, k); err != nil {
					return removed, freed, fmt.Errorf("remove backup %s: %w", in.ID, err)
				}
			}
		}
		removed = append(removed, in.ID)
	}
	// Objects referenced by any remaining backup, complete or not (an
	// incomplete one may be running or be the newest failed attempt).
	used := map[string]bool{}
	ids, _, err := r.ids(ctx)
	if err != nil {
		return removed, freed, err
	}
	for _, id := range ids {
		m, err := r.Manifest(ctx, id)
		if m == nil {
			if errors.Is(err, errIncomplete) {
				continue
			}
			return removed, freed, fmt.Errorf("prune: cannot read backup %s, keeping every object: %w", id, err)
		}
		for _, f := range m.Files {
			for _, o := range f.objects() {
				used[o] = true
			}
		}
	}
	objs, err := r.t.list(ctx, objectsPrefix)
	if err != nil {
		return removed, freed, err
	}
	for k, size := range objs {
		if used[path.Base(k)] {
			continue
		}
		if err := r.t.remove(ctx, k); err != nil {
			return removed, freed, err
		}
		freed += size
	}
	_, tmpSize, err := r.cleanTemp(ctx)
	freed += tmpSize
	return removed, freed, err
}

// idTime is the time encoded at the start of a backup ID.
func idTime(id string) (time.Time, error) {
	ts, _, _ := strings.Cut(id, "-")
	return time.Parse(idTimeFormat, ts)
}

const idTimeFormat = "20060102T150405.000Z"

func newID(t time.Time) string { return t.UTC().Format(idTimeFormat) + "-" + randomHex(3) }

// progressReader reports bytes read.
type progressReader struct {
	r  io.Reader
	fn func(n int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.fn(int64(n))
	}
	return n, err
}

// Progress is told how far a long operation is: phase, bytes done, bytes in
// all. It may be nil.
type Progress func(phase string, done, total int64)

func (p Progress) report(phase string, done, total int64) {
	if p != nil {
		p(phase, done, total)
	}
}
