// Package ftps is the FTPS ingest: an ftpserverlib server whose users log in
// with their appliance accounts and see the library folders at the root, with
// per-folder read and write rights by group. Uploads are written to a hidden
// temporary name and renamed into place only when the transfer completed; only
// then is the VOD pipeline told (Ingest). It adds what the library lacks:
// connection limits, a login-failure ban list, one TLS configuration (so that
// data connections resume the control connection's TLS session) and a
// shutdown that lets running transfers finish.
package ftps

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/loginban"
	"thecure/appliance/logsafe"
	"thecure/appliance/store"
	"thecure/appliance/users"
)

// Ingest is told about finished uploads and removed sources. Paths are slash-separated and
// relative to the media root, e.g. "pelis/Película del año (2024).mp4".
type Ingest interface {
	Enqueue(ctx context.Context, path string) error
	Remove(ctx context.Context, path string) error
}

// Health is told when the media file system is too full for uploads
// (health.Registry), under the name StorageHealthKey.
type Health interface {
	Set(name string, st health.State, detail string)
}

// StorageHealthKey names the media file system's state for uploads.
const StorageHealthKey = "ftps_storage"

// Accounts checks passwords (users.Users).
type Accounts interface {
	Authenticate(name, password string) (users.User, error)
}

// Options is what New needs.
type Options struct {
	FTP             config.FTP
	MediaDir        string          // the FTP root (absolute); folders are created in it
	PublicHost      string          // announced in PASV replies: an IPv4 address or a host name; "" = the local address
	ShutdownTimeout time.Duration   // running transfers get this long to finish on shutdown
	Cert            tls.Certificate // for AUTH TLS and implicit FTPS
	Accounts        Accounts
	Store           *store.Store          // per-user storage use, for quotas; nil: no quotas
	Ingest          Ingest                // nil: nothing is announced
	Metrics         prometheus.Registerer // nil: metrics are not registered
	Health          Health                // nil: a full media disk is only logged
	Log             *slog.Logger
}

// Server is the FTPS service. Serve runs it.
type Server struct {
	o       Options
	log     *slog.Logger
	tlsConf *tls.Config
	folders map[string]config.Folder
	order   []string // folder names in config order
	// liveFolders are the folders' rights a reload set (reload.go).
	liveFolders atomic.Pointer[map[string]config.Folder]
	m           *metrics
	bans        *loginban.List
	refusals    *logsafe.Refusals
	usage       *usage
	root        *os.Root // opened by Serve

	mu            sync.Mutex
	sessions      map[uint32]*session
	perIP         map[string]int // connections per address
	total         int            // connections
	logged        int            // logged-in connections
	startups      map[*trackedConn]struct{}
	startupsPerIP map[string]int
	growth        map[string]*atomic.Int64 // bytes added by each user's running uploads
	inflight      map[string]*upload       // rel paths being uploaded (nil while opening)
	conns         map[string]*trackedConn  // by remote address, until their session starts

	pubMu sync.Mutex // guards pubIP and pubAt: public_host resolved, and when
	pubIP string
	pubAt time.Time

	transfers atomic.Int64 // running data transfers, all sessions
	diskFull  atomic.Bool  // uploads stopped for lack of space (StorageHealthKey degraded: streaming goes on)
	hardStop  atomic.Bool  // shutdown timed out: nothing still open is published
	ingestCtx context.Context
}

// session is one control connection.
type session struct {
	cc        ftpserver.ClientContext
	conn      *trackedConn // its TCP connection (closed directly: ClientContext.Close races in the library)
	ip        string
	user      users.User
	transfers atomic.Int32
	ended     atomic.Int64 // unix nanoseconds when its last transfer ended
}

// replyGrace is how long after a transfer ends its session still counts as
// busy on shutdown: the library writes the transfer's reply (226) after
// closing the file, and that reply must not be cut off.
const replyGrace = time.Second

// busy reports whether a transfer runs or just ended.
func (ss *session) busy(now time.Time) bool {
	return ss.transfers.Load() > 0 || now.Sub(time.Unix(0, ss.ended.Load())) < replyGrace
}

// transferDone is called when one of the session's transfers ends.
func (ss *session) transferDone() {
	ss.ended.Store(time.Now().UnixNano())
	ss.transfers.Add(-1)
}

// New builds the service; it opens nothing.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Accounts == nil {
		return nil, errors.New("ftps: no accounts")
	}
	if o.MediaDir == "" {
		return nil, errors.New("ftps: no media dir")
	}
	s := &Server{
		o:             o,
		log:           o.Log,
		folders:       map[string]config.Folder{},
		bans:          loginban.New(o.FTP.BanAfter, o.FTP.BanWindow.Std(), o.FTP.BanTime.Std()),
		refusals:      newRefusalLog(o.Log),
		sessions:      map[uint32]*session{},
		perIP:         map[string]int{},
		startups:      map[*trackedConn]struct{}{},
		startupsPerIP: map[string]int{},
		growth:        map[string]*atomic.Int64{},
		inflight:      map[string]*upload{},
		conns:         map[string]*trackedConn{},
		ingestCtx:     context.Background(),
	}
	for _, f := range o.FTP.Folders {
		s.folders[f.Name] = f
		s.order = append(s.order, f.Name)
	}
	s.m = newMetrics(o.Metrics, s)
	if o.Store != nil {
		s.usage = &usage{st: o.Store}
	}
	s.tlsConf = &tls.Config{
		Certificates: []tls.Certificate{o.Cert},
		MinVersion:   tls.VersionTLS12,
		// Called on every handshake, resumed ones included: counts how
		// often data connections reuse the control connection's session.
		VerifyConnection: func(cs tls.ConnectionState) error {
			s.m.handshake(cs.DidResume)
			return nil
		},
	}
	return s, nil
}

// Serve answers explicit FTPS on explicit and, when implicit is not nil,
// implicit FTPS on implicit, until ctx is cancelled. Then it stops accepting,
// lets running transfers finish for up to the shutdown timeout, closes every
// connection and returns once they are gone.
func (s *Server) Serve(ctx context.Context, explicit, implicit net.Listener) error {
	if err := os.MkdirAll(s.o.MediaDir, 0o750); err != nil {
		return fmt.Errorf("ftps: create media dir: %w", err)
	}
	root, err := os.OpenRoot(s.o.MediaDir)
	if err != nil {
		return fmt.Errorf("ftps: open media dir: %w", err)
	}
	defer root.Close()
	s.root = root
	for _, name := range s.order {
		if err := root.Mkdir(name, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("ftps: create folder %s: %w", name, err)
		}
	}
	s.ingestCtx = context.WithoutCancel(ctx)
	go s.refusals.Run(ctx)
	s.sweepParts(time.Now().Add(-partMaxAge))

	var servers []*ftpserver.FtpServer
	errc := make(chan error, 2)
	for _, l := range []struct {
		ln       net.Listener
		implicit bool
	}{{explicit, false}, {implicit, true}} {
		if l.ln == nil {
			continue
		}
		// TLS (implicit FTPS) is layered by the FTP library above each
		// connection, so that it can follow what the client sent.
		var ln net.Listener = &limitListener{Listener: l.ln, s: s, implicit: l.implicit}
		srv := ftpserver.NewFtpServer(&driver{s: s, ln: ln, implicit: l.implicit})
		srv.Logger = slog.New(debugOnly{s.log.Handler()}).With("lib", "ftpserverlib")
		if err := srv.Listen(); err != nil {
			for _, o := range servers {
				_ = o.Stop()
			}
			return fmt.Errorf("ftps: %w", err)
		}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve() }()
	}

	var serveErr error
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case serveErr = <-errc:
			break wait
		case <-tick.C:
			if s.diskFull.Load() {
				if room, err := s.room(); err == nil && room > 0 {
					s.setDiskFull(false)
				}
			}
		}
	}
	for _, srv := range servers {
		_ = srv.Stop()
	}
	s.drain()
	if serveErr != nil {
		return fmt.Errorf("ftps: %w", serveErr)
	}
	return nil
}

// drain closes idle sessions at once and sessions with a running transfer
// when it ends, or when the shutdown timeout is over; then it waits (briefly)
// for every session to be gone.
func (s *Server) drain() {
	deadline := time.Now().Add(s.o.ShutdownTimeout)
	for {
		busy := 0
		for _, ss := range s.snapshot() {
			if now := time.Now(); ss.busy(now) && now.Before(deadline) {
				busy++
				continue
			}
			ss.close()
		}
		if busy == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.transfers.Load() > 0 {
		s.hardStop.Store(true)
		s.log.Warn("shutdown timeout: closing running transfers; their files are not published")
	}
	end := time.Now().Add(1500 * time.Millisecond) // within the supervisor's grace after shutdown_timeout
	for time.Now().Before(end) {
		list := s.snapshot()
		for _, ss := range list {
			ss.close()
		}
		if len(list) == 0 && s.transfers.Load() == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.log.Warn("some FTP sessions did not end in time")
}

func (ss *session) close() {
	if ss.conn != nil {
		_ = ss.conn.Close()
	}
}

// snapshot lists the open sessions.
func (s *Server) snapshot() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.sessions))
}

// setDiskFull records whether uploads stop for lack of space, for
// /healthz and the admin page.
func (s *Server) setDiskFull(full bool) {
	if s.diskFull.Swap(full) == full || s.o.Health == nil {
		return
	}
	if full {
		s.o.Health.Set(StorageHealthKey, health.Degraded, "media file system full: uploads are refused until space is freed")
		return
	}
	s.o.Health.Set(StorageHealthKey, health.Up, "")
	s.log.Info("the media file system has space again; uploads resume")
}

// partMaxAge is how long an interrupted upload is kept for a resume.
const partMaxAge = 7 * 24 * time.Hour

// sweepParts removes the hidden parts of uploads interrupted before cutoff.
func (s *Server) sweepParts(cutoff time.Time) {
	_ = fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), partPrefix) {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
			s.removePart(p, "interrupted more than 7 days ago")
		}
		return nil
	})
}

func ipOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// driver is ftpserverlib's MainDriver, one per listener.
type driver struct {
	s        *Server
	ln       net.Listener
	implicit bool
}

func (d *driver) GetSettings() (*ftpserver.Settings, error) {
	c := d.s.o.FTP
	st := &ftpserver.Settings{
		Listener:                d.ln,
		Banner:                  "thecure FTPS",
		IdleTimeout:             int(max(c.IdleTimeout.Std()/time.Second, 1)),
		ConnectionTimeout:       30,
		TLSHandshakeTimeout:     c.TLSHandshakeTimeout.Std(),
		DisableActiveMode:       !c.ActiveMode,
		ActiveTransferPortNon20: true,
		DefaultTransferType:     ftpserver.TransferTypeBinary,
		DisableASCIIConversion:  true,
		DisableSite:             true,
		DisableMFMT:             false,
		EnableHASH:              true,
		TLSRequired:             ftpserver.ClearOrEncrypted,
	}
	if c.PassivePorts.First > 0 {
		st.PassiveTransferPortRange = ftpserver.PortRange{Start: c.PassivePorts.First, End: c.PassivePorts.Last}
	}
	if c.RequireTLS {
		st.TLSRequired = ftpserver.MandatoryEncryption
	}
	if d.implicit {
		st.TLSRequired = ftpserver.ImplicitEncryption
	}
	host := d.s.o.PublicHost
	switch ip := net.ParseIP(host); {
	case host == "":
	case ip != nil && ip.To4() != nil:
		st.PublicHost = ip.To4().String()
	case ip != nil:
		// An IPv6 address cannot be written in a PASV reply; EPSV needs none.
	default:
		st.PublicIPResolver = d.s.resolvePublicHost
	}
	return st, nil
}

// resolvePublicHost resolves public_host (a host name) for a PASV reply,
// caching the answer for a minute.
func (s *Server) resolvePublicHost(cc ftpserver.ClientContext) (string, error) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.pubIP != "" && time.Since(s.pubAt) < time.Minute {
		return s.pubIP, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", s.o.PublicHost)
	if err != nil || len(ips) == 0 {
		s.log.Warn("cannot resolve public_host for a PASV reply; announcing the local address", "public_host", s.o.PublicHost, "err", err)
		return ipOf(cc.LocalAddr()), nil
	}
	s.pubIP, s.pubAt = ips[0].String(), time.Now()
	return s.pubIP, nil
}

func (d *driver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	ss := &session{cc: cc, ip: ipOf(cc.RemoteAddr())}
	cc.SetExtra(ss)
	d.s.mu.Lock()
	d.s.sessions[cc.ID()] = ss
	ss.conn = d.s.conns[cc.RemoteAddr().String()]
	delete(d.s.conns, cc.RemoteAddr().String())
	d.s.mu.Unlock()
	if d.s.o.FTP.RequireTLS && !d.implicit {
		return "thecure FTPS: use AUTH TLS (explicit FTPS)", nil
	}
	return "thecure FTPS", nil
}

func (d *driver) ClientDisconnected(cc ftpserver.ClientContext) {
	d.s.mu.Lock()
	delete(d.s.sessions, cc.ID())
	d.s.mu.Unlock()
}

// errBanned answers logins from an address banned during its session.
var errBanned = errors.New("too many failed logins; try again later")

func (d *driver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	s := d.s
	ss, _ := cc.Extra().(*session)
	if ss == nil {
		return nil, errors.New("no session")
	}
	now := time.Now()
	if banned, _ := s.bans.Banned(ss.ip, now); banned {
		s.m.logins.WithLabelValues("failed").Inc()
		return nil, errBanned
	}
	u, err := s.o.Accounts.Authenticate(user, pass)
	if err != nil {
		s.m.logins.WithLabelValues("failed").Inc()
		banned := s.bans.Failed(ss.ip, now)
		if banned {
			s.m.bans.Inc()
		}
		switch {
		case errors.Is(err, users.ErrUnknownUser):
			// What was typed is not logged: it may be a password.
			s.log.Info("login failed", "remote", ss.ip, "user_exists", false, "banned", banned)
		case errors.Is(err, users.ErrBadCredentials):
			s.log.Info("login failed", "remote", ss.ip, "user_exists", true, "user", quote(user), "banned", banned)
		default:
			s.log.Error("login check failed", "remote", ss.ip, "err", err)
			return nil, errors.New("cannot check the password now")
		}
		if banned {
			s.log.Warn("address banned after failed logins", "remote", ss.ip, "failures", s.o.FTP.BanAfter, "ban_time", s.o.FTP.BanTime.String())
		}
		return nil, errors.New("wrong user name or password")
	}
	if !s.loggedIn(ss.conn) {
		s.m.refused.WithLabelValues("max_clients").Inc()
		s.refusals.Note(ss.ip, "connections refused", "reason", "max_clients")
		return nil, errors.New("too many users are logged in; try again later")
	}
	s.bans.Succeeded(ss.ip)
	s.m.logins.WithLabelValues("ok").Inc()
	ss.user = u
	s.log.Info("login", "remote", ss.ip, "user", u.Name, "tls", cc.HasTLSForControl())
	return &clientFs{s: s, ss: ss}, nil
}

func (d *driver) GetTLSConfig() (*tls.Config, error) {
	// The same *tls.Config every time: its session ticket keys let the
	// data connections resume the control connection's session.
	return d.s.tlsConf, nil
}

// mediaKind reports whether uploads to folder are announced to Ingest.
func mediaKind(kind string) bool {
	return kind == config.KindMovies || kind == config.KindSeries || kind == config.KindMusic
}

func inAny(u users.User, groups []string) bool { return u.InGroup(groups...) }

// debugOnly logs the FTP library's records at debug level: it reports every
// client that hangs up without a TLS close_notify as a warning.
type debugOnly struct{ slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.Handler.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.Handler.Handle(ctx, r)
}

func (d debugOnly) WithAttrs(as []slog.Attr) slog.Handler { return debugOnly{d.Handler.WithAttrs(as)} }

func (d debugOnly) WithGroup(n string) slog.Handler { return debugOnly{d.Handler.WithGroup(n)} }
