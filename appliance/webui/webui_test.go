package webui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"thecure/appliance/apptest"
	"thecure/appliance/health"
	"thecure/appliance/store"
	"thecure/appliance/users"
)

// accounts makes a real user database (appliance/users in a bbolt file in
// a temporary folder) with these users, seen through the Users interface as
// the appliance connects it.
type accounts map[string]struct {
	pass   string
	groups []string
}

type userDB struct{ u *users.Users }

func (d userDB) Authenticate(name, pass string) (Account, error) {
	u, err := d.u.Authenticate(name, pass)
	if err != nil {
		if errors.Is(err, users.ErrUnknownUser) {
			return Account{}, fmt.Errorf("%w: %w", ErrUnknownUser, err)
		}
		return Account{}, err
	}
	return Account{Name: u.Name, Groups: u.Groups}, nil
}

func (a accounts) db(t testing.TB) Users {
	t.Helper()
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db := users.NewWithCost(st, bcrypt.MinCost)
	for name, u := range a {
		if _, err := db.Add(name, u.pass, u.groups); err != nil {
			t.Fatal(err)
		}
	}
	return userDB{db}
}

type titles []Title

func (t titles) Titles(context.Context) ([]Title, error) { return t, nil }

type jobs []Job

func (j jobs) Jobs(context.Context) ([]Job, error) { return j, nil }

type streams []Stream

func (s streams) Streams() []Stream { return s }

func (s streams) Watch(name string, _ *http.Request) (Stream, bool) {
	for _, st := range s {
		if st.Name == name {
			st.Viewers++ // the visitor
			return st, true
		}
	}
	return Stream{}, false
}

var testTitles = titles{
	{ID: "aaaaaaaaaaaa", Kind: KindMovie, Title: "Zeta Film", Year: 2021, State: StateReady, HLS: "/vod/aaaaaaaaaaaa/index.m3u8", Duration: 5400},
	{ID: "bbbbbbbbbbbb", Kind: KindMovie, Title: "Alpha Film", State: StateReady, HLS: "/vod/bbbbbbbbbbbb/index.m3u8", Poster: "/vod/bbbbbbbbbbbb/poster.jpg"},
	{ID: "cccccccccccc", Kind: KindEpisode, Title: "Pilot", Show: "The Show", Season: 1, Episode: 1, State: StateReady, HLS: "/vod/cccccccccccc/index.m3u8"},
	{ID: "dddddddddddd", Kind: KindEpisode, Title: "Return", Show: "The Show", Season: 2, Episode: 1, State: StateReady, HLS: "/vod/dddddddddddd/index.m3u8"},
	{ID: "eeeeeeeeeeee", Kind: KindEpisode, Title: "Second", Show: "The Show", Season: 1, Episode: 2, State: StateReady, HLS: "/vod/eeeeeeeeeeee/index.m3u8"},
	{ID: "ffffffffffff", Kind: KindTrack, Title: "Song", Artist: "Band", Album: "Record", State: StateReady, HLS: "/vod/ffffffffffff/index.m3u8"},
	{ID: "000000000000", Kind: KindMovie, Title: "Broken Upload", State: StateFailed, Source: "pelis/broken.mp4", Error: "invalid data found", Updated: time.Now()},
	{ID: "111111111111", Kind: KindMovie, Title: "Still Encoding", State: "processing"},
}

func newTestUI(t *testing.T, o Options) (*UI, *httptest.Server) {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Users == nil {
		o.Users = accounts{
			"boss":  {"s3cret-pass", []string{"admin"}},
			"uploa": {"upl0ad-pass", []string{"innovatech"}},
		}.db(t)
	}
	if o.BanAfter == 0 {
		o.BanAfter, o.BanWindow, o.BanTime = 3, time.Minute, time.Minute
	}
	u, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range u.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return u, srv
}

// client is a browser-like client: cookies, no automatic redirects.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login fetches the form and posts it.
func login(t *testing.T, c *http.Client, base, user, pass, next string) (int, string, http.Header) {
	t.Helper()
	_, body, _ := apptest.Get(t, c, base+"/login?next="+url.QueryEscape(next))
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in login form:\n%s", body)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {pass}, "next": {next}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestCatalogueGroupsTitles(t *testing.T) {
	_, srv := newTestUI(t, Options{Language: "en", Catalogue: testTitles, Live: streams{{Name: "cam1", Viewers: 3}}})
	code, body, hdr := apptest.Get(t, client(t), srv.URL+"/")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("no CSP header: %v", hdr)
	}
	for _, want := range []string{`lang="en"`, "Live now", `href="/live/cam1"`, "3 viewers", "Films", "Series", "Season 1", "Season 2", "Music", "Band — Record", `src="/vod/bbbbbbbbbbbb/poster.jpg"`} {
		if !strings.Contains(body, want) {
			t.Errorf("catalogue lacks %q", want)
		}
	}
	// Sorted: Alpha before Zeta; episode 1 before 2; failed and unfinished titles hidden.
	if strings.Index(body, "Alpha Film") > strings.Index(body, "Zeta Film") {
		t.Error("films are not sorted by title")
	}
	if strings.Index(body, "Pilot") > strings.Index(body, "Second") {
		t.Error("episodes are not sorted")
	}
	for _, hidden := range []string{"Broken Upload", "Still Encoding"} {
		if strings.Contains(body, hidden) {
			t.Errorf("catalogue shows %q, which is not ready", hidden)
		}
	}

	var v struct {
		Series []struct {
			Name    string
			Seasons []struct {
				Season   int
				Episodes []Title
			}
		}
	}
	if code := getJSONc(t, srv.URL+"/api/catalogue", &v); code != 200 || len(v.Series) != 1 || len(v.Series[0].Seasons) != 2 || len(v.Series[0].Seasons[0].Episodes) != 2 {
		t.Errorf("/api/catalogue = %d %+v", code, v)
	}
}

func getJSONc(t *testing.T, u string, out any) int {
	t.Helper()
	code, body, _ := apptest.Get(t, http.DefaultClient, u)
	if err := jsonDecode(strings.NewReader(body), out); err != nil {
		t.Fatal(err)
	}
	return code
}

func TestSpanishByDefault(t *testing.T) {
	_, srv := newTestUI(t, Options{})
	_, body, _ := apptest.Get(t, client(t), srv.URL+"/")
	for _, want := range []string{`lang="es"`, "El catálogo está vacío", "Entrar"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if _, err := New(Options{Language: "fr"}); err == nil {
		t.Error("New accepted language fr")
	}
}

func TestWatchAndLivePages(t *testing.T) {
	_, srv := newTestUI(t, Options{Language: "en", Catalogue: testTitles, Live: streams{{Name: "cam1"}}})
	c := client(t)
	code, body, _ := apptest.Get(t, c, srv.URL+"/watch/bbbbbbbbbbbb")
	if code != 200 || !strings.Contains(body, `data-src="/vod/bbbbbbbbbbbb/index.m3u8"`) || !strings.Contains(body, "<video") {
		t.Errorf("watch page = %d:\n%s", code, body)
	}
	if _, body, _ = apptest.Get(t, c, srv.URL+"/watch/ffffffffffff"); !strings.Contains(body, "<audio") {
		t.Error("a track does not get an audio player")
	}
	if code, _, _ = apptest.Get(t, c, srv.URL+"/watch/999999999999"); code != 404 {
		t.Errorf("unknown title = %d, want 404", code)
	}
	if _, body, _ = apptest.Get(t, c, srv.URL+"/watch/111111111111"); !strings.Contains(body, "not ready") || strings.Contains(body, "<video") {
		t.Error("a title being processed shows a player")
	}
	code, body, _ = apptest.Get(t, c, srv.URL+"/live/cam1")
	if code != 200 || !strings.Contains(body, `data-src="/live/cam1/index.m3u8"`) || !strings.Contains(body, "LIVE") {
		t.Errorf("live page = %d:\n%s", code, body)
	}
	if code, body, _ = apptest.Get(t, c, srv.URL+"/live/nobody"); code != 200 || !strings.Contains(body, "not live") || !strings.Contains(body, `data-state="offline"`) {
		t.Errorf("offline live page = %d", code)
	}
	if code, body, hdr := apptest.Get(t, c, srv.URL+"/static/player.js"); code != 200 || !strings.Contains(body, "MediaSource") || !strings.Contains(hdr.Get("Content-Type"), "javascript") {
		t.Errorf("player.js = %d %s", code, hdr.Get("Content-Type"))
	}
	if code, _, _ = apptest.Get(t, c, srv.URL+"/static/"); code != 404 {
		t.Errorf("static directory listing = %d, want 404", code)
	}
}

func TestAdminNeedsAdminLogin(t *testing.T) {
	hreg := health.NewRegistry()
	hreg.Set("http", health.Up, "127.0.0.1:8080")
	hreg.Set("transcode", health.Down, "ffmpeg not found")
	_, srv := newTestUI(t, Options{Language: "en", Health: hreg, Catalogue: testTitles,
		Jobs: jobs{
			{ID: "upload:series/Show.S01E03.mkv", Source: "series/Show.S01E03.mkv", State: StateUploading, Bytes: 3 << 20, Rate: 1 << 20},
			{ID: "j1", Source: "pelis/new.mp4", State: "running", Progress: 42, Speed: 3.5, ETA: 20},
		},
		Disks: []Disk{{Label: "data", Path: t.TempDir()}, {Label: "media", Path: t.TempDir()}, {Label: "later", Path: "/proc/nonexistent/dir"}, {Label: "bad", Path: "/proc/self/status/x"}}})

	anon := client(t)
	code, _, hdr := apptest.Get(t, anon, srv.URL+"/admin")
	if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login?next=%2Fadmin") {
		t.Errorf("anonymous /admin = %d %s, want a redirect to the login", code, hdr.Get("Location"))
	}
	if code, _, _ = apptest.Get(t, anon, srv.URL+"/api/status"); code != http.StatusUnauthorized {
		t.Errorf("anonymous /api/status = %d, want 401", code)
	}

	// A user outside group admin logs in but may not see /admin.
	user := client(t)
	if code, _, _ := login(t, user, srv.URL, "uploa", "upl0ad-pass", "/"); code != http.StatusSeeOther {
		t.Fatalf("user login = %d", code)
	}
	if code, _, _ = apptest.Get(t, user, srv.URL+"/admin"); code != http.StatusForbidden {
		t.Errorf("non-admin /admin = %d, want 403", code)
	}

	admin := client(t)
	code, _, hdr = login(t, admin, srv.URL, "boss", "s3cret-pass", "/admin")
	if code != http.StatusSeeOther || hdr.Get("Location") != "/admin" {
		t.Fatalf("admin login = %d %s", code, hdr.Get("Location"))
	}
	ck := hdr.Get("Set-Cookie")
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") {
		t.Errorf("session cookie %q lacks HttpOnly or SameSite", ck)
	}
	code, body, _ := apptest.Get(t, admin, srv.URL+"/admin")
	for _, want := range []string{"System status", "pelis/new.mp4", `value="42"`, "3.5×", "ffmpeg not found", "pelis/broken.mp4", "invalid data found", "data",
		"series/Show.S01E03.mkv", "3.0 MiB", "1.0 MiB/s"} {
		if !strings.Contains(body, want) {
			t.Errorf("admin page lacks %q", want)
		}
	}
	if code != 200 {
		t.Errorf("admin /admin = %d", code)
	}
	if _, frag, _ := apptest.Get(t, admin, srv.URL+"/admin?fragment=1"); strings.Contains(frag, "<html") || !strings.Contains(frag, "pelis/new.mp4") {
		t.Error("the refresh fragment is not the status part alone")
	}
	var st statusView
	resp, _ := admin.Get(srv.URL + "/api/status")
	// Two folders on one file system share a row; a folder not made yet
	// counts on its parent's file system; one that cannot be read says why.
	if err := jsonDecode(resp.Body, &st); err != nil || len(st.Queue) != 2 || st.Queue[0].State != StateUploading || len(st.Disks) != 3 ||
		st.Disks[0].Size == 0 || st.Disks[0].Label != "data, media" || st.Disks[1].Label != "later" || st.Disks[1].Error != "" || st.Disks[2].Error == "" {
		t.Errorf("/api/status: %v %+v", err, st)
	}
	resp.Body.Close()

	// Logout needs the CSRF token.
	resp, err := admin.PostForm(srv.URL+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF = %d, want 403", resp.StatusCode)
	}
	m := csrfRe.FindStringSubmatch(body)
	resp, _ = admin.PostForm(srv.URL+"/logout", url.Values{"csrf": {m[1]}})
	resp.Body.Close()
	if code, _, _ = apptest.Get(t, admin, srv.URL+"/admin"); code != http.StatusSeeOther {
		t.Errorf("/admin after logout = %d", code)
	}
}

func TestLoginCSRFAndBan(t *testing.T) {
	_, srv := newTestUI(t, Options{Language: "en"})
	c := client(t)
	// A form posted without the CSRF cookie and field (a cross-site post) is refused.
	resp, err := c.PostForm(srv.URL+"/login", url.Values{"user": {"boss"}, "password": {"s3cret-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without CSRF = %d, want 403", resp.StatusCode)
	}
	for i := 1; i <= 2; i++ {
		if code, body, _ := login(t, c, srv.URL, "boss", "wrong", "/admin"); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name") {
			t.Errorf("bad password #%d = %d", i, code)
		}
	}
	if code, _, _ := login(t, c, srv.URL, "boss", "wrong", "/admin"); code != http.StatusTooManyRequests {
		t.Errorf("third bad password = %d, want 429 (banned)", code)
	}
	// Banned: even the right password is refused now.
	if code, body, _ := login(t, c, srv.URL, "boss", "s3cret-pass", "/admin"); code != http.StatusTooManyRequests || !strings.Contains(body, "Too many") {
		t.Errorf("right password while banned = %d", code)
	}
}

func TestViewerAuth(t *testing.T) {
	u, err := New(Options{Language: "en", ViewerAuth: true, Catalogue: testTitles,
		Users: accounts{"uploa": {"upl0ad-pass", []string{"innovatech"}}}.db(t)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range u.Routes() {
		mux.Handle(p, h)
	}
	media := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "#EXTM3U\n") })
	mux.Handle("GET /vod/{id}/{file...}", media)
	mux.Handle("GET /live/{name}/{file}", media)
	srv := httptest.NewServer(u.ViewerGate(mux))
	defer srv.Close()
	c := client(t)
	for _, p := range []string{"/vod/bbbbbbbbbbbb/index.m3u8", "/live/cam1/index.m3u8"} {
		if code, _, _ := apptest.Get(t, c, srv.URL+p); code != http.StatusUnauthorized {
			t.Errorf("anonymous %s with viewer_auth = %d, want 401", p, code)
		}
	}
	if code, _, hdr := apptest.Get(t, c, srv.URL+"/watch/bbbbbbbbbbbb"); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
		t.Errorf("anonymous watch with viewer_auth = %d", code)
	}
	if code, _, _ := login(t, c, srv.URL, "uploa", "upl0ad-pass", "/watch/bbbbbbbbbbbb"); code != http.StatusSeeOther {
		t.Fatalf("login = %d", code)
	}
	if code, body, _ := apptest.Get(t, c, srv.URL+"/watch/bbbbbbbbbbbb"); code != 200 || !strings.Contains(body, "Alpha Film") {
		t.Errorf("watch after login = %d", code)
	}
	for _, p := range []string{"/vod/bbbbbbbbbbbb/index.m3u8", "/live/cam1/index.m3u8"} {
		if code, _, _ := apptest.Get(t, c, srv.URL+p); code != http.StatusOK {
			t.Errorf("%s after login = %d", p, code)
		}
	}
	// Without viewer_auth the gate lets everything through.
	open, _ := New(Options{})
	rec := httptest.NewRecorder()
	open.ViewerGate(media).ServeHTTP(rec, httptest.NewRequest("GET", "/vod/x/index.m3u8", nil))
	if rec.Code != 200 {
		t.Errorf("open gate = %d", rec.Code)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{"/admin": "/admin", "//evil.example/": "/", "https://evil.example/": "/", "": "/", "/\\evil": "/",
		"/\t/evil.example": "/", "/watch/abc?x=1": "/watch/abc?x=1"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeNext: whatever a visitor puts in ?next=, the redirect after login
// stays on this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/admin", "//evil.example", "/\\evil", "https://x", "", "/watch/abc?x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		// What a browser makes of it: tabs and newlines dropped, \ read as /.
		seen := strings.ReplaceAll(strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, got), "\\", "/")
		u, err := url.Parse(seen)
		if !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") || err != nil || u.Host != "" || u.Scheme != "" {
			t.Errorf("safeNext(%q) = %q leaves the site", s, got)
		}
	})
}

// TestRequireAdmin: a mutating API call wrapped with RequireAdmin needs an
// admin's login and, for anything but GET, the session's CSRF token.
func TestRequireAdmin(t *testing.T) {
	u, srv := newTestUI(t, Options{Language: "en"})
	api := httptest.NewServer(u.RequireAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "done") })))
	defer api.Close()
	do := func(c *http.Client, method, csrf string) int {
		req, _ := http.NewRequest(method, api.URL+"/api/thing", nil)
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		// The session cookie is the UI server's; both listen on 127.0.0.1.
		for _, ck := range c.Jar.Cookies(mustURL(t, srv.URL)) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	anon := client(t)
	if code := do(anon, "POST", ""); code != http.StatusForbidden {
		t.Errorf("anonymous POST = %d, want 403", code)
	}
	user := client(t)
	login(t, user, srv.URL, "uploa", "upl0ad-pass", "/")
	if code := do(user, "GET", ""); code != http.StatusForbidden {
		t.Errorf("non-admin GET = %d, want 403", code)
	}
	admin := client(t)
	_, _, _ = login(t, admin, srv.URL, "boss", "s3cret-pass", "/admin")
	_, body, _ := apptest.Get(t, admin, srv.URL+"/admin")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the admin page")
	}
	for _, c := range []struct {
		method, csrf string
		want         int
	}{{"GET", "", 200}, {"POST", "", 403}, {"POST", "wrong", 403}, {"DELETE", m[1], 200}, {"POST", m[1], 200}} {
		if code := do(admin, c.method, c.csrf); code != c.want {
			t.Errorf("admin %s with CSRF %q = %d, want %d", c.method, c.csrf, code, c.want)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// relayList is a fixed list of relays.
type relayList []Relay

func (r relayList) Relays() []Relay { return r }

// TestAdminRelays: /admin shows each RTMP relay (kind, stream, masked
// target, state, since, reconnects, bytes, last error) in the page's
// language, and says so when there is none.
func TestAdminRelays(t *testing.T) {
	since := time.Date(2026, 11, 30, 21, 0, 0, 0, time.Local)
	relays := relayList{
		{Kind: "push", Stream: "cam", Target: "rtmp://edge.example:1935/live/****", State: "up", Since: since, Reconnects: 0, Bytes: 3 << 20},
		{Kind: "pull", Stream: "news", Target: "rtmp://origin.example/live/****?key=****", State: "retrying", Since: since,
			Reconnects: 7, LastError: "dial tcp 10.0.0.9:1935: connection refused"},
	}
	for _, c := range []struct {
		lang string
		want []string
	}{
		{"en", []string{"RTMP relays", "push", "pull", "Server", "Reconnects", "Last error", ">up<", ">retrying<", "3.0 MiB", "connection refused",
			"rtmp://edge.example:1935/live/****", "rtmp://origin.example/live/****?key=****", "2026-11-30 21:00:00", `data-state="retrying"`, `class="num">7<`}},
		{"es", []string{"Relés RTMP", "envío", "recepción", "Servidor", "Reconexiones", "Último error", ">en marcha<", ">reintentando<", "3.0 MiB"}},
	} {
		_, srv := newTestUI(t, Options{Language: c.lang, Relays: relays})
		admin := client(t)
		if code, _, _ := login(t, admin, srv.URL, "boss", "s3cret-pass", "/admin"); code != http.StatusSeeOther {
			t.Fatalf("%s: admin login = %d", c.lang, code)
		}
		_, body, _ := apptest.Get(t, admin, srv.URL+"/admin")
		i := strings.Index(body, `id="relays"`)
		if i < 0 {
			t.Fatalf("%s: no relays section on /admin", c.lang)
		}
		sec := body[i:]
		sec = sec[:strings.Index(sec, "</section>")]
		for _, w := range c.want {
			if !strings.Contains(sec, w) {
				t.Errorf("%s: the relays section lacks %q:\n%s", c.lang, w, sec)
			}
		}
		if n := strings.Count(sec, `<tr class="relay"`); n != 2 {
			t.Errorf("%s: %d relay rows, want 2", c.lang, n)
		}
	}
	_, srv := newTestUI(t, Options{Language: "en", Relays: relayList{}})
	admin := client(t)
	login(t, admin, srv.URL, "boss", "s3cret-pass", "/admin")
	if _, body, _ := apptest.Get(t, admin, srv.URL+"/admin"); !strings.Contains(body, "No relay active") {
		t.Error("/admin without relays does not say so")
	}
}
