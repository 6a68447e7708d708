package webui

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"thecure/appliance/config"
)

// pageTemplate is one page: the layout plus the page's own content, parsed
// at its first request (get). Parsing every page at start held about 800 KB
// of parse trees (one copy of the layout per page) for pages that an
// appliance busy streaming may never show; TestPagesParse keeps a broken
// template from reaching a build.
type pageTemplate struct {
	get func() (*template.Template, error)
}

// pageNames are the page templates; each defines "content" and "title".
var pageNames = []string{"catalogue", "watch", "live", "login", "admin", "charts", "manage", "support", "error"}

func parsePages(tr *translator) (map[string]*pageTemplate, error) {
	funcs := template.FuncMap{
		"t":       tr.t,
		"state":   func(s any) string { return tr.state(fmt.Sprint(s)) },
		"viewers": tr.viewers,
		"clock":   clock,
		"bytes":   config.HumanBytes[uint64],
		"bitrate": bitrate,
		"pct":     func(f float64) string { return fmt.Sprintf("%.0f%%", f) },
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return time.Since(t).Round(time.Second).String()
		},
		"stamp": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return t.Local().Format("2006-01-02 15:04:05")
		},
		"initial": func(s string) string {
			for _, r := range s {
				return strings.ToUpper(string(r))
			}
			return "?"
		},
		// avail tells a nil list (that part is not available) from an empty one.
		"avail": func(v any) bool {
			rv := reflect.ValueOf(v)
			return rv.IsValid() && (rv.Kind() != reflect.Slice || !rv.IsNil())
		},
		"chartLabels": tr.chartLabels,
		"mib":         func(n int64) string { return strconv.FormatInt(n>>20, 10) },
		"join":        strings.Join,
		"mul100":      func(f float64) float64 { return 100 * f },
		"dur": func(d time.Duration) string {
			if d <= 0 {
				return "–"
			}
			return d.Round(time.Second).String()
		},
		"hours":      func(sec int) string { return strconv.Itoa(sec/3600) + " h" },
		"stateClass": func(s string) string { return "st-" + strings.ToLower(s) },
		"hhmm":       func(t time.Time) string { return t.Local().Format("15:04") },
		"u64":        func(n int64) uint64 { return uint64(max(n, 0)) },
	}
	base := sync.OnceValues(func() (*template.Template, error) {
		return template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/status.html")
	})
	var mu sync.Mutex // one Clone of base at a time
	out := map[string]*pageTemplate{}
	for _, name := range pageNames {
		out[name] = &pageTemplate{get: sync.OnceValues(func() (*template.Template, error) {
			b, err := base()
			if err != nil {
				return nil, err
			}
			mu.Lock()
			c, err := b.Clone()
			mu.Unlock()
			if err != nil {
				return nil, err
			}
			return c.ParseFS(templateFS, "templates/"+name+".html")
		})}
	}
	return out, nil
}

// pageData is what every page template gets.
type pageData struct {
	Lang   string
	User   string // logged-in user, "" for none
	Admin  bool
	CSRF   string // the session's CSRF token (logout form)
	Title  string
	Body   any
	Status int
}

// securityHeaders are set on every page; media may also come from
// mediaOrigin (a CDN's origin, "" for none).
func securityHeaders(w http.ResponseWriter, mediaOrigin string) {
	h := w.Header()
	o := ""
	if mediaOrigin != "" {
		o = " " + mediaOrigin
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:"+o+"; media-src 'self' blob:"+o+"; "+
		"script-src 'self'; worker-src 'self' blob:; style-src 'self'; connect-src 'self'"+o+"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}

// render writes a whole page, buffered so a template error gives a clean 500.
func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, page, title string, body any) {
	d := pageData{Lang: u.tr.lang, Title: title, Body: body, Status: code}
	if s := u.auth.session(r); s != nil {
		d.User, d.Admin, d.CSRF = s.user, s.admin(), s.csrf
	}
	u.exec(w, code, page, "layout", d)
}

func (u *UI) exec(w http.ResponseWriter, code int, page, name string, data any) {
	var buf bytes.Buffer
	t, err := u.pages[page].get()
	if err == nil {
		err = t.ExecuteTemplate(&buf, name, data)
	}
	if err != nil {
		u.log.Error("page template", "page", page, "err", err)
		http.Error(w, u.tr.t("err.internal"), http.StatusInternalServerError)
		return
	}
	securityHeaders(w, u.o.MediaOrigin)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, code int, key string) {
	u.render(w, r, code, "error", u.tr.t(key), u.tr.t(key))
}

// page is a handler open to everyone.
func (u *UI) page(h http.HandlerFunc) http.Handler { return h }

// viewer is a viewer page: with viewer_auth it needs a login.
func (u *UI) viewer(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.o.ViewerAuth && u.auth.session(r) == nil {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": u.tr.t("err.login")})
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// admin is an admin page: anonymous visitors are sent to the login form
// (the API gets 401), logged-in users outside group admin get 403.
func (u *UI) admin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := u.auth.session(r)
		api := strings.HasPrefix(r.URL.Path, "/api/")
		switch {
		case s == nil && api:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": u.tr.t("err.login")})
		case s == nil:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case !s.admin() && api:
			writeJSON(w, http.StatusForbidden, map[string]string{"error": u.tr.t("err.forbidden")})
		case !s.admin():
			u.errorPage(w, r, http.StatusForbidden, "err.forbidden")
		default:
			h(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// showGroup is a series with its seasons.
type showGroup struct {
	Name    string
	Poster  string
	Seasons []seasonGroup
}

type seasonGroup struct {
	Number   int     `json:"season"`
	Episodes []Title `json:"episodes"`
}

// albumGroup is an artist's album with its tracks.
type albumGroup struct {
	Artist string  `json:"artist"`
	Album  string  `json:"album"`
	Cover  string  `json:"cover,omitempty"` // the first track's cover art
	Tracks []Title `json:"tracks"`
}

// catalogueView is the catalogue grouped for the page and /api/catalogue.
type catalogueView struct {
	Channels []Channel    `json:"channels"`
	Live     []Stream     `json:"live"`
	Movies   []Title      `json:"movies"`
	Series   []showGroup  `json:"series"`
	Music    []albumGroup `json:"music"`
	Empty    bool         `json:"-"`
}

// group sorts the ready titles into films, series by show and season, and
// music by artist and album.
func group(titles []Title, live []Stream) catalogueView {
	v := catalogueView{Live: live, Movies: []Title{}, Series: []showGroup{}, Music: []albumGroup{}}
	shows := map[string]*showGroup{}
	albums := map[[2]string]*albumGroup{}
	for _, t := range titles {
		if t.State != StateReady {
			continue
		}
		switch t.Kind {
		case KindEpisode:
			name := cmp.Or(t.Show, t.Title)
			g := shows[name]
			if g == nil {
				g = &showGroup{Name: name}
				shows[name] = g
			}
			if g.Poster == "" {
				g.Poster = t.Poster
			}
			i := slices.IndexFunc(g.Seasons, func(s seasonGroup) bool { return s.Number == t.Season })
			if i < 0 {
				g.Seasons = append(g.Seasons, seasonGroup{Number: t.Season})
				i = len(g.Seasons) - 1
			}
			g.Seasons[i].Episodes = append(g.Seasons[i].Episodes, t)
		case KindTrack:
			k := [2]string{t.Artist, t.Album}
			g := albums[k]
			if g == nil {
				g = &albumGroup{Artist: t.Artist, Album: t.Album}
				albums[k] = g
			}
			if g.Cover == "" {
				g.Cover = t.Poster
			}
			g.Tracks = append(g.Tracks, t)
		default:
			v.Movies = append(v.Movies, t)
		}
	}
	slices.SortFunc(v.Movies, func(a, b Title) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title)), cmp.Compare(a.Year, b.Year))
	})
	for _, g := range shows {
		slices.SortFunc(g.Seasons, func(a, b seasonGroup) int { return cmp.Compare(a.Number, b.Number) })
		for _, s := range g.Seasons {
			slices.SortFunc(s.Episodes, func(a, b Title) int { return cmp.Compare(a.Episode, b.Episode) })
		}
		v.Series = append(v.Series, *g)
	}
	slices.SortFunc(v.Series, func(a, b showGroup) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	for _, g := range albums {
		// by the track number of the tags (tracks without one last), then by title
		num := func(t Title) int {
			if t.Track == 0 {
				return math.MaxInt
			}
			return t.Track
		}
		slices.SortFunc(g.Tracks, func(a, b Title) int {
			return cmp.Or(cmp.Compare(num(a), num(b)), cmp.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title)))
		})
		v.Music = append(v.Music, *g)
	}
	slices.SortFunc(v.Music, func(a, b albumGroup) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Artist), strings.ToLower(b.Artist)), cmp.Compare(strings.ToLower(a.Album), strings.ToLower(b.Album)))
	})
	v.Empty = len(v.Live) == 0 && len(v.Movies) == 0 && len(v.Series) == 0 && len(v.Music) == 0
	return v
}

func (u *UI) catalogueData(r *http.Request) (catalogueView, error) {
	var titles []Title
	if u.o.Catalogue != nil {
		var err error
		if titles, err = u.o.Catalogue.Titles(r.Context()); err != nil {
			return catalogueView{}, err
		}
	}
	var live []Stream
	if u.o.Live != nil {
		live = u.o.Live.Streams()
	}
	if live == nil {
		live = []Stream{}
	}
	var chans []Channel
	if u.o.Channels != nil {
		chans = u.o.Channels.Channels()
	}
	// a channel on air is a live stream too: it shows once, as a channel
	live = slices.DeleteFunc(slices.Clone(live), func(s Stream) bool {
		return slices.ContainsFunc(chans, func(c Channel) bool { return c.Name == s.Name })
	})
	v := group(titles, live)
	v.Channels = append([]Channel{}, chans...)
	v.Empty = v.Empty && len(v.Channels) == 0
	return v, nil
}

func (u *UI) catalogue(w http.ResponseWriter, r *http.Request) {
	v, err := u.catalogueData(r)
	if err != nil {
		u.log.Error("catalogue", "err", err)
		u.errorPage(w, r, http.StatusInternalServerError, "err.internal")
		return
	}
	u.render(w, r, http.StatusOK, "catalogue", u.tr.t("nav.catalogue"), v)
}

func (u *UI) apiCatalogue(w http.ResponseWriter, r *http.Request) {
	v, err := u.catalogueData(r)
	if err != nil {
		u.log.Error("catalogue", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "catalogue unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// watchView is the VOD player page.
type watchView struct {
	Title     Title
	Audio     bool
	Ready     bool
	Failed    bool
	Qualities []quality // the quality menu besides "auto"
}

// quality is one entry of the quality menu: a variant's media playlist.
type quality struct {
	URL    string
	Height int
}

func (u *UI) watch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if u.o.Catalogue == nil {
		u.errorPage(w, r, http.StatusNotFound, "err.notfound")
		return
	}
	titles, err := u.o.Catalogue.Titles(r.Context())
	if err != nil {
		u.log.Error("catalogue", "err", err)
		u.errorPage(w, r, http.StatusInternalServerError, "err.internal")
		return
	}
	i := slices.IndexFunc(titles, func(t Title) bool { return t.ID == id })
	if i < 0 {
		u.errorPage(w, r, http.StatusNotFound, "err.notfound")
		return
	}
	t := titles[i]
	v := watchView{Title: t, Audio: t.Kind == KindTrack, Ready: t.State == StateReady && t.HLS != "", Failed: t.State == StateFailed}
	if v.Ready && !v.Audio {
		base := strings.TrimSuffix(t.HLS, path.Base(t.HLS))
		for _, va := range t.Variants {
			if va.Height > 0 {
				v.Qualities = append(v.Qualities, quality{URL: base + va.Name + "/index.m3u8", Height: va.Height})
			}
		}
		slices.SortFunc(v.Qualities, func(a, b quality) int { return cmp.Compare(b.Height, a.Height) })
	}
	u.render(w, r, http.StatusOK, "watch", displayTitle(t), v)
}

// displayTitle is a title as a page heading shows it.
func displayTitle(t Title) string {
	if t.Kind == KindEpisode && t.Show != "" {
		return fmt.Sprintf("%s S%02dE%02d %s", t.Show, t.Season, t.Episode, t.Title)
	}
	return t.Title
}

// liveView is the live player page.
type liveView struct {
	Name    string
	OnAir   bool
	Stream  Stream
	Started string // RFC 3339, as /api/live/NAME says it
	HLS     string // where the player starts: the CDN's copy when there is one
	BoxHLS  string // this box's LL-HLS, when HLS is the CDN's
}

func (u *UI) livePage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v := liveView{Name: name, HLS: "/live/" + url.PathEscape(name) + "/index.m3u8"}
	if u.o.Live != nil {
		// the visitor is about to watch: count them already
		if s, ok := u.o.Live.Watch(name, r); ok {
			v.OnAir, v.Stream = true, s
			v.Started = s.Started.Format(time.RFC3339Nano)
			// once the bucket holds the stream, the CDN serves its viewers
			if u.o.LiveURL != nil {
				if cdn := u.o.LiveURL(name); cdn != "" {
					v.HLS, v.BoxHLS = cdn, v.HLS
				}
			}
		}
	}
	// An offline name gets the page too: it follows the stream and starts
	// playing when it comes on air (/api/live/NAME says the state).
	u.render(w, r, http.StatusOK, "live", name, v)
}

// loginView is the login form.
type loginView struct {
	CSRF  string
	Next  string
	User  string
	Error string
}

// safeNext keeps a post-login redirect on this site: a path on this host,
// with no backslash, space or control character (browsers drop tabs and
// newlines, so "/\t/evil" would become "//evil").
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || len(s) > 2000 ||
		strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '\\' || r == 0x7f }) {
		return "/"
	}
	if u, err := url.Parse(s); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return s
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	v := loginView{CSRF: u.auth.loginCSRF(w, r), Next: safeNext(r.URL.Query().Get("next"))}
	u.render(w, r, http.StatusOK, "login", u.tr.t("login.title"), v)
}

func (u *UI) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		u.errorPage(w, r, http.StatusBadRequest, "err.csrf")
		return
	}
	v := loginView{Next: safeNext(r.PostFormValue("next")), User: r.PostFormValue("user")}
	fail := func(code int, key, result string) {
		u.logins.WithLabelValues(result).Inc()
		v.CSRF, v.Error = u.auth.loginCSRF(w, r), u.tr.t(key)
		u.render(w, r, code, "login", u.tr.t("login.title"), v)
	}
	if !checkLoginCSRF(r) {
		fail(http.StatusForbidden, "err.csrf", "csrf")
		return
	}
	addr := clientAddr(r)
	if u.auth.isBanned(addr) {
		u.refusals.Note(addr, "web login refused: address banned")
		fail(http.StatusTooManyRequests, "login.banned", "banned")
		return
	}
	var acct Account
	err := errNoUsers
	if u.o.Users != nil {
		acct, err = u.o.Users.Authenticate(v.User, r.PostFormValue("password"))
	}
	if err != nil {
		banned := u.auth.failed(addr)
		// Whether the user exists, and only an existing user's name: what
		// was typed for an unknown one may be a password.
		who := []any{"user_exists", false}
		if !errors.Is(err, ErrUnknownUser) {
			who = []any{"user_exists", true, "user", logValue(v.User)}
		}
		if banned {
			u.log.Warn("web login failed; address banned", append(who, "remote", addr, "for", u.o.BanTime.String())...)
		} else {
			u.refusals.Note(addr, "web login failed", who...)
		}
		if banned {
			fail(http.StatusTooManyRequests, "login.banned", "banned")
			return
		}
		fail(http.StatusUnauthorized, "login.bad", "refused")
		return
	}
	u.auth.succeeded(addr)
	s := u.auth.login(w, r, acct)
	u.logins.WithLabelValues("ok").Inc()
	u.log.Info("web login", "user", logValue(acct.Name), "remote", addr, "admin", s.admin())
	if strings.HasPrefix(v.Next, "/admin") && !s.admin() {
		u.errorPage(w, r, http.StatusForbidden, "login.notadmin")
		return
	}
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if s := u.auth.session(r); s != nil {
		if !s.checkCSRF(r) {
			u.errorPage(w, r, http.StatusForbidden, "err.csrf")
			return
		}
		u.auth.logout(w, r)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// staticHandler serves the embedded files; no directory listings.
func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

func (u *UI) favicon(w http.ResponseWriter, r *http.Request) {
	r.URL.Path = "/icon.svg"
	w.Header().Set("Content-Type", "image/svg+xml")
	u.static.ServeHTTP(w, r)
}
