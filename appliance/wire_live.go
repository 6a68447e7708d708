package appliance

import (
	"context"
	"net"

	"thecure/appliance/bot"
	"thecure/appliance/live"
	"thecure/appliance/rtmp"
)

var _ rtmp.Hub = (*live.Hub)(nil)

// wireLive builds the live hub (HLS at /live/NAME/, /api/live) and the RTMP
// server that feeds it.
func (a *app) wireLive() error {
	hub := live.NewHub(a.cfg.HLS, a.log.With("svc", "live"), a.reg)
	a.live = hub
	for pattern, h := range hub.Routes() {
		a.web.Handle(pattern, h)
	}
	srv, err := rtmp.New(a.cfg.RTMP, a.log.With("svc", "rtmp"), hub, a.reg)
	if err != nil {
		return err
	}
	a.rtmp = srv
	a.add(service{name: "rtmp", listen: []listenSpec{{"rtmp.listen", a.cfg.RTMP.Listen}},
		run: func(ctx context.Context, lns []net.Listener) error { return srv.Serve(ctx, lns[0]) }})
	return nil
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
