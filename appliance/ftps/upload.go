package ftps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"golang.org/x/sys/unix"

	"thecure/appliance/config"
)

// errBusy refuses a second upload (or a rename) onto a path being uploaded.
var errBusy = errors.New("this file is being uploaded by another connection")

// claim marks rel as being written; false if it already is.
func (s *Server) claim(rel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.inflight[rel]; busy {
		return false
	}
	s.inflight[rel] = nil
	return true
}

func (s *Server) release(rel string) {
	s.mu.Lock()
	delete(s.inflight, rel)
	s.mu.Unlock()
}

func (s *Server) announceEnqueue(rel string) error {
	if s.o.Ingest == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ingestCtx, 30*time.Second)
	defer cancel()
	if err := s.o.Ingest.Enqueue(ctx, rel); err != nil {
		s.log.Error("cannot queue an upload for processing; the file stays", "path", rel, "err", err)
		return err
	}
	return nil
}

func (s *Server) announceRemove(rel string) {
	if s.o.Ingest == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ingestCtx, 30*time.Second)
	defer cancel()
	if err := s.o.Ingest.Remove(ctx, rel); err != nil {
		s.log.Error("cannot tell the pipeline a source was removed", "path", rel, "err", err)
	}
}

// quotaFor is the storage limit of the session's user (0: none).
func (s *Server) quotaFor(ss *session) int64 {
	if s.usage == nil {
		return 0
	}
	if ss.user.Quota > 0 {
		return ss.user.Quota
	}
	return int64(s.o.FTP.UserQuota)
}

// growthOf counts the bytes user's running uploads have added.
func (s *Server) growthOf(user string) *atomic.Int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.growth[user]
	if g == nil {
		g = &atomic.Int64{}
		s.growth[user] = g
	}
	return g
}

// room is how many bytes may still be written on the media file system
// before it has less than min_free_space free.
func (s *Server) room() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.o.MediaDir, &st); err != nil {
		return 0, fmt.Errorf("statfs media dir: %w", err)
	}
	free := int64(st.Bavail) * st.Bsize //nolint:gosec // block counts fit
	return free - int64(s.o.FTP.MinFreeSpace), nil
}

// spaceFor reports errNoSpace when writing n more bytes would leave less
// than min_free_space free.
func (s *Server) spaceFor(n int) error {
	room, err := s.room()
	if err != nil {
		return err
	}
	if room < int64(n) || room <= 0 {
		s.setDiskFull(true)
		return errNoSpace
	}
	s.setDiskFull(false)
	return nil
}

// Upload is an upload in progress, as the admin page shows it.
type Upload struct {
	Path    string    `json:"path"` // relative to the media root
	User    string    `json:"user"`
	Remote  string    `json:"remote"`
	Bytes   int64     `json:"bytes"` // received so far (after the REST offset)
	Started time.Time `json:"started"`
}

// Uploads lists the uploads in progress, oldest first.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	out := make([]Upload, 0, len(s.inflight))
	for rel, u := range s.inflight {
		if u != nil {
			out = append(out, Upload{Path: rel, User: u.ss.user.Name, Remote: u.ss.ip, Bytes: u.received.Load(), Started: u.started})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Upload) int { return a.Started.Compare(b.Started) })
	return out
}

var (
	// errTooManyParts refuses a new upload while the user keeps too many
	// unfinished ones (452).
	errTooManyParts = fmt.Errorf("too many unfinished uploads kept for a resume; resume or delete one first: %w", ftpserver.ErrInsufficientStorage)
	// errCancelled ends an upload whose folder was renamed or removed.
	errCancelled = errors.New("upload cancelled: its folder was renamed or removed; the unfinished upload was discarded")
)

// upload writes to the hidden part file and publishes it on a clean Close.
type upload struct {
	s       *Server
	ss      *session
	f       *os.File
	rel     string // final path, relative to the media root
	part    string
	kind    string
	quota   int64 // the user's quota (0: none)
	base    int64 // the user's storage when the upload started, its own part included
	grow    *atomic.Int64
	written int64
	// headroom is what may be written before the free space is looked at
	// again: a quarter of the room left at the last look, at most 4 MiB,
	// so that the reserve holds without a statfs per write.
	headroom int64
	// received is written, readable while the transfer runs (Uploads).
	received atomic.Int64
	started  time.Time
	failed   atomic.Pointer[error]

	mu        sync.Mutex // closed, cancelled; held while publishing
	closed    bool
	cancelled bool
}

var (
	_ ftpserver.FileTransfer      = (*upload)(nil)
	_ ftpserver.FileTransferError = (*upload)(nil)
)

func (s *Server) newUpload(ss *session, p vpath, f config.Folder, appendMode bool, offset int64) (ftpserver.FileTransfer, error) {
	rel := p.rel()
	if err := p.creatable(); err != nil {
		return nil, err
	}
	if st, err := s.root.Lstat(rel); err == nil && !st.Mode().IsRegular() {
		return nil, perr("store", p.String(), errors.New("not a regular file"))
	}
	if err := s.spaceFor(0); err != nil {
		return nil, err
	}
	if !s.claim(rel) {
		return nil, perr("store", p.String(), errBusy)
	}
	part := partName(rel)
	_, statErr := s.root.Stat(part)
	hadPart := statErr == nil
	acct, err := s.usage.account(ss.user.Name, part)
	if err != nil {
		s.release(rel)
		s.log.Error("upload refused: cannot read storage use", "user", ss.user.Name, "err", err)
		return nil, errAccounting
	}
	if s.usage != nil && !hadPart && acct.parts >= s.o.FTP.MaxPartsPerUser {
		s.release(rel)
		s.log.Info("upload refused: too many unfinished uploads", "user", ss.user.Name, "parts", acct.parts)
		return nil, errTooManyParts
	}
	file, err := s.openPart(rel, part, appendMode, offset)
	if err != nil {
		s.release(rel)
		return nil, err
	}
	discard := func() {
		_ = file.Close() // nothing was written
		if !hadPart {
			_ = s.root.Remove(part) // best effort: an empty part is harmless
		}
		s.release(rel)
	}
	at, err := file.Seek(0, io.SeekCurrent)
	if err != nil {
		discard()
		return nil, err
	}
	base := acct.used + acct.partBytes + at
	q := s.quotaFor(ss)
	if q > 0 && base >= q {
		discard()
		return nil, fmt.Errorf("quota of %s used up (unfinished uploads count too): %w", config.ByteSize(q), ftpserver.ErrStorageExceeded)
	}
	if err := s.usage.setPart(part, ss.user.Name, at); err != nil {
		discard()
		s.log.Error("upload refused: cannot record storage use", "user", ss.user.Name, "err", err)
		return nil, errAccounting
	}
	ss.transfers.Add(1)
	s.transfers.Add(1)
	u := &upload{s: s, ss: ss, f: file, rel: rel, part: part, kind: f.Kind, quota: q, base: base,
		grow: s.growthOf(ss.user.Name), started: time.Now()}
	s.mu.Lock()
	s.inflight[rel] = u
	s.mu.Unlock()
	return u, nil
}

// openPart opens the part file of rel. A fresh upload truncates it; a
// resumed one (REST offset or APPE) continues the part left by an
// interrupted upload or, when there is none, a copy of the published file.
func (s *Server) openPart(rel, part string, appendMode bool, offset int64) (*os.File, error) {
	if !appendMode && offset == 0 {
		return s.root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	}
	if _, err := s.root.Stat(part); errors.Is(err, fs.ErrNotExist) {
		if err := s.copyToPart(rel, part); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	f, err := s.root.OpenFile(part, os.O_WRONLY|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if appendMode {
		offset = st.Size()
	}
	if offset > st.Size() {
		f.Close()
		return nil, fmt.Errorf("cannot resume at %d: only %d bytes were received", offset, st.Size())
	}
	// Drop whatever came after the resume point; the library seeks there.
	if err := f.Truncate(offset); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s *Server) copyToPart(rel, part string) error {
	src, err := s.root.Open(rel)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := s.root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func (u *upload) Read([]byte) (int, error) { return 0, errors.New("upload is write-only") }

func (u *upload) Seek(off int64, whence int) (int64, error) { return u.f.Seek(off, whence) }

func (u *upload) Write(b []byte) (int, error) {
	if u.quota > 0 && u.base+u.grow.Load()+int64(len(b)) > u.quota {
		return 0, fmt.Errorf("quota of %s exceeded: %w", config.ByteSize(u.quota), ftpserver.ErrStorageExceeded)
	}
	if err := u.checkSpace(len(b)); err != nil {
		return 0, err
	}
	n, err := u.f.Write(b)
	u.written += int64(n)
	u.grow.Add(int64(n))
	u.received.Store(u.written)
	u.s.m.bytesIn.Add(float64(n))
	switch {
	case err == nil:
		return n, nil
	case isNoSpace(err):
		return n, errNoSpace
	case errors.Is(err, os.ErrClosed):
		return n, errCancelled
	}
	return n, u.s.reply("store", "/"+u.rel, err)
}

// checkSpace looks at the free space when the headroom is used up.
func (u *upload) checkSpace(n int) error {
	if u.headroom >= int64(n) {
		u.headroom -= int64(n)
		return nil
	}
	room, err := u.s.room()
	if err != nil {
		return err
	}
	if room < int64(n) {
		u.s.setDiskFull(true)
		return errNoSpace
	}
	u.headroom = min((room-int64(n))/4, 4<<20)
	return nil
}

// TransferError is the library telling us the transfer did not complete.
func (u *upload) TransferError(err error) {
	if err == nil {
		err = errors.New("transfer failed")
	}
	u.failed.Store(&err)
}

// cancel ends the upload because its folder is being renamed or removed:
// its part is removed now, and nothing is published. An upload being
// published meanwhile finishes first (cancel waits for it).
func (u *upload) cancel() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || u.cancelled {
		return
	}
	u.cancelled = true
	// Closing the file makes the transfer's next write fail; the part goes now.
	if err := u.f.Close(); err != nil {
		u.s.log.Debug("closing a cancelled upload", "err", err)
	}
	u.s.removePart(u.part, "its folder was renamed or removed")
	u.s.log.Info("upload cancelled: its folder was renamed or removed", "path", quote(u.rel), "user", u.ss.user.Name, "bytes", u.received.Load())
}

// removePart removes a hidden part and its record.
func (s *Server) removePart(part, why string) {
	var size int64
	if st, err := s.root.Stat(part); err == nil {
		size = st.Size()
	}
	if err := s.root.Remove(part); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("cannot remove an unfinished upload", "part", part, "err", err)
		return
	}
	if err := s.usage.dropPart(part); err != nil {
		s.log.Error("cannot forget a removed unfinished upload", "part", part, "err", err)
	}
	s.log.Info("removed an unfinished upload", "part", part, "bytes", size, "why", why)
}

// Close publishes a completed upload: sync, record the owner, rename into
// place, tell Ingest. An interrupted one keeps its hidden part for a resume,
// unless the disk is full: then the part is removed so that the disk is
// usable again.
func (u *upload) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	defer func() {
		u.s.release(u.rel)
		u.grow.Add(-u.written)
		u.ss.transferDone()
		u.s.transfers.Add(-1)
	}()
	if u.cancelled {
		u.mu.Unlock()
		u.s.m.uploads.WithLabelValues("aborted").Inc()
		return perr("store", "/"+u.rel, errCancelled)
	}
	published, err := u.finish()
	u.mu.Unlock()
	if err != nil || !published {
		u.s.m.uploads.WithLabelValues("aborted").Inc()
		return err
	}
	u.s.m.uploads.WithLabelValues("completed").Inc()
	if mediaKind(u.kind) {
		if err := u.s.announceEnqueue(u.rel); err != nil {
			return perr("store", "/"+u.rel, errors.New("stored, but not queued for processing; it will be picked up by the next scan"))
		}
	}
	return nil
}

// finish closes the part and publishes it, or keeps or removes it (u.mu held).
func (u *upload) finish() (bool, error) {
	vp := "/" + u.rel
	syncErr := u.f.Sync()
	closeErr := u.f.Close()
	var failure error
	if fp := u.failed.Load(); fp != nil {
		failure = *fp
	} else if u.s.hardStop.Load() {
		failure = errors.New("shutdown")
	} else if err := errors.Join(syncErr, closeErr); err != nil {
		failure = err
	}
	var size int64
	if st, err := u.s.root.Stat(u.part); err == nil {
		size = st.Size()
	}
	if failure != nil {
		if isNoSpace(failure) {
			u.s.setDiskFull(true)
			u.s.removePart(u.part, "the disk is full")
			u.s.log.Warn("upload failed: no space left; its unfinished part was removed so that the disk is usable",
				"path", quote(u.rel), "user", u.ss.user.Name, "freed", size)
			return false, perr("store", vp, errNoSpace)
		}
		if err := u.s.usage.setPart(u.part, u.ss.user.Name, size); err != nil {
			// Fail closed: a part nobody accounts for does not stay.
			u.s.log.Error("cannot record an unfinished upload; removing it", "path", quote(u.rel), "err", err)
			u.s.removePart(u.part, "storage accounting failed")
			return false, perr("store", vp, errAccounting)
		}
		u.s.log.Info("upload interrupted; kept hidden for a resume", "path", quote(u.rel), "user", u.ss.user.Name,
			"bytes", size, "reason", failure.Error())
		if errors.Join(syncErr, closeErr) != nil && u.failed.Load() == nil {
			return false, u.s.reply("store", vp, failure)
		}
		return false, nil
	}
	if err := u.s.usage.publish(u.part, u.rel, u.ss.user.Name, size); err != nil {
		u.s.log.Error("upload not published: cannot record storage use", "path", quote(u.rel), "user", u.ss.user.Name, "err", err)
		return false, perr("store", vp, errAccounting)
	}
	if err := u.s.root.Rename(u.part, u.rel); err != nil {
		u.s.log.Error("upload not published", "path", quote(u.rel), "err", err)
		if err := errors.Join(u.s.usage.forget(u.rel), u.s.usage.setPart(u.part, u.ss.user.Name, size)); err != nil {
			u.s.log.Error("cannot undo the storage record of an unpublished upload", "path", quote(u.rel), "err", err)
		}
		return false, u.s.reply("store", vp, err)
	}
	u.s.log.Info("upload complete", "path", quote(u.rel), "user", u.ss.user.Name, "bytes", size)
	return true, nil
}

// download counts the bytes sent.
type download struct {
	s  *Server
	ss *session
	f  *os.File
	n  atomic.Bool
}

func (s *Server) newDownload(ss *session, f *os.File) *download {
	ss.transfers.Add(1)
	s.transfers.Add(1)
	return &download{s: s, ss: ss, f: f}
}

func (d *download) Read(b []byte) (int, error) {
	n, err := d.f.Read(b)
	d.s.m.bytesOut.Add(float64(n))
	return n, err
}

func (d *download) Write([]byte) (int, error) { return 0, errors.New("download is read-only") }

func (d *download) Seek(off int64, whence int) (int64, error) { return d.f.Seek(off, whence) }

func (d *download) Close() error {
	if d.n.Swap(true) {
		return nil
	}
	d.ss.transferDone()
	d.s.transfers.Add(-1)
	return d.f.Close()
}

// cancelUploadsUnder cancels the running uploads into directory dir (a
// path relative to the media root).
func (s *Server) cancelUploadsUnder(dir string) {
	s.mu.Lock()
	var list []*upload
	for rel, u := range s.inflight {
		if _, in := relTo(dir, rel); in && u != nil && rel != dir {
			list = append(list, u)
		}
	}
	s.mu.Unlock()
	for _, u := range list {
		u.cancel()
	}
}

// removeParts removes the parts kept for a resume directly in dir, when dir
// holds nothing else (it is about to be removed).
func (s *Server) removeParts(dir string) {
	entries, err := fs.ReadDir(s.root.FS(), dir)
	if err != nil {
		return // the removal that follows reports it
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), partPrefix) {
			return
		}
	}
	for _, e := range entries {
		s.removePart(path.Join(dir, e.Name()), "its folder was removed")
	}
}

// treeFits checks that moving directory from to to keeps every path in it
// within the bounds on paths FTP creates.
func (s *Server) treeFits(from, to string) error {
	var deepest int
	var longest int
	err := fs.WalkDir(s.root.FS(), from, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if r, _ := relTo(from, p); r != "" {
			deepest = max(deepest, strings.Count(r, "/")+1)
			longest = max(longest, len(r)+1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if strings.Count(to, "/")+1+deepest > maxDepth || len(to)+longest > maxRelPath {
		return errTooDeep
	}
	return nil
}
