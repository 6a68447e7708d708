package appliance

import (
	"time"

	"thecure/appliance/channels"
	"thecure/appliance/webui"
)

// wireGuide serves the channels' guide from tl: /api/channels,
// /channels.m3u and /epg.xml (behind [http] viewer_auth like the other
// viewer content), and the catalogue page's channels with now and next.
// A nil tl (or a nil *channels.Service: no [[channels]]) is a box with no
// channel: the guide answers empty.
func (a *app) wireGuide(tl channels.Timeline) error {
	tl = channels.Configured(tl)
	a.guide = tl
	for pattern, h := range channels.GuideRoutes(tl, channels.GuideOptions{PublicHost: a.cfg.PublicHost}) {
		a.web.Handle(pattern, h)
	}
	return nil
}

// webuiChannels shows the channels with now and next to the pages.
type webuiChannels struct{ tl channels.Timeline }

var _ webui.Channels = webuiChannels{}

func (w webuiChannels) Channels() []webui.Channel {
	cs := channels.NowNext(w.tl, time.Now())
	out := make([]webui.Channel, 0, len(cs))
	for _, c := range cs {
		out = append(out, webui.Channel{Name: c.Name, Title: c.Title, Now: webuiProgramme(c.Now), Next: webuiProgramme(c.Next)})
	}
	return out
}

func webuiProgramme(e *channels.Entry) *webui.Programme {
	if e == nil {
		return nil
	}
	return &webui.Programme{Title: e.Title, Kind: e.Kind, Start: e.Start, End: e.End}
}
