package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sys/unix"

	"thecure/appliance/config"
	"thecure/appliance/s3client"
)

// target is where a repository's keys live: a local folder or an S3 bucket.
// Keys are slash-separated ("objects/ab/abcd...", "snapshots/ID/manifest.json").
// put is atomic: a key is either absent or holds everything that was written.
type target interface {
	// mode is the permission bits of a key in a folder (an object keeps
	// its original's, so the store and the TLS key stay 0600).
	put(ctx context.Context, key string, r io.Reader, size int64, mode fs.FileMode) error
	get(ctx context.Context, key string) (io.ReadCloser, error)
	// list returns every key under prefix (recursively) with its size.
	list(ctx context.Context, prefix string) (map[string]int64, error)
	remove(ctx context.Context, key string) error
	// sync makes every key put so far durable. put itself makes objects
	// durable only by the next sync, other keys at once.
	sync(ctx context.Context) error
	String() string
}

// errNotFound is returned by get for a missing key.
var errNotFound = errors.New("not found")

// dirTarget is a repository in a local folder.
type dirTarget struct{ root string }

func (d dirTarget) String() string { return d.root }

func (d dirTarget) file(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

func (d dirTarget) put(ctx context.Context, key string, r io.Reader, _ int64, mode fs.FileMode) error {
	p := d.file(key)
	// Everything in the repository belongs to its folder's owner (the
	// service user), also when root runs `thecure backup run`.
	if _, err := mkdirAllOwned(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
	}
	owner, err := dirOwner(d.root)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	// Objects are many: one syncfs before the manifest makes them durable
	// at once, far cheaper than an fsync each.
	durable := !strings.HasPrefix(key, objectsPrefix)
	if durable {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if mode == 0 {
		mode = 0o640
	}
	if err := os.Chmod(f.Name(), mode); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := ownLike(f.Name(), owner); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	ok = true
	if !durable {
		return nil
	}
	return syncDir(filepath.Dir(p))
}

func (d dirTarget) sync(context.Context) error {
	f, err := os.Open(d.root)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", d.root, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func (d dirTarget) get(_ context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(d.file(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, errNotFound)
	}
	return f, err
}

// walk calls fn with every regular file under prefix (none when prefix
// is not there), stopping when ctx is cancelled.
func (d dirTarget) walk(ctx context.Context, prefix string, fn func(p string, e fs.DirEntry) error) error {
	start := d.file(prefix)
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !e.Type().IsRegular() {
			return nil
		}
		return fn(p, e)
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", start, err)
	}
	return nil
}

func (d dirTarget) list(ctx context.Context, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	err := d.walk(ctx, prefix, func(p string, e fs.DirEntry) error {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = info.Size()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (d dirTarget) remove(_ context.Context, key string) error {
	err := os.Remove(d.file(key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Remove the folder when it is left empty (snapshots/ID, objects/ab).
	dir := filepath.Dir(d.file(key))
	if dir != d.root {
		_ = os.Remove(dir)
	}
	return nil
}

// tmpPrefix names the temporary files of puts in progress.
const tmpPrefix = ".tmp-"

// cleanTemp removes the temporary files left by puts that never finished
// (a crash or kill -9 during a backup). Backups never run side by side, so
// none is in use.
func (d dirTarget) cleanTemp(ctx context.Context) (n int, size int64, err error) {
	for _, top := range []string{objectsPrefix, snapshotsPrefix} {
		err := d.walk(ctx, top, func(p string, e fs.DirEntry) error {
			if !strings.HasPrefix(e.Name(), tmpPrefix) {
				return nil
			}
			fi, ierr := e.Info()
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			n++
			if ierr == nil {
				size += fi.Size()
			}
			return nil
		})
		if err != nil {
			return n, size, fmt.Errorf("remove temporary files: %w", err)
		}
	}
	return n, size, nil
}

// ctxReader stops a copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// s3Target is a repository in an S3 bucket under a key prefix.
type s3Target struct {
	c              *minio.Client
	bucket, prefix string
	endpoint       string
}

func newS3Target(c config.BackupS3) (*s3Target, error) {
	cl, err := s3client.New(c.Client())
	if err != nil {
		return nil, err
	}
	return &s3Target{c: cl, bucket: c.Bucket, prefix: s3client.Prefix(c.Prefix), endpoint: c.Endpoint}, nil
}

func (s *s3Target) String() string { return "s3://" + s.endpoint + "/" + path.Join(s.bucket, s.prefix) }

func (s *s3Target) put(ctx context.Context, key string, r io.Reader, size int64, _ fs.FileMode) error {
	// No aws-chunked streaming signature: some S3-compatible servers
	// (gofakes3 among them) store its framing in multipart parts as data.
	// Content-MD5 still lets the server check every part in transit.
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream", DisableContentSha256: true, SendContentMd5: true,
	})
	if err != nil {
		return fmt.Errorf("s3 put %s: %w", key, err)
	}
	return nil
}

func (s *s3Target) get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", key, err)
	}
	if _, err := o.Stat(); err != nil {
		o.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, fmt.Errorf("%s: %w", key, errNotFound)
		}
		return nil, fmt.Errorf("s3 get %s: %w", key, err)
	}
	return o, nil
}

func (s *s3Target) list(ctx context.Context, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3 list %s: %w", prefix, o.Err)
		}
		out[strings.TrimPrefix(o.Key, s.prefix)] = o.Size
	}
	return out, nil
}

// sync has nothing to do: a finished PUT is durable.
func (s *s3Target) sync(context.Context) error { return nil }

func (s *s3Target) remove(ctx context.Context, key string) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3 remove %s: %w", key, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
