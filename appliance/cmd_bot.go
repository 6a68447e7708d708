package appliance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/store"
)

const botUsage = "allow ID | deny ID | log [-user ID] [-since DURATION] | tickets | stats [-since DURATION]"

// botCommands is the part of the help that lists the subcommands.
const botCommands = `commands:
  allow ID                           let Telegram user ID use the bot
  deny ID                            take that back
  log [-user ID] [-since DURATION]   the conversation log (default: the last 24h; -since 0: all)
  tickets                            the open support tickets
  stats [-since DURATION]            support statistics (default: the last 30d)

While thecure runs, these go through its control socket; when it is stopped,
straight to the database.
`

// cmdBot manages the support bot: `thecure bot allow|deny ID`, `thecure bot
// log`, `thecure bot tickets`. It goes through the control socket when the
// appliance runs, else it opens the store itself.
func cmdBot(ctx context.Context, e *env, fset *flag.FlagSet, args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "usage: thecure bot %s\n", botUsage)
		return exitError{code: 2}
	}
	l, err := loadConfig(fset, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	dataDir := l.dataDir
	sub, rest := args[0], args[1:]
	switch sub {
	case "allow", "deny":
		if len(rest) != 1 {
			return botUsageErr(e, "thecure bot "+sub+" ID")
		}
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%q is not a Telegram user id", rest[0])
		}
		req := botAccessRequest{User: id, Allowed: sub == "allow"}
		err = viaControlOrStore(ctx, dataDir,
			func(c *control.Client) error { return c.Do(ctx, "POST", "/bot/access", req, nil) },
			func(st *store.Store) error { return bot.SetAccess(st, id, req.Allowed) })
		if err != nil {
			return err
		}
		if req.Allowed {
			fmt.Fprintf(e.stdout, "user %d may use the bot\n", id)
		} else {
			fmt.Fprintf(e.stdout, "user %d may not use the bot\n", id)
		}
		return nil
	case "log":
		fs := flag.NewFlagSet("thecure bot log", flag.ContinueOnError)
		fs.SetOutput(e.stderr)
		if slicesContainsHelp(rest) {
			fs.SetOutput(e.stdout)
		}
		user := fs.Int64("user", 0, "only this Telegram user `ID`")
		sinceStr := fs.String("since", "24h", "only entries newer than this `DURATION` (\"90m\", \"24h\", \"7d\"); \"0\" for all")
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return exitError{code: 2}
		}
		var since time.Time
		if *sinceStr != "0" {
			d, err := config.ParseDuration(*sinceStr)
			if err != nil {
				return fmt.Errorf("-since: %w", err)
			}
			since = time.Now().Add(-d)
		}
		var entries []bot.LogEntry
		q := url.Values{}
		if *user != 0 {
			q.Set("user", strconv.FormatInt(*user, 10))
		}
		if !since.IsZero() {
			q.Set("since", since.UTC().Format(time.RFC3339Nano))
		}
		err := viaControlOrStore(ctx, dataDir,
			func(c *control.Client) error { return c.Do(ctx, "GET", "/bot/log?"+q.Encode(), nil, &entries) },
			func(st *store.Store) (err error) { entries, err = bot.ReadLog(st, *user, since); return err })
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tUSER\tCHAT\tDIR\tTEXT")
		for _, en := range entries {
			text := strings.ReplaceAll(en.Text, "\n", " ⏎ ")
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", en.Time.Local().Format(time.DateTime), en.User, en.Chat, en.Dir, text)
		}
		return tw.Flush()
	case "stats":
		return botStats(ctx, e, dataDir, rest)
	case "tickets":
		var ts []bot.Ticket
		err := viaControlOrStore(ctx, dataDir,
			func(c *control.Client) error { return c.Do(ctx, "GET", "/bot/tickets", nil, &ts) },
			func(st *store.Store) (err error) { ts, err = bot.OpenTickets(st); return err })
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TICKET\tUSER\tNAME\tOPENED")
		for _, t := range ts {
			fmt.Fprintf(tw, "#%d\t%d\t%s\t%s\n", t.ID, t.User, t.Name, t.Opened.Local().Format(time.DateTime))
		}
		return tw.Flush()
	}
	return botUsageErr(e, "thecure bot "+botUsage)
}

func botUsageErr(e *env, usage string) error {
	fmt.Fprintf(e.stderr, "usage: %s\n", usage)
	return exitError{code: 2}
}
