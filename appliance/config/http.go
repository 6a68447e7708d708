package config

import "time"

// The [http] keys beyond listen (fields of HTTP in config.go):
//
//   - tls_listen: optional HTTPS listener ("host:port", e.g. ":8443"), with
//     the same certificate as FTPS; empty: no HTTPS.
//   - language: the web pages' language, "es" (default) or "en".
//   - viewer_auth: when true, the catalogue and player pages need a login
//     (any user); when false (default) they are public.
//   - session_ttl: how long a web login lasts.
//   - login_ban_after, login_ban_window, login_ban_time: login_ban_after
//     failed web logins from one address within login_ban_window refuse that
//     address's logins for login_ban_time (login_ban_after 0: off).

// Web page languages.
const (
	LangES = "es"
	LangEN = "en"
)

func defaultHTTP() HTTP {
	return HTTP{
		Listen:         ":8080",
		TLSListen:      "",
		Language:       LangES,
		ViewerAuth:     false,
		SessionTTL:     Duration(12 * time.Hour),
		LoginBanAfter:  5,
		LoginBanWindow: Duration(10 * time.Minute),
		LoginBanTime:   Duration(15 * time.Minute),
	}
}

// http checks the [http] keys added in this file.
func (v *validator) http(c *HTTP) {
	v.listen(c.TLSListen, "http.tls_listen", false)
	v.oneOf(c.Language, "http.language", LangES, LangEN)
	v.check(c.SessionTTL >= Duration(time.Minute), "http.session_ttl", "must be at least 1m")
	v.check(c.LoginBanAfter >= 0, "http.login_ban_after", "must not be negative (0: no bans)")
	if c.LoginBanAfter > 0 {
		v.check(c.LoginBanWindow > 0, "http.login_ban_window", "must be positive")
		v.check(c.LoginBanTime > 0, "http.login_ban_time", "must be positive")
	}
}
