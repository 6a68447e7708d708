package webui

import (
	"errors"
	"net/http"
)

// Longest user name and password that basic authentication checks; longer
// ones are refused before any password hashing.
const (
	maxBasicUser     = 256
	maxBasicPassword = 1024
)

// basicViewer tells whether r carries the HTTP basic credentials of a user
// (any user may watch, as any may log in on the page). Failures count
// towards the address's login ban like the login form's, and are logged
// the same way (rate-limited, the name only of an existing user). A
// verified password is remembered by the user database for a while, so a
// player fetching a segment a second does not hash it each time.
func (u *UI) basicViewer(r *http.Request) bool {
	name, password, ok := r.BasicAuth()
	if !ok || u.o.Users == nil {
		return false
	}
	addr := clientAddr(r)
	if u.auth.isBanned(addr) {
		u.refusals.Note(addr, "viewer basic auth refused: address banned")
		return false
	}
	var err error = errNoUsers
	if len(name) <= maxBasicUser && len(password) <= maxBasicPassword {
		_, err = u.o.Users.Authenticate(name, password)
	}
	if err != nil {
		banned := u.auth.failed(addr)
		who := []any{"user_exists", false}
		// what was typed for an unknown user (or an oversized one) may be a password
		if !errors.Is(err, ErrUnknownUser) && len(name) <= maxBasicUser && len(password) <= maxBasicPassword {
			who = []any{"user_exists", true, "user", logValue(name)}
		}
		if banned {
			u.log.Warn("viewer basic auth failed; address banned", append(who, "remote", addr, "for", u.o.BanTime.String())...)
		} else {
			u.refusals.Note(addr, "viewer basic auth failed", who...)
		}
		return false
	}
	u.auth.succeeded(addr)
	return true
}
