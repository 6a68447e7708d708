package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	gortmp "github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"
)

// This file is thecure as an RTMP client: the relays ([[rtmp.push]] and
// [[rtmp.pull]]) dial other RTMP servers.

// RelayStatus is the state of one relay, for /api/live (admins only: the
// URL may hold a stream key) and /admin.
type RelayStatus struct {
	Kind       string    `json:"kind"`   // "push" or "pull"
	Stream     string    `json:"stream"` // the local stream
	URL        string    `json:"url"`
	Connected  bool      `json:"connected"`
	State      string    `json:"state"`                // RelayConnecting, RelayUp or RelayRetrying
	Target     string    `json:"target"`               // URL with its stream key and secrets masked, to show
	Since      time.Time `json:"since,omitzero"`       // in this state since
	LastError  string    `json:"last_error,omitempty"` // why the last attempt or session ended
	Attempts   int       `json:"attempts"`             // connection attempts so far
	Reconnects int       `json:"reconnects"`           // attempts after the first
	Bytes      int64     `json:"bytes"`                // media bytes sent (push) or received (pull)
}

// The states of a relay.
const (
	RelayConnecting = "connecting" // the first attempt runs
	RelayUp         = "up"         // connected: media flows
	RelayRetrying   = "retrying"   // lost or never reached: reconnecting with back-off
)

// relayState is the live part of a RelayStatus.
type relayState struct {
	mu        sync.Mutex
	connected bool
	retrying  bool
	since     time.Time
	lastErr   string
	attempts  int
	bytes     atomic.Int64
	// onChange, when set (before the relay runs), is told of every change
	// of state, outside the lock.
	onChange func()
}

func (r *relayState) attempt() {
	r.mu.Lock()
	r.attempts++
	if r.since.IsZero() {
		r.since = time.Now()
	}
	r.mu.Unlock()
}

func (r *relayState) up() {
	r.mu.Lock()
	r.connected, r.retrying, r.since, r.lastErr = true, false, time.Now(), ""
	r.mu.Unlock()
	r.changed()
}

func (r *relayState) down(err error) {
	r.mu.Lock()
	if r.connected || !r.retrying { // retrying since the first failure, not the latest
		r.since = time.Now()
	}
	r.connected, r.retrying = false, true
	if err != nil {
		r.lastErr = clip(err.Error())
	}
	r.mu.Unlock()
	r.changed()
}

func (r *relayState) changed() {
	if r.onChange != nil {
		r.onChange()
	}
}

func (r *relayState) status(kind, stream, url string) RelayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RelayConnecting
	switch {
	case r.connected:
		st = RelayUp
	case r.retrying:
		st = RelayRetrying
	}
	return RelayStatus{Kind: kind, Stream: stream, URL: url, Connected: r.connected, State: st, Target: maskURL(url), Since: r.since,
		LastError: r.lastErr, Attempts: r.attempts, Reconnects: max(0, r.attempts-1), Bytes: r.bytes.Load()}
}

// maskURL is an RTMP URL fit to show: the stream key (the path after the
// application), any password and query values are masked.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "****"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "****")
		}
	}
	app, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	u.Path, u.RawPath = "/"+app, ""
	if key != "" {
		u.Path += "/****"
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"****"}
		}
		u.RawQuery = q.Encode()
	}
	u.Fragment = ""
	return strings.ReplaceAll(u.String(), "%2A%2A%2A%2A", "****")
}

// newBackOff is the pause between a relay's attempts: 0.5 s growing to 30 s.
func newBackOff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 30 * time.Second
	return b
}

// stableSession is how long a relay's session must have lasted for the
// next attempt to start again from the shortest pause.
const stableSession = 30 * time.Second

// rtmpTarget is an rtmp:// URL split as RTMP wants it.
type rtmpTarget struct {
	addr  string // host:port
	app   string
	tcURL string
	name  string // stream name, with its query (?key=...)
}

func parseTarget(raw string) (rtmpTarget, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "rtmp" || u.Hostname() == "" {
		return rtmpTarget{}, errors.New("not an rtmp:// URL")
	}
	path := strings.Trim(u.Path, "/")
	app, name, _ := strings.Cut(path, "/")
	if app == "" || name == "" {
		return rtmpTarget{}, errors.New("the URL needs /APP/NAME")
	}
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	return rtmpTarget{addr: host, app: app, tcURL: "rtmp://" + u.Host + "/" + app, name: name}, nil
}

// clientConn is the socket of an outgoing RTMP connection. During the
// setup (handshake to publish or play) it has one fixed deadline; then each
// write must finish within write and, when read is set, something must
// come within read.
type clientConn struct {
	net.Conn
	live        atomic.Bool // set up: the timeouts apply
	read, write time.Duration
	rmu, wmu    sync.Mutex
	rset, wset  time.Time
}

func (c *clientConn) Read(b []byte) (int, error) {
	if c.live.Load() && c.read > 0 {
		c.rmu.Lock()
		if now := time.Now(); now.Sub(c.rset) > deadlineSlack {
			c.rset = now
			_ = c.Conn.SetReadDeadline(now.Add(c.read)) // a dead socket fails the read below anyway
		}
		c.rmu.Unlock()
	}
	return c.Conn.Read(b)
}

func (c *clientConn) Write(b []byte) (int, error) {
	if c.live.Load() {
		c.wmu.Lock()
		if now := time.Now(); now.Sub(c.wset) > deadlineSlack {
			c.wset = now
			_ = c.Conn.SetWriteDeadline(now.Add(c.write)) // a dead socket fails the write below anyway
		}
		c.wmu.Unlock()
	}
	return c.Conn.Write(b)
}

// statusEvent is an onStatus from the server.
type statusEvent struct{ level, code, desc string }

// clientHandler gets what the server sends on an outgoing connection:
// onStatus replies, and (pull) the media.
type clientHandler struct {
	gortmp.DefaultHandler
	status  chan statusEvent
	onMeta  func(payload []byte)
	onMedia func(typ uint8, ts uint32, payload io.Reader) error
}

var _ gortmp.StatusHandler = (*clientHandler)(nil)

func (h *clientHandler) OnStatus(level, code, desc string) {
	select {
	case h.status <- statusEvent{level, code, desc}:
	default: // nobody waits for more than the first few
	}
}

func (h *clientHandler) OnSetDataFrame(_ uint32, data *rtmpmsg.NetStreamSetDataFrame) error {
	if h.onMeta != nil {
		h.onMeta(data.Payload)
	}
	return nil
}

func (h *clientHandler) OnAudio(ts uint32, payload io.Reader) error {
	if h.onMedia == nil {
		return nil
	}
	return h.onMedia(typeAudio, ts, payload)
}

func (h *clientHandler) OnVideo(ts uint32, payload io.Reader) error {
	if h.onMedia == nil {
		return nil
	}
	return h.onMedia(typeVideo, ts, payload)
}

// clientSession is an outgoing RTMP connection set up to publish or play.
type clientSession struct {
	cc     *gortmp.ClientConn
	conn   *clientConn
	stream *gortmp.Stream
}

func (cs *clientSession) close() {
	_ = cs.cc.Close() // closing is all that is wanted; its error changes nothing
}

// dialRTMP connects to t and publishes (play false) or plays its stream
// name, waiting for the server's NetStream.Publish.Start or
// NetStream.Play.Start, all within setup; ctx cancels it.
func dialRTMP(ctx context.Context, t rtmpTarget, play bool, setup, read, write time.Duration, h *clientHandler) (*clientSession, error) {
	d := net.Dialer{Timeout: setup}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	c := &clientConn{Conn: nc, read: read, write: write}
	if err := nc.SetDeadline(time.Now().Add(setup)); err != nil {
		_ = nc.Close() // unusable socket
		return nil, err
	}
	// a cancelled ctx ends the setup at once
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	h.status = make(chan statusEvent, 4)
	cfg := &gortmp.ConnConfig{
		Handler: h,
		ControlState: gortmp.StreamControlStateConfig{
			DefaultBandwidthWindowSize: 20 * 1024 * 1024,
			MaxChunkStreams:            maxChunkStreams,
			MaxMessageStreams:          16,
			MaxMessageSize:             maxCommandMessage,
			MaxBufferedBytes:           maxCommandBuffered,
		},
		ReaderBufferSize: 4 << 10,
		WriterBufferSize: 64 << 10,
	}
	if play {
		// an origin sends media: frames up to what RTMP allows
		cfg.ControlState.MaxMessageSize = maxMediaMessage
		cfg.ControlState.MaxBufferedBytes = maxMediaBuffered
		cfg.ReaderBufferSize = 64 << 10
	}
	cc, err := gortmp.NewClientConn(c, cfg)
	if err != nil {
		return nil, setupErr(ctx, err)
	}
	cs := &clientSession{cc: cc, conn: c}
	fail := func(err error) (*clientSession, error) {
		cs.close()
		return nil, setupErr(ctx, err)
	}
	if err := cc.Connect(&rtmpmsg.NetConnectionConnect{Command: rtmpmsg.NetConnectionConnectCommand{
		App: t.app, Type: "nonprivate", FlashVer: "FMLE/3.0 (compatible; thecure)", TCURL: t.tcURL}}); err != nil {
		return fail(fmt.Errorf("connect: %w", err))
	}
	chunk := uint32(0)
	if !play {
		chunk = playerChunkSize // media in few chunks
	}
	st, err := cc.CreateStream(nil, chunk)
	if err != nil {
		return fail(fmt.Errorf("createStream: %w", err))
	}
	cs.stream = st
	want := rtmpmsg.NetStreamOnStatusCodePublishStart
	if play {
		want = rtmpmsg.NetStreamOnStatusCodePlayStart
		err = st.Play(&rtmpmsg.NetStreamPlay{StreamName: t.name, Start: -1})
	} else {
		err = st.Publish(&rtmpmsg.NetStreamPublish{PublishingName: t.name, PublishingType: "live"})
	}
	if err != nil {
		return fail(err)
	}
	timer := time.NewTimer(setup)
	defer timer.Stop()
	for {
		select {
		case ev := <-h.status:
			switch {
			case ev.code == string(want):
				c.live.Store(true)
				if err := nc.SetDeadline(time.Time{}); err != nil {
					return fail(err)
				}
				return cs, nil
			case ev.level == "error":
				return fail(fmt.Errorf("refused: %s %s", ev.code, ev.desc))
			}
		case <-cc.Done():
			err := cc.LastError()
			if err == nil {
				err = io.EOF
			}
			return fail(fmt.Errorf("the server closed the connection: %w", err))
		case <-timer.C:
			return fail(fmt.Errorf("no %s within %s", want, setup))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

// setupErr is err, or ctx's error when ctx ended the setup.
func setupErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
