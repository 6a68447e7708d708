package webui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
)

type channelList []Channel

func (c channelList) Channels() []Channel { return c }

// TestCatalogueChannels: the catalogue shows each channel with what is on
// now and next and a link to its player, in both languages; a channel on
// air is not listed again among the live streams.
func TestCatalogueChannels(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, time.Local) }
	chans := channelList{
		{Name: "pelis", Title: "Pelis <24h>",
			Now:  &Programme{Title: "Película (2024)", Kind: "film", Start: at(20, 0), End: at(22, 0)},
			Next: &Programme{Title: "Serie S01E02", Kind: "episode", Start: at(22, 0), End: at(22, 45)}},
		{Name: "vacio"},
	}
	live := streams{{Name: "pelis"}, {Name: "cam1"}}
	for lang, want := range map[string][]string{
		"en": {"Channels", "Now: Película (2024) (until 22:00)", "At 22:00: Serie S01E02", "Nothing on air", "Channel list (M3U)", "Programme guide (XMLTV)"},
		"es": {"Canales", "Ahora: Película (2024) (hasta las 22:00)", "A las 22:00: Serie S01E02", "Nada en antena", "Lista de canales (M3U)", "Guía de programación (XMLTV)"},
	} {
		_, srv := newTestUI(t, Options{Language: lang, Channels: chans, Live: live})
		_, body, _ := apptest.Get(t, client(t), srv.URL+"/")
		for _, w := range append(want, `href="/live/pelis"`, `href="/live/vacio"`, "Pelis &lt;24h&gt;", `href="/channels.m3u"`, `href="/epg.xml"`) {
			if !strings.Contains(body, w) {
				t.Errorf("%s: catalogue lacks %q", lang, w)
			}
		}
		if strings.Contains(body, "chan.") || strings.Contains(body, "cat.channels") {
			t.Errorf("%s: an untranslated key on the page", lang)
		}
		if n := strings.Count(body, `href="/live/pelis"`); n != 1 {
			t.Errorf("%s: channel pelis linked %d times, want once (not again as a live stream)", lang, n)
		}
		if !strings.Contains(body, `href="/live/cam1"`) {
			t.Errorf("%s: the live stream cam1 is gone", lang)
		}
		var v struct {
			Channels []Channel
			Live     []Stream
		}
		_, js, _ := apptest.Get(t, client(t), srv.URL+"/api/catalogue")
		if err := json.Unmarshal([]byte(js), &v); err != nil || len(v.Channels) != 2 || v.Channels[0].Now.Title != "Película (2024)" || len(v.Live) != 1 {
			t.Errorf("%s: /api/catalogue %v: %s", lang, err, js)
		}
	}
	if len(live) != 2 {
		t.Error("the catalogue changed the live list it was given")
	}
}

// TestViewerBasicAuth: with viewer_auth, players that cannot log in on the
// page get the media and the guide with HTTP basic authentication; wrong
// credentials get 401 with a challenge and count towards the ban.
func TestViewerBasicAuth(t *testing.T) {
	u, err := New(Options{Language: "en", ViewerAuth: true, BanAfter: 3, BanWindow: time.Minute, BanTime: time.Minute,
		Users: accounts{"viewer": {"v1ewer-pass", []string{"family"}}}.db(t)})
	if err != nil {
		t.Fatal(err)
	}
	media := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(u.ViewerGate(media))
	defer srv.Close()
	get := func(path, user, pass string, cookie bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if cookie {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "expired"})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, p := range []string{"/channels.m3u", "/epg.xml", "/api/channels", "/live/pelis/index.m3u8", "/vod/aaaaaaaaaaaa/index.m3u8"} {
		if r := get(p, "", "", false); r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Basic realm="thecure"`) {
			t.Errorf("anonymous %s = %d %q, want 401 with a basic challenge", p, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
		if r := get(p, "viewer", "v1ewer-pass", false); r.StatusCode != 200 {
			t.Errorf("%s with basic auth = %d", p, r.StatusCode)
		}
	}
	// A browser whose session ended gets no challenge (no password dialog
	// in the middle of a page): its page sends it to the login form.
	if r := get("/epg.xml", "", "", true); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("expired session: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if r := get("/epg.xml", "viewer", strings.Repeat("x", 5000), false); r.StatusCode != 401 {
		t.Errorf("oversized password = %d", r.StatusCode)
	}
	for range 2 {
		if r := get("/epg.xml", "viewer", "wrong", false); r.StatusCode != 401 {
			t.Errorf("wrong password = %d", r.StatusCode)
		}
	}
	// Three failures from this address: banned, even with the password.
	if r := get("/epg.xml", "viewer", "v1ewer-pass", false); r.StatusCode != 401 {
		t.Errorf("right password while banned = %d, want 401", r.StatusCode)
	}
}
