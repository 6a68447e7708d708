package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// ErrRunning means an appliance holds the store of the data dir to restore into.
var ErrRunning = errors.New("a thecure is running on this data dir (the store is locked); stop it first")

// RestoreOptions say where each part of a backup goes.
type RestoreOptions struct {
	DataDir  string // the store and the TLS certificates go here
	ConfigTo string // the config file goes here (an existing one is kept as FILE.before-restore); "" skips it
	MediaDir string // media files go here; "" skips them
	HLSDir   string // HLS files go here; "" skips them
	// FileTo maps an operator-given file's original path to where it is
	// restored; nil restores it where it was.
	FileTo   func(orig string) string
	Progress Progress
}

// Restore writes backup id of r into the places o names, checking every
// checksum. The appliance must be stopped: the store's lock is taken for the
// whole restore and ErrRunning returned when another process holds it. The
// store is replaced last, atomically. Files present on disk but not in the
// backup are left alone.
func (r *Repo) Restore(ctx context.Context, id string, o RestoreOptions) (*Manifest, error) {
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	dbPath := filepath.Join(o.DataDir, store.FileName)
	lock, err := os.OpenFile(dbPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dbPath, err)
	}
	defer lock.Close()
	// bbolt holds an exclusive flock on its file while open read-write.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrRunning
		}
		return nil, fmt.Errorf("lock %s: %w", dbPath, err)
	}

	m, err := r.Manifest(ctx, id)
	if err != nil {
		return nil, err
	}
	var total, done int64
	for _, f := range m.Files {
		total += f.Size
	}
	step := func(k int64) { done += k; o.Progress.report("restore", done, total) }
	var storeFile *File
	for i, f := range m.Files {
		var dst string
		switch f.Kind {
		case KindStore:
			storeFile = &m.Files[i]
			continue
		case KindConfig:
			dst = o.ConfigTo
			// Keep the config being replaced.
			if old, err := os.ReadFile(dst); err == nil && dst != "" {
				if err := os.WriteFile(dst+".before-restore", old, 0o600); err != nil {
					return m, fmt.Errorf("keep the current config: %w", err)
				}
			}
		case KindTLS:
			dst, err = within(o.DataDir, f.Path)
		case KindMedia:
			dst, err = within(o.MediaDir, f.Path)
		case KindHLS:
			dst, err = within(o.HLSDir, f.Path)
		case KindFile:
			dst = f.Path
			if o.FileTo != nil {
				dst = o.FileTo(f.Path)
			}
		default:
			err = fmt.Errorf("unknown kind %q", f.Kind)
		}
		if err != nil {
			return m, fmt.Errorf("%s %s: %w", f.Kind, f.Path, err)
		}
		if dst == "" {
			done += f.Size
			continue
		}
		if err := r.restoreFile(ctx, f, dst, step, nil); err != nil {
			return m, err
		}
	}
	if storeFile == nil {
		return m, fmt.Errorf("backup %s holds no store", id)
	}
	check := func(tmp string) error {
		db, err := bolt.Open(tmp, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			return fmt.Errorf("restored store does not open: %w", err)
		}
		return db.Close()
	}
	if err := r.restoreFile(ctx, *storeFile, dbPath, step, check); err != nil {
		return m, err
	}
	return m, nil
}

// within joins rel to root and refuses a path that leaves root.
func within(root, rel string) (string, error) {
	if root == "" {
		return "", nil
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	if p != root && !strings.HasPrefix(p, filepath.Clean(root)+string(filepath.Separator)) {
		return "", errors.New("path leaves its folder")
	}
	return p, nil
}

// restoreFile writes the object of f to dst through a temporary file in the
// same folder, checks its checksum (and check, if set), then renames it into place.
func (r *Repo) restoreFile(ctx context.Context, f File, dst string, step func(int64), check func(tmp string) error) error {
	if len(f.SHA256) != 64 {
		return fmt.Errorf("%s: invalid checksum in manifest", f.Path)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	rc, err := r.open(ctx, f)
	if err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".restore-*")
	if err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, &progressReader{r: rc, fn: step}})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errCorrupted) {
		return fmt.Errorf("restore %s: the backup's copy is corrupted: %w", dst, err)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if len(f.Chunks) > 0 {
		sum = treeHash(f.Chunks) // each chunk was checked while read
	}
	if n != f.Size || sum != f.SHA256 {
		return fmt.Errorf("restore %s: the backup's copy is corrupted (checksum mismatch)", dst)
	}
	if check != nil {
		if err := check(tmp.Name()); err != nil {
			return err
		}
	}
	mode := fs.FileMode(f.Mode).Perm()
	if mode == 0 {
		mode = 0o640
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	if !f.MTime.IsZero() && f.Kind != KindStore {
		_ = os.Chtimes(tmp.Name(), f.MTime, f.MTime)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	return nil
}
