package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"thecure/appliance/loginban"
)

// Cookie names. The session cookie is HttpOnly and SameSite=Lax (Secure on
// HTTPS); the login form's CSRF cookie is SameSite=Strict.
const (
	sessionCookie   = "thecure_session"
	loginCSRFCookie = "thecure_login_csrf"
	csrfField       = "csrf"
	csrfHeader      = "X-CSRF-Token"
)

// session is one login.
type session struct {
	user    string
	groups  []string
	csrf    string
	expires time.Time
}

func (s *session) admin() bool { return slices.Contains(s.groups, AdminGroup) }

// checkCSRF reports whether the request carries the session's CSRF token.
func (s *session) checkCSRF(r *http.Request) bool {
	tok := r.Header.Get(csrfHeader)
	if tok == "" {
		tok = r.PostFormValue(csrfField)
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrf)) == 1
}

// auth keeps the logins (in memory: a restart logs everyone out) and the
// failed-login record per address.
type auth struct {
	o   Options
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
	bans     *loginban.List // failed logins per address (the same rule as FTPS)
}

func newAuth(o Options, now func() time.Time) *auth {
	return &auth{o: o, now: now, sessions: map[string]*session{}, bans: loginban.New(o.BanAfter, o.BanWindow, o.BanTime)}
}

func token() string { return rand.Text() }

func (a *auth) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sessions)
}

// session returns the request's login, or nil.
func (a *auth) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil {
		return nil
	}
	if !a.now().Before(s.expires) {
		delete(a.sessions, c.Value)
		return nil
	}
	return s
}

// login opens a session for acct and sets its cookie.
func (a *auth) login(w http.ResponseWriter, r *http.Request, acct Account) *session {
	id := token()
	s := &session{user: acct.Name, groups: slices.Clone(acct.Groups), csrf: token(), expires: a.now().Add(a.o.SessionTTL)}
	a.mu.Lock()
	for k, old := range a.sessions { // drop expired ones now and then
		if !a.now().Before(old.expires) {
			delete(a.sessions, k)
		}
	}
	a.sessions[id] = s
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, Expires: s.expires, MaxAge: int(a.o.SessionTTL.Seconds()),
	})
	return s
}

// logout ends the request's session and clears its cookie.
func (a *auth) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// loginCSRF returns the login form's CSRF token, setting its cookie when the
// visitor has none (double-submit: the form field must equal the cookie).
func (a *auth) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) >= 20 {
		return c.Value
	}
	tok := token()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/login", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return tok
}

func checkLoginCSRF(r *http.Request) bool {
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || c.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) == 1
}

// clientAddr is the address that failed logins are counted against.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isBanned tells whether addr may not log in now.
func (a *auth) isBanned(addr string) bool {
	banned, _ := a.bans.Banned(addr, a.now())
	return banned
}

// failed records a failed login from addr and reports whether addr is now banned.
func (a *auth) failed(addr string) bool { return a.bans.Failed(addr, a.now()) }

// succeeded forgets addr's failures.
func (a *auth) succeeded(addr string) { a.bans.Succeeded(addr) }
