package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"

	"thecure/appliance/bot"
	"thecure/appliance/health"
	"thecure/appliance/live"
	"thecure/appliance/rtmp"
	"thecure/appliance/webui"
)

var _ rtmp.Hub = (*live.Hub)(nil)

// wireLive builds the live hub (HLS at /live/NAME/, /api/live) and the RTMP
// server that feeds it.
func (a *app) wireLive() error {
	hub := live.NewHub(a.cfg.HLS, a.log.With("svc", "live"), a.reg)
	a.live = hub
	if a.cfg.HLS.SegmentDir != "" {
		dir, err := filepath.Abs(a.cfg.Path(a.cfg.HLS.SegmentDir))
		if err != nil {
			return fmt.Errorf("hls.segment_dir: %w", err)
		}
		if err := hub.SetSegmentDir(dir); err != nil {
			return fmt.Errorf("hls.segment_dir: %w", err)
		}
	}
	if a.publish != nil && a.cfg.Publish.S3.Live {
		hub.SetSink(a.publish) // live streams into the [publish.s3] bucket too
	}
	srv, err := rtmp.New(a.cfg.RTMP, a.log.With("svc", "rtmp"), hub, a.reg)
	if err != nil {
		return err
	}
	a.rtmp = srv
	for pattern, h := range hub.Routes() {
		if pattern == "GET /api/live" {
			h = liveAPI(hub, srv)
		}
		a.web.Handle(pattern, h)
	}
	a.add(service{name: "rtmp", listen: []listenSpec{{"rtmp.listen", a.cfg.RTMP.Listen}},
		run: func(ctx context.Context, lns []net.Listener) error { return srv.Serve(ctx, lns[0]) }})
	for _, p := range srv.Pullers() {
		name := "rtmp-pull-" + p.Name()
		// The origin is outside the box: while it is away the pull is down
		// (retrying) and the box only degraded.
		a.health.Optional(name)
		setHealth := func(rs rtmp.RelayStatus) {
			st, detail := pullHealth(rs)
			a.health.Set(name, st, detail)
		}
		p.OnChange(setHealth)
		a.add(service{name: name, run: func(ctx context.Context, _ []net.Listener) error {
			setHealth(p.Status())
			return p.Run(ctx)
		}})
	}
	return nil
}

// pullHealth is a pull relay's health: up while media comes from the
// origin, else down with why (connecting, or retrying after what error).
func pullHealth(rs rtmp.RelayStatus) (health.State, string) {
	switch rs.State {
	case rtmp.RelayUp:
		return health.Up, "relaying from " + rs.Target
	case rtmp.RelayRetrying:
		return health.Down, "retrying: " + rs.LastError
	}
	return health.Down, "connecting: " + rs.Target
}

// liveAPI is /api/live: the hub's list of streams, and for admins the
// state of the RTMP relays too (their URLs may hold stream keys).
func liveAPI(hub *live.Hub, srv *rtmp.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !webui.IsAdmin(r) {
			hub.ServeAPI(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		relays := srv.Relays()
		if relays == nil {
			relays = []rtmp.RelayStatus{}
		}
		// an error here is a client gone away: nobody to tell
		_ = json.NewEncoder(w).Encode(struct {
			Streams []live.StreamInfo  `json:"streams"`
			Relays  []rtmp.RelayStatus `json:"relays"`
		}{hub.Streams(), relays})
	})
}

// botLive shows the live streams to the support bot.
type botLive struct{ hub *live.Hub }

var _ bot.LiveStreams = botLive{}

func (b botLive) Streams() []bot.Stream {
	ss := b.hub.Streams()
	out := make([]bot.Stream, len(ss))
	for i, s := range ss {
		out[i] = bot.Stream{Name: s.Name, Viewers: s.Players + s.HLSViewers}
	}
	return out
}
