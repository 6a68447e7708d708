package appliance

import (
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"

	"thecure/appliance/control"
)

// Profiles of the running appliance, on the control socket only (whoever
// may use it: root and the service user), for `make bench` (.ci/bench-live
// profiles the RTMP and HLS fan-out) and for operators:
//
//	curl --unix-socket DATA_DIR/control.sock 'http://thecure/debug/pprof/profile?seconds=20' > cpu.pprof
//	go tool pprof -top cpu.pprof
//
// runtime/pprof directly, not net/http/pprof: that one registers its
// handlers on http.DefaultServeMux as a side effect.
func (a *app) profileRoutes() {
	a.ctl.Handle("GET /debug/pprof/profile", http.HandlerFunc(cpuProfile))
	a.ctl.Handle("GET /debug/pprof/heap", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
			a.log.Debug("heap profile not sent", "err", err) // the client went away
		}
	}))
}

// maxProfile bounds a CPU profile's duration.
const maxProfile = 10 * time.Minute

// cpuProfile writes a CPU profile of the next ?seconds= (default 30).
func cpuProfile(w http.ResponseWriter, r *http.Request) {
	d := 30 * time.Second
	if s := r.URL.Query().Get("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || time.Duration(n)*time.Second > maxProfile {
			control.Error(w, http.StatusBadRequest, fmt.Errorf("seconds: want 1-%d", int(maxProfile.Seconds())))
			return
		}
		d = time.Duration(n) * time.Second
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(w); err != nil {
		control.Error(w, http.StatusConflict, err) // one profile at a time
		return
	}
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
	pprof.StopCPUProfile()
}

// gcPercent is the garbage collector's target (GOGC) when the environment
// sets none: the heap may grow by half its live size between collections
// instead of doubling. Measured with .ci/bench-live (1,000 RTMP players:
// RSS 67 -> 58 MB; 100 RTMP players + 200 HLS clients: 48 -> 44 MB) at no
// measurable CPU cost to the fan-out: what it allocates is small (media is
// shared, not copied). One stream's ingest alone, whose heap is small, pays
// about 10 % more CPU (collections come twice as often). GOGC and
// GOMEMLIMIT still apply. Since live segments are files (hls.segment_dir)
// a stream's heap is small and the choice matters less: one 3 Mb/s stream
// and no viewer, max RSS with GOGC 25 / 50 / 100: 25.6-25.9 / 26.0-26.2 /
// 26.9-27.2 MB (two runs each; CPU within the noise of the shared box).
const gcPercent = 50

// tuneGC sets gcPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
