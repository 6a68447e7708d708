package appliance

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strconv"

	"thecure/appliance/bot"
	"thecure/appliance/store"

	"thecure/appliance/webui"
)

// wireWebUI builds the web pages (catalogue, players, admin, login) on the
// HTTP server, and the optional HTTPS listener ([http] tls_listen) that
// serves the same routes with the appliance's certificate.
func (a *app) wireWebUI() error {
	c := a.cfg.HTTP
	ui, err := webui.New(webui.Options{
		Log:        a.log.With("svc", "webui"),
		Language:   c.Language,
		ViewerAuth: c.ViewerAuth,
		SessionTTL: c.SessionTTL.Std(),
		BanAfter:   c.LoginBanAfter,
		BanWindow:  c.LoginBanWindow.Std(),
		BanTime:    c.LoginBanTime.Std(),
		Metrics:    a.reg,
		Health:     a.health,
		Tickets:    webuiTickets{a.store},
		Disks:      a.webuiDisks(),
		Version:    version,
	})
	if err != nil {
		return err
	}
	for pattern, h := range ui.Routes() {
		a.web.Handle(pattern, h)
	}
	a.web.Wrap(ui.ViewerGate) // [http] viewer_auth closes the media too

	if c.TLSListen != "" {
		tcfg := &tls.Config{
			Certificates: []tls.Certificate{a.cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		}
		a.add(service{name: "https", listen: []listenSpec{{"http.tls_listen", c.TLSListen}},
			run: func(ctx context.Context, lns []net.Listener) error {
				return a.web.Serve(ctx, tls.NewListener(lns[0], tcfg))
			}})
	}
	return nil
}

// webuiDisks are the folders whose file systems the admin page reports.
func (a *app) webuiDisks() []webui.Disk {
	ds := []webui.Disk{{Label: "data_dir", Path: a.dataDir}}
	for _, d := range []struct{ key, path string }{
		{"library.media_dir", a.cfg.Library.MediaDir},
		{"library.hls_dir", a.cfg.Library.HLSDir},
		{"backup.dir", a.cfg.Backup.Dir},
	} {
		if d.path == "" {
			continue
		}
		p, err := filepath.Abs(a.cfg.Path(d.path))
		if err != nil {
			continue
		}
		ds = append(ds, webui.Disk{Label: d.key, Path: p})
	}
	return ds
}

// webuiTickets shows the support bot's open tickets (kept in the store, so
// they show whether the bot runs or not).
type webuiTickets struct{ st *store.Store }

func (w webuiTickets) OpenTickets(context.Context) ([]webui.Ticket, error) {
	ts, err := bot.OpenTickets(w.st)
	out := make([]webui.Ticket, 0, len(ts))
	for _, t := range ts {
		who := t.Name
		if who == "" {
			who = strconv.FormatInt(t.User, 10)
		}
		out = append(out, webui.Ticket{ID: int64(t.ID), User: who, Opened: t.Opened})
	}
	return out, err
}
