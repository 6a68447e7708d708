package appliance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/health"
	"thecure/appliance/store"
	"thecure/appliance/tlscert"
	"thecure/appliance/web"
)

// storeLockTimeout is how long `run` waits for another process's lock on the store.
const storeLockTimeout = 500 * time.Millisecond

func cmdCheckConfig(_ context.Context, e *env, fset *flag.FlagSet, _ []string) error {
	l, err := loadConfig(fset)
	if err != nil {
		return printProblems(e, err)
	}
	for _, w := range l.warnings {
		fmt.Fprintf(e.stderr, "%s: warning: %s\n", l.source, w)
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// service is one supervised piece of the appliance.
type service struct {
	name   string
	detail string // shown in status: the listen address
	run    func(ctx context.Context) error
}

// listener is a TCP address a service needs, bound before anything starts.
type listener struct {
	key, addr string
	ln        net.Listener
}

func cmdRun(ctx context.Context, e *env, fset *flag.FlagSet, _ []string) error {
	l, err := loadConfig(fset)
	if err != nil {
		return printProblems(e, err)
	}
	cfg := l.cfg
	log := newLogger(e.stderr, cfg.Log)
	log.Info("starting thecure", "version", version, "commit", commit, "config", l.source, "data_dir", cfg.DataDir)
	for _, w := range l.warnings {
		log.Warn(w)
	}
	a, err := build(cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx)
}

// app is a built appliance: store open, listeners bound, services ready.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	store    *store.Store
	health   *health.Registry
	services []service
	closers  []io.Closer
	started  time.Time
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i].Close()
	}
}

// build opens the store, makes the certificate, builds every service and
// binds every listener. Nothing runs yet; on error everything opened is closed.
func build(cfg *config.Config, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, health: health.NewRegistry(), started: time.Now()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(dataDir, storeLockTimeout)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("another thecure is using data dir %s", dataDir)
	}
	if err != nil {
		return nil, err
	}
	a.store = st
	a.closers = append(a.closers, st)

	if _, created, err := tlscert.Load("", "", dataDir, []string{cfg.PublicHost}); err != nil {
		return nil, err
	} else if created {
		log.Info("created a self-signed TLS certificate", "cert", filepath.Join(dataDir, tlscert.SelfSignedCert))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "thecure_build_info",
			Help:        "Build information; always 1.",
			ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)

	// Bind every listener first: a port clash fails before anything starts.
	lns := []*listener{{key: "http.listen", addr: cfg.HTTP.Listen}}
	for _, l := range lns {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return nil, fmt.Errorf("cannot listen on %s (%s): %w", l.addr, l.key, errors.Unwrap(errors.Unwrap(err)))
		}
		l.ln = ln
		a.closers = append(a.closers, ln)
	}
	ctlPath := control.SocketPath(dataDir)
	ctlLn, err := control.Listen(ctlPath)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, ctlLn)

	httpLn := lns[0].ln
	w := web.New(log.With("svc", "http"), a.health, reg, reg, cfg.ShutdownTimeout.Std())
	ctl := control.New(log.With("svc", "control"))
	ctl.Handle("GET /status", http.HandlerFunc(a.statusHandler(dataDir)))

	a.services = append(a.services,
		service{name: "http", detail: httpLn.Addr().String(), run: func(ctx context.Context) error { return w.Serve(ctx, httpLn) }},
		service{name: "control", detail: ctlPath, run: func(ctx context.Context) error { return ctl.Serve(ctx, ctlLn) }},
	)
	return a, nil
}

// statusReport is what GET /status on the control socket answers.
type statusReport struct {
	Version  string           `json:"version"`
	Commit   string           `json:"commit"`
	PID      int              `json:"pid"`
	Started  time.Time        `json:"started"`
	DataDir  string           `json:"data_dir"`
	Services []health.Service `json:"services"`
}

func (a *app) statusHandler(dataDir string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		control.JSON(w, http.StatusOK, statusReport{
			Version: version, Commit: commit, PID: os.Getpid(), Started: a.started,
			DataDir: dataDir, Services: a.health.Snapshot(),
		})
	}
}
