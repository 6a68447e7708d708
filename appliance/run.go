package appliance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"thecure/appliance/backup"
	"thecure/appliance/channels"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/dns"
	"thecure/appliance/ftps"
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/live"
	s3pub "thecure/appliance/publish"
	"thecure/appliance/rtmp"
	"thecure/appliance/sampler"
	"thecure/appliance/store"
	"thecure/appliance/tlscert"
	"thecure/appliance/transcode"
	"thecure/appliance/users"
	"thecure/appliance/web"
)

// storeLockTimeout is how long `run` waits for another process's lock on the store.
const storeLockTimeout = 500 * time.Millisecond

func cmdCheckConfig(_ context.Context, e *env, file string) error {
	l, err := loadConfig(file, needSecrets)
	if err != nil {
		return printProblems(e, err)
	}
	for _, w := range l.warnings {
		fmt.Fprintf(e.stderr, "%s: warning: %s\n", l.source, w)
	}
	fmt.Fprintf(e.stdout, "ok: %s\n", l.source)
	return nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	return newLoggerLevel(w, c, new(slog.LevelVar))
}

// newLoggerLevel is newLogger with its level in lv, which a reload may change.
func newLoggerLevel(w io.Writer, c config.Log, lv *slog.LevelVar) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // Validate checked it
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: lv}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// service is one supervised piece of the appliance. It names the TCP
// addresses it needs (config key and address; an empty address is skipped);
// build binds them all before anything runs and hands run the listeners in the
// same order (nil for a skipped one).
type service struct {
	name   string
	listen []listenSpec
	run    func(ctx context.Context, lns []net.Listener) error
}

// listenSpec is one TCP address a service needs.
type listenSpec struct{ key, addr string }

func cmdRun(ctx context.Context, e *env, file string) error {
	l, err := loadConfig(file, needSecrets)
	if err != nil {
		return printProblems(e, err)
	}
	cfg := l.cfg
	tuneGC()
	level := new(slog.LevelVar)
	log := newLoggerLevel(e.stderr, cfg.Log, level)
	log.Info("starting thecure", "version", version, "commit", commit, "config", l.source, "data_dir", cfg.DataDir)
	for _, w := range l.warnings {
		log.Warn(w)
	}
	a, err := buildApp(cfg, l.file, log)
	if err != nil {
		return err
	}
	a.reload.level = level
	defer a.close()
	return a.run(ctx)
}

// app is a built appliance: store open, listeners bound, services ready.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	dataDir  string // absolute
	store    *store.Store
	health   *health.Registry
	reg      *prometheus.Registry
	cert     tls.Certificate
	web      *web.Server
	ctl      *control.Server
	users    *users.Users
	live     *live.Hub // live streams, for the pages and the bot
	services []service
	bound    map[string][]net.Listener // service name -> its listeners
	closers  []io.Closer
	started  time.Time
	cfgFile  string // the file cfg was loaded from; "" for built-in defaults
	backup   *backup.Service
	alerts   alertRelay // admin alerts, to the support bot when it is on
	ftps     *ftps.Server
	dns      *dns.Server // [dns]; nil when off (wire_dns.go)
	rtmp     *rtmp.Server
	publish  *s3pub.Service // [publish.s3]; nil when off (wire_publish.go)

	probe  *http.Client // the watchdog's own /healthz requests (systemd.go)
	reload reloadState  // SIGHUP: the config in force and who applies it (reload.go)

	catalogue *library.Catalogue // VOD titles (wire_vod.go)
	queue     *transcode.Queue   // VOD jobs; the FTPS ingest feeds it
	charts    *sampler.Sampler   // the last day of /metrics (wire_charts.go)
	guide     channels.Timeline  // the channels' guide; nil: no channels (wire_guide.go)
	channels  *channels.Service  // playout channels; nil without [[channels]] (wire_channels.go)
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i].Close()
	}
}

// add registers a service to run; see service.
func (a *app) add(s service) { a.services = append(a.services, s) }

// build opens the store, makes the certificate, builds every service and
// binds every listener. Nothing runs yet; on error everything opened is closed.
func build(cfg *config.Config, log *slog.Logger) (*app, error) { return buildApp(cfg, "", log) }

// buildApp is build for a configuration loaded from cfgFile ("" for built-in
// defaults): backups include that file.
func buildApp(cfg *config.Config, cfgFile string, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, cfgFile: cfgFile, log: log, health: health.NewRegistry(), started: time.Now(), bound: map[string][]net.Listener{},
		probe: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.dataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(a.dataDir, storeLockTimeout)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("another thecure is using data dir %s", a.dataDir)
	}
	if err != nil {
		return nil, err
	}
	a.store = st
	a.closers = append(a.closers, st)

	cert, created, err := tlscert.Load(cfg.Path(cfg.FTP.TLSCert), cfg.Path(cfg.FTP.TLSKey), a.dataDir, []string{cfg.PublicHost})
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created a self-signed TLS certificate", "cert", filepath.Join(a.dataDir, tlscert.SelfSignedCert))
	}
	a.cert = cert

	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "thecure_build_info",
			Help:        "Build information; always 1.",
			ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	a.web = web.New(log.With("svc", "http"), a.health, a.reg, a.reg, cfg.ShutdownTimeout.Std())
	a.ctl = control.New(log.With("svc", "control"))
	a.ctl.Handle("GET /status", http.HandlerFunc(a.statusHandler))
	a.profileRoutes()

	// Each subsystem adds its routes and services here (wire_*.go).
	for _, wire := range []func() error{
		a.wireUsers,
		a.wireVOD,
		a.wireFTPS, // after wireVOD: its queue is the ingest
		a.wireBackup,
		a.wireLive,
		a.wireChannels, // after wireVOD and wireLive: it plays the one out to the other
		a.wireDNS,
		a.wireBot,    // after the subsystems whose state it reports
		a.wireCharts, // after every subsystem's metrics
		// the channels' guide over the playout (a nil *channels.Service: none)
		func() error { return a.wireGuide(a.channels) },
		a.wireWebUI, // last: it shows the others
	} {
		if err := wire(); err != nil {
			return nil, err
		}
	}

	// The HTTP server and the control socket come last: every route is in.
	a.add(service{name: "http", listen: []listenSpec{{"http.listen", cfg.HTTP.Listen}},
		run: func(ctx context.Context, lns []net.Listener) error { return a.web.Serve(ctx, lns[0]) }})
	if err := a.bind(); err != nil {
		return nil, err
	}
	ctlLn, err := control.Listen(control.SocketPath(a.dataDir))
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, ctlLn)
	a.add(service{name: "control", run: func(ctx context.Context, _ []net.Listener) error { return a.ctl.Serve(ctx, ctlLn) }})
	a.bound["control"] = []net.Listener{ctlLn}
	return a, nil
}

// bind binds every TCP address of every service not bound yet, before any of
// them runs: a port clash fails here with the address and its config key.
func (a *app) bind() error {
	for _, s := range a.services {
		if _, done := a.bound[s.name]; done {
			continue
		}
		lns := make([]net.Listener, len(s.listen))
		for i, l := range s.listen {
			if l.addr == "" {
				continue
			}
			ln, err := net.Listen("tcp", l.addr)
			if err != nil {
				var se *os.SyscallError
				if errors.As(err, &se) {
					err = se.Err
				}
				return fmt.Errorf("cannot listen on %s (%s): %w", l.addr, l.key, err)
			}
			lns[i] = ln
			a.closers = append(a.closers, ln)
			a.log.Info("listening", "svc", s.name, "key", l.key, "addr", ln.Addr().String())
		}
		a.bound[s.name] = lns
	}
	return nil
}

// detail is what status shows for a service: its listen addresses.
func (a *app) detail(name string) string {
	var addrs []string
	for _, ln := range a.bound[name] {
		if ln != nil {
			addrs = append(addrs, ln.Addr().String())
		}
	}
	return strings.Join(addrs, " ")
}
