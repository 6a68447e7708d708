// Package webui is the appliance's web pages: the catalogue, the VOD and live
// player pages, the admin status page with its login, and the JSON views
// behind them (/api/catalogue, /api/status). It reads everything it shows
// through small interfaces (catalogue, live streams, jobs, users, tickets,
// health) that the appliance connects; any of them may be nil, and the pages
// then leave that part out. Templates and static files are embedded: nothing
// is loaded from the internet.
package webui

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/health"
	"thecure/appliance/logsafe"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Title is one entry of the catalogue (the fields of /api/library).
type Title struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"` // movie | episode | track
	Title    string    `json:"title"`
	State    string    `json:"state"` // queued | processing | ready | failed
	HLS      string    `json:"hls,omitempty"`
	Duration float64   `json:"duration"` // seconds
	Year     int       `json:"year,omitempty"`
	Show     string    `json:"show,omitempty"`
	Season   int       `json:"season,omitempty"`
	Episode  int       `json:"episode,omitempty"`
	Artist   string    `json:"artist,omitempty"`
	Album    string    `json:"album,omitempty"`
	Poster   string    `json:"poster,omitempty"`
	Error    string    `json:"error,omitempty"`
	Source   string    `json:"source,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
	Track    int       `json:"track,omitempty"` // a track's number on its album
	Variants []Variant `json:"variants,omitempty"`
}

// Variant is one rendition of a title: its directory beside the master
// playlist, and its picture height (0 for audio).
type Variant struct {
	Name   string `json:"name"`
	Height int    `json:"height,omitempty"`
}

// Title kinds and states.
const (
	KindMovie   = "movie"
	KindEpisode = "episode"
	KindTrack   = "track"

	StateReady  = "ready"
	StateFailed = "failed"
)

// Catalogue lists the titles of the library.
type Catalogue interface {
	Titles(ctx context.Context) ([]Title, error)
}

// Stream is one live stream on air.
type Stream struct {
	Name    string    `json:"name"`
	Viewers int       `json:"viewers"` // HLS viewers plus RTMP players
	Width   int       `json:"width,omitempty"`
	Height  int       `json:"height,omitempty"`
	Bitrate int64     `json:"bitrate"` // bit/s
	Started time.Time `json:"started"`
}

// LiveStreams lists the live streams on air.
type LiveStreams interface {
	Streams() []Stream
	// Watch describes stream name when it is on air, counting the client
	// of r (who opened its player page) as one of its viewers.
	Watch(name string, r *http.Request) (Stream, bool)
}

// Channel is one playout channel ([[channels]]) with what is on now and
// what comes next (nil: nothing).
type Channel struct {
	Name  string     `json:"name"`  // stream name: its player is /live/NAME
	Title string     `json:"title"` // display name
	Now   *Programme `json:"now,omitempty"`
	Next  *Programme `json:"next,omitempty"`
}

// Programme is one entry of a channel's schedule.
type Programme struct {
	Title string    `json:"title"`
	Kind  string    `json:"kind"` // film | episode | track | slate
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Channels lists the playout channels in config order.
type Channels interface {
	Channels() []Channel
}

// Relay is one RTMP relay (a [[rtmp.push]] target or a [[rtmp.pull]]).
type Relay struct {
	Kind       string    `json:"kind"`   // push | pull
	Stream     string    `json:"stream"` // the local stream
	Target     string    `json:"target"` // the other server's URL, its stream key masked
	State      string    `json:"state"`  // connecting | up | retrying
	Since      time.Time `json:"since,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	Reconnects int       `json:"reconnects"`
	Bytes      int64     `json:"bytes"` // media bytes sent (push) or received (pull)
}

// RelayStates are the states a Relay shows (each has a text).
var RelayStates = []string{"connecting", "up", "retrying"}

// Relays lists the RTMP relays and their state.
type Relays interface {
	Relays() []Relay
}

// Job is one upload or transcode job.
type Job struct {
	ID       string    `json:"id"`
	Source   string    `json:"source"`
	State    string    `json:"state"`           // uploading | pending | running | done | failed
	Bytes    uint64    `json:"bytes,omitempty"` // uploading: received so far
	Rate     uint64    `json:"rate,omitempty"`  // uploading: bytes per second
	Progress float64   `json:"progress"`        // percent
	Speed    float64   `json:"speed,omitempty"` // × realtime
	ETA      float64   `json:"eta,omitempty"`   // seconds
	Error    string    `json:"error,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
}

// StateUploading is the state of an FTPS upload still running.
const StateUploading = "uploading"

// Jobs lists the upload and transcode queue, newest last.
type Jobs interface {
	Jobs(ctx context.Context) ([]Job, error)
}

// Account is a user who logged in.
type Account struct {
	Name   string
	Groups []string
}

// Users checks a user name and password; any error refuses the login.
type Users interface {
	Authenticate(name, password string) (Account, error)
}

// Ticket is one open support ticket.
type Ticket struct {
	ID      int64     `json:"id"`
	User    string    `json:"user"`
	Subject string    `json:"subject,omitempty"`
	Opened  time.Time `json:"opened"`
}

// Tickets lists the open support tickets.
type Tickets interface {
	OpenTickets(ctx context.Context) ([]Ticket, error)
}

// Health is the service-state registry.
type Health interface {
	Snapshot() []health.Service
}

// Disk is one file system the admin page reports (label and a path in it).
type Disk struct {
	Label string
	Path  string
}

// Options are what the UI needs. Catalogue, Live, Jobs, Users, Tickets and
// Health may be nil.
type Options struct {
	Log        *slog.Logger
	Language   string // es | en
	ViewerAuth bool   // catalogue and players need a login
	SessionTTL time.Duration
	// BanAfter failed logins from one address within BanWindow refuse its
	// logins for BanTime (0: never).
	BanAfter  int
	BanWindow time.Duration
	BanTime   time.Duration
	Metrics   prometheus.Registerer // may be nil

	Catalogue Catalogue
	Live      LiveStreams
	Channels  Channels // may be nil: no channels
	Relays    Relays   // may be nil: no relays shown
	Jobs      Jobs
	Users     Users
	Tickets   Tickets
	Health    Health
	Charts    Charts     // may be nil: no charts
	Manage    Management // may be nil: no user and title actions
	Audit     Audit      // may be nil: actions are not logged
	Support   Support    // may be nil: no support history
	// NewPassword makes a random password for an account added without one.
	NewPassword func() string
	Disks       []Disk
	Version     string
	// MediaOrigin is where players may also fetch media from (the origin of
	// [publish.s3] public_url, e.g. "https://cdn.example.com"); "" for none.
	MediaOrigin string
	// LiveURL, when set, says where viewers find a live stream's playlist
	// in the [publish.s3] bucket (public_url), or "" when it is not there.
	LiveURL func(name string) string
}

// AdminGroup is the group whose users may open /admin.
const AdminGroup = "admin"

// UI is the set of pages. It starts nothing and keeps its logins in memory.
type UI struct {
	o      Options
	log    *slog.Logger
	tr     *translator
	pages  map[string]*pageTemplate
	static http.Handler
	auth   *auth
	// refusals logs refused logins, rate-limited per address
	refusals *logsafe.Refusals
	now      func() time.Time
	logins   *prometheus.CounterVec
}

// New builds the pages; each template is parsed at its page's first
// request (TestPagesParse parses them all).
func New(o Options) (*UI, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	tr, err := newTranslator(o.Language)
	if err != nil {
		return nil, err
	}
	u := &UI{o: o, log: o.Log, tr: tr, now: time.Now}
	if u.pages, err = parsePages(tr); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	u.static = staticHandler(sub)
	u.auth = newAuth(o, u.now)
	u.refusals = newLoginLog(u.log, func() time.Time { return u.now() })
	u.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thecure_web_logins_total",
		Help: "Web login attempts, by result (ok, refused, banned, forbidden).",
	}, []string{"result"})
	if o.Metrics != nil {
		o.Metrics.MustRegister(u.logins, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "thecure_web_sessions",
			Help: "Web logins open now.",
		}, func() float64 { return float64(u.auth.count()) }))
	}
	return u, nil
}

// Routes are the UI's routes, as net/http patterns. /live/{name} is the
// player page only: /live/{name}/{file} belongs to the live package.
func (u *UI) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /{$}":           u.viewer(u.catalogue),
		"GET /watch/{id}":    u.viewer(u.watch),
		"GET /live/{name}":   u.viewer(u.livePage),
		"GET /api/catalogue": u.viewer(u.apiCatalogue),
		"GET /login":         u.page(u.loginForm),
		"POST /login":        u.page(u.loginPost),
		"POST /logout":       u.page(u.logout),
		"GET /admin":         u.admin(u.adminPage),
		"GET /api/status":    u.admin(u.apiStatus),
		"GET /api/charts":    u.admin(u.apiCharts),
		"GET /admin/charts":  u.admin(u.chartsPage),
		"GET /admin/manage":  u.admin(u.managePage),
		"GET /admin/support": u.admin(u.supportPage),
		"POST /admin/manage": u.RequireAdmin(http.HandlerFunc(u.managePost)),
		"GET /static/":       http.StripPrefix("/static/", u.static),
		"GET /favicon.ico":   http.HandlerFunc(u.favicon),
	}
}

// RequireAdmin wraps a handler (a mutating API call, say) so that only a
// logged-in admin reaches it; requests other than GET and HEAD must also
// carry the session's CSRF token in the X-CSRF-Token header or a csrf form
// field.
func (u *UI) RequireAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := u.auth.session(r)
		if s == nil || !s.admin() {
			http.Error(w, u.tr.t("err.forbidden"), http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !s.checkCSRF(r) {
			http.Error(w, u.tr.t("err.csrf"), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ViewerGate wraps the whole server so that with viewer_auth the media and
// the catalogue's JSON (/vod/, /live/NAME/..., /api/library, /api/jobs with
// the uploads' names, /api/live) and the channels' guide (/api/channels,
// /channels.m3u, /epg.xml) need a login like the pages do: the session of
// a web login, or HTTP basic authentication with a user's name and
// password for players that cannot log in on a page (VLC, Kodi, TiviMate:
// http://USER:PASSWORD@HOST/channels.m3u). Without viewer_auth it is h
// itself. The pages check the login themselves (they redirect to the login
// form).
func (u *UI) ViewerGate(h http.Handler) http.Handler {
	if !u.o.ViewerAuth {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if viewerContent(r.URL.Path) && u.auth.session(r) == nil && !u.basicViewer(r) {
			if _, err := r.Cookie(sessionCookie); err != nil {
				// no web login at all: a player, which may ask its user
				w.Header().Set("WWW-Authenticate", `Basic realm="thecure", charset="UTF-8"`)
			}
			http.Error(w, u.tr.t("err.login"), http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// uiKey is the context key under which AdminAware puts the UI.
type uiKey struct{}

// AdminAware wraps the whole server so that handlers of other packages can
// ask IsAdmin(r) whether the request comes from a logged-in admin (who sees
// details that others see only as short reasons).
func (u *UI) AdminAware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), uiKey{}, u)))
	})
}

// IsAdmin reports whether r comes from a logged-in admin; false outside
// AdminAware.
func IsAdmin(r *http.Request) bool {
	u, ok := r.Context().Value(uiKey{}).(*UI)
	if !ok {
		return false
	}
	s := u.auth.session(r)
	return s != nil && s.admin()
}

// viewerContent tells the paths that viewer_auth closes besides the pages.
func viewerContent(p string) bool {
	switch {
	case strings.HasPrefix(p, "/vod/"), p == "/api/library", p == "/api/jobs", p == "/api/live", strings.HasPrefix(p, "/api/live/"),
		p == "/api/channels", p == "/channels.m3u", p == "/epg.xml":
		return true
	case strings.HasPrefix(p, "/live/"):
		return strings.Contains(strings.TrimPrefix(p, "/live/"), "/") // files, not the player page
	}
	return false
}

var errNoUsers = errors.New("no user database")
