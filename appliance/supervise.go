package appliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sync/errgroup"

	"thecure/appliance/exepages"
	"thecure/appliance/health"
	"thecure/appliance/procs"
)

// stopGrace is added to shutdown_timeout before a service that has not
// returned is given up on.
const stopGrace = 2 * time.Second

// run starts every service under one errgroup. It returns nil after ctx is
// cancelled and every service has stopped, or the first service's error after
// the others have stopped. A service returning early without error is an error
// too: nothing in the appliance is meant to end by itself.
func (a *app) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	// SIGHUP reloads the config from now on (before READY=1: systemd may
	// send it as soon as it has that).
	stopReload := a.handleReloads(gctx)
	defer stopReload()
	// Listeners are bound already: a service is up (accepting) as it starts.
	for _, s := range a.services {
		a.health.Set(s.name, health.Up, a.detail(s.name))
	}
	for _, s := range a.services {
		g.Go(func() error {
			err := s.run(gctx, a.bound[s.name])
			switch {
			case err != nil:
				a.health.Set(s.name, health.Failed, err.Error())
				a.log.Error("service failed", "svc", s.name, "err", err)
				return fmt.Errorf("%s: %w", s.name, err)
			case gctx.Err() == nil:
				a.health.Set(s.name, health.Failed, "stopped unexpectedly")
				return fmt.Errorf("%s: stopped unexpectedly", s.name)
			}
			a.health.Set(s.name, health.Stopped, "")
			return nil
		})
	}
	a.log.Info("thecure is running", "services", len(a.services), "took", time.Since(a.started).Round(time.Millisecond))
	// Every listener was bound before any service started: systemd may
	// start what comes after thecure (systemctl start returns now).
	a.notify(daemon.SdNotifyReady)
	// Start-up's code and data need not stay mapped (see exepages): about
	// 5 MB of RSS.
	if n, err := exepages.Release(); err != nil {
		a.log.Warn("cannot release the start-up pages", "err", err)
	} else {
		a.log.Debug("start-up pages released", "bytes", n)
	}
	// Go code on one CPU while the load is light, every CPU when it is not
	// (see procs): 10-30 % less CPU for live streams and viewers.
	g.Go(func() error { return procs.New(a.log).Run(gctx) })
	sdDone := make(chan struct{})
	go func() { defer close(sdDone); a.superviseSystemd(gctx) }()
	defer func() { <-sdDone }()

	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-gctx.Done():
	}
	a.notify(daemon.SdNotifyStopping)
	if ctx.Err() != nil {
		a.log.Info("stopping", "timeout", a.cfg.ShutdownTimeout.Std())
	} else {
		a.log.Error("a service failed; stopping the others")
	}
	for _, s := range a.health.Snapshot() {
		if s.State == health.Up {
			a.health.Set(s.Name, health.Stopping, s.Detail)
		}
	}
	timer := time.NewTimer(a.cfg.ShutdownTimeout.Std() + stopGrace)
	defer timer.Stop()
	select {
	case err := <-done:
		if err == nil {
			a.log.Info("stopped")
		}
		return err
	case <-timer.C:
		var stuck []string
		for _, s := range a.health.Snapshot() {
			if s.State == health.Stopping {
				stuck = append(stuck, s.Name)
			}
		}
		return errors.New("services did not stop within shutdown_timeout: " + strings.Join(stuck, ", "))
	}
}
