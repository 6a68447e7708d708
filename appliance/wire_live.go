package appliance

import (
	"context"
	"net"

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
	a.add(service{name: "rtmp", listen: []listenSpec{{"rtmp.listen", a.cfg.RTMP.Listen}},
		run: func(ctx context.Context, lns []net.Listener) error { return srv.Serve(ctx, lns[0]) }})
	return nil
}
