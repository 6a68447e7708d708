package sampler

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// userHZ is the kernel's clock tick for /proc times (100 on every Linux
// the appliance targets; procfs assumes the same).
const userHZ = 100

// ChildrenCollector exposes the CPU time and memory of the appliance's
// child processes (ffmpeg, ffprobe), read from /proc at each scrape: the
// time of the children still running plus what the finished ones left in
// our own cutime/cstime.
type ChildrenCollector struct {
	fs    procfs.FS
	pid   int
	cpu   *prometheus.Desc
	rss   *prometheus.Desc
	count *prometheus.Desc
}

// NewChildrenCollector reads /proc; an error means there is no /proc.
func NewChildrenCollector() (*ChildrenCollector, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return nil, err
	}
	return &ChildrenCollector{
		fs: fs, pid: os.Getpid(),
		cpu:   prometheus.NewDesc("thecure_children_cpu_seconds_total", "CPU time of thecure's child processes (ffmpeg), running and finished.", nil, nil),
		rss:   prometheus.NewDesc("thecure_children_resident_memory_bytes", "Resident memory of thecure's running child processes.", nil, nil),
		count: prometheus.NewDesc("thecure_children_processes", "Child processes of thecure running now.", nil, nil),
	}, nil
}

// Describe implements prometheus.Collector.
func (c *ChildrenCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.cpu
	ch <- c.rss
	ch <- c.count
}

// Collect implements prometheus.Collector.
func (c *ChildrenCollector) Collect(ch chan<- prometheus.Metric) {
	self, err := c.fs.Proc(c.pid)
	if err != nil {
		return // no /proc: nothing to report (an invalid metric would fail all of /metrics)
	}
	st, err := self.Stat()
	if err != nil {
		return
	}
	cpu := float64(st.CUTime+st.CSTime) / userHZ
	var rss float64
	n := 0
	for _, pid := range c.children() {
		p, err := c.fs.Proc(pid)
		if err != nil {
			continue // it ended meanwhile
		}
		ps, err := p.Stat()
		if err != nil || ps.PPID != c.pid {
			continue
		}
		cpu += ps.CPUTime()
		rss += float64(ps.ResidentMemory())
		n++
	}
	ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, cpu)
	ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, rss)
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n))
}

// children lists the child pids from /proc/self/task/*/children (the kernel's
// own list: no walk of every process).
func (c *ChildrenCollector) children() []int {
	tasks, err := filepath.Glob(filepath.Join(procfs.DefaultMountPoint, "self", "task", "*", "children"))
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended meanwhile
		}
		pid := 0
		for _, ch := range b {
			switch {
			case ch >= '0' && ch <= '9':
				pid = pid*10 + int(ch-'0')
			case pid > 0:
				out = append(out, pid)
				pid = 0
			}
		}
		if pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// Filesystem is one file system the charts report: a label (a config key,
// never a path: /metrics is public) and a path on it.
type Filesystem struct {
	Label string
	Path  string
}

// DiskCollector exposes each file system's free and total bytes.
type DiskCollector struct {
	fss         []Filesystem
	avail, size *prometheus.Desc
}

// NewDiskCollector reports fss.
func NewDiskCollector(fss []Filesystem) *DiskCollector {
	return &DiskCollector{
		fss:   fss,
		avail: prometheus.NewDesc("thecure_filesystem_avail_bytes", "Bytes free for unprivileged users on the file system of a configured folder.", []string{"fs"}, nil),
		size:  prometheus.NewDesc("thecure_filesystem_size_bytes", "Size of the file system of a configured folder.", []string{"fs"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (d *DiskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.avail
	ch <- d.size
}

// Collect implements prometheus.Collector.
func (d *DiskCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range d.fss {
		var st syscall.Statfs_t
		p := f.Path
		err := syscall.Statfs(p, &st)
		// A folder not made yet is on the file system of its nearest parent.
		for errors.Is(err, syscall.ENOENT) && filepath.Dir(p) != p {
			p = filepath.Dir(p)
			err = syscall.Statfs(p, &st)
		}
		if err != nil {
			continue // left out rather than failing all of /metrics
		}
		bs := float64(st.Bsize)
		ch <- prometheus.MustNewConstMetric(d.avail, prometheus.GaugeValue, float64(st.Bavail)*bs, f.Label)
		ch <- prometheus.MustNewConstMetric(d.size, prometheus.GaugeValue, float64(st.Blocks)*bs, f.Label)
	}
}
