package appliance

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"thecure/appliance/cli"
	"thecure/appliance/control"
	"thecure/appliance/health"
	"thecure/appliance/library"
	"thecure/appliance/store"
	"thecure/appliance/transcode"
)

// cmdLibrary is `thecure library list|rm`: thin calls to the catalogue and
// the transcode queue, through the control socket or on the store.
func cmdLibrary(ctx context.Context, e *env, cmd string, g *cli.Library) error {
	file := g.List.Config
	if cmd == "library rm" {
		file = g.Rm.Config
	}
	states := []string{library.StateQueued, library.StateProcessing, library.StateReady, library.StateFailed, library.StateMissing}
	if st := g.List.State; cmd == "library list" && st != "" && !slices.Contains(states, st) {
		return fmt.Errorf("no state %q: one of %s", st, strings.Join(states, ", "))
	}
	l, err := loadConfig(file, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	queueOn := func(st *store.Store) *transcode.Queue {
		cat := library.New(st, absPath(l.cfg.Path(l.cfg.Library.HLSDir)))
		return transcode.New(st, cat, slog.New(slog.DiscardHandler), health.NewRegistry(), nil, transcode.Options{
			MediaDir: absPath(l.cfg.Path(l.cfg.Library.MediaDir)), Folders: l.cfg.FTP.Folders, Transcode: l.cfg.Transcode,
		})
	}
	switch cmd {
	case "library list":
		var items []library.Item
		err := viaControlOrStore(ctx, e, l,
			func(c *control.Client) error { return c.Do(ctx, "GET", "/library/titles", nil, &items) },
			func(st *store.Store) (err error) { items, err = library.New(st, "").List(); return err })
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tSOURCE\tTITLE\tNOTE")
		for _, it := range items {
			if g.List.State != "" && it.State != g.List.State {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.ID, it.State, it.Source, it.Title, cmp.Or(it.Missing, it.Error))
		}
		return tw.Flush()
	case "library rm":
		ref := g.Rm.Title
		var it library.Item
		err := viaControlOrStore(ctx, e, l,
			func(c *control.Client) error {
				return c.Do(ctx, "POST", "/library/remove", libraryRemoveRequest{Title: ref}, &it)
			},
			func(st *store.Store) (err error) { it, err = queueOn(st).RemoveTitle(ctx, ref); return err })
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed %s (%s, %s): its record, its HLS and %s\n", it.ID, it.Title, it.State, filepath.ToSlash(cmp.Or(it.Quarantined, it.Source)))
		return nil
	}
	return fmt.Errorf("unknown library command %q", cmd)
}
