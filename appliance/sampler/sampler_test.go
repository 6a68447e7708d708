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
	for range Capacity + 400 { // more than a day
		s.Sample()
		clk.t = clk.t.Add(Step)
	}
	w := s.Window(time.Time{})
	if len(w.Series) != MaxSeries || len(w.Times) != Capacity {
		t.Errorf("%d series × %d points, want %d × %d", len(w.Series), len(w.Times), MaxSeries, Capacity)
	}
	if w.Times[0] != clk.t.Add(-Step*time.Duration(Capacity)).Unix() {
		t.Error("the ring does not hold the latest day")
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
