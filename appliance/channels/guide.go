package channels

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"
)

// GuideAhead is how far ahead /epg.xml lists the programmes (besides the
// one on air now).
const GuideAhead = 48 * time.Hour

// guideGroup is the group-title of every channel in /channels.m3u.
const guideGroup = "thecure"

// guideMaxAge is how long players and caches may keep /channels.m3u and
// /epg.xml (both carry an ETag, so a refresh after that is cheap).
const guideMaxAge = "private, max-age=60"

// GuideOptions are what the guide needs besides the timeline.
type GuideOptions struct {
	// PublicHost is the config's public_host: the host that the absolute
	// URLs of /channels.m3u and /epg.xml name, with the port the request
	// came to. Empty: the request's own Host.
	PublicHost string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// guide serves the channels' guide from a Timeline.
type guide struct {
	tl  Timeline // nil: no channel configured
	o   GuideOptions
	now func() time.Time

	// the last guides made, by base URL, so that a flood of /epg.xml
	// requests costs one build per epgTTL each
	mu   sync.Mutex
	epgs map[string]builtEPG
}

// builtEPG is a guide document and when it was made.
type builtEPG struct {
	at   time.Time
	body []byte
}

// epgTTL is how long a built guide is served again; epgKeep is how many
// base URLs (hosts, credentials) are kept at most.
const (
	epgTTL  = 10 * time.Second
	epgKeep = 64
)

// GuideRoutes are the guide's routes, as net/http patterns: /api/channels
// (JSON: each channel with what is on now and next), /channels.m3u (an
// extended M3U playlist for IPTV players) and /epg.xml (XMLTV, the
// programme on air and the next 48 h). A nil tl is a box with no channel:
// the three answer an empty list, playlist and guide. The routes check no
// login: [http] viewer_auth closes them around the whole server, as it
// closes the other viewer content.
func GuideRoutes(tl Timeline, o GuideOptions) map[string]http.Handler {
	g := &guide{tl: Configured(tl), o: o, now: o.Now}
	if g.now == nil {
		g.now = time.Now
	}
	return map[string]http.Handler{
		"GET /api/channels": http.HandlerFunc(g.apiChannels),
		"GET /channels.m3u": http.HandlerFunc(g.playlist),
		"GET /epg.xml":      http.HandlerFunc(g.epg),
	}
}

// Configured is tl, or nil when tl is nil or a nil pointer (a playout that
// was not built because no channel is configured): the guide then answers
// empty.
func Configured(tl Timeline) Timeline {
	if tl == nil {
		return nil
	}
	if v := reflect.ValueOf(tl); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	return tl
}

// channels is the timeline's channel list; none without a timeline.
func (g *guide) channels() []Channel {
	if g.tl == nil {
		return nil
	}
	return g.tl.Channels()
}

// MaxGuideEntries bounds the programmes the guide lists per channel (a
// channel of 4-second clips would otherwise list 43200 in 48 h).
const MaxGuideEntries = 2000

// programme is what channel name plays from the entry on air at now to
// now+ahead, in order, leaving out entries that end before they start or
// are over already; a run of slates (each a short loop) is one entry; at
// most MaxGuideEntries.
func (g *guide) programme(name string, now time.Time, ahead time.Duration) []Entry {
	var out []Entry
	for _, e := range g.tl.Programme(name, now, now.Add(ahead)) {
		if !e.End.After(e.Start) || !e.End.After(now) {
			continue
		}
		if n := len(out); n > 0 && e.Kind == "slate" && out[n-1].Kind == "slate" &&
			out[n-1].Title == e.Title && out[n-1].End.Equal(e.Start) {
			out[n-1].End = e.End
			continue
		}
		if len(out) == MaxGuideEntries {
			break
		}
		out = append(out, e)
	}
	return out
}

// LivePath is the path of channel name's HLS playlist.
func LivePath(name string) string { return "/live/" + url.PathEscape(name) + "/index.m3u8" }

// ChannelNow is one channel as /api/channels shows it.
type ChannelNow struct {
	Channel
	HLS  string `json:"hls"`  // URL path of its HLS playlist
	RTMP string `json:"rtmp"` // path of its RTMP stream on the RTMP listener
	Now  *Entry `json:"now,omitempty"`
	Next *Entry `json:"next,omitempty"`
}

// NowNext lists the channels of tl (nil: none) with the programme on air
// at now and the one after it.
func NowNext(tl Timeline, now time.Time) []ChannelNow {
	g := &guide{tl: Configured(tl)}
	out := []ChannelNow{}
	for _, c := range g.channels() {
		cn := ChannelNow{Channel: c, HLS: LivePath(c.Name), RTMP: "/live/" + url.PathEscape(c.Name)}
		// a few hours hold now and next but for long programmes (or a
		// long slate): only then ask for the whole guide's span
		for _, ahead := range []time.Duration{3 * time.Hour, GuideAhead} {
			es := g.programme(c.Name, now, ahead)
			cn.Now, cn.Next = nil, nil
			for i := range es {
				if es[i].Start.After(now) {
					cn.Next = &es[i]
					break
				}
				if cn.Now == nil {
					cn.Now = &es[i]
				}
			}
			if cn.Next != nil {
				break
			}
		}
		out = append(out, cn)
	}
	return out
}

func (g *guide) apiChannels(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// an error here is a client gone away: nobody to tell
	_ = json.NewEncoder(w).Encode(struct {
		Channels []ChannelNow `json:"channels"`
	}{NowNext(g.tl, g.now())})
}

// serve writes body with an ETag (its hash), so that players that poll
// get 304 while nothing changed; it answers HEAD and Range too.
func serve(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	sum := sha256.Sum256(body)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", guideMaxAge)
	h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// baseURL is scheme://host[:port] of the absolute URLs the playlist and
// the guide name: public_host (with the port the request came to) when it
// is set, else the request's Host; a Host that is not a plain host name or
// address (and port) gives way to the address the request came to. The
// request's basic credentials, if any, go with it.
func (g *guide) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if !plainHost(host) {
		host = "localhost" // a request that came through no listener (none does)
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = a.String()
		}
	}
	if g.o.PublicHost != "" {
		ph := g.o.PublicHost
		if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
			host = net.JoinHostPort(ph, port)
		} else if strings.Contains(ph, ":") {
			host = "[" + ph + "]"
		} else {
			host = ph
		}
	}
	u := &url.URL{Scheme: scheme, Host: host}
	// A player that sent a user's name and password (viewer_auth: VLC and
	// Kodi take them in the playlist's URL, http://USER:PASSWORD@HOST/...)
	// needs them on every URL it reads from the playlist too.
	if name, password, ok := r.BasicAuth(); ok {
		u.User = url.UserPassword(name, password)
	}
	return u.String()
}

// plainHost tells a host[:port] made only of letters, digits, dots,
// hyphens, underscores, and the colons and brackets of an IPv6 address.
func plainHost(h string) bool {
	if h == "" || len(h) > 300 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// absolute makes a logo or page path absolute on base; an absolute http(s)
// URL stays as it is; anything else is dropped ("").
func absolute(base, p string) string {
	if p == "" {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil {
		return ""
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		if u.Host == "" {
			return ""
		}
		return u.String()
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/"):
		return base + u.String()
	}
	return ""
}

// kindCategory is the XMLTV category of an entry's kind, in the words
// Jellyfin, Kodi and TiviMate recognise ("Movie" marks a film in
// Jellyfin's default settings); "" for none (the slate).
func kindCategory(kind string) string {
	switch kind {
	case "film":
		return "Movie"
	case "episode":
		return "Series"
	case "track":
		return "Music"
	}
	return ""
}

// XMLTV's elements (https://github.com/XMLTV/xmltv/blob/master/xmltv.dtd).
type (
	xmltvTV struct {
		XMLName    xml.Name         `xml:"tv"`
		Source     string           `xml:"source-info-name,attr"`
		Generator  string           `xml:"generator-info-name,attr"`
		Channels   []xmltvChannel   `xml:"channel"`
		Programmes []xmltvProgramme `xml:"programme"`
	}
	xmltvChannel struct {
		ID    string      `xml:"id,attr"`
		Names []xmltvText `xml:"display-name"`
		Icon  *xmltvIcon  `xml:"icon,omitempty"`
	}
	xmltvText struct {
		Lang string `xml:"lang,attr,omitempty"`
		Text string `xml:",chardata"`
	}
	xmltvIcon struct {
		Src string `xml:"src,attr"`
	}
	xmltvProgramme struct {
		Start    string      `xml:"start,attr"`
		Stop     string      `xml:"stop,attr"`
		Channel  string      `xml:"channel,attr"`
		Title    xmltvText   `xml:"title"`
		Category []xmltvText `xml:"category"`
	}
)

// xmltvTime is t in XMLTV's "YYYYMMDDhhmmss +0000".
func xmltvTime(t time.Time) string { return t.UTC().Format("20060102150405 -0700") }

// EPG is the XMLTV guide of tl's channels (nil: none) from the programme
// on air at now to now+GuideAhead; icons are made absolute on base.
func EPG(tl Timeline, now time.Time, base string) ([]byte, error) {
	g := &guide{tl: Configured(tl)}
	tv := xmltvTV{Source: "thecure", Generator: "thecure"}
	for _, c := range g.channels() {
		ch := xmltvChannel{ID: GuideID(c.Name), Names: []xmltvText{{Text: oneLine(displayName(c))}}}
		if logo := absolute(base, c.Logo); logo != "" {
			ch.Icon = &xmltvIcon{Src: logo}
		}
		tv.Channels = append(tv.Channels, ch)
		for _, e := range g.programme(c.Name, now, GuideAhead) {
			p := xmltvProgramme{Start: xmltvTime(e.Start), Stop: xmltvTime(e.End), Channel: ch.ID,
				Title: xmltvText{Text: oneLine(e.Title)}}
			if cat := kindCategory(e.Kind); cat != "" {
				p.Category = []xmltvText{{Lang: "en", Text: cat}}
			}
			tv.Programmes = append(tv.Programmes, p)
		}
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	enc.Indent("", " ")
	// No DOCTYPE: readers that refuse DTDs (.NET's default) would refuse
	// the guide, and nobody serves xmltv.dtd beside it.
	for _, tok := range []xml.Token{
		xml.ProcInst{Target: "xml", Inst: []byte(`version="1.0" encoding="UTF-8"`)},
		xml.CharData("\n"),
	} {
		if err := enc.EncodeToken(tok); err != nil {
			return nil, err
		}
	}
	if err := enc.Encode(tv); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func (g *guide) epg(w http.ResponseWriter, r *http.Request) {
	base, now := g.baseURL(r), g.now()
	g.mu.Lock()
	b, ok := g.epgs[base]
	g.mu.Unlock()
	if ok && now.Sub(b.at) < epgTTL && !now.Before(b.at) {
		serve(w, r, "application/xml; charset=utf-8", b.body)
		return
	}
	body, err := EPG(g.tl, now, base)
	if err == nil {
		g.mu.Lock()
		if g.epgs == nil || len(g.epgs) >= epgKeep {
			g.epgs = map[string]builtEPG{}
		}
		g.epgs[base] = builtEPG{at: now, body: body}
		g.mu.Unlock()
	}
	if err != nil {
		// encoding/xml fails only on what cannot be XML (a name of ours):
		// a bug, not the visitor's doing
		http.Error(w, "guide unavailable", http.StatusInternalServerError)
		return
	}
	serve(w, r, "application/xml; charset=utf-8", body)
}

// displayName is what players show for c: its title, else its name.
func displayName(c Channel) string {
	if strings.TrimSpace(c.Title) != "" {
		return c.Title
	}
	return c.Name
}

// oneLine is s with every control character (newlines, tabs) as a space,
// and what is not valid UTF-8 or not a character XML allows as U+FFFD.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			return ' '
		case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// m3uAttr is s fit for a quoted attribute of an #EXTINF line: on one line,
// with no double quote (M3U has no escape: a quote would end the value;
// it becomes ') and no comma (VLC takes the first comma of the line as the
// end of the attributes; it becomes U+201A, which looks the same).
func m3uAttr(s string) string {
	return strings.NewReplacer(`"`, "'", ",", "\u201a").Replace(oneLine(s))
}

// m3uURL is URL u fit for a quoted attribute of an #EXTINF line: quotes
// and commas percent-encoded (the URL means the same), on one line.
func m3uURL(u string) string {
	return strings.NewReplacer(`"`, "%22", ",", "%2C").Replace(oneLine(u))
}

// GuideID is the id of channel name in both the playlist (tvg-id) and the
// XMLTV guide (channel id), which players match: the name as an M3U
// attribute may hold it.
func GuideID(name string) string { return m3uAttr(name) }

// m3uName is s fit for the name after the comma of an #EXTINF line: as
// m3uAttr, and " - " becomes " – " (VLC splits "artist - name" there).
func m3uName(s string) string {
	return strings.ReplaceAll(m3uAttr(s), " - ", " \u2013 ")
}

// Playlist is the extended M3U playlist of tl's channels (nil: none), with
// absolute URLs on base: the guide (url-tvg, x-tvg-url) and each channel's
// HLS playlist, named with tvg-id (= the XMLTV channel id), tvg-name,
// tvg-logo and group-title.
func Playlist(tl Timeline, base string) []byte {
	g := &guide{tl: Configured(tl)}
	var b bytes.Buffer
	epg := m3uURL(base + "/epg.xml")
	b.WriteString(`#EXTM3U url-tvg="` + epg + `" x-tvg-url="` + epg + "\"\n")
	for _, c := range g.channels() {
		name := displayName(c)
		b.WriteString(`#EXTINF:-1 tvg-id="` + GuideID(c.Name) + `" tvg-name="` + m3uAttr(name) + `"`)
		if logo := absolute(base, c.Logo); logo != "" {
			b.WriteString(` tvg-logo="` + m3uURL(logo) + `"`)
		}
		b.WriteString(` group-title="` + guideGroup + `",` + m3uName(name) + "\n")
		b.WriteString(base + LivePath(c.Name) + "\n")
	}
	return b.Bytes()
}

func (g *guide) playlist(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Disposition", `inline; filename="channels.m3u"`)
	serve(w, r, "audio/x-mpegurl; charset=utf-8", Playlist(g.tl, g.baseURL(r)))
}
