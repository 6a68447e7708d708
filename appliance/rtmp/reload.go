package rtmp

import (
	"fmt"
	"net/netip"

	"thecure/appliance/config"
)

// access is what a reload may change while connections stay open: the
// address allow-lists, the declared streams with their keys, require_key.
// Publishers and players already connected keep playing; the new rules apply
// from the next connection, publish or play.
type access struct {
	allowPublish []netip.Prefix
	allowPlay    []netip.Prefix
	requireKey   bool
	streams      map[string]config.RTMPStream
}

// access returns the rules in force: the last reload's, else New's.
func (s *Server) access() *access {
	if a := s.live.Load(); a != nil {
		return a
	}
	return &access{allowPublish: s.allowPublish, allowPlay: s.allowPlay, requireKey: s.cfg.RequireKey, streams: s.cfg.Streams}
}

// LiveKeys are the [rtmp] keys Reload applies.
func (s *Server) LiveKeys() []string {
	return []string{"rtmp.allow_publish", "rtmp.allow_play", "rtmp.require_key", "rtmp.streams"}
}

// Reload applies the new allow-lists and stream keys to the coming
// connections; on an error nothing changes.
func (s *Server) Reload(cfg *config.Config) error {
	c := cfg.RTMP
	a := &access{requireKey: c.RequireKey, streams: c.Streams}
	for _, p := range c.AllowPublish {
		pfx, err := config.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("rtmp.allow_publish: %w", err)
		}
		a.allowPublish = append(a.allowPublish, pfx)
	}
	for _, p := range c.AllowPlay {
		pfx, err := config.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("rtmp.allow_play: %w", err)
		}
		a.allowPlay = append(a.allowPlay, pfx)
	}
	s.live.Store(a)
	s.log.Info("rtmp: new allow-lists and stream keys in force", "streams", len(a.streams), "require_key", a.requireKey)
	return nil
}
