package webui

import (
	"errors"
	"log/slog"
	"time"

	"thecure/appliance/logsafe"
)

// ErrUnknownUser is what Users.Authenticate's error wraps when the name is
// no account: the log then says that the user does not exist, and not what
// was typed (it may be a password typed in the wrong field).
var ErrUnknownUser = errors.New("unknown user")

// logValue makes a client's value safe for a log line (clipped, escaped).
func logValue(v string) string { return logsafe.Value(v, logsafe.Max) }

// refusalEvery is how often refused logins from one address are logged; the
// ones in between are counted and the count goes with the next line.
const refusalEvery = time.Minute

func newLoginLog(log *slog.Logger, now func() time.Time) *logsafe.Refusals {
	return logsafe.NewRefusals(log, slog.LevelWarn, refusalEvery, now)
}
