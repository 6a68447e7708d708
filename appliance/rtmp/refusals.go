package rtmp

import (
	"log/slog"
	"net/netip"
	"time"

	"thecure/appliance/logsafe"
)

// clip makes a value chosen by a client (stream or app name, error text
// that may quote one) safe for a log line: clipped and escaped.
func clip(s string) string { return logsafe.Value(s, logsafe.Max) }

// refusalEvery is how often a refusal from one address is logged; the ones
// in between are counted and reported with the next line or by the sweep.
const refusalEvery = time.Minute

func newRefusals(log *slog.Logger) *logsafe.Refusals {
	return logsafe.NewRefusals(log, slog.LevelWarn, refusalEvery, time.Now)
}

func remoteName(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}
