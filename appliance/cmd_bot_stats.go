package appliance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/store"
)

// botStats is `thecure bot stats [-since DURATION]`: the support figures of
// the conversations started since then (bot.ComputeStats, printed by
// Stats.WriteText), through the control socket or straight from the store.
func botStats(ctx context.Context, e *env, dataDir string, args []string) error {
	fs := flag.NewFlagSet("thecure bot stats", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if slicesContainsHelp(args) {
		fs.SetOutput(e.stdout)
	}
	sinceStr := fs.String("since", "30d", "the conversations started in the last `DURATION` (\"24h\", \"7d\")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return botUsageErr(e, "thecure bot stats [-since DURATION]")
	}
	d, err := config.ParseDuration(*sinceStr)
	if err != nil || d <= 0 {
		return fmt.Errorf("-since: %q is not a positive duration", *sinceStr)
	}
	now := time.Now()
	since := now.Add(-d)
	var s bot.Stats
	q := url.Values{"since": {since.UTC().Format(time.RFC3339Nano)}, "until": {now.UTC().Format(time.RFC3339Nano)}}
	err = viaControlOrStore(ctx, dataDir,
		func(c *control.Client) error { return c.Do(ctx, "GET", "/bot/stats?"+q.Encode(), nil, &s) },
		func(st *store.Store) (err error) { s, err = bot.ComputeStats(st, since, now, now); return err })
	if err != nil {
		return err
	}
	return s.WriteText(e.stdout)
}

// botStatsHandler is GET /bot/stats?since=RFC3339&until=RFC3339 on the
// control socket.
func (a *app) botStatsHandler(w http.ResponseWriter, r *http.Request) {
	since, err1 := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
	until, err2 := time.Parse(time.RFC3339Nano, r.URL.Query().Get("until"))
	if err := errors.Join(err1, err2); err != nil {
		control.Error(w, http.StatusBadRequest, fmt.Errorf("since, until: %w", err))
		return
	}
	s, err := bot.ComputeStats(a.store, since, until, time.Now())
	if err != nil {
		control.Error(w, http.StatusInternalServerError, err)
		return
	}
	control.JSON(w, http.StatusOK, s)
}
