package ftps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"

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

// upload writes to the hidden part file and publishes it on a clean Close.
type upload struct {
	s       *Server
	ss      *session
	f       *os.File
	rel     string // final path, relative to the media root
	part    string
	kind    string
	quota   int64 // bytes the user may still store (0: no limit)
	written int64
	// received is written, readable while the transfer runs (Uploads).
	received atomic.Int64
	started  time.Time
	failed   atomic.Pointer[error]
	closed   bool
}

var (
	_ ftpserver.FileTransfer      = (*upload)(nil)
	_ ftpserver.FileTransferError = (*upload)(nil)
)

func (s *Server) newUpload(ss *session, p vpath, f config.Folder, appendMode bool, offset int64) (ftpserver.FileTransfer, error) {
	rel := p.rel()
	if st, err := s.root.Lstat(rel); err == nil && !st.Mode().IsRegular() {
		return nil, perr("store", p.String(), errors.New("not a regular file"))
	}
	var quota int64
	if q := s.quotaFor(ss); q > 0 {
		used := s.usage.used(ss.user.Name)
		if used >= q {
			return nil, fmt.Errorf("quota of %s used up: %w", config.ByteSize(q), ftpserver.ErrStorageExceeded)
		}
		quota = q - used
	}
	if !s.claim(rel) {
		return nil, perr("store", p.String(), errBusy)
	}
	part := partName(rel)
	file, err := s.openPart(rel, part, appendMode, offset)
	if err != nil {
		s.release(rel)
		return nil, err
	}
	ss.transfers.Add(1)
	s.transfers.Add(1)
	u := &upload{s: s, ss: ss, f: file, rel: rel, part: part, kind: f.Kind, quota: quota, started: time.Now()}
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
	if u.quota > 0 && u.written+int64(len(b)) > u.quota {
		return 0, fmt.Errorf("quota exceeded: %w", ftpserver.ErrStorageExceeded)
	}
	n, err := u.f.Write(b)
	u.written += int64(n)
	u.received.Store(u.written)
	u.s.m.bytesIn.Add(float64(n))
	return n, err
}

// TransferError is the library telling us the transfer did not complete.
func (u *upload) TransferError(err error) {
	if err == nil {
		err = errors.New("transfer failed")
	}
	u.failed.Store(&err)
}

// Close publishes a completed upload: sync, rename into place, record the
// owner, tell Ingest. An interrupted one keeps its hidden part for a resume.
func (u *upload) Close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	defer func() {
		u.s.release(u.rel)
		u.ss.transferDone()
		u.s.transfers.Add(-1)
	}()
	syncErr := u.f.Sync()
	closeErr := u.f.Close()
	if fp := u.failed.Load(); fp != nil || u.s.hardStop.Load() {
		reason := "shutdown"
		if fp != nil {
			reason = (*fp).Error()
		}
		u.s.m.uploads.WithLabelValues("aborted").Inc()
		u.s.log.Info("upload interrupted; kept hidden for a resume", "path", u.rel, "user", u.ss.user.Name, "bytes", u.written, "reason", reason)
		return nil
	}
	if err := errors.Join(syncErr, closeErr); err != nil {
		u.s.m.uploads.WithLabelValues("aborted").Inc()
		return fmt.Errorf("write %s: %w", u.rel, err)
	}
	if err := u.s.root.Rename(u.part, u.rel); err != nil {
		u.s.m.uploads.WithLabelValues("aborted").Inc()
		return fmt.Errorf("publish %s: %w", u.rel, err)
	}
	size := u.written
	if st, err := u.s.root.Stat(u.rel); err == nil {
		size = st.Size()
	}
	u.s.usage.record(u.rel, u.ss.user.Name, size)
	u.s.m.uploads.WithLabelValues("completed").Inc()
	u.s.log.Info("upload complete", "path", u.rel, "user", u.ss.user.Name, "bytes", size)
	if mediaKind(u.kind) {
		if err := u.s.announceEnqueue(u.rel); err != nil {
			return fmt.Errorf("stored, but not queued for processing: %w", err)
		}
	}
	return nil
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
