package publish

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"thecure/appliance/library"
)

// The store's buckets: the queue of titles to copy or delete, and the
// version of each title in the bucket.
var (
	bucketQueue  = []byte("publish_queue")
	bucketTitles = []byte("publish_titles")
)

// entry is one title waiting in the queue. Seq tells a newer request for
// the same title from the one being worked on.
type entry struct {
	Seq    uint64    `json:"seq"`
	Queued time.Time `json:"queued"`
}

// TitleChanged queues title id to be made in the bucket what it is in the
// catalogue (uploaded when ready, deleted when gone or failed): durable
// first, then the worker is woken. An error is logged; the next start's
// reconciliation catches what it missed.
func (s *Service) TitleChanged(id string) {
	if err := s.enqueue([]string{id}); err != nil {
		s.log.Error("cannot queue a title for publishing; the next start reconciles it", "id", id, "err", err)
	}
}

// enqueue stores ids in the queue, then wakes the worker.
func (s *Service) enqueue(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketQueue)
		if err != nil {
			return err
		}
		for _, id := range ids {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			v, err := json.Marshal(entry{Seq: seq, Queued: time.Now().UTC()})
			if err != nil {
				return err
			}
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish queue: %w", err)
	}
	s.signal()
	return nil
}

// queue reads every waiting title.
func (s *Service) queue() (map[string]entry, error) {
	out := map[string]entry{}
	err := s.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueue)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var e entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("publish queue %s: %w", k, err)
			}
			out[string(k)] = e
			return nil
		})
	})
	return out, err
}

func (s *Service) queued() (int, error) {
	q, err := s.queue()
	return len(q), err
}

// done takes id off the queue unless it was queued again meanwhile.
func (s *Service) done(id string, e entry) error {
	return s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueue)
		if b == nil {
			return nil
		}
		var cur entry
		if v := b.Get([]byte(id)); v == nil || json.Unmarshal(v, &cur) != nil || cur.Seq != e.Seq {
			return nil
		}
		return b.Delete([]byte(id))
	})
}

// loadVersions reads which version of each title the bucket holds.
func (s *Service) loadVersions() error {
	vs := map[string]string{}
	err := s.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTitles)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error { vs[string(k)] = string(v); return nil })
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.versions = vs
	s.mu.Unlock()
	return nil
}

// setVersion records the version of title id in the bucket ("": none).
func (s *Service) setVersion(id, version string) error {
	err := s.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTitles)
		if err != nil {
			return err
		}
		if version == "" {
			return b.Delete([]byte(id))
		}
		return b.Put([]byte(id), []byte(version))
	})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	s.mu.Lock()
	if version == "" {
		delete(s.versions, id)
	} else {
		s.versions[id] = version
	}
	s.mu.Unlock()
	return nil
}

// work handles every queued title that is due, one title at a time (each
// with bounded concurrency inside), and says when to come back for those
// that failed (-1: nothing waits). Only a store error is returned.
func (s *Service) work(ctx context.Context) (time.Duration, error) {
	q, err := s.queue()
	if err != nil {
		return 0, err
	}
	s.m.waiting.Set(float64(len(q)))
	ids := make([]string, 0, len(q))
	for id := range q {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(q[a].Seq, q[b].Seq) })
	next := time.Duration(-1)
	now := time.Now()
	for _, id := range ids {
		if ctx.Err() != nil {
			return 0, nil
		}
		s.mu.Lock()
		bo := s.backoffs[id]
		s.mu.Unlock()
		if bo != nil && bo.retryAt.After(now) {
			if d := bo.retryAt.Sub(now); next < 0 || d < next {
				next = d
			}
			continue
		}
		what := "vod " + id
		if err := s.syncTitle(ctx, id); err != nil {
			if ctx.Err() != nil {
				return 0, nil
			}
			if bo == nil {
				bo = &retry{b: s.newBackOff()}
				s.mu.Lock()
				s.backoffs[id] = bo
				s.mu.Unlock()
			}
			d := bo.b.NextBackOff()
			bo.retryAt = time.Now().Add(d)
			if next < 0 || d < next {
				next = d
			}
			s.fail(what, err)
			continue
		}
		s.mu.Lock()
		delete(s.backoffs, id)
		s.mu.Unlock()
		s.ok(what)
		if err := s.done(id, q[id]); err != nil {
			return 0, err
		}
	}
	if n, err := s.queued(); err == nil {
		s.m.waiting.Set(float64(n))
	}
	return next, nil
}

// syncTitle makes title id in the bucket what it is in the catalogue.
func (s *Service) syncTitle(ctx context.Context, id string) error {
	if !library.ValidID(id) {
		return s.deleteTitle(ctx, id)
	}
	it, ok, err := s.cat.Get(id)
	if err != nil {
		return err
	}
	switch {
	case ok && it.State == library.StateReady:
		return s.uploadTitle(ctx, it)
	case ok && it.State != library.StateFailed:
		// queued, processing (a replaced source: its old version stays
		// until the new one is ready), missing (its files may come back)
		return nil
	}
	return s.deleteTitle(ctx, id)
}

// localFile is one file of a title's HLS tree.
type localFile struct {
	rel   string // slash-separated, relative to the title's folder
	size  int64
	mtime time.Time
}

// errNoHLS: the title's HLS is not on disk (it is missing).
var errNoHLS = errors.New("no HLS on disk")

// scan lists the publishable files of a title's folder and their version:
// a digest of their names, sizes and times, so a title packaged again gets
// another version (and every key under a version stays immutable).
func scan(dir string) ([]localFile, string, error) {
	var files []localFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if _, ok := contentTypes[path.Ext(d.Name())]; !ok {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, localFile{rel: filepath.ToSlash(rel), size: fi.Size(), mtime: fi.ModTime()})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", errNoHLS
	}
	if err != nil {
		return nil, "", err
	}
	if !slices.ContainsFunc(files, func(f localFile) bool { return f.rel == library.MasterPlaylist }) {
		return nil, "", errNoHLS
	}
	slices.SortFunc(files, func(a, b localFile) int { return strings.Compare(a.rel, b.rel) })
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", f.rel, f.size, f.mtime.UnixNano())
	}
	return files, hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// stage orders a title's upload: media and posters, then the variants'
// playlists, then the master playlist, so that a player never finds a
// playlist listing what is not there yet.
func stage(rel string) int {
	switch {
	case rel == library.MasterPlaylist:
		return 2
	case strings.HasSuffix(rel, ".m3u8"):
		return 1
	}
	return 0
}

// uploadTitle uploads what of the title's current version the bucket
// lacks (resuming an interrupted upload), records the version, then
// deletes its other keys (an older version).
func (s *Service) uploadTitle(ctx context.Context, it library.Item) error {
	dir := s.cat.Dir(it.ID)
	files, version, err := scan(dir)
	if errors.Is(err, errNoHLS) {
		return nil // missing: the bucket keeps what it has
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", it.ID, err)
	}
	have, err := s.list(ctx, "vod/"+it.ID+"/")
	if err != nil {
		return err
	}
	root := "vod/" + it.ID + "/" + version + "/"
	audioOnly := it.Kind == library.KindTrack
	for st := range 3 {
		g, gctx := errgroup.WithContext(ctx)
		for _, f := range files {
			if stage(f.rel) != st {
				continue
			}
			if size, ok := have[root+f.rel]; ok && size == f.size {
				continue
			}
			ctype, cache, _ := vodHeaders(f.rel, audioOnly)
			if err := s.vod.acquire(gctx); err != nil {
				break
			}
			g.Go(func() error {
				defer s.vod.release()
				return s.uploadFile(gctx, filepath.Join(dir, filepath.FromSlash(f.rel)), root+f.rel, f.size, ctype, cache)
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := s.setVersion(it.ID, version); err != nil {
		return err
	}
	var old []string
	for k := range have {
		if !strings.HasPrefix(k, root) {
			old = append(old, k)
		}
	}
	return s.removeAll(ctx, s.vod, old)
}

func (s *Service) uploadFile(ctx context.Context, file, key string, size int64, ctype, cache string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := s.put(ctx, key, f, size, ctype, cache); err != nil {
		s.m.uploads.WithLabelValues("vod", "error").Inc()
		return err
	}
	s.m.uploads.WithLabelValues("vod", "ok").Inc()
	s.m.bytes.WithLabelValues("vod").Add(float64(size))
	return nil
}

// deleteTitle deletes every key of title id, then its record.
func (s *Service) deleteTitle(ctx context.Context, id string) error {
	have, err := s.list(ctx, "vod/"+id+"/")
	if err != nil {
		return err
	}
	if err := s.removeAll(ctx, s.vod, slices.Collect(mapKeys(have))); err != nil {
		return err
	}
	return s.setVersion(id, "")
}

// removeAll deletes keys with bounded concurrency.
func (s *Service) removeAll(ctx context.Context, sl slots, keys []string) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, k := range keys {
		if err := sl.acquire(gctx); err != nil {
			break
		}
		g.Go(func() error {
			defer sl.release()
			return s.remove(gctx, k)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// reconcile compares the bucket with the catalogue and queues every title
// whose copy is missing, incomplete, of another version or no longer
// wanted; it deletes what is left of live streams that are not live.
func (s *Service) reconcile(ctx context.Context) error {
	items, err := s.cat.List()
	if err != nil {
		return err
	}
	have, err := s.list(ctx, "vod/")
	if err != nil {
		return err
	}
	byID := map[string]map[string]int64{}
	for k, size := range have {
		id, rest, _ := strings.Cut(strings.TrimPrefix(k, "vod/"), "/")
		if byID[id] == nil {
			byID[id] = map[string]int64{}
		}
		byID[id][rest] = size
	}
	s.mu.Lock()
	versions := make(map[string]string, len(s.versions))
	for k, v := range s.versions {
		versions[k] = v
	}
	s.mu.Unlock()

	var todo []string
	known := map[string]bool{}
	for _, it := range items {
		known[it.ID] = true
		switch it.State {
		case library.StateReady:
			files, version, err := scan(s.cat.Dir(it.ID))
			if err != nil {
				continue // missing on disk: nothing to upload
			}
			if !complete(byID[it.ID], files, version) || versions[it.ID] != version {
				todo = append(todo, it.ID)
			}
		case library.StateFailed:
			if len(byID[it.ID]) > 0 || versions[it.ID] != "" {
				todo = append(todo, it.ID)
			}
		}
	}
	for id := range byID {
		if !known[id] {
			todo = append(todo, id)
		}
	}
	for id := range versions {
		if !known[id] && byID[id] == nil {
			todo = append(todo, id)
		}
	}
	slices.Sort(todo)
	todo = slices.Compact(todo)
	if len(todo) > 0 {
		s.log.Info("publish: reconciling the bucket with the catalogue", "titles", len(todo))
	}
	if err := s.enqueue(todo); err != nil {
		return err
	}
	return s.reconcileLive(ctx)
}

// complete reports whether a title's keys (relative to its folder) are
// exactly the files of that version.
func complete(keys map[string]int64, files []localFile, version string) bool {
	if len(keys) != len(files) {
		return false
	}
	for _, f := range files {
		if size, ok := keys[version+"/"+f.rel]; !ok || size != f.size {
			return false
		}
	}
	return true
}

// retry is the back-off of one failing title.
type retry struct {
	b       interface{ NextBackOff() time.Duration }
	retryAt time.Time
}
