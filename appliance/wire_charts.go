package appliance

import (
	"context"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/live"
	"thecure/appliance/sampler"
	"thecure/appliance/transcode"
)

// wireCharts adds the collectors the charts need beside the subsystems' own
// (child processes' CPU and memory, free disk, transcode queue length) and
// the sampler that keeps the last day of /metrics for the admin page. It
// runs after every subsystem has registered its metrics.
func (a *app) wireCharts() error {
	if cc, err := sampler.NewChildrenCollector(); err == nil {
		a.reg.MustRegister(cc)
	} else {
		a.log.Warn("charts: no /proc; the CPU of ffmpeg children is not charted", "err", err)
	}
	var fss []sampler.Filesystem
	for _, d := range a.webuiDisks() {
		fss = append(fss, sampler.Filesystem{Label: d.Label, Path: d.Path})
	}
	a.reg.MustRegister(sampler.NewDiskCollector(fss))
	if a.queue != nil {
		q := a.queue
		a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "thecure_transcode_pending_jobs",
			Help: "Transcode jobs waiting for a worker.",
		}, func() float64 { return float64(pendingJobs(q)) }))
	}
	if a.live != nil {
		a.reg.MustRegister(streamViewers{a.live, prometheus.NewDesc("thecure_live_viewers",
			"Viewers of each live stream on air now (HLS clients plus RTMP players).", []string{"stream"}, nil)})
	}
	a.charts = sampler.New(a.reg, a.store, a.log.With("svc", "charts"), sampler.DefaultSpecs())
	a.add(service{name: "charts", run: func(ctx context.Context, _ []net.Listener) error { return a.charts.Run(ctx) }})
	return nil
}

// pendingJobs counts the queue's jobs waiting for a worker (0 when the
// queue cannot be read: the gauge is a chart, not an alarm).
func pendingJobs(q *transcode.Queue) int {
	pending, _, err := q.QueueLength(context.Background())
	if err != nil {
		return 0
	}
	return pending
}

// streamViewers exposes each live stream's viewers, read from the hub at
// each scrape (the hub's own state: no second count).
type streamViewers struct {
	h    *live.Hub
	desc *prometheus.Desc
}

func (v streamViewers) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v streamViewers) Collect(ch chan<- prometheus.Metric) {
	for _, s := range v.h.Streams() {
		ch <- prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, float64(s.HLSViewers+s.Players), s.Name)
	}
}

// webuiCharts serves the sampler's window to the admin page.
type webuiCharts struct{ s *sampler.Sampler }

func (w webuiCharts) Window(since time.Time) any { return w.s.Window(since) }
