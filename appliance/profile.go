package appliance

import (
	"fmt"
	"net/http"
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
