package channels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/errgroup"

	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/library"
)

// Catalogue is what playout reads of the library.
type Catalogue interface {
	List() ([]library.Item, error)
	Get(id string) (library.Item, bool, error)
	Dir(id string) string
}

// Output makes the live streams the channels feed (the RTMP server: RTMP
// players, live HLS and pushes get them as published streams).
type Output interface {
	OpenFeed(name string, log *slog.Logger) (Feed, error)
}

// Feed is one channel's live stream; one goroutine writes to it, with
// timestamps continuous for the feed's life.
type Feed interface {
	Start(sps, pps []byte, aac *mpeg4audio.AudioSpecificConfig, width, height int) error
	WriteH264(dts, pts time.Duration, au [][]byte) error
	WriteAAC(pts time.Duration, au []byte) error
	Close()
}

// Normaliser makes, once and ahead of air time, a title's rendition of a
// channel's size when it has none (the transcode queue).
type Normaliser interface {
	// Normalise queues the rendition of width x height of title id; it
	// returns at once, and does nothing when it is made or being made.
	Normalise(ctx context.Context, id string, width, height int) error
	// NormalisedName is that rendition's directory in the title's.
	NormalisedName(width, height int) string
}

// Health is where the channels say how they fare.
type Health interface {
	Set(name string, st health.State, detail string)
}

// Alerter passes an alert to the administrators (the support bot).
type Alerter interface {
	Alert(ctx context.Context, key string, args ...string)
}

// AlertUnreadable is raised when a title cannot be read on air: channel,
// title, reason. The title is skipped until it changes.
const AlertUnreadable = "channel_title_unreadable"

// Options configure the channels.
type Options struct {
	Channels []config.Channel
	// Dir is where the channels keep their files (the slates), in data_dir.
	Dir string
	// FFmpeg makes the slates.
	FFmpeg string
	// Now is the clock (time.Now when nil); tests shift it. It must run
	// at the pace of the wall clock: playout sleeps real time.
	Now       func() time.Time
	HealthKey string // "channels" when empty
	Alerter   Alerter
	// Normaliser, when set, makes the renditions titles lack.
	Normaliser Normaliser
}

// Service plays every configured channel and tells their timelines.
type Service struct {
	st     Store
	cat    Catalogue
	out    Output
	log    *slog.Logger
	health Health
	opts   Options
	chans  []*channel

	slateMu sync.Mutex // held while a slate is made
	mu      sync.Mutex
	trouble time.Time          // when a channel last said it is degraded
	renMeta map[string]renMeta // rendition directory -> what it holds
	slates  map[string]*rendition
	asked   map[string]time.Time // normalisations asked for: title id+size -> its version

	// onPlay, in tests, sees each entry start playing from a position
	onPlay func(channel string, e Entry, from time.Duration)
}

// renMeta is what a rendition holds, read once per version of its
// playlist.
type renMeta struct {
	mtime time.Time
	total time.Duration
	ok    bool // H.264 of the profile's size, AAC of the channels' audio
}

// channelAudio is the audio every title of a channel has: titles with
// other audio are normalised before they air (the live stream's audio
// track cannot change).
var channelAudio = mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}

// New builds the channels; nothing runs until Run.
func New(st Store, cat Catalogue, out Output, log *slog.Logger, h Health, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HealthKey == "" {
		opts.HealthKey = "channels"
	}
	s := &Service{st: st, cat: cat, out: out, log: log, health: h, opts: opts,
		renMeta: map[string]renMeta{}, slates: map[string]*rendition{}, asked: map[string]time.Time{}}
	for _, c := range opts.Channels {
		s.chans = append(s.chans, &channel{svc: s, cfg: c, log: log.With("channel", c.Name), failed: map[string]time.Time{}})
	}
	return s
}

// Names are the stream names the channels take.
func (s *Service) Names() []string {
	var out []string
	for _, c := range s.chans {
		out = append(out, c.cfg.Name)
	}
	return out
}

// Channels lists the configured channels in config order (Timeline).
func (s *Service) Channels() []Channel {
	out := []Channel{}
	for _, c := range s.chans {
		out = append(out, Channel{Name: c.cfg.Name, Title: c.cfg.DisplayTitle(), Logo: c.cfg.Logo})
	}
	return out
}

// Programme lists the entries of channel name overlapping [from, to)
// (Timeline): those played (kept for a while) and those to come, computed
// from the entry on air with the titles ready now.
func (s *Service) Programme(name string, from, to time.Time) []Entry {
	i := slices.IndexFunc(s.chans, func(c *channel) bool { return c.cfg.Name == name })
	if i < 0 {
		return nil
	}
	c := s.chans[i]
	c.mu.Lock()
	st, have := c.st, c.have
	c.mu.Unlock()
	if !have {
		loaded, found, err := loadState(s.st, name)
		if err != nil || !found {
			return []Entry{}
		}
		st = loaded
	}
	out := []Entry{}
	for _, e := range st.History {
		if e.End.After(from) && e.Start.Before(to) {
			out = append(out, e)
		}
	}
	p := c.plan()
	if p == nil {
		return out
	}
	cur := st.Cur
	for i := 0; cur.Start.Before(to) && i < maxSteps; i++ {
		if cur.End.After(from) && !slices.ContainsFunc(out, func(e Entry) bool { return e.Start.Equal(cur.Start) }) {
			out = append(out, cur.Entry)
		}
		if cur.End.Sub(cur.Start) <= 0 {
			break
		}
		cur = p.advance(cur)
	}
	return out
}

// Run makes the slates and plays every channel until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if len(s.chans) == 0 {
		return nil
	}
	s.health.Set(s.opts.HealthKey, health.Up, fmt.Sprintf("%d channels", len(s.chans)))
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range s.chans {
		g.Go(func() error { c.run(ctx); return nil })
	}
	err := g.Wait()
	s.health.Set(s.opts.HealthKey, health.Stopped, "")
	return err
}

// profileHeight is the height of a channel's profile.
func profileHeight(c config.Channel) int {
	h, _ := config.ProfileHeight(c.ChannelProfile())
	return h
}

// profileWidth is the width of a profile of that height (16:9, even).
func profileWidth(height int) int { return (height*16/9 + 1) &^ 1 }

// playable tells whether item has a rendition a channel of the profile can
// air, where and how long: the variant of the profile when it has the
// size and the audio, else the one normalised for channels, else none (a
// normalisation is asked for).
func (s *Service) playable(profile string, height int, it library.Item) (string, time.Duration, bool) {
	width := profileWidth(height)
	if i := slices.IndexFunc(it.Variants, func(v library.VariantInfo) bool {
		return v.Name == profile && v.Height == height && v.Width == width
	}); i >= 0 {
		dir := filepath.Join(s.cat.Dir(it.ID), it.Variants[i].Name)
		if total, ok := s.rendition(dir, width, height); ok {
			return dir, total, true
		}
	}
	n := s.opts.Normaliser
	if n == nil || it.Kind == "track" {
		return "", 0, false
	}
	dir := filepath.Join(s.cat.Dir(it.ID), n.NormalisedName(width, height))
	if total, ok := s.rendition(dir, width, height); ok {
		return dir, total, true
	}
	key := fmt.Sprintf("%s %dx%d", it.ID, width, height)
	s.mu.Lock()
	v, asked := s.asked[key]
	if !asked || !v.Equal(it.Updated) {
		s.asked[key] = it.Updated
	}
	s.mu.Unlock()
	if !asked || !v.Equal(it.Updated) {
		if err := n.Normalise(context.Background(), it.ID, width, height); err != nil {
			s.log.Warn("channels: cannot queue a normalisation", "title", it.Title, "err", err)
		}
	}
	return "", 0, false
}

// rendition reads (once per version of its playlist) whether the rendition
// in dir can air on a channel of that size, and how long it is.
func (s *Service) rendition(dir string, width, height int) (time.Duration, bool) {
	fi, err := os.Stat(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		return 0, false
	}
	s.mu.Lock()
	m, ok := s.renMeta[dir]
	s.mu.Unlock()
	if !ok || !m.mtime.Equal(fi.ModTime()) {
		m = renMeta{mtime: fi.ModTime()}
		if r, err := openRendition(dir); err == nil {
			m.total = r.total
			m.ok = r.width == width && r.height == height && r.aac != nil && sameAudio(r.aac, &channelAudio)
		}
		s.mu.Lock()
		s.renMeta[dir] = m
		s.mu.Unlock()
	}
	return m.total, m.ok
}

func sameAudio(a, b *mpeg4audio.AudioSpecificConfig) bool {
	return a.Type == b.Type && a.SampleRate == b.SampleRate && a.ChannelCount == b.ChannelCount
}

// troubleShown is how long a channel's trouble stays on the health
// line (and /admin) after the last one.
const troubleShown = 10 * time.Minute

// degraded says on the health line what went wrong.
func (s *Service) degraded(detail string) {
	s.mu.Lock()
	s.trouble = time.Now()
	s.mu.Unlock()
	s.health.Set(s.opts.HealthKey, health.Degraded, detail)
}

// fine puts the health line back up once the last trouble is old.
func (s *Service) fine() {
	s.mu.Lock()
	old := !s.trouble.IsZero() && time.Since(s.trouble) > troubleShown
	if old {
		s.trouble = time.Time{}
	}
	s.mu.Unlock()
	if old {
		s.health.Set(s.opts.HealthKey, health.Up, fmt.Sprintf("%d channels", len(s.chans)))
	}
}

// channel is one channel's playout.
type channel struct {
	svc *Service
	cfg config.Channel
	log *slog.Logger

	mu     sync.Mutex
	st     state
	have   bool
	failed map[string]time.Time // titles that could not be read, by id -> their version

	timer *time.Timer
}

// plan is the channel's timeline plan with the catalogue as it is now; nil
// when the catalogue cannot be read.
func (c *channel) plan() *plan {
	s := c.svc
	items, err := s.cat.List()
	if err != nil {
		c.log.Warn("channel: cannot read the catalogue", "err", err)
		return nil
	}
	c.mu.Lock()
	failed := maps(c.failed)
	epoch := c.st.Epoch
	c.mu.Unlock()
	profile, height := c.cfg.ChannelProfile(), profileHeight(c.cfg)
	rot, all, bySource := candidates(c.cfg, items, func(it library.Item) (string, time.Duration, bool) {
		if v, bad := failed[it.ID]; bad && v.Equal(it.Updated) {
			return "", 0, false
		}
		return s.playable(profile, height, it)
	})
	p := &plan{cfg: c.cfg, epoch: epoch, cands: rot, byID: all, bySource: bySource,
		slateDur: slateLength, slateName: c.cfg.DisplayTitle()}
	for _, e := range c.cfg.Schedule {
		st, err := config.ParseSlotTime(e.At)
		if err != nil {
			st = config.SlotTime{} // validated by config: never here
		}
		p.slots = append(p.slots, st)
	}
	p.folderOf = func(folder string) []*candidate {
		var out []*candidate
		for _, x := range all {
			if inFolder(x.source, folder) {
				out = append(out, x)
			}
		}
		slices.SortFunc(out, func(a, b *candidate) int {
			switch {
			case a.source < b.source:
				return -1
			case a.source > b.source:
				return 1
			}
			return 0
		})
		return out
	}
	return p
}

func maps(m map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// current is the entry on air now: the stored one caught up to now, or a
// new start; it is stored before it airs.
func (c *channel) current(p *plan, now time.Time) (slot, error) {
	c.mu.Lock()
	st, have := c.st, c.have
	c.mu.Unlock()
	if !have {
		loaded, found, err := loadState(c.svc.st, c.cfg.Name)
		if err != nil {
			return slot{}, err
		}
		if found {
			st = loaded
			p.epoch = st.Epoch
		} else {
			st = state{Epoch: now}
			p.epoch = now
			st.Cur = p.first(now)
			c.log.Info("channel: first time on air")
		}
		have = true
	}
	cur, ok := p.catchUp(st.Cur, now)
	if !ok {
		c.log.Warn("channel: too far behind its timeline; starting afresh")
		cur = p.first(now)
	}
	if !cur.Start.Equal(st.Cur.Start) || !have {
		st.History = appendHistory(st.History, st.Cur.Entry)
	}
	st.Cur = cur
	if err := saveState(c.svc.st, c.cfg.Name, st); err != nil {
		return slot{}, err
	}
	c.mu.Lock()
	c.st, c.have = st, true
	c.mu.Unlock()
	return cur, nil
}

func appendHistory(h []Entry, e Entry) []Entry {
	if e.End.IsZero() || e.End.Sub(e.Start) <= 0 {
		return h
	}
	if n := len(h); n > 0 && h[n-1].Start.Equal(e.Start) {
		h[n-1] = e
		return h
	}
	h = append(h, e)
	if len(h) > maxHistory {
		h = slices.Clone(h[len(h)-maxHistory:])
	}
	return h
}

// setEnd records that the entry on air ends at end (cut short).
func (c *channel) setEnd(end time.Time) error {
	c.mu.Lock()
	c.st.Cur.End, c.st.Cur.Cut = end, true
	st := c.st
	c.mu.Unlock()
	return saveState(c.svc.st, c.cfg.Name, st)
}

// run plays the channel until ctx ends, retrying what fails with back-off
// (2 s growing to a minute; a session that lasted a minute starts it over).
func (c *channel) run(ctx context.Context) {
	bo := &backoff.ExponentialBackOff{InitialInterval: 2 * time.Second, Multiplier: 2,
		RandomizationFactor: backoff.DefaultRandomizationFactor, MaxInterval: time.Minute}
	bo.Reset()
	for ctx.Err() == nil {
		start := time.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			bo.Reset()
		}
		wait := bo.NextBackOff()
		c.log.Warn("channel: off air; retrying", "err", err, "in", wait.Round(time.Millisecond))
		c.svc.degraded(fmt.Sprintf("channel %s: off air: %v", c.cfg.Name, err))
		if !c.sleep(ctx, wait) {
			return
		}
	}
}

func (c *channel) sleep(ctx context.Context, d time.Duration) bool {
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		c.timer.Stop()
		return false
	case <-c.timer.C:
		return true
	}
}

// session is one live stream of the channel: entries one after the other,
// their timestamps continuous, paced on the clock.
func (c *channel) session(ctx context.Context) error {
	s := c.svc
	feed, err := s.out.OpenFeed(c.cfg.Name, c.log)
	if err != nil {
		return err
	}
	defer feed.Close()
	o := &onAir{feed: feed}
	var cur slot
	var prevKind string
	for ctx.Err() == nil {
		p := c.plan()
		if p == nil {
			return errors.New("the catalogue cannot be read")
		}
		// the next entry is taken (and stored) while the last one's final
		// samples, sent ahead, are still to be shown: no wait at the join
		at := s.opts.Now()
		if cur.End.After(at) {
			at = cur.End
		}
		var err error
		if cur, err = c.current(p, at); err != nil {
			return err
		}
		r, err := c.open(ctx, p, cur)
		if err != nil && cur.Kind == "slate" {
			return err // off air until the slate can be made (retried, with the reason on /admin)
		}
		if errors.Is(err, errGone) {
			// deleted (or not ready, or lacking the profile's rendition)
			// since the timeline was made: the next entry takes its place
			c.log.Info("channel: title no longer playable; skipped", "title", cur.Title)
			if err := c.setEnd(s.opts.Now()); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			c.unreadable(ctx, cur, err)
			if err := c.setEnd(s.opts.Now()); err != nil {
				return err
			}
			continue
		}
		if !o.started {
			if err := feed.Start(r.sps, r.pps, &channelAudio, r.width, r.height); err != nil {
				return err
			}
			o.started = true
		}
		// a slate loops every few seconds: only its first loop is news
		lvl := slog.LevelInfo
		if cur.Kind == "slate" && prevKind == "slate" {
			lvl = slog.LevelDebug
		}
		prevKind = cur.Kind
		c.log.Log(ctx, lvl, "channel: on air", "title", cur.Title, "kind", cur.Kind, "start", cur.Start, "end", cur.End)
		s.fine()
		err = c.play(ctx, o, cur, r)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errDeleted):
			c.log.Info("channel: title deleted on air; cut", "title", cur.Title)
			if err := c.setEnd(o.endOfSent()); err != nil {
				return err
			}
		case errors.As(err, new(readError)):
			if !c.deleted(cur) {
				c.unreadable(ctx, cur, err)
			}
			if err := c.setEnd(o.endOfSent()); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		c.mu.Lock()
		cur = c.st.Cur // with its end, if it was cut
		c.mu.Unlock()
	}
	return nil
}

// open reads the rendition of an entry (the slate for a slate entry).
func (c *channel) open(ctx context.Context, p *plan, cur slot) (*rendition, error) {
	if cur.Kind == "slate" {
		return c.svc.slate(ctx, c.cfg)
	}
	x := p.byID[cur.TitleID]
	if x == nil {
		return nil, errGone
	}
	dir := x.dir
	if c.cfg.OnDelete == config.OnDeleteFinish {
		dir = c.hold(x.dir)
	}
	r, err := openRendition(dir)
	if err != nil {
		return nil, err
	}
	if !sameAudio(r.aac, &channelAudio) {
		return nil, errors.New("audio unlike the channel's")
	}
	return r, nil
}

// deleted tells whether the title of the entry left the catalogue.
func (c *channel) deleted(cur slot) bool {
	if cur.TitleID == "" {
		return false
	}
	it, ok, err := c.svc.cat.Get(cur.TitleID)
	return err == nil && (!ok || it.State != library.StateReady)
}

// unreadable skips a title that cannot be read until it changes, and tells.
func (c *channel) unreadable(ctx context.Context, cur slot, err error) {
	s := c.svc
	c.log.Error("channel: title cannot be read; skipped", "title", cur.Title, "id", cur.TitleID, "err", err)
	if cur.TitleID != "" {
		it, ok, gerr := s.cat.Get(cur.TitleID)
		if gerr == nil && ok {
			c.mu.Lock()
			c.failed[cur.TitleID] = it.Updated
			c.mu.Unlock()
		}
	}
	s.degraded(fmt.Sprintf("channel %s: %q cannot be read: %v", c.cfg.Name, cur.Title, err))
	if s.opts.Alerter != nil {
		s.opts.Alerter.Alert(ctx, AlertUnreadable, c.cfg.Name, cur.Title, err.Error())
	}
}

var (
	errDeleted = errors.New("title deleted")
	errGone    = errors.New("title not playable any more")
)

// readError is a title that failed to read on air.
type readError struct{ error }

func (e readError) Unwrap() error { return e.error }

// onAir is a session's stream clock: the wall clock of its time zero,
// and the end of what was sent.
type onAir struct {
	feed     Feed
	started  bool
	origin   time.Time
	haveOrig bool
	last     time.Time // wall-clock time of the last sample sent
	// of the last video and audio samples sent
	lastVideo, lastAudio time.Time
}

func (o *onAir) endOfSent() time.Time { return o.last }

// sendAhead is how far ahead of its time a sample is sent: the time to
// take the next entry (store it, open its rendition) at a join without
// making players wait.
const sendAhead = 500 * time.Millisecond

// checkEvery is how often (in media time) the title on air is looked up
// in the catalogue.
const checkEvery = time.Second

// play sends the entry's samples from where the clock is in it (a
// keyframe at or before) to its end, each at its time.
func (c *channel) play(ctx context.Context, o *onAir, cur slot, r *rendition) error {
	s := c.svc
	now := s.opts.Now()
	from := max(now.Sub(cur.Start), 0)
	limit := cur.End.Sub(cur.Start)
	if from >= limit {
		return nil
	}
	if s.onPlay != nil {
		s.onPlay(c.cfg.Name, cur.Entry, r.segs[r.segmentAt(from)].start)
	}
	var nextCheck time.Duration
	var stop error
	announced := false
	err := r.read(ctx, from, func(smp sample) error {
		if smp.video && smp.dts >= limit || !smp.video && smp.dts >= limit+r.shiftPTS-r.shiftDTS {
			return nil // past the end or a cut: dropped (audio goes with the pictures it accompanies)
		}
		at := cur.Start.Add(smp.dts)
		if !o.haveOrig {
			o.origin, o.haveOrig = at, true
		}
		if at.Before(o.origin) || smp.video && !at.After(o.lastVideo) || !smp.video && !at.After(o.lastAudio) {
			return nil // sent already, or before the stream's start
		}
		if d := at.Sub(s.opts.Now()) - sendAhead; d > 2*time.Millisecond {
			if !c.sleep(ctx, d) {
				return ctx.Err()
			}
		}
		if smp.dts >= nextCheck && cur.TitleID != "" {
			nextCheck = smp.dts + checkEvery
			if c.cfg.OnDelete == config.OnDeleteCut && c.deleted(cur) {
				stop = errDeleted
				return stop
			}
		}
		ts := at.Sub(o.origin)
		var err error
		if smp.video {
			au := smp.au
			if !announced {
				// the title's parameters (fMP4 keeps them out of the
				// samples): the feed announces them when they change
				au = append([][]byte{r.sps, r.pps}, au...)
				announced = true
			}
			err = o.feed.WriteH264(ts, ts+(smp.pts-smp.dts), au)
		} else {
			err = o.feed.WriteAAC(cur.Start.Add(smp.pts).Sub(o.origin), smp.au[0])
		}
		if err != nil {
			stop = err
			return err
		}
		o.last = at
		if smp.video {
			o.lastVideo = at
		} else {
			o.lastAudio = at
		}
		return nil
	})
	switch {
	case stop != nil:
		return stop
	case err != nil && ctx.Err() == nil:
		return readError{err}
	}
	return nil
}

// slateLength is how long one slate entry lasts (it repeats).
const slateLength = 10 * time.Second

// slate is the slate of a channel's profile: made once with ffmpeg,
// kept in the channels' directory.
func (s *Service) slate(ctx context.Context, cfg config.Channel) (*rendition, error) {
	profile := cfg.ChannelProfile()
	s.slateMu.Lock() // one ffmpeg per slate, however many channels need it
	defer s.slateMu.Unlock()
	s.mu.Lock()
	r := s.slates[profile]
	s.mu.Unlock()
	if r != nil {
		return r, nil
	}
	dir := filepath.Join(s.opts.Dir, "slate-"+profile)
	r, err := openRendition(filepath.Join(dir, profile))
	if err != nil {
		if err := makeSlate(ctx, s.opts.FFmpeg, dir, profile, profileHeight(cfg)); err != nil {
			return nil, fmt.Errorf("make the slate: %w", err)
		}
		if r, err = openRendition(filepath.Join(dir, profile)); err != nil {
			return nil, fmt.Errorf("read the slate: %w", err)
		}
	}
	s.mu.Lock()
	s.slates[profile] = r
	s.mu.Unlock()
	return r, nil
}

// hold links the files of the rendition on air into the channel's own
// directory and returns it, so that a title deleted while on air plays to
// its end (on_delete = "finish"); the links go when the next title airs.
// Where links cannot be made (another file system), the rendition is read
// in place and a deletion cuts it short.
func (c *channel) hold(dir string) string {
	held := filepath.Join(c.svc.opts.Dir, "onair", c.cfg.Name)
	if err := os.RemoveAll(held); err != nil {
		c.log.Warn("channel: cannot clear the title on air's links", "err", err)
		return dir
	}
	ents, err := os.ReadDir(dir)
	if err == nil {
		err = os.MkdirAll(held, 0o755)
	}
	for _, e := range ents {
		if err != nil {
			break
		}
		if e.Type().IsRegular() {
			err = os.Link(filepath.Join(dir, e.Name()), filepath.Join(held, e.Name()))
		}
	}
	if err != nil {
		c.log.Warn("channel: cannot link the title on air (a deletion will cut it short)", "err", err)
		return dir
	}
	return held
}
