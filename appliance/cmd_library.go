package appliance

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"text/tabwriter"

	"thecure/appliance/control"
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/store"
	"thecure/appliance/transcode"
)

const libraryUsage = "list [STATE] | rm ID|SOURCE"

// libraryCommands is the part of the help that lists the subcommands.
const libraryCommands = `commands:
  list [STATE]     every title (or those in STATE: ready, failed, missing, ...), with
                   what a failed or missing one lacks and how to bring it back
  rm ID|SOURCE     remove a title, whatever its state: its record, its HLS and its
                   files (the source, or where a failed one was quarantined)

While thecure runs, these go through its control socket; when it is stopped,
straight to the database.
`

// cmdLibrary is `thecure library list|rm`: thin calls to the catalogue and
// the transcode queue, through the control socket or on the store.
func cmdLibrary(ctx context.Context, e *env, fset *flag.FlagSet, args []string) error {
	l, err := loadConfig(fset, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	queueOn := func(st *store.Store) *transcode.Queue {
		cat := library.New(st, absPath(l.cfg.Path(l.cfg.Library.HLSDir)))
		return transcode.New(st, cat, slog.New(slog.DiscardHandler), health.NewRegistry(), nil, transcode.Options{
			MediaDir: absPath(l.cfg.Path(l.cfg.Library.MediaDir)), Folders: l.cfg.FTP.Folders, Transcode: l.cfg.Transcode,
		})
	}
	switch {
	case len(args) >= 1 && len(args) <= 2 && args[0] == "list":
		var items []library.Item
		err := viaControlOrStore(ctx, l.dataDir,
			func(c *control.Client) error { return c.Do(ctx, "GET", "/library/titles", nil, &items) },
			func(st *store.Store) (err error) { items, err = library.New(st, "").List(); return err })
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tSOURCE\tTITLE\tNOTE")
		for _, it := range items {
			if len(args) == 2 && it.State != args[1] {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.ID, it.State, it.Source, it.Title, cmp.Or(it.Missing, it.Error))
		}
		return tw.Flush()
	case len(args) == 2 && args[0] == "rm":
		var it library.Item
		err := viaControlOrStore(ctx, l.dataDir,
			func(c *control.Client) error {
				return c.Do(ctx, "POST", "/library/remove", libraryRemoveRequest{Title: args[1]}, &it)
			},
			func(st *store.Store) (err error) { it, err = queueOn(st).RemoveTitle(ctx, args[1]); return err })
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed %s (%s, %s): its record, its HLS and %s\n", it.ID, it.Title, it.State, filepath.ToSlash(cmp.Or(it.Quarantined, it.Source)))
		return nil
	}
	fmt.Fprintf(e.stderr, "usage: thecure library %s\n", libraryUsage)
	return exitError{code: 2}
}
