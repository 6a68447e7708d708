package appliance

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"

	"thecure/appliance/channels"
	"thecure/appliance/rtmp"
	"thecure/appliance/transcode"
)

// The guide reads the playout's timeline through this contract; the
// transcode queue makes the renditions titles lack.
var (
	_ channels.Timeline   = (*channels.Service)(nil)
	_ channels.Normaliser = (*transcode.Queue)(nil)
)

// wireChannels builds the playout channels ([[channels]]): each is fed to
// the RTMP server as a local stream (RTMP players, live HLS and pushes as
// for a published one), and its name is refused to publishers. After
// wireVOD (the catalogue) and wireLive (the RTMP server).
func (a *app) wireChannels() error {
	if len(a.cfg.Channels) == 0 {
		return nil
	}
	svc := channels.New(a.store, a.catalogue, rtmpOutput{a.rtmp}, a.log.With("svc", "channels"), a.health, channels.Options{
		Channels:   a.cfg.Channels,
		Dir:        filepath.Join(a.dataDir, "channels"),
		FFmpeg:     a.cfg.Transcode.FFmpeg,
		Alerter:    &a.alerts,
		Normaliser: a.queue, // titles lacking the profile's rendition get it made once, ahead of air time
	})
	a.channels = svc
	a.rtmp.Reserve(svc.Names()...)
	a.add(service{name: "channels", run: func(ctx context.Context, _ []net.Listener) error { return svc.Run(ctx) }})
	return nil
}

// rtmpOutput opens the channels' feeds on the RTMP server.
type rtmpOutput struct{ srv *rtmp.Server }

func (o rtmpOutput) OpenFeed(name string, log *slog.Logger) (channels.Feed, error) {
	return o.srv.OpenFeed(name, log)
}
