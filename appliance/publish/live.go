package publish

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"thecure/appliance/live"
)

// The live copy of a stream, under live/NAME/: each complete segment (and
// init file) is uploaded as soon as the muxer hands it over, then the
// playlists listing it, the media playlists before index.m3u8. LL-HLS parts
// are not uploaded: a CDN answers from its cache and cannot hold a blocking
// playlist request until the next part exists, so CDN viewers get plain HLS
// (a segment or two behind the box's own LL-HLS), as MediaMTX-style
// origin + CDN setups do. While the bucket fails, the newest playlists and
// every segment still in the live window wait in memory (at most the
// window: hls.segment_count segments) and are uploaded in order once it is
// back; a segment that left the window meanwhile is not uploaded at all.
// Segments are deleted LiveGrace after they leave the window, and the whole
// stream LiveGrace after it ends.

// liveFile is one object waiting to be uploaded.
type liveFile struct {
	key, ctype, cache string
	pub               string // the publication it belongs to
	data              [][]byte
}

// liveStream is the upload state of one stream name.
type liveStream struct {
	s    *Service
	name string
	wake chan struct{}

	mu        sync.Mutex
	running   bool
	pending   []liveFile // segments and init files, in order
	playlists []liveFile // the newest playlists; nil once uploaded
	plGen     uint64     // counts the playlists handed over
	closed    time.Time  // when the newest segment of playlists closed
	current   string     // the newest publication
	uploaded  map[string]map[string]bool
	expire    map[string]time.Time // key -> when to delete it
	ends      map[string]time.Time // publication -> when to delete all of it
	inBucket  bool                 // the current publication's playlists are in the bucket
}

func (ls *liveStream) listed() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.inBucket
}

var _ live.Sink = (*Service)(nil)

// LiveUpdate takes a live stream's new segments and playlists (live.Sink);
// it never blocks.
func (s *Service) LiveUpdate(u live.Update) {
	if !s.opts.Config.Live {
		return
	}
	// under s.mu throughout: a stream's uploader that finds nothing left
	// to do (finished) cannot drop it while this update goes in
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.streams[u.Stream]
	if ls == nil {
		ls = &liveStream{s: s, name: u.Stream, wake: make(chan struct{}, 1),
			uploaded: map[string]map[string]bool{}, expire: map[string]time.Time{}, ends: map[string]time.Time{}}
		s.streams[u.Stream] = ls
	}
	if s.runCtx != nil {
		defer s.startStreamLocked(s.runCtx, s.wg, ls) // after the update is in
	}

	dir := "live/" + u.Stream + "/"
	now := time.Now()
	ls.mu.Lock()
	if u.Publication != ls.current {
		ls.current, ls.inBucket = u.Publication, false
	}
	for _, f := range u.Files {
		ls.pending = append(ls.pending, liveFile{key: dir + f.Name, ctype: f.ContentType, cache: cacheImmutable, pub: u.Publication, data: f.Data})
	}
	for _, g := range u.Gone {
		key := dir + g
		i := 0
		for _, f := range ls.pending {
			if f.key != key {
				ls.pending[i] = f
				i++
			}
		}
		if i < len(ls.pending) {
			clear(ls.pending[i:])
			ls.pending = ls.pending[:i] // never uploaded: nothing to delete
		} else {
			ls.expire[key] = now.Add(s.opts.LiveGrace)
		}
	}
	ls.playlists = ls.playlists[:0]
	ls.plGen++
	for _, f := range u.Playlists {
		ls.playlists = append(ls.playlists, liveFile{key: dir + f.Name, ctype: f.ContentType, cache: cacheLivePlaylist, data: f.Data})
	}
	ls.closed = u.Closed
	if u.Ended {
		ls.ends[u.Publication] = now.Add(s.opts.LiveGrace)
	}
	if ls.uploaded[u.Publication] == nil {
		ls.uploaded[u.Publication] = map[string]bool{}
	}
	ls.mu.Unlock()
	select {
	case ls.wake <- struct{}{}:
	default:
	}
}

// startStreamLocked starts the stream's uploader unless it runs.
func (s *Service) startStreamLocked(ctx context.Context, wg *sync.WaitGroup, ls *liveStream) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.running {
		return
	}
	ls.running = true
	wg.Go(func() { ls.run(ctx) })
}

// run uploads the stream's files until nothing is left to do.
func (ls *liveStream) run(ctx context.Context) {
	s := ls.s
	what := "live " + ls.name
	bo := s.newBackOff()
	for {
		wait, err := ls.step(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.fail(what, err)
			wait = bo.NextBackOff()
		} else {
			bo.Reset()
			s.ok(what)
		}
		if wait < 0 && ls.finished() {
			return
		}
		if !sleep(ctx, ls.wake, wait) {
			return
		}
	}
}

// finished takes the stream off the service when nothing of it is left
// to upload or delete.
func (ls *liveStream) finished() bool {
	s := ls.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.pending) > 0 || ls.playlists != nil || len(ls.expire) > 0 || len(ls.ends) > 0 || len(ls.uploaded) > 0 {
		return false
	}
	ls.running = false
	if s.streams[ls.name] == ls {
		delete(s.streams, ls.name)
	}
	return true
}

// step uploads what waits, then deletes what is due, and says when to come
// back (-1: when woken).
func (ls *liveStream) step(ctx context.Context) (time.Duration, error) {
	s := ls.s
	ls.mu.Lock()
	// what an ended publication still waits to upload goes when it would
	// be deleted anyway (the bucket was down all that time): memory stays
	// bounded by the live window
	now := time.Now()
	i := 0
	for _, f := range ls.pending {
		if end, ok := ls.ends[f.pub]; !ok || end.After(now) {
			ls.pending[i] = f
			i++
		}
	}
	clear(ls.pending[i:])
	ls.pending = ls.pending[:i]
	if end, ok := ls.ends[ls.current]; ok && !end.After(now) {
		ls.playlists = nil
	}
	files := append([]liveFile(nil), ls.pending...)
	pls := append([]liveFile(nil), ls.playlists...)
	closed, pub, gen := ls.closed, ls.current, ls.plGen
	ls.mu.Unlock()

	// segments and init files, in parallel
	done := make([]bool, len(files))
	g, gctx := errgroup.WithContext(ctx)
	for i, f := range files {
		if err := s.live.acquire(gctx); err != nil {
			break
		}
		g.Go(func() error {
			defer s.live.release()
			n, err := s.putBytes(gctx, f.key, f.data, f.ctype, f.cache)
			if err != nil {
				s.m.uploads.WithLabelValues("live", "error").Inc()
				return err
			}
			s.m.uploads.WithLabelValues("live", "ok").Inc()
			s.m.bytes.WithLabelValues("live").Add(float64(n))
			done[i] = true
			return nil
		})
	}
	err := g.Wait()
	ls.mu.Lock()
	for i, f := range files {
		if !done[i] {
			continue
		}
		up := ls.uploaded[f.pub]
		if up == nil {
			up = map[string]bool{}
			ls.uploaded[f.pub] = up
		}
		up[f.key] = true
		for j, p := range ls.pending {
			if p.key == f.key {
				ls.pending = append(ls.pending[:j], ls.pending[j+1:]...)
				break
			}
		}
	}
	waiting := len(ls.pending) > 0
	ls.mu.Unlock()
	if err != nil {
		return 0, err
	}

	// then the playlists, index.m3u8 last, unless more segments wait
	if len(pls) > 0 && !waiting {
		g, gctx := errgroup.WithContext(ctx)
		for _, f := range pls[:len(pls)-1] {
			if err := s.live.acquire(gctx); err != nil {
				break
			}
			g.Go(func() error {
				defer s.live.release()
				_, err := s.putBytes(gctx, f.key, f.data, f.ctype, f.cache)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return 0, err
		}
		last := pls[len(pls)-1]
		if _, err := s.putBytes(ctx, last.key, last.data, last.ctype, last.cache); err != nil {
			return 0, err
		}
		if !closed.IsZero() {
			s.m.liveDelay.Observe(time.Since(closed).Seconds())
		}
		ls.mu.Lock()
		if ls.plGen == gen {
			ls.playlists = nil
		}
		if pub == ls.current {
			ls.inBucket = true
		}
		ls.mu.Unlock()
	}
	return ls.expireDue(ctx)
}

// expireDue deletes the segments and ended publications whose grace is
// over and says when the next one is due.
func (ls *liveStream) expireDue(ctx context.Context) (time.Duration, error) {
	s := ls.s
	now := time.Now()
	var keys []string
	next := time.Duration(-1)
	soonest := func(t time.Time) {
		if d := t.Sub(now); next < 0 || d < next {
			next = d
		}
	}
	ls.mu.Lock()
	for k, t := range ls.expire {
		if t.After(now) {
			soonest(t)
			continue
		}
		keys = append(keys, k)
	}
	var ended []string
	whole := false // the newest publication ended: everything of the name goes
	for pub, t := range ls.ends {
		if t.After(now) {
			soonest(t)
			continue
		}
		ended = append(ended, pub)
		for k := range ls.uploaded[pub] {
			keys = append(keys, k)
		}
		whole = whole || pub == ls.current
	}
	ls.mu.Unlock()
	if whole {
		have, err := s.list(ctx, "live/"+ls.name+"/")
		if err != nil {
			return 0, err
		}
		for k := range have {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 && len(ended) == 0 {
		return next, nil
	}
	if err := s.removeAll(ctx, s.live, keys); err != nil {
		return 0, err
	}
	ls.mu.Lock()
	for _, k := range keys {
		delete(ls.expire, k)
		for _, up := range ls.uploaded {
			delete(up, k)
		}
	}
	for _, pub := range ended {
		delete(ls.ends, pub)
		delete(ls.uploaded, pub)
		if pub == ls.current {
			ls.inBucket = false
		}
	}
	ls.mu.Unlock()
	return next, nil
}

// reconcileLive deletes the keys of streams that are not live here (left
// by an earlier run).
func (s *Service) reconcileLive(ctx context.Context) error {
	have, err := s.list(ctx, "live/")
	if err != nil {
		return err
	}
	s.mu.Lock()
	var keys []string
	for k := range have {
		name, _, _ := cutName(k)
		if s.streams[name] == nil {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	return s.removeAll(ctx, s.live, keys)
}

// cutName splits "live/NAME/FILE".
func cutName(key string) (name, file string, ok bool) {
	rest := key[len("live/"):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i], rest[i+1:], true
		}
	}
	return rest, "", false
}
