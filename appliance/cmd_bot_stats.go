package appliance

import (
	"context"
	"fmt"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/store"
)

// botStats is `thecure bot stats [--since DURATION]`: the support figures of
// the conversations started since then (bot.ComputeStats, printed by
// Stats.WriteText), through the control socket or straight from the store.
func botStats(ctx context.Context, e *env, l *loaded, sinceStr string) error {
	d, err := config.ParseDuration(sinceStr)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if d <= 0 {
		return fmt.Errorf("--since: %q is not a positive duration", sinceStr)
	}
	now := time.Now()
	since := now.Add(-d)
	var s bot.Stats
	err = viaControlOrStore(ctx, e, l,
		func(c *control.Client) (err error) { s, err = bot.NewClient(c).Stats(ctx, since, now); return err },
		func(st *store.Store) (err error) { s, err = bot.ComputeStats(st, since, now, now); return err })
	if err != nil {
		return err
	}
	return s.WriteText(e.stdout)
}
