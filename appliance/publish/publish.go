// Package publish copies the HLS output to S3-compatible object storage
// that a CDN serves ([publish.s3]): every ready VOD title whole (segments,
// playlists, poster), deleted again when the title leaves the catalogue, and
// every live stream as it is made (each complete segment, then playlists
// listing only complete segments: LL-HLS parts stay on the box, since a CDN
// cannot hold blocking playlist requests).
//
// Titles to copy or delete wait in a durable queue in the store (written
// before the worker is woken); at every start the bucket is reconciled with
// the catalogue. Failures are retried with exponential back-off, degrade the
// service's health and alert the admins; the box keeps serving everything
// itself meanwhile.
//
// Keys, under the configured prefix:
//
//	vod/ID/VERSION/...   a title's HLS tree; VERSION changes when the title is
//	                     packaged again, so every file under it is immutable
//	live/NAME/...        a live stream: index.m3u8, main_stream.m3u8, and
//	                     the segments the playlists list
package publish

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/s3client"
)

// AlertFailed is the alert raised when publishing starts failing: the error.
const AlertFailed = "publish_failed"

// Store is what the queue needs of the database.
type Store interface {
	Update(fn func(tx *bolt.Tx) error) error
	View(fn func(tx *bolt.Tx) error) error
}

// Catalogue is what publishing reads of the library.
type Catalogue interface {
	Get(id string) (library.Item, bool, error)
	List() ([]library.Item, error)
	Dir(id string) string
}

// Alerter passes an alert to the administrators; it never blocks.
type Alerter interface {
	Alert(ctx context.Context, key string, args ...string)
}

// Options are what New needs besides the store and the catalogue.
type Options struct {
	Config config.PublishS3
	// Health, when not nil, is told the service's state: up, or degraded
	// while uploads fail.
	Health func(st health.State, detail string)
	// Alerter, when not nil, is told when publishing starts failing.
	Alerter Alerter
	// LiveGrace is how long a live segment stays in the bucket after it
	// left the window, and a stream after it ended (players behind the
	// live edge still fetch them).
	LiveGrace time.Duration
	// RetryMin and RetryMax bound the back-off between attempts (1s and
	// 1m when zero).
	RetryMin, RetryMax time.Duration
}

// Service is the publishing worker: Run it; the transcode queue tells it of
// titles (TitleChanged), the live hub of streams (LiveUpdate).
type Service struct {
	opts   Options
	st     Store
	cat    Catalogue
	log    *slog.Logger
	client *minio.Client
	bucket string
	prefix string // of every key, "" or ending in "/"
	base   string // public_url, ending in "/"; "" when unset
	vod    slots  // VOD uploads and deletions in flight
	live   slots  // live ones
	wake   chan struct{}

	mu       sync.Mutex
	versions map[string]string // title id -> version in the bucket
	backoffs map[string]*retry
	failing  map[string]string // what fails ("vod ID", "live NAME") -> error
	alerted  bool
	runCtx   context.Context
	wg       *sync.WaitGroup // live stream goroutines, once Run started
	streams  map[string]*liveStream

	m metrics
}

type metrics struct {
	uploads   *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	deletes   prometheus.Counter
	liveDelay prometheus.Histogram
	waiting   prometheus.Gauge
}

// New prepares the worker for the bucket of opts.Config (Enabled). It opens
// no connection.
func New(st Store, cat Catalogue, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Service, error) {
	c := opts.Config
	client, err := s3client.New(c.Client())
	if err != nil {
		return nil, fmt.Errorf("publish.s3: %w", err)
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Minute
	}
	if opts.LiveGrace <= 0 {
		opts.LiveGrace = time.Minute
	}
	s := &Service{
		opts: opts, st: st, cat: cat, log: log, client: client,
		bucket: c.Bucket, prefix: s3client.Prefix(c.Prefix),
		vod:      make(slots, max(1, c.Concurrency)),
		live:     make(slots, max(1, c.Concurrency)),
		wake:     make(chan struct{}, 1),
		versions: map[string]string{}, backoffs: map[string]*retry{},
		failing: map[string]string{}, streams: map[string]*liveStream{},
	}
	if c.PublicURL != "" {
		s.base = strings.TrimSuffix(c.PublicURL, "/") + "/"
	}
	s.m = metrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thecure_publish_uploads_total",
			Help: "Objects uploaded to the publish bucket, by what (vod, live) and result (ok, error).",
		}, []string{"what", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thecure_publish_bytes_total",
			Help: "Bytes uploaded to the publish bucket, by what (vod, live).",
		}, []string{"what"}),
		deletes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "thecure_publish_deletes_total",
			Help: "Objects deleted from the publish bucket.",
		}),
		liveDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "thecure_publish_live_delay_seconds",
			Help:    "From a live segment's close to its playlist readable in the bucket.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "thecure_publish_titles_waiting",
			Help: "VOD titles waiting to be uploaded to or deleted from the publish bucket.",
		}),
	}
	reg.MustRegister(s.m.uploads, s.m.bytes, s.m.deletes, s.m.liveDelay, s.m.waiting)
	return s, nil
}

// String names the bucket and prefix (no credentials).
func (s *Service) String() string {
	return "s3://" + s.opts.Config.Endpoint + "/" + s.bucket + "/" + s.prefix
}

// Run uploads and deletes until ctx ends: reconciles the bucket with the
// catalogue, then works through the queue; live streams are uploaded by
// their own goroutines meanwhile.
func (s *Service) Run(ctx context.Context) error {
	s.setHealth()
	if err := s.loadVersions(); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	var wg sync.WaitGroup
	defer func() {
		s.mu.Lock()
		s.runCtx, s.wg = nil, nil // streams coming later wait for the next Run
		for _, ls := range s.streams {
			ls.mu.Lock()
			ls.running = false
			ls.mu.Unlock()
		}
		s.mu.Unlock()
		wg.Wait()
	}()
	s.mu.Lock()
	s.runCtx = ctx
	for _, ls := range s.streams { // updates that came before Run
		s.startStreamLocked(ctx, &wg, ls)
	}
	s.wg = &wg
	s.mu.Unlock()

	reconciled := false
	bo := s.newBackOff()
	for {
		next := time.Duration(-1)
		if !reconciled {
			if err := s.reconcile(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.fail("reconcile", err)
				next = bo.NextBackOff()
			} else {
				s.ok("reconcile")
				reconciled = true
			}
		}
		if reconciled {
			var err error
			next, err = s.work(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("publish: %w", err)
			}
		}
		if !sleep(ctx, s.wake, next) {
			return nil
		}
	}
}

// sleep waits for wake, or d when it is not negative; false when ctx ended.
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) bool {
	var timer <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-timer:
	}
	return true
}

func (s *Service) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) newBackOff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = s.opts.RetryMin
	b.MaxInterval = s.opts.RetryMax
	return b
}

// fail records that what fails with err: health degraded, an alert when
// publishing was fine until now.
func (s *Service) fail(what string, err error) {
	msg := err.Error()
	s.mu.Lock()
	_, again := s.failing[what]
	s.failing[what] = msg
	alert := !s.alerted
	s.alerted = true
	s.mu.Unlock()
	if !again {
		s.log.Warn("publish failed; retrying", "what", what, "err", err)
	}
	s.setHealth()
	if alert && s.opts.Alerter != nil {
		s.opts.Alerter.Alert(context.Background(), AlertFailed, what+": "+msg)
	}
}

// ok records that what works again.
func (s *Service) ok(what string) {
	s.mu.Lock()
	_, was := s.failing[what]
	delete(s.failing, what)
	if len(s.failing) == 0 {
		s.alerted = false
	}
	s.mu.Unlock()
	if was {
		s.log.Info("publish works again", "what", what)
		s.setHealth()
	}
}

func (s *Service) setHealth() {
	if s.opts.Health == nil {
		return
	}
	s.mu.Lock()
	n := len(s.failing)
	var one string
	for what, err := range s.failing {
		if one == "" || what < one {
			one = what + ": " + err
		}
	}
	s.mu.Unlock()
	if n == 0 {
		s.opts.Health(health.Up, s.String())
		return
	}
	s.opts.Health(health.Degraded, fmt.Sprintf("%d failing, retrying (%s); this box serves meanwhile", n, one))
}

// URL is where viewers find title id's master playlist in the bucket
// (public_url), or "" when public_url is unset or the title is not there.
func (s *Service) URL(id, file string) string {
	if s.base == "" {
		return ""
	}
	s.mu.Lock()
	v, ok := s.versions[id]
	s.mu.Unlock()
	if !ok {
		return ""
	}
	return s.base + "vod/" + id + "/" + v + "/" + file
}

// LiveURL is where viewers find live stream name's playlist in the bucket,
// or "" when public_url is unset, live publishing is off or the stream has
// no playlist there yet.
func (s *Service) LiveURL(name string) string {
	if s.base == "" || !s.opts.Config.Live {
		return ""
	}
	s.mu.Lock()
	ls := s.streams[name]
	s.mu.Unlock()
	if ls == nil || !ls.listed() {
		return ""
	}
	return s.base + "live/" + name + "/index.m3u8"
}

// slots bound the requests in flight: publish.s3.concurrency for VOD
// titles, as many again for live streams, so that a title's upload never
// delays live segments.
type slots chan struct{}

// acquire takes a slot.
func (sl slots) acquire(ctx context.Context) error {
	select {
	case sl <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sl slots) release() { <-sl }
