package appliance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/control"
)

// wireBot adds the support bot when [bot] is enabled, and always the control
// routes of `thecure bot ...` (they only touch the store).
func (a *app) wireBot() error {
	a.ctl.Handle("POST /bot/access", http.HandlerFunc(a.botAccess))
	a.ctl.Handle("GET /bot/log", http.HandlerFunc(a.botLog))
	a.ctl.Handle("GET /bot/tickets", http.HandlerFunc(a.botTickets))
	c := a.cfg.Bot
	if !c.Enabled {
		return nil
	}
	opts := bot.Options{
		Config:   c,
		Store:    a.store,
		Log:      a.log.With("svc", "bot"),
		Health:   a.health,
		Name:     "bot",
		Metrics:  a.reg,
		DiskPath: a.dataDir,
	}
	if a.backup != nil {
		opts.Backups = a.backup
	}
	if a.live != nil { // wireLive runs first
		opts.Streams = botLive{a.live}
	}
	if a.queue != nil { // wireVOD runs first
		opts.Jobs, opts.Catalogue = a.queue, botTitles{a.catalogue}
	}
	b, err := bot.New(opts)
	if err != nil {
		return err
	}
	// It depends on the Bot API, outside the box: its trouble degrades the
	// box, which streams on.
	a.health.Optional("bot")
	a.alerts.bot = b
	if c.WebhookURL != "" {
		a.web.Handle("POST "+bot.WebhookPath(c.WebhookURL), b)
	}
	a.add(service{name: "bot", run: func(ctx context.Context, _ []net.Listener) error { return b.Run(ctx) }})
	return nil
}

// botAccessRequest is the body of POST /bot/access.
type botAccessRequest struct {
	User    int64 `json:"user"`
	Allowed bool  `json:"allowed"`
}

func (a *app) botAccess(w http.ResponseWriter, r *http.Request) {
	var req botAccessRequest
	if err := control.DecodeJSON(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, err)
		return
	}
	if err := bot.SetAccess(a.store, req.User, req.Allowed); err != nil {
		control.Error(w, http.StatusBadRequest, err)
		return
	}
	a.log.Info("bot access changed", "svc", "bot", "user", req.User, "allowed", req.Allowed, "by", "control socket")
	control.JSON(w, http.StatusOK, req)
}

func (a *app) botLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var user int64
	var since time.Time
	if s := q.Get("user"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			control.Error(w, http.StatusBadRequest, fmt.Errorf("user: %w", err))
			return
		}
		user = n
	}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			control.Error(w, http.StatusBadRequest, fmt.Errorf("since: %w", err))
			return
		}
		since = t
	}
	entries, err := bot.ReadLog(a.store, user, since)
	if err != nil {
		control.Error(w, http.StatusInternalServerError, err)
		return
	}
	control.JSON(w, http.StatusOK, entries)
}

func (a *app) botTickets(w http.ResponseWriter, _ *http.Request) {
	ts, err := bot.OpenTickets(a.store)
	if err != nil {
		control.Error(w, http.StatusInternalServerError, err)
		return
	}
	control.JSON(w, http.StatusOK, ts)
}

// alertRelay passes admin alerts (failed backups, failed transcodes) to the
// support bot when it is on; without the bot they are only logged by whoever
// raised them.
type alertRelay struct{ bot *bot.Bot }

// Alert sends text to the bot's admins; it never blocks.
func (r *alertRelay) Alert(ctx context.Context, text string) {
	if r.bot != nil {
		r.bot.Alert(ctx, text)
	}
}
