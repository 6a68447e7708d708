package appliance

import (
	"context"
	"net"

	"thecure/appliance/bot"
)

// wireBot adds the support bot when [bot] is enabled, and always the control
// routes of `thecure bot ...` (they only touch the store).
func (a *app) wireBot() error {
	bot.ControlRoutes(a.ctl, a.store, a.log.With("svc", "bot"))
	c := a.cfg.Bot
	if !c.Enabled {
		return nil
	}
	opts := bot.Options{
		Config:  c,
		Store:   a.store,
		Log:     a.log.With("svc", "bot"),
		Health:  a.health,
		Name:    "bot",
		Metrics: a.reg,
	}
	for _, d := range a.webuiDisks() { // data_dir, media, HLS, backups: each file system
		opts.DiskPaths = append(opts.DiskPaths, d.Path)
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

// alertRelay passes admin alerts (failed backups, failed transcodes) to the
// support bot when it is on; without the bot they are only logged by whoever
// raised them.
type alertRelay struct{ bot *bot.Bot }

// Alert sends an alert to the bot's admins; it never blocks.
func (r *alertRelay) Alert(ctx context.Context, key string, args ...string) {
	if r.bot != nil {
		r.bot.Alert(ctx, key, args...)
	}
}
