package appliance

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

	"thecure/appliance/bot"
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
		a.add(service{name: "rtmp-pull-" + p.Name(), run: func(ctx context.Context, _ []net.Listener) error { return p.Run(ctx) }})
	}
	return nil
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
