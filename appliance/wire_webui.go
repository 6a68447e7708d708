package appliance

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"thecure/appliance/audit"
	"thecure/appliance/bot"
	"thecure/appliance/ftps"
	"thecure/appliance/library"
	"thecure/appliance/live"
	"thecure/appliance/rtmp"
	"thecure/appliance/store"
	"thecure/appliance/transcode"
	"thecure/appliance/users"
	"thecure/appliance/webui"
)

// wireWebUI builds the web pages (catalogue, players, admin, login) on the
// HTTP server, and the optional HTTPS listener ([http] tls_listen) that
// serves the same routes with the appliance's certificate.
func (a *app) wireWebUI() error {
	c := a.cfg.HTTP
	var err error
	o := webui.Options{
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
		Support:    webuiSupport{a.store},
		Disks:      a.webuiDisks(),
		Version:    version,
	}
	o.MediaOrigin = mediaOrigin(a.cfg.Publish.S3.PublicURL) // players may fetch from the CDN
	if a.publish != nil {
		o.LiveURL = a.publish.LiveURL // live pages play from the CDN once the bucket holds the stream
	}
	// The pieces that are not wired leave their part of the pages out.
	if a.catalogue != nil {
		o.Catalogue = webuiCatalogue{a.catalogue}
	}
	if a.queue != nil || a.ftps != nil {
		o.Jobs = webuiJobs{q: a.queue, up: a.ftps}
	}
	if a.users != nil {
		o.Users = webuiUsers{a.users}
		m := webuiManage{u: a.users, q: a.queue, quarantine: a.cfg.Transcode.QuarantineDir}
		if m.mediaDir, err = filepath.Abs(a.cfg.Path(a.cfg.Library.MediaDir)); err != nil {
			return err
		}
		o.Manage = m
		o.Audit = webuiAudit{audit.New(a.store)}
		o.NewPassword = users.RandomPassword
	}
	if a.live != nil {
		o.Live = webuiLive{a.live}
	}
	if a.rtmp != nil {
		o.Relays = webuiRelays{a.rtmp}
	}
	if a.charts != nil {
		o.Charts = webuiCharts{a.charts}
	}
	if a.guide != nil {
		o.Channels = webuiChannels{a.guide}
	}
	ui, err := webui.New(o)
	if err != nil {
		return err
	}
	for pattern, h := range ui.Routes() {
		a.web.Handle(pattern, h)
	}
	a.web.Wrap(ui.ViewerGate) // [http] viewer_auth closes the media too
	a.web.Wrap(ui.AdminAware) // /api/library and /api/jobs show admins the details

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

// webuiCatalogue shows the VOD catalogue to the pages.
type webuiCatalogue struct{ c *library.Catalogue }

func (w webuiCatalogue) Titles(context.Context) ([]webui.Title, error) {
	items, err := w.c.List()
	out := make([]webui.Title, 0, len(items))
	for _, it := range items {
		w.c.ForViewers(&it) // played from public_url when the bucket has it
		t := webui.Title{
			ID: it.ID, Kind: it.Kind, Title: it.Title, State: it.State, HLS: it.HLS,
			Duration: it.Duration, Year: it.Year, Show: it.Show, Season: it.Season, Episode: it.Episode,
			Artist: it.Artist, Album: it.Album, Poster: it.Poster, Error: cmp.Or(it.Error, it.Missing),
			Source: it.Source, Updated: it.Updated, Track: it.Track,
		}
		for _, v := range it.Variants {
			t.Variants = append(t.Variants, webui.Variant{Name: v.Name, Height: v.Height})
		}
		out = append(out, t)
	}
	return out, err
}

// webuiJobs shows the uploads in progress and the transcode queue to the
// admin page (either may be nil).
type webuiJobs struct {
	q  *transcode.Queue
	up *ftps.Server
}

func (w webuiJobs) Jobs(context.Context) ([]webui.Job, error) {
	var out []webui.Job
	if w.up != nil {
		now := time.Now()
		for _, u := range w.up.Uploads() {
			j := webui.Job{ID: "upload:" + u.Path, Source: u.Path, State: webui.StateUploading, Bytes: uint64(u.Bytes), Updated: now}
			if secs := now.Sub(u.Started).Seconds(); secs > 0 {
				j.Rate = uint64(float64(u.Bytes) / secs)
			}
			out = append(out, j)
		}
	}
	if w.q == nil {
		return out, nil
	}
	jobs, err := w.q.Jobs()
	for _, j := range jobs {
		updated := j.Enqueued
		for _, t := range []time.Time{j.Started, j.Finished} {
			if t.After(updated) {
				updated = t
			}
		}
		out = append(out, webui.Job{ID: j.ID, Source: j.Source, State: j.State, Progress: j.Progress,
			Speed: j.Speed, ETA: j.ETA, Error: j.Error, Updated: updated})
	}
	return out, err
}

// webuiUsers checks web logins against the user database.
type webuiUsers struct{ u *users.Users }

func (w webuiUsers) Authenticate(name, password string) (webui.Account, error) {
	u, err := w.u.Authenticate(name, password)
	if err != nil {
		return webui.Account{}, unknownUser(err)
	}
	return webui.Account{Name: u.Name, Groups: u.Groups}, nil
}

// webuiLive shows the live streams to the pages.
type webuiLive struct{ h *live.Hub }

func (w webuiLive) Streams() []webui.Stream {
	ss := w.h.Streams()
	out := make([]webui.Stream, 0, len(ss))
	for _, s := range ss {
		out = append(out, webuiStream(s))
	}
	return out
}

func (w webuiLive) Watch(name string, r *http.Request) (webui.Stream, bool) {
	s, ok := w.h.Watch(name, r)
	return webuiStream(s), ok
}

func webuiStream(s live.StreamInfo) webui.Stream {
	return webui.Stream{Name: s.Name, Viewers: s.HLSViewers + s.Players,
		Width: s.Width, Height: s.Height, Bitrate: s.Bitrate, Started: s.Started}
}

// unknownUser wraps webui.ErrUnknownUser around a refused login whose name
// is no account (the log then says so instead of quoting what was typed).
func unknownUser(err error) error {
	if errors.Is(err, users.ErrUnknownUser) {
		return fmt.Errorf("%w: %w", webui.ErrUnknownUser, err)
	}
	return err
}

// webuiRelays shows the RTMP relays on /admin, their stream keys masked.
type webuiRelays struct{ srv *rtmp.Server }

func (w webuiRelays) Relays() []webui.Relay {
	rs := w.srv.Relays()
	out := make([]webui.Relay, len(rs))
	for i, r := range rs {
		out[i] = webui.Relay{Kind: r.Kind, Stream: r.Stream, Target: r.Target, State: r.State, Since: r.Since,
			LastError: r.LastError, Reconnects: r.Reconnects, Bytes: r.Bytes}
	}
	return out
}
