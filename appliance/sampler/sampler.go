// Package sampler keeps the last day of the appliance's own metrics for the
// admin charts. Every Step (10 s) it gathers the same Prometheus registry
// that /metrics serves (one source of truth: no counters of its own) and
// appends one point per series to a fixed-size ring; every PersistStep
// (1 min) it writes that minute's averages to its own bucket in the store,
// so a restart loses only the fine resolution, not the day.
//
// Memory bound: two rings, the last hour at 10 s (FineCapacity, 360 points)
// and the day in minute averages (CoarseCapacity, 1440 points: the minutes
// it stores, and after a restart loads): 8 bytes of time per point and 4
// bytes (float32) per point and series, at most MaxSeries (64) series:
// 1800×8 + 64×1800×4 ≈ 475 KB, whatever the uptime. (One ring of the day at
// 10 s held 2.3 MB, a third of the live heap of a box with one stream,
// for a resolution that a restart lost anyway.)
// Store bound: one key per minute, pruned after Keep (24 h): at most 1440
// keys of at most MaxSeries small JSON numbers each.
package sampler

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// Sampling steps and bounds.
const (
	Step        = 10 * time.Second
	PersistStep = time.Minute
	Keep        = 24 * time.Hour
	// FineCapacity is the points of the last hour, every Step.
	FineCapacity = int(time.Hour / Step) // 360 points
	// CoarseCapacity is the minutes of the day, every PersistStep.
	CoarseCapacity = int(Keep / PersistStep) // 1440 points
	MaxSeries      = 64
	maxName        = 80
)

// bucket is the store bucket of the per-minute points.
var bucket = []byte("metrics_1m")

// Kind tells how a metric becomes a series.
type Kind int

const (
	// Gauge: the value as it is.
	Gauge Kind = iota
	// Rate: a counter's increase per second since the previous sample.
	Rate
)

// Spec picks a series out of a metric family: the sum of the samples whose
// labels match Match, or with By one series per value of that label.
type Spec struct {
	Name   string            // series name; with By, Name + "/" + the label's value
	Metric string            // Prometheus metric family
	Match  map[string]string // label filters
	By     string            // split by this label
	Kind   Kind
	Scale  float64 // multiply by (0: 1)
	Chart  string  // chart the series is drawn in
	Unit   string  // unit shown
}

// Sampler is the ring of series. It starts nothing; Run samples.
type Sampler struct {
	g     prometheus.Gatherer
	st    *store.Store // nil: nothing persisted
	log   *slog.Logger
	specs []Spec
	now   func() time.Time

	mu     sync.Mutex
	fine   ring // every Step, the last hour
	coarse ring // every minute (averages), the day
	series map[string]*series
	order  []string
	full   bool // MaxSeries reached (warned once)

	prev  map[string]counterPoint // last counter value per series, for rates
	minT  int64                   // minute being averaged (Unix seconds)
	acc   map[string]*avg
	stats Stats
}

type series struct {
	spec   Spec      // Name is the full series name
	fine   []float32 // values in the fine ring's slots
	coarse []float32 // values in the coarse ring's slots
}

// ring is the times of a fixed number of points, oldest overwritten; the
// series keep their values in the same slots.
type ring struct {
	times []int64 // Unix seconds
	head  int     // next slot
	n     int     // points held
}

func newRing(capacity int) ring { return ring{times: make([]int64, capacity)} }

// add takes the next slot for time t and returns it.
func (r *ring) add(t int64) int {
	i := r.head
	r.times[i] = t
	r.head = (r.head + 1) % len(r.times)
	r.n = min(r.n+1, len(r.times))
	return i
}

// slots lists the slots held, oldest first, whose time is in [from, to).
func (r *ring) slots(from, to int64) []int {
	var out []int
	first := (r.head - r.n + len(r.times)) % len(r.times)
	for i := range r.n {
		j := (first + i) % len(r.times)
		if t := r.times[j]; t >= from && t < to {
			out = append(out, j)
		}
	}
	return out
}

// oldest is the time of the oldest point held (ok false when empty).
func (r *ring) oldest() (int64, bool) {
	if r.n == 0 {
		return 0, false
	}
	return r.times[(r.head-r.n+len(r.times))%len(r.times)], true
}

type counterPoint struct {
	v float64
	t time.Time
}

type avg struct {
	sum float64
	n   int
}

// Stats are the sampler's own figures (for its benchmark).
type Stats struct {
	Samples     int
	StoreWrites int
}

// New makes a sampler of specs over g, persisting to st (which may be nil).
func New(g prometheus.Gatherer, st *store.Store, log *slog.Logger, specs []Spec) *Sampler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sampler{
		g: g, st: st, log: log, specs: specs, now: time.Now,
		fine:   newRing(FineCapacity),
		coarse: newRing(CoarseCapacity),
		series: map[string]*series{},
		prev:   map[string]counterPoint{},
		acc:    map[string]*avg{},
	}
}

// Run loads the persisted day, then samples every Step until ctx ends; the
// minute in progress is written before it returns.
func (s *Sampler) Run(ctx context.Context) error {
	if err := s.load(); err != nil {
		s.log.Warn("charts: cannot load the stored samples; starting empty", "err", err)
	}
	t := time.NewTicker(Step)
	defer t.Stop()
	s.Sample()
	for {
		select {
		case <-ctx.Done():
			s.flush()
			return nil
		case <-t.C:
			s.Sample()
		}
	}
}

// Sample gathers the registry once and appends a point to every series.
func (s *Sampler) Sample() {
	now := s.now()
	mfs, err := s.g.Gather()
	if err != nil && len(mfs) == 0 {
		s.log.Warn("charts: gather", "err", err)
		return
	}
	vals := s.extract(mfs, now)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Samples++
	if m := now.Truncate(PersistStep).Unix(); m != s.minT {
		if s.minT != 0 {
			point := s.averagesLocked()
			s.pushMinute(s.minT, point)
			s.persistLocked(s.minT, point)
		}
		s.minT = m
		clear(s.acc)
	}
	s.push(now.Unix(), vals)
	for name, v := range vals {
		if math.IsNaN(v) {
			continue
		}
		a := s.acc[name]
		if a == nil {
			a = &avg{}
			s.acc[name] = a
		}
		a.sum += v
		a.n++
	}
}

// extract turns the gathered families into one value per series.
func (s *Sampler) extract(mfs []*dto.MetricFamily, now time.Time) map[string]float64 {
	byName := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	out := map[string]float64{}
	for _, sp := range s.specs {
		mf := byName[sp.Metric]
		if mf == nil {
			continue
		}
		sums := map[string]float64{}
		for _, m := range mf.GetMetric() {
			if !matches(m, sp.Match) {
				continue
			}
			name := sp.Name
			if sp.By != "" {
				lv := label(m, sp.By)
				if lv == "" {
					continue
				}
				name += "/" + lv
			}
			sums[name] += value(m)
		}
		if sp.By == "" && len(sums) == 0 {
			sums[sp.Name] = 0 // a family with no matching sample yet counts 0
		}
		for name, v := range sums {
			if len(name) > maxName {
				name = name[:maxName]
			}
			if sp.Scale != 0 {
				v *= sp.Scale
			}
			if !s.known(name, sp) {
				continue
			}
			if sp.Kind == Rate {
				p, ok := s.prev[name]
				s.prev[name] = counterPoint{v, now}
				dt := now.Sub(p.t).Seconds()
				switch {
				case !ok || dt <= 0:
					v = math.NaN()
				case v < p.v: // reset (a restart of what counts)
					v /= dt
				default:
					v = (v - p.v) / dt
				}
			}
			out[name] = v
		}
	}
	return out
}

// known makes the series name (ring and all) unless MaxSeries are held.
func (s *Sampler) known(name string, sp Spec) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.series[name]; ok {
		return true
	}
	if len(s.series) >= MaxSeries {
		if !s.full {
			s.full = true
			s.log.Warn("charts: too many series; new ones are not kept", "max", MaxSeries, "series", name)
		}
		return false
	}
	sp.Name = name
	sr := &series{spec: sp, fine: make([]float32, FineCapacity), coarse: make([]float32, CoarseCapacity)}
	for i := range sr.fine {
		sr.fine[i] = float32(math.NaN())
	}
	for i := range sr.coarse {
		sr.coarse[i] = float32(math.NaN())
	}
	s.series[name] = sr
	s.order = append(s.order, name)
	return true
}

func matches(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		if label(m, k) != v {
			return false
		}
	}
	return true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// push appends one point to the fine ring (s.mu held).
func (s *Sampler) push(t int64, vals map[string]float64) {
	i := s.fine.add(t)
	for name, sr := range s.series {
		v, ok := vals[name]
		if !ok {
			v = math.NaN()
		}
		sr.fine[i] = float32(v)
	}
}

// pushMinute appends one minute's averages to the coarse ring (s.mu held).
func (s *Sampler) pushMinute(t int64, vals map[string]float32) {
	i := s.coarse.add(t)
	for name, sr := range s.series {
		v, ok := vals[name]
		if !ok {
			v = float32(math.NaN())
		}
		sr.coarse[i] = v
	}
}

// Series is one series of a Window.
type Series struct {
	Name   string `json:"name"`
	Chart  string `json:"chart"`
	Unit   string `json:"unit"`
	Values Points `json:"values"` // null where there is no point
}

// Points are a series' values; NaN (no point) is written as null.
type Points []float32

// MarshalJSON writes the points as a JSON array, null for NaN.
func (p Points) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(p)*6)
	b = append(b, '[')
	for i, v := range p {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	}
	return append(b, ']'), nil
}

// Window is the series' points since a time, oldest first, on one time axis.
type Window struct {
	Step   int      `json:"step"`  // seconds between live samples
	Times  []int64  `json:"times"` // Unix seconds
	Series []Series `json:"series"`
}

// Window returns the points at or after since: the minutes older than the
// last hour, then the last hour's points every Step.
func (s *Sampler) Window(since time.Time) Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := Window{Step: int(Step / time.Second), Times: []int64{}, Series: []Series{}}
	end := int64(math.MaxInt64) // minutes end where the fine points begin
	if t, ok := s.fine.oldest(); ok {
		end = t - int64(PersistStep/time.Second) + 1 // minutes wholly before it
	}
	coarse := s.coarse.slots(since.Unix(), end)
	fine := s.fine.slots(since.Unix(), math.MaxInt64)
	for _, j := range coarse {
		w.Times = append(w.Times, s.coarse.times[j])
	}
	for _, j := range fine {
		w.Times = append(w.Times, s.fine.times[j])
	}
	for _, name := range s.order {
		sr := s.series[name]
		out := Series{Name: name, Chart: sr.spec.Chart, Unit: sr.spec.Unit, Values: make(Points, 0, len(w.Times))}
		for _, j := range coarse {
			out.Values = append(out.Values, sr.coarse[j])
		}
		for _, j := range fine {
			out.Values = append(out.Values, sr.fine[j])
		}
		w.Series = append(w.Series, out)
	}
	return w
}

// Stats reports the sampler's counts.
func (s *Sampler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// flush writes the minute in progress.
func (s *Sampler) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.minT != 0 {
		s.persistLocked(s.minT, s.averagesLocked())
	}
}

// averagesLocked is the minute in progress: each series' average (s.mu held).
func (s *Sampler) averagesLocked() map[string]float32 {
	point := make(map[string]float32, len(s.acc))
	for name, a := range s.acc {
		if a.n > 0 {
			point[name] = float32(a.sum / float64(a.n))
		}
	}
	return point
}

// persistLocked writes minute m's averages and prunes what is older than
// Keep (s.mu held; a failure is logged: the rings in memory still have it).
func (s *Sampler) persistLocked(m int64, point map[string]float32) {
	if s.st == nil || len(point) == 0 {
		return
	}
	val, err := json.Marshal(point)
	if err != nil {
		s.log.Warn("charts: encode", "err", err)
		return
	}
	oldest := m - int64(Keep/time.Second)
	err = s.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if err := b.Put(key(m), val); err != nil {
			return err
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil && int64(binary.BigEndian.Uint64(k)) < oldest; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("charts: cannot store the minute's samples", "err", err)
		return
	}
	s.stats.StoreWrites++
}

func key(t int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t)) }

// load fills the coarse ring with the stored minutes of the last Keep.
func (s *Sampler) load() error {
	if s.st == nil {
		return nil
	}
	since := s.now().Add(-Keep).Unix()
	type point struct {
		t    int64
		vals map[string]float32
	}
	var pts []point
	err := s.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(key(since)); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				continue
			}
			var m map[string]float32
			if err := json.Unmarshal(v, &m); err != nil {
				return errors.Join(errors.New("minute "+time.Unix(int64(binary.BigEndian.Uint64(k)), 0).UTC().Format(time.RFC3339)), err)
			}
			pts = append(pts, point{int64(binary.BigEndian.Uint64(k)), m})
		}
		return nil
	})
	if err != nil {
		return err
	}
	specOf := func(name string) (Spec, bool) {
		for _, sp := range s.specs {
			if name == sp.Name || (sp.By != "" && strings.HasPrefix(name, sp.Name+"/")) {
				return sp, true
			}
		}
		return Spec{}, false
	}
	for _, p := range pts {
		names := make([]string, 0, len(p.vals))
		for name := range p.vals {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if sp, ok := specOf(name); ok {
				s.known(name, sp)
			}
		}
		s.mu.Lock()
		s.pushMinute(p.t, p.vals)
		s.mu.Unlock()
	}
	return nil
}
