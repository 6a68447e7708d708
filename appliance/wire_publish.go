package appliance

import (
	"context"
	"net"
	"net/url"
	"time"

	"thecure/appliance/health"
	"thecure/appliance/live"
	s3pub "thecure/appliance/publish"
	"thecure/appliance/transcode"
)

// Publishing follows the transcode queue's titles and the live hub's streams.
var (
	_ transcode.Publisher = (*s3pub.Service)(nil)
	_ live.Sink           = (*s3pub.Service)(nil)
)

// wirePublish builds the [publish.s3] worker, when a bucket is set, on the
// catalogue (wireVOD calls it before making the queue that tells it of
// titles; wireLive hands it the live streams). A failing bucket degrades
// the box, never more: the box serves everything itself meanwhile.
func (a *app) wirePublish() (transcode.Publisher, error) {
	c := a.cfg.Publish.S3
	if !c.Enabled() {
		return nil, nil
	}
	svc, err := s3pub.New(a.store, a.catalogue, a.log.With("svc", "publish"), a.reg, s3pub.Options{
		Config:  c,
		Health:  func(st health.State, detail string) { a.health.Set("publish", st, detail) },
		Alerter: &a.alerts,
		// a live segment stays as long as it was in the window, at least 30 s
		LiveGrace: max(30*time.Second, time.Duration(a.cfg.HLS.SegmentCount)*a.cfg.HLS.SegmentDuration.Std()),
	})
	if err != nil {
		return nil, err
	}
	a.health.Optional("publish")
	a.publish = svc
	a.catalogue.SetRemote(svc.URL)
	a.add(service{name: "publish", run: func(ctx context.Context, _ []net.Listener) error { return svc.Run(ctx) }})
	return svc, nil
}

// mediaOrigin is the origin of public_url, for the pages' CSP ("" unset).
func mediaOrigin(publicURL string) string {
	u, err := url.Parse(publicURL)
	if publicURL == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
