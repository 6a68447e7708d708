package appliance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"thecure/appliance/control"
)

// statusHandler answers GET /status on the control socket.
func (a *app) statusHandler(w http.ResponseWriter, _ *http.Request) {
	control.JSON(w, http.StatusOK, control.Status{
		Version: version, Commit: commit, PID: os.Getpid(), Started: a.started,
		DataDir: a.dataDir, Status: a.health.Status(), Services: a.health.Snapshot(),
	})
}

func cmdStatus(ctx context.Context, e *env, file string) error {
	l, err := loadConfig(file, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	sock := control.SocketPath(l.dataDir)
	st, err := control.NewClient(sock).Status(ctx)
	if err != nil {
		if errors.Is(err, control.ErrNotRunning) {
			return fmt.Errorf("thecure is not running on data dir %s (no answer on %s)", l.dataDir, sock)
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
	return printInitialPassword(e.stdout, l.dataDir)
}
