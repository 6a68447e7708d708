package channels

import (
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedTimeline is a Timeline over fixed entries: the interface's contract
// (entries overlapping [from, to), in order; nil for an unknown name),
// with the windows it was asked for.
type fixedTimeline struct {
	chans []Channel
	progs map[string][]Entry

	mu    sync.Mutex
	asked [][2]time.Time
}

func (f *fixedTimeline) Channels() []Channel { return f.chans }

func (f *fixedTimeline) Programme(name string, from, to time.Time) []Entry {
	f.mu.Lock()
	f.asked = append(f.asked, [2]time.Time{from, to})
	f.mu.Unlock()
	es, ok := f.progs[name]
	if !ok {
		return nil
	}
	out := []Entry{}
	for _, e := range es {
		if e.Start.Before(to) && e.End.After(from) {
			out = append(out, e)
		}
	}
	return out
}

// hostile is a display name and a title that try to break out of M3U
// lines and attributes and out of XML.
const hostile = "Cine \"Clásico\", <b>&amp; \n#EXTINF:-1,Evil\r\nhttp://evil/ - x\x01\t'\xff\uFFFE"

// t0 is the clock of the tests: 21:30 UTC.
var t0 = time.Date(2026, 11, 30, 21, 30, 0, 0, time.UTC)

// testTimeline: "pelis" plays a film until 22:00 then an episode then a
// track; "hostile" has a hostile display name and title and a logo; "empty"
// has nothing on air; entries beyond 48 h and over before now exist too.
func testTimeline() *fixedTimeline {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, time.UTC) }
	return &fixedTimeline{
		chans: []Channel{
			{Name: "pelis", Title: "Pelis", Logo: "/static/pelis.png"},
			{Name: "hostile", Title: hostile, Logo: "/logo?a=\"b\",c"},
			{Name: "empty"},
		},
		progs: map[string][]Entry{
			"pelis": {
				{Title: "Old film", TitleID: "a0", Kind: "film", Start: at(18, 0), End: at(20, 0)},
				{Title: "Película (2024)", TitleID: "a1", Kind: "film", Start: at(20, 0), End: at(22, 0)},
				{Title: "Serie S01E02", TitleID: "a2", Kind: "episode", Start: at(22, 0), End: at(22, 45)},
				{Title: "Canción", TitleID: "a3", Kind: "track", Start: at(22, 45), End: at(22, 49)},
				{Title: "Far away", TitleID: "a4", Kind: "film", Start: t0.Add(49 * time.Hour), End: t0.Add(51 * time.Hour)},
			},
			"hostile": {
				{Title: hostile, Kind: "slate", Start: at(21, 0), End: at(23, 0)},
				{Title: "broken (ends before it starts)", Kind: "film", Start: at(23, 0), End: at(22, 0)},
			},
			"empty": {},
		},
	}
}

func guideServer(t *testing.T, tl Timeline, o GuideOptions) *httptest.Server {
	t.Helper()
	o.Now = func() time.Time { return t0 }
	mux := http.NewServeMux()
	for p, h := range GuideRoutes(tl, o) {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestAPIChannels: each channel with what is on now and next, its HLS and
// RTMP paths; no file system path anywhere.
func TestAPIChannels(t *testing.T) {
	srv := guideServer(t, testTimeline(), GuideOptions{})
	resp, body := get(t, srv.URL+"/api/channels")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/channels = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var v struct{ Channels []ChannelNow }
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if len(v.Channels) != 3 {
		t.Fatalf("%d channels, want 3: %s", len(v.Channels), body)
	}
	p := v.Channels[0]
	if p.Name != "pelis" || p.Title != "Pelis" || p.HLS != "/live/pelis/index.m3u8" || p.RTMP != "/live/pelis" || p.Logo != "/static/pelis.png" {
		t.Errorf("pelis = %+v", p)
	}
	if p.Now == nil || p.Now.Title != "Película (2024)" || p.Now.Kind != "film" || !p.Now.Start.Equal(t0.Add(-90*time.Minute)) || !p.Now.End.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("pelis now = %+v", p.Now)
	}
	if p.Next == nil || p.Next.Title != "Serie S01E02" || p.Next.TitleID != "a2" || !p.Next.Start.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("pelis next = %+v", p.Next)
	}
	if h := v.Channels[1]; h.Now == nil || h.Now.Title != strings.ToValidUTF8(hostile, "\uFFFD") || h.Next != nil {
		t.Errorf("hostile now/next = %+v / %+v (the broken entry must be left out)", h.Now, h.Next)
	}
	if e := v.Channels[2]; e.Now != nil || e.Next != nil || e.HLS != "/live/empty/index.m3u8" {
		t.Errorf("empty = %+v", e)
	}
	if strings.Contains(body, "/srv") || strings.Contains(body, "media_dir") || strings.Contains(body, "\"path\"") {
		t.Errorf("a file system path in %s", body)
	}

	// No channel configured (nil, or a nil playout): an empty list, not
	// 404 nor null, and no call on the nil playout.
	var none *fixedTimeline
	srv = guideServer(t, none, GuideOptions{})
	if resp, body := get(t, srv.URL+"/api/channels"); resp.StatusCode != 200 || strings.TrimSpace(body) != `{"channels":[]}` {
		t.Errorf("no channels: %d %s", resp.StatusCode, body)
	}
}

// m3uEntry is one channel of an M3U playlist as a player reads it.
type m3uEntry struct {
	attrs map[string]string
	name  string // VLC's reading
	kodi  string // Kodi PVR IPTV Simple's reading
	url   string
}

// parseM3U reads an extended M3U playlist the way VLC 3 does (the #EXTINF
// attributes end at the first comma of the line; the name is the rest,
// split at " - " into artist and name) and the way Kodi's PVR IPTV Simple
// does (the name follows the first comma after the last double quote),
// both taking the next line that is not a comment as the entry's URL. It
// fails the test on what either reads differently from the other.
func parseM3U(t *testing.T, text string) (header string, out []m3uEntry) {
	t.Helper()
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] != "" {
		t.Fatalf("playlist does not end with a newline: %q", text)
	}
	lines = lines[:len(lines)-1]
	if !strings.HasPrefix(lines[0], "#EXTM3U") {
		t.Fatalf("first line %q", lines[0])
	}
	header = lines[0]
	var cur *m3uEntry
	for _, l := range lines[1:] {
		if strings.ContainsAny(l, "\r\x00") {
			t.Fatalf("control character in line %q", l)
		}
		switch {
		case strings.HasPrefix(l, "#EXTINF:"):
			if cur != nil {
				t.Fatalf("#EXTINF without a URL before %q", l)
			}
			info := strings.TrimPrefix(l, "#EXTINF:")
			comma := strings.IndexByte(info, ',')
			if comma < 0 {
				t.Fatalf("no comma in %q", l)
			}
			cur = &m3uEntry{attrs: map[string]string{}, name: info[comma+1:]}
			if i := strings.Index(cur.name, " - "); i >= 0 {
				t.Errorf("VLC splits %q into artist and name", cur.name)
			}
			lq := strings.LastIndexByte(info, '"')
			kc := lq + 1 + strings.IndexByte(info[lq+1:], ',')
			cur.kodi = strings.TrimSpace(info[kc+1:])
			attrs := info[:comma]
			if kc != comma {
				t.Errorf("VLC and Kodi end the attributes at different commas in %q", l)
			}
			// duration, then key="value" pairs
			dur, rest, _ := strings.Cut(attrs, " ")
			if dur != "-1" {
				t.Errorf("duration %q, want -1 (live)", dur)
			}
			for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
				k, r, ok := strings.Cut(rest, `="`)
				if !ok || strings.ContainsAny(k, ` "`) {
					t.Fatalf("bad attribute at %q in %q", rest, l)
				}
				v, r, ok := strings.Cut(r, `"`)
				if !ok {
					t.Fatalf("unterminated %s in %q", k, l)
				}
				cur.attrs[k] = v
				rest = r
			}
		case strings.HasPrefix(l, "#"):
		case cur != nil:
			cur.url = l
			out = append(out, *cur)
			cur = nil
		default:
			t.Fatalf("URL %q without #EXTINF", l)
		}
	}
	if cur != nil {
		t.Fatal("#EXTINF without a URL at the end")
	}
	return header, out
}

// TestPlaylist: /channels.m3u names every channel with tvg attributes and
// absolute URLs; hostile names stay inside their line and attribute.
func TestPlaylist(t *testing.T) {
	srv := guideServer(t, testTimeline(), GuideOptions{})
	resp, body := get(t, srv.URL+"/channels.m3u")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "audio/x-mpegurl") {
		t.Fatalf("GET /channels.m3u = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	header, es := parseM3U(t, body)
	if want := `#EXTM3U url-tvg="` + srv.URL + `/epg.xml" x-tvg-url="` + srv.URL + `/epg.xml"`; header != want {
		t.Errorf("header %q, want %q", header, want)
	}
	if len(es) != 3 {
		t.Fatalf("%d entries, want 3:\n%s", len(es), body)
	}
	p := es[0]
	if p.name != "Pelis" || p.kodi != "Pelis" || p.url != srv.URL+"/live/pelis/index.m3u8" ||
		p.attrs["tvg-id"] != "pelis" || p.attrs["tvg-name"] != "Pelis" || p.attrs["tvg-logo"] != srv.URL+"/static/pelis.png" || p.attrs["group-title"] != "thecure" {
		t.Errorf("pelis = %+v", p)
	}
	h := es[1]
	wantName := "Cine 'Clásico'\u201a <b>&amp;  #EXTINF:-1\u201aEvil  http://evil/ \u2013 x  '\uFFFD\uFFFD"
	wantAttr := strings.Replace(wantName, "\u2013", "-", 1) // VLC splits the name only
	if h.name != wantName || h.kodi != wantName || h.attrs["tvg-name"] != wantAttr {
		t.Errorf("hostile name read as %q (Kodi %q, tvg-name %q), want %q", h.name, h.kodi, h.attrs["tvg-name"], wantName)
	}
	if h.url != srv.URL+"/live/hostile/index.m3u8" || h.attrs["tvg-logo"] != srv.URL+"/logo?a=%22b%22%2Cc" {
		t.Errorf("hostile = %+v", h)
	}
	if e := es[2]; e.name != "empty" || e.attrs["tvg-name"] != "empty" || e.attrs["tvg-logo"] != "" {
		t.Errorf("a channel without a title or logo = %+v", e)
	}

	// ETag: a player polling gets 304 while nothing changed.
	etag := resp.Header.Get("ETag")
	if etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Errorf("cache headers %v", resp.Header)
	}
	if resp, _ := get(t, srv.URL+"/channels.m3u", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}

	// A player that authenticated with basic auth (viewer_auth) gets its
	// credentials on every URL, escaped, so that it can fetch them too.
	req, _ := http.NewRequest("GET", srv.URL+"/channels.m3u", nil)
	req.SetBasicAuth("ana", `p@ss:",w/rd`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	header, es = parseM3U(t, string(b))
	authed := "http://ana:p%40ss%3A%22,w%2Frd@" + strings.TrimPrefix(srv.URL, "http://")
	if es[0].url != authed+"/live/pelis/index.m3u8" || es[0].attrs["tvg-logo"] != strings.ReplaceAll(authed, ",", "%2C")+"/static/pelis.png" ||
		!strings.Contains(header, `url-tvg="`+strings.ReplaceAll(authed, ",", "%2C")+`/epg.xml"`) {
		t.Errorf("with basic auth: %s", b)
	}
	for _, u := range []string{es[0].url, es[0].attrs["tvg-logo"]} {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := pu.User.Password(); pu.User.Username() != "ana" || p != `p@ss:",w/rd` {
			t.Errorf("%s: credentials read back as %v", u, pu.User)
		}
	}

	// No channel configured: a playlist with the header only.
	srv = guideServer(t, nil, GuideOptions{})
	if resp, body := get(t, srv.URL+"/channels.m3u"); resp.StatusCode != 200 || strings.Count(body, "\n") != 1 || !strings.HasPrefix(body, "#EXTM3U ") {
		t.Errorf("no channels: %d %q", resp.StatusCode, body)
	}
}

// TestPublicURLs: public_host names the URLs, with the port the request
// came to; without it the request's Host; a Host that is not a plain host
// gives way to the address the request came to.
func TestPublicURLs(t *testing.T) {
	g := &guide{}
	req := func(host string, tlsOn bool) *http.Request {
		r := httptest.NewRequest("GET", "/channels.m3u", nil)
		r.Host = host
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		return r
	}
	for _, c := range []struct {
		public, host string
		tls          bool
		want         string
	}{
		{"", "box.lan:8080", false, "http://box.lan:8080"},
		{"", "[::1]:8443", true, "https://[::1]:8443"},
		{"tv.example.org", "192.168.1.5:8080", false, "http://tv.example.org:8080"},
		{"tv.example.org", "192.168.1.5", true, "https://tv.example.org"},
		{"2001:db8::1", "[2001:db8::1]:8080", false, "http://[2001:db8::1]:8080"},
		{"2001:db8::1", "x", false, "http://[2001:db8::1]"},
		{"", `evil",x`, false, "http://localhost"}, // no local address in a test request
	} {
		g.o.PublicHost = c.public
		if got := g.baseURL(req(c.host, c.tls)); got != c.want {
			t.Errorf("public_host %q, Host %q: %q, want %q", c.public, c.host, got, c.want)
		}
	}
}

// xmllint validates xml against XMLTV's DTD.
func xmllint(t *testing.T, doc string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "epg.xml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", "testdata/xmltv.dtd", f).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s\n%s", err, out, doc)
	}
}

// TestEPG: /epg.xml is valid XMLTV with the programme on air and the next
// 48 h, channel ids matching the playlist's tvg-id, absolute icons, times
// in XMLTV's format, categories; hostile names stay text.
func TestEPG(t *testing.T) {
	tl := testTimeline()
	srv := guideServer(t, tl, GuideOptions{})
	resp, body := get(t, srv.URL+"/epg.xml")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/xml; charset=utf-8" {
		t.Fatalf("GET /epg.xml = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	xmllint(t, body)
	if !strings.HasPrefix(body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv ") {
		t.Errorf("prolog:\n%.200s", body)
	}
	var tv xmltvTV
	if err := xml.Unmarshal([]byte(body), &tv); err != nil {
		t.Fatal(err)
	}
	if len(tv.Channels) != 3 || tv.Channels[0].ID != "pelis" || tv.Channels[0].Names[0].Text != "Pelis" ||
		tv.Channels[0].Icon == nil || tv.Channels[0].Icon.Src != srv.URL+"/static/pelis.png" {
		t.Fatalf("channels %+v", tv.Channels)
	}
	if tv.Channels[2].Icon != nil || tv.Channels[2].Names[0].Text != "empty" {
		t.Errorf("a channel without a title or logo: %+v", tv.Channels[2])
	}
	// The hostile channel: the same id as the playlist's tvg-id, its name
	// on one line with every character it had besides the control ones.
	_, es := parseM3U(t, string(Playlist(tl, srv.URL)))
	for i, c := range tv.Channels {
		if c.ID != es[i].attrs["tvg-id"] {
			t.Errorf("channel id %q, playlist tvg-id %q", c.ID, es[i].attrs["tvg-id"])
		}
	}
	oneLineHostile := "Cine \"Clásico\", <b>&amp;  #EXTINF:-1,Evil  http://evil/ - x  '\uFFFD\uFFFD"
	if n := tv.Channels[1].Names[0].Text; n != oneLineHostile {
		t.Errorf("hostile display-name %q, want %q", n, oneLineHostile)
	}
	if strings.Contains(body, "<b>") || strings.Contains(body, "\n#EXTINF") {
		t.Error("the hostile name was not escaped")
	}

	type prog struct{ start, stop, channel, title, cat string }
	var got []prog
	for _, p := range tv.Programmes {
		cat := ""
		if len(p.Category) > 0 {
			cat = p.Category[0].Lang + ":" + p.Category[0].Text
		}
		got = append(got, prog{p.Start, p.Stop, p.Channel, p.Title.Text, cat})
	}
	want := []prog{
		{"20261130200000 +0000", "20261130220000 +0000", "pelis", "Película (2024)", "en:Movie"},
		{"20261130220000 +0000", "20261130224500 +0000", "pelis", "Serie S01E02", "en:Series"},
		{"20261130224500 +0000", "20261130224900 +0000", "pelis", "Canción", "en:Music"},
		{"20261130210000 +0000", "20261130230000 +0000", "hostile", oneLineHostile, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("programmes %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("programme %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// It asked the timeline for now .. now+48 h.
	for _, w := range tl.asked {
		if !w[0].Equal(t0) || !w[1].Equal(t0.Add(48*time.Hour)) {
			t.Errorf("asked the timeline for %v .. %v", w[0], w[1])
		}
	}

	etag := resp.Header.Get("ETag")
	if resp, _ := get(t, srv.URL+"/epg.xml", "If-None-Match", etag); etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("ETag %q; If-None-Match: %d, want 304", etag, resp.StatusCode)
	}

	// A flood of requests builds the guide once per 10 s: the timeline is
	// not asked again meanwhile.
	asked := len(tl.asked)
	for range 20 {
		get(t, srv.URL+"/epg.xml")
	}
	if len(tl.asked) != asked {
		t.Errorf("20 more requests asked the timeline %d more times, want 0", len(tl.asked)-asked)
	}

	// No channel configured: an empty guide, still valid.
	srv = guideServer(t, nil, GuideOptions{})
	resp, body = get(t, srv.URL+"/epg.xml")
	if resp.StatusCode != 200 || strings.Contains(body, "<channel") {
		t.Errorf("no channels: %d\n%s", resp.StatusCode, body)
	}
	xmllint(t, body)
}

// TestGuideBounds: a run of short slates is one programme; a channel of
// very short entries lists at most MaxGuideEntries.
func TestGuideBounds(t *testing.T) {
	var slates, clips []Entry
	for i := range 48 * 360 { // a 10 s slate loop for 48 h
		st := t0.Add(time.Duration(i) * 10 * time.Second)
		slates = append(slates, Entry{Title: "Pelis", Kind: "slate", Start: st, End: st.Add(10 * time.Second)})
	}
	for i := range 48 * 900 { // 4 s clips
		st := t0.Add(time.Duration(i) * 4 * time.Second)
		clips = append(clips, Entry{Title: fmt.Sprint("clip ", i), Kind: "track", Start: st, End: st.Add(4 * time.Second)})
	}
	tl := &fixedTimeline{chans: []Channel{{Name: "slate"}, {Name: "clips"}}, progs: map[string][]Entry{"slate": slates, "clips": clips}}
	cs := NowNext(tl, t0.Add(time.Second))
	if n := cs[0].Now; n == nil || !n.Start.Equal(t0) || !n.End.Equal(t0.Add(48*time.Hour)) || cs[0].Next != nil {
		t.Errorf("slate now/next = %+v / %+v, want one slate for 48 h", cs[0].Now, cs[0].Next)
	}
	if cs[1].Now == nil || cs[1].Now.Title != "clip 0" || cs[1].Next == nil || cs[1].Next.Title != "clip 1" {
		t.Errorf("clips now/next = %+v / %+v", cs[1].Now, cs[1].Next)
	}
	doc, err := EPG(tl, t0, "http://box")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(doc), `channel="slate"`); n != 1 {
		t.Errorf("%d slate programmes, want 1", n)
	}
	if n := strings.Count(string(doc), `channel="clips"`); n != MaxGuideEntries {
		t.Errorf("%d clip programmes, want %d", n, MaxGuideEntries)
	}
	xmllint(t, string(doc))
}

// BenchmarkEPG: /epg.xml of 10 channels of 45-minute programmes (48 h: 64
// each), as a player polling it costs.
func BenchmarkEPG(b *testing.B) {
	tl := &fixedTimeline{progs: map[string][]Entry{}}
	for c := range 10 {
		name := fmt.Sprint("canal", c)
		tl.chans = append(tl.chans, Channel{Name: name, Title: "Canal " + name, Logo: "/static/icon.svg"})
		for i := range 66 {
			st := t0.Add(time.Duration(i-1) * 45 * time.Minute)
			tl.progs[name] = append(tl.progs[name], Entry{Title: fmt.Sprint("Película ", i), Kind: "film", Start: st, End: st.Add(45 * time.Minute)})
		}
	}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		doc, err := EPG(tl, t0, "http://box:8080")
		if err != nil {
			b.Fatal(err)
		}
		size = len(doc)
	}
	b.ReportMetric(float64(size), "bytes/doc")
}

// TestEPGRebuilt: the guide is built again once it is 10 s old, and for
// each base URL on its own.
func TestEPGRebuilt(t *testing.T) {
	tl := testTimeline()
	now := t0
	h := GuideRoutes(tl, GuideOptions{Now: func() time.Time { return now }})["GET /epg.xml"]
	fetch := func(host string) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/epg.xml", nil)
		r.Host = host
		h.ServeHTTP(rec, r)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "http://"+host+"/static/pelis.png") {
			t.Fatalf("GET /epg.xml on %s = %d:\n%.300s", host, rec.Code, rec.Body.String())
		}
	}
	builds := func() int { return len(tl.asked) / len(tl.chans) }
	fetch("a.lan")
	fetch("a.lan")
	fetch("b.lan") // another base URL: its own build
	now = now.Add(9 * time.Second)
	fetch("a.lan")
	if builds() != 2 {
		t.Errorf("%d builds, want 2", builds())
	}
	now = now.Add(2 * time.Second)
	fetch("a.lan")
	if builds() != 3 {
		t.Errorf("%d builds after 11 s, want 3", builds())
	}
}
