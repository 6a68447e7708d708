package sampler

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// benchRegistry is a registry shaped like the appliance's with 20 live
// streams and 50 users: every family DefaultSpecs names, the Go and process
// collectors, the children and disk collectors, 20 streams' labels.
func benchRegistry(b *testing.B) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	cc, err := NewChildrenCollector()
	if err != nil {
		b.Fatal(err)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), cc,
		NewDiskCollector([]Filesystem{{"data_dir", b.TempDir()}, {"library.media_dir", b.TempDir()}, {"backup.dir", b.TempDir()}}))
	seen := map[string]bool{}
	for _, sp := range defaultSpecs {
		if seen[sp.Metric] || sp.Metric == "process_cpu_seconds_total" || sp.Metric == "process_resident_memory_bytes" ||
			sp.Metric == "thecure_children_cpu_seconds_total" || sp.Metric == "thecure_children_resident_memory_bytes" ||
			sp.Metric == "thecure_filesystem_avail_bytes" {
			continue
		}
		seen[sp.Metric] = true
		labels := []string{}
		switch {
		case sp.Match != nil:
			labels = append(labels, "result")
		case sp.Metric == "thecure_live_bytes_in_total" || sp.Metric == "thecure_rtmp_bytes_out_total":
			labels = append(labels, "stream")
		case sp.Metric == "thecure_http_sent_bytes_total":
			labels = append(labels, "kind")
		}
		if sp.Kind == Rate {
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: sp.Metric, Help: "x"}, labels)
			reg.MustRegister(v)
			switch {
			case len(labels) == 0:
				v.WithLabelValues().Add(1)
			case labels[0] == "stream":
				for i := range 20 {
					v.WithLabelValues(fmt.Sprintf("cam%d", i)).Add(1e6)
				}
			case labels[0] == "result":
				for _, r := range []string{"ok", "failed", "refused", "banned"} {
					v.WithLabelValues(r).Add(50) // 50 users
				}
			default:
				v.WithLabelValues("hls").Add(1)
				v.WithLabelValues("other").Add(1)
			}
		} else {
			reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: sp.Metric, Help: "x"}))
		}
	}
	return reg
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSample is one 10 s sample of the appliance-shaped registry; it
// reports the CPU per hour (360 samples) as a share of one core, the ring's
// heap when full, and the store's bytes for a day of minutes.
func BenchmarkSample(b *testing.B) {
	st, err := store.Open(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	reg := benchRegistry(b)

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	s := New(reg, st, nil, DefaultSpecs())
	clk := &fakeClock{t: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
	s.now = clk.now
	s.Sample()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	ring := m1.HeapAlloc - m0.HeapAlloc

	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		clk.t = clk.t.Add(Step)
		s.Sample()
	}
	per := (cpuTime(b) - cpu0) / time.Duration(b.N) // CPU (user + system) of the process, not wall time
	b.StopTimer()
	// A day of stored minutes: fill the bucket to its bound.
	for range int(Keep/PersistStep) - s.Stats().StoreWrites {
		clk.t = clk.t.Add(PersistStep)
		s.Sample()
	}
	var storeBytes int
	if err := st.View(func(tx *bolt.Tx) error {
		bs := tx.Bucket(bucket).Stats()
		storeBytes = bs.LeafInuse + bs.BranchInuse
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(s.Window(time.Time{}).Series)), "series")
	b.ReportMetric(float64(per*360)/float64(time.Millisecond), "cpu-ms/h")
	b.ReportMetric(100*float64(per*360)/float64(time.Hour), "%core")
	b.ReportMetric(float64(ring)/(1<<20), "ring-MiB")
	b.ReportMetric(float64(storeBytes)/(1<<20), "store-MiB/day")
}
