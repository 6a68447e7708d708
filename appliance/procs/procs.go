// Package procs runs the appliance's Go code on one CPU while it is lightly
// loaded, and on every CPU Go would use (GOMAXPROCS's default) as soon as it
// is not.
//
// With more than one P, Go's scheduler hands work between threads: a
// goroutine made ready by the network poller wakes an idle thread, which
// spins, finds nothing and sleeps again (futex calls and context switches
// per request), and threads migrate between CPUs. A live stream's ingest and
// its viewers are thousands of such small wake-ups a second, little CPU in
// all, and on a 2-core box that hand-off is 10-30 % of what they cost:
// measured with .ci/bench-live, 100 RTMP players + 200 LL-HLS clients
// 8 -> 7.2 % of one core, 200 HLS clients alone 8 -> 5.8 %, one stream's
// ingest 0.07-0.09 -> 0.05-0.07 CPU-s; a bare net/http file server serving
// the same clients 8-9 -> 6 %. Throughput work (many FTPS uploads,
// thousands of viewers, a burst of logins) needs the other CPUs, and gets
// them: the Controller samples the process's CPU time every second and
// restores the default as soon as the appliance uses half a CPU, and goes
// back to one only after ten seconds under a quarter of one.
//
// An operator's GOMAXPROCS (the environment variable) is used as is; so is a
// default of one CPU (a 1-CPU box or cgroup limit). Child processes (ffmpeg)
// are not counted: they are not Go code.
package procs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The policy's figures: see the package comment.
const (
	interval = time.Second
	upLoad   = 0.5  // CPUs used over one interval that restore the default
	downLoad = 0.25 // CPUs used, every interval of calmFor, to go down to one
	calmFor  = 10   // intervals
)

// Controller sets GOMAXPROCS from the process's CPU use. Run does the work.
type Controller struct {
	log      *slog.Logger
	interval time.Duration
	sample   func() (cpu time.Duration, at time.Time, err error) // cpuTime
}

// New returns a Controller that logs its changes (at debug level) to log.
func New(log *slog.Logger) *Controller {
	return &Controller{
		log:      log,
		interval: interval,
		sample:   cpuTime,
	}
}

// Run adapts GOMAXPROCS until ctx is cancelled, then restores the default.
// When the environment sets GOMAXPROCS it only waits for ctx.
func (c *Controller) Run(ctx context.Context) error {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(c.interval)
	defer t.Stop()
	var p policy
	last, lastAt, err := c.sample()
	if err != nil {
		c.log.Warn("GOMAXPROCS stays at Go's default: cannot read the CPU time", "err", err)
		<-ctx.Done()
		return nil
	}
	defer func() {
		if p.low {
			runtime.SetDefaultGOMAXPROCS()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			used, now, err := c.sample()
			if err != nil {
				continue
			}
			load := float64(used-last) / float64(now.Sub(lastAt))
			last, lastAt = used, now
			switch p.step(load, runtime.GOMAXPROCS(0)) {
			case down:
				runtime.GOMAXPROCS(1)
				c.log.Debug("GOMAXPROCS 1: lightly loaded", "cpus_used", fmt.Sprintf("%.2f", load))
			case up:
				runtime.SetDefaultGOMAXPROCS()
				c.log.Debug("GOMAXPROCS back to Go's default", "procs", runtime.GOMAXPROCS(0), "cpus_used", fmt.Sprintf("%.2f", load))
			}
		}
	}
}

// change is what a policy step asks for.
type change int

const (
	keep change = iota
	down        // to one
	up          // back to the default
)

// policy is the Controller's state: whether it set one CPU, and for how many
// intervals in a row the load has been under downLoad.
type policy struct {
	low  bool
	calm int
}

// step takes one interval's load (CPUs used) and GOMAXPROCS as it is now.
func (p *policy) step(load float64, procs int) change {
	if p.low {
		if load >= upLoad {
			p.low, p.calm = false, 0
			return up
		}
		return keep
	}
	if procs <= 1 || load >= downLoad {
		p.calm = 0
		return keep
	}
	p.calm++
	if p.calm < calmFor {
		return keep
	}
	p.low, p.calm = true, 0
	return down
}

// cpuTime is the process's CPU time so far, user and system, every thread,
// and when it was read (not when the ticker fired: a late tick is no load).
func cpuTime() (time.Duration, time.Time, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, time.Time{}, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Now(), nil
}
