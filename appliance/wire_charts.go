package appliance

import (
	"context"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// webuiCharts serves the sampler's window to the admin page.
type webuiCharts struct{ s *sampler.Sampler }

func (w webuiCharts) Window(since time.Time) any { return w.s.Window(since) }
