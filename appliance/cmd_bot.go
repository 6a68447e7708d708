package appliance

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/cli"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/store"
)

// cmdBot is `thecure bot allow|deny ID`, `thecure bot log`, `thecure bot
// tickets`, `thecure bot stats`. It goes through the control socket when the appliance runs,
// else it opens the store itself.
func cmdBot(ctx context.Context, e *env, cmd string, g *cli.Bot) error {
	var file string
	switch cmd {
	case "bot allow":
		file = g.Allow.Config
	case "bot deny":
		file = g.Deny.Config
	case "bot log":
		file = g.Log.Config
	case "bot tickets":
		file = g.Tickets.Config
	case "bot stats":
		file = g.Stats.Config
	}
	l, err := loadConfig(file, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	switch cmd {
	case "bot allow", "bot deny":
		id, allowed := g.Allow.ID, true
		if cmd == "bot deny" {
			id, allowed = g.Deny.ID, false
		}
		err = viaControlOrStore(ctx, e, l,
			func(c *control.Client) error { return bot.NewClient(c).SetAccess(ctx, id, allowed) },
			func(st *store.Store) error { return bot.SetAccess(st, id, allowed) })
		if err != nil {
			return err
		}
		if allowed {
			fmt.Fprintf(e.stdout, "user %d may use the bot\n", id)
		} else {
			fmt.Fprintf(e.stdout, "user %d may not use the bot\n", id)
		}
		return nil
	case "bot log":
		var since time.Time
		if g.Log.Since != "0" {
			d, err := config.ParseDuration(g.Log.Since)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			since = time.Now().Add(-d)
		}
		var entries []bot.LogEntry
		err := viaControlOrStore(ctx, e, l,
			func(c *control.Client) (err error) {
				entries, err = bot.NewClient(c).ReadLog(ctx, g.Log.User, since)
				return err
			},
			func(st *store.Store) (err error) { entries, err = bot.ReadLog(st, g.Log.User, since); return err })
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
	case "bot tickets":
		var ts []bot.Ticket
		err := viaControlOrStore(ctx, e, l,
			func(c *control.Client) (err error) { ts, err = bot.NewClient(c).OpenTickets(ctx); return err },
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
	case "bot stats":
		return botStats(ctx, e, l, g.Stats.Since)
	}
	return fmt.Errorf("unknown bot command %q", cmd)
}
