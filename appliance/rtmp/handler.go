package rtmp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/handshake"
	rtmpmsg "github.com/yutopp/go-rtmp/message"

	"thecure/appliance/config"
)

// handler is one RTMP connection's callbacks, all called on go-rtmp's
// goroutine for that connection.
type handler struct {
	gortmp.DefaultHandler
	s      *Server
	c      *conn
	rc     *gortmp.Conn
	log    *slog.Logger
	app    string
	stream string // the name asked for, clipped, for refusals

	// publisher
	st *stream
	in *ingest
	// player
	p *player
}

func (h *handler) OnServe(rc *gortmp.Conn) { h.rc = rc }

func (h *handler) OnConnect(_ uint32, cmd *rtmpmsg.NetConnectionConnect) error {
	h.app = strings.Trim(cmd.Command.App, "/")
	if i := strings.IndexByte(h.app, '?'); i >= 0 {
		h.app = h.app[:i]
	}
	if h.app != App {
		return h.refuse("app", "unknown application %q (use rtmp://HOST/%s/NAME)", clip(cmd.Command.App), App)
	}
	// the connection stays on its handshake deadline until it publishes or plays
	return nil
}

// refuse logs a refusal (rate-limited per address) and returns it as the
// error that makes go-rtmp answer the client with a failure status and
// close the connection. Values from the client in args must be clipped.
func (h *handler) refuse(reason, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	h.s.m.refused.WithLabelValues(reason).Inc()
	h.s.refused.Note(remoteName(h.c.addr), "rtmp refused", "reason", err.Error(), "stream", h.stream)
	return err
}

// serveError is told why go-rtmp ended the connection: limits, handshake,
// protocol errors and timeouts are refusals (logged per address, at most
// once a minute); a publisher's end is logged when it closes.
func (h *handler) serveError(err error) {
	h.c.mu.Lock()
	m := h.c.mode
	h.c.mu.Unlock()
	var (
		lim *gortmp.LimitError
		ver *handshake.VersionError
	)
	reason := ""
	switch {
	case errors.As(err, &lim):
		reason = "limit"
	case errors.As(err, &ver):
		reason = "handshake"
	case m != modePending:
		if m == modePublishing && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			h.log.Info("rtmp publisher connection ended", "err", clip(err.Error()))
		}
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = "timeout"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed):
		return // a client that went away, or the server stopping
	default:
		reason = "protocol"
	}
	h.s.m.refused.WithLabelValues(reason).Inc()
	msg := "rtmp connection dropped"
	if reason == "timeout" {
		msg = "rtmp connection dropped: no publish or play within rtmp.handshake_timeout"
	}
	h.s.refused.Note(remoteName(h.c.addr), msg, "reason", reason, "err", clip(err.Error()))
}

// splitName reads "NAME?key=KEY" as the publisher or player gives it.
func splitName(s string) (name string, q url.Values) {
	name, rawq, _ := strings.Cut(s, "?")
	q, _ = url.ParseQuery(rawq)
	return name, q
}

func (h *handler) OnPublish(_ *gortmp.StreamContext, _ uint32, cmd *rtmpmsg.NetStreamPublish) error {
	s := h.s
	name, q := splitName(cmd.PublishingName)
	h.stream = clip(name)
	switch {
	case h.st != nil || h.p != nil:
		return h.refuse("protocol", "publish on a connection that already publishes or plays")
	case !allowed(s.access().allowPublish, h.c.addr):
		return h.refuse("address", "address %s may not publish (rtmp.allow_publish)", h.c.addr)
	case !config.ValidStreamName(name):
		return h.refuse("name", "invalid stream name %q", clip(name))
	case s.pulled[name]:
		return h.refuse("pulled", "stream %s is relayed here from an origin ([[rtmp.pull]]); publish it to the origin", name)
	case s.fed(name):
		return h.refuse("channel", "stream %s is a playout channel of this server ([[channels]]); it cannot be published", name)
	}
	acc := s.access()
	decl, declared := acc.streams[name]
	switch {
	case !declared && acc.requireKey:
		return h.refuse("key", "stream is not declared and rtmp.require_key is set")
	case declared && decl.Key != "" && subtle.ConstantTimeCompare([]byte(decl.Key), []byte(q.Get("key"))) != 1:
		return h.refuse("key", "wrong or missing stream key")
	}
	s.mu.Lock()
	if _, busy := s.streams[name]; busy || s.hub.Live(name) {
		s.mu.Unlock()
		return h.refuse("busy", "stream is already being published")
	}
	st := &stream{name: name, s: s, players: map[*player]struct{}{}}
	s.streams[name] = st
	s.mu.Unlock()
	h.st = st
	h.log = h.log.With("stream", name)
	st.log = h.log
	s.startPushes(st)
	h.in = &ingest{name: name, hub: s.hub, log: h.log, onStart: st.started}
	// an accepted publisher sends media: raise the chunk reader's limits
	h.rc.GetChunkStreamer().SetReadLimits(maxMediaMessage, maxMediaBuffered)
	// and is read with a buffer that takes whatever has arrived in one read
	h.rc.SetReadBufferSize(publisherReadBuffer)
	h.c.setMode(modePublishing)
	h.log.Info("rtmp publisher started", "type", cmd.PublishingType)
	return nil
}

func (h *handler) OnPlay(sc *gortmp.StreamContext, _ uint32, cmd *rtmpmsg.NetStreamPlay) error {
	s := h.s
	name, _ := splitName(cmd.StreamName)
	h.stream = clip(name)
	switch {
	case h.st != nil || h.p != nil:
		return h.refuse("protocol", "play on a connection that already publishes or plays")
	case !allowed(s.access().allowPlay, h.c.addr):
		return h.refuse("address", "address %s may not play (rtmp.allow_play)", h.c.addr)
	}
	s.mu.Lock()
	st := s.streams[name]
	s.mu.Unlock()
	if st == nil {
		return h.refuse("not_live", "stream is not live")
	}
	h.log = h.log.With("stream", name)
	p := newPlayer(h.c, sc.StreamID, s.cfg.PlayerQueue, h.log)
	// players get media in 64 KiB chunks: go-rtmp announces it before its
	// replies to play (written after this returns) and chunks them so; the
	// player's writer starts once it has
	p.started = h.rc.GetChunkStreamer().SelfChunkSizeApplied(playerChunkSize)
	if !st.join(p) {
		return h.refuse("players", "stream has its maximum of %d players", s.cfg.MaxPlayers)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout.Std())
	err := h.rc.Write(ctx, csidControl, 0, &gortmp.ChunkMessage{Message: &rtmpmsg.SetChunkSize{ChunkSize: playerChunkSize}})
	cancel()
	if err != nil {
		st.leave(p)
		return err
	}
	h.p = p
	h.c.setMode(modePlaying)
	go p.start()
	h.log.Info("rtmp player started")
	return nil
}

func (h *handler) OnSetDataFrame(_ uint32, data *rtmpmsg.NetStreamSetDataFrame) error {
	if h.st == nil {
		return nil
	}
	h.in.metadata(data.Payload)
	body := append([]byte(nil), metadataBody(data.Payload)...)
	h.st.publish(&message{typ: typeData, ts: 0, data: body})
	return nil
}

func (h *handler) OnAudio(ts uint32, payload io.Reader) error {
	return h.media(typeAudio, ts, payload)
}

func (h *handler) OnVideo(ts uint32, payload io.Reader) error {
	return h.media(typeVideo, ts, payload)
}

func (h *handler) media(typ uint8, ts uint32, payload io.Reader) error {
	if h.st == nil {
		return nil
	}
	data, err := takeBytes(payload)
	if err != nil {
		return err
	}
	m, err := h.in.ingest(typ, ts, data)
	if err != nil {
		var r errRefuse
		if errors.As(err, &r) {
			h.s.m.refused.WithLabelValues("media").Inc()
			h.s.refused.Note(remoteName(h.c.addr), "rtmp publisher dropped: stream not usable", "reason", err.Error(), "stream", h.stream)
		}
		return err
	}
	if m != nil {
		h.st.publish(m)
	}
	return nil
}

// takeBytes is a media message's bytes: the patched go-rtmp hands the
// message over (no copy).
func takeBytes(payload io.Reader) ([]byte, error) {
	if t, ok := payload.(interface{ TakeBytes() []byte }); ok {
		return t.TakeBytes(), nil
	}
	return io.ReadAll(payload)
}

func (h *handler) OnClose() {
	if h.st != nil {
		s := h.s
		s.mu.Lock()
		if s.streams[h.st.name] == h.st {
			delete(s.streams, h.st.name)
		}
		s.mu.Unlock()
		h.st.end()
		h.in.close()
		h.log.Info("rtmp publisher ended")
	}
	if h.p != nil {
		h.p.stop()
		h.p.st.leave(h.p)
		h.log.Info("rtmp player ended")
	}
}
