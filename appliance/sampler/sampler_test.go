package sampler

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// fakeClock moves the sampler's time by hand; the registry and the store are real.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func testSpecs() []Spec {
	return []Spec{
		{Name: "bytes", Metric: "t_bytes_total", Kind: Rate, Chart: "net", Unit: "B/s"},
		{Name: "logins/failed", Metric: "t_logins_total", Match: map[string]string{"result": "failed"}, Kind: Rate, Scale: 60, Chart: "logins"},
		{Name: "free", Metric: "t_free_bytes", By: "fs", Chart: "disk", Unit: "B"},
		{Name: "absent", Metric: "t_not_registered", Chart: "x"},
	}
}

func TestSampleRatesGaugesAndRestart(t *testing.T) {
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	bytes := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_bytes_total", Help: "x"})
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_logins_total", Help: "x"}, []string{"result"})
	free := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_free_bytes", Help: "x"}, []string{"fs"})
	reg.MustRegister(bytes, logins, free)

	clk := &fakeClock{t: time.Date(2026, 11, 30, 10, 0, 5, 0, time.UTC)}
	s := New(reg, st, nil, testSpecs())
	s.now = clk.now
	free.WithLabelValues("data_dir").Set(1000)
	free.WithLabelValues("backup.dir").Set(2000)
	s.Sample()
	for i := range 12 { // two minutes at 10 s: 1000 B/s, 6 failed logins a minute
		clk.t = clk.t.Add(Step)
		bytes.Add(10_000)
		logins.WithLabelValues("failed").Inc()
		logins.WithLabelValues("ok").Add(5)
		free.WithLabelValues("data_dir").Set(float64(1000 - i))
		s.Sample()
	}
	w := s.Window(time.Time{})
	if len(w.Times) != 13 {
		t.Fatalf("%d points, want 13", len(w.Times))
	}
	got := map[string]Points{}
	for _, sr := range w.Series {
		got[sr.Name] = sr.Values
	}
	if _, ok := got["absent"]; ok {
		t.Error("a metric not registered made a series")
	}
	if v := got["bytes"]; !math.IsNaN(float64(v[0])) || v[5] != 1000 {
		t.Errorf("bytes rate = %v, want NaN then 1000", v)
	}
	if v := got["logins/failed"]; v[12] != 6 {
		t.Errorf("failed logins = %v /min, want 6", v[12])
	}
	if v := got["free/data_dir"]; v[0] != 1000 || v[12] != 989 {
		t.Errorf("free/data_dir = %v", v)
	}
	if v := got["free/backup.dir"]; v[12] != 2000 {
		t.Errorf("free/backup.dir = %v", v)
	}
	b, err := json.Marshal(w)
	if err != nil || !strings.Contains(string(b), `"values":[null,1000,`) {
		t.Errorf("JSON: %v %.200s", err, b)
	}
	if s.Stats().StoreWrites != 2 {
		t.Errorf("%d minutes stored, want 2 (10:00 and 10:01)", s.Stats().StoreWrites)
	}

	// A new sampler (a restart) starts with the stored minutes.
	s2 := New(reg, st, nil, testSpecs())
	s2.now = clk.now
	if err := s2.load(); err != nil {
		t.Fatal(err)
	}
	w2 := s2.Window(time.Time{})
	if len(w2.Times) != 2 || w2.Times[0] != time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("after a restart: times %v, want the 2 stored minutes", w2.Times)
	}
	for _, sr := range w2.Series {
		if sr.Name == "bytes" && sr.Values[1] != 1000 {
			t.Errorf("stored minute of bytes = %v, want 1000", sr.Values[1])
		}
	}
}

func TestRingAndStoreStayBounded(t *testing.T) {
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	many := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_free_bytes", Help: "x"}, []string{"fs"})
	reg.MustRegister(many)
	for i := range MaxSeries + 10 {
		many.WithLabelValues(strings.Repeat("x", i+1)).Set(float64(i))
	}
	clk := &fakeClock{t: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
	s := New(reg, st, nil, testSpecs())
	s.now = clk.now
	for range int(Keep/Step) + 400 { // more than a day
		s.Sample()
		clk.t = clk.t.Add(Step)
	}
	last := clk.t.Add(-Step).Unix()
	w := s.Window(time.Time{})
	if len(w.Series) != MaxSeries {
		t.Errorf("%d series, want %d", len(w.Series), MaxSeries)
	}
	// the day in minutes, then the last hour every 10 s
	n := len(w.Times)
	if n < FineCapacity+CoarseCapacity-int(time.Hour/PersistStep)-1 || n > FineCapacity+CoarseCapacity {
		t.Errorf("%d points, want the last hour's %d and the day's minutes before it", n, FineCapacity)
	}
	for i := 1; i < n; i++ {
		if w.Times[i] <= w.Times[i-1] {
			t.Fatalf("times not in order at %d: %d then %d", i, w.Times[i-1], w.Times[i])
		}
	}
	if w.Times[n-1] != last || w.Times[n-FineCapacity] != last-int64((FineCapacity-1)*int(Step/time.Second)) {
		t.Error("the fine ring does not hold the last hour")
	}
	if first := w.Times[0]; first < last-int64(Keep/time.Second)-60 || first%60 != 0 || w.Times[1]-first != 60 {
		t.Errorf("the coarse ring does not hold the day in minutes: first %d, then %d", first, w.Times[1])
	}
	for _, sr := range w.Series {
		if len(sr.Values) != n || math.IsNaN(float64(sr.Values[0])) || math.IsNaN(float64(sr.Values[n-1])) {
			t.Fatalf("series %s: %d values, first %v, last %v", sr.Name, len(sr.Values), sr.Values[0], sr.Values[n-1])
		}
	}
	// the last hour alone is the fine points
	if h := s.Window(clk.t.Add(-time.Hour)); len(h.Times) != FineCapacity || h.Times[0] != w.Times[n-FineCapacity] {
		t.Errorf("last hour: %d points, want %d", len(h.Times), FineCapacity)
	}
	keys := 0
	if err := st.View(func(tx *bolt.Tx) error {
		keys = tx.Bucket(bucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if max := int(Keep/PersistStep) + 1; keys > max || keys < max-2 {
		t.Errorf("%d stored minutes, want about %d", keys, max)
	}
}
