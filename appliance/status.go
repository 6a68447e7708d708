package appliance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"thecure/appliance/control"
)

func cmdStatus(ctx context.Context, e *env, fset *flag.FlagSet, _ []string) error {
	l, err := loadConfig(fset, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	dataDir := l.dataDir
	var st statusReport
	sock := control.SocketPath(dataDir)
	if err := control.NewClient(sock).Do(ctx, "GET", "/status", nil, &st); err != nil {
		if errors.Is(err, control.ErrNotRunning) {
			return fmt.Errorf("thecure is not running on data dir %s (no answer on %s)", dataDir, sock)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "thecure %s (commit %s), pid %d, up %s, data dir %s, status %s\n\n",
		st.Version, st.Commit, st.PID, time.Since(st.Started).Round(time.Second), st.DataDir, st.Status)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tSINCE\tDETAIL")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.State, s.Since.Local().Format(time.DateTime), s.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printInitialPassword(e.stdout, dataDir)
}
