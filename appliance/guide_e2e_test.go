package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/channels"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/health"
	"thecure/appliance/store"
	"thecure/appliance/web"
)

// guideTimeline is a channels.Timeline over fixed entries (the interface's
// contract: entries overlapping [from, to) in order, nil for an unknown
// name), as the playout will answer it.
type guideTimeline struct {
	chans []channels.Channel
	progs map[string][]channels.Entry
}

func (g guideTimeline) Channels() []channels.Channel { return g.chans }

func (g guideTimeline) Programme(name string, from, to time.Time) []channels.Entry {
	es, ok := g.progs[name]
	if !ok {
		return nil
	}
	out := []channels.Entry{}
	for _, e := range es {
		if e.Start.Before(to) && e.End.After(from) {
			out = append(out, e)
		}
	}
	return out
}

// guideHostile is a channel title that tries to break out of the M3U and
// the XML.
const guideHostile = "Cine \"Clásico\", <b>&amp; \n#EXTINF:-1,Evil\r\nhttp://evil/"

func testGuideTimeline() guideTimeline {
	now := time.Now().UTC().Truncate(time.Second)
	return guideTimeline{
		chans: []channels.Channel{{Name: "pelis", Title: "Pelis"}, {Name: "clasico", Title: guideHostile}},
		progs: map[string][]channels.Entry{
			"pelis": {
				{Title: "Película (2024)", TitleID: "a1", Kind: "film", Start: now.Add(-time.Hour), End: now.Add(time.Hour)},
				{Title: "Serie S01E02", TitleID: "a2", Kind: "episode", Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)},
			},
			"clasico": {{Title: guideHostile, Kind: "slate", Start: now.Add(-time.Minute), End: now.Add(47 * time.Hour)}},
		},
	}
}

// guideApp runs the appliance's HTTP server in this process, wired as
// buildApp wires it (users, live, guide, pages) but with the guide on tl,
// and a user ana; it returns the base URL.
func guideApp(t *testing.T, viewerAuth bool, tl channels.Timeline) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Language = "en"
	cfg.HTTP.ViewerAuth = viewerAuth
	cfg.RTMP.Listen = "127.0.0.1:0"
	st, err := store.Open(cfg.DataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := discardLogger()
	reg := prometheus.NewRegistry()
	a := &app{cfg: cfg, log: log, dataDir: cfg.DataDir, store: st, health: health.NewRegistry(), reg: reg,
		web: web.New(log, health.NewRegistry(), reg, reg, time.Second), ctl: control.New(log), bound: map[string][]net.Listener{}}
	for _, wire := range []func() error{a.wireUsers, a.wireLive, func() error { return a.wireGuide(tl) }, a.wireWebUI} {
		if err := wire(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.users.Add("ana", "ana-password", nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.web.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// validXMLTV validates doc against XMLTV's DTD with xmllint.
func validXMLTV(t *testing.T, doc string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "epg.xml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", "channels/testdata/xmltv.dtd", f).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v\n%s\n%s", err, out, doc)
	}
}

// vlcList opens playlist (a URL) in VLC 3, headless, and returns the
// entries it read, "name<TAB>url" each: a Lua interface lists VLC's own
// playlist once it has expanded the M3U. VLC refuses to run as root, so as
// root it runs as nobody.
func vlcList(t *testing.T, playlist string) []string {
	t.Helper()
	// not under t.TempDir(), whose folder nobody may not enter
	home, err := os.MkdirTemp("", "thecure-vlc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	intf := filepath.Join(home, ".local", "share", "vlc", "lua", "intf")
	if err := os.MkdirAll(intf, 0o755); err != nil {
		t.Fatal(err)
	}
	const lua = `-- lists the playlist's entries into config.out, then quits
local deadline = vlc.misc.mdate() + 20000000
local entries
while vlc.misc.mdate() < deadline do
  local found, pending = {}, false
  local function walk(n)
    if n.children and #n.children > 0 then
      for _, c in ipairs(n.children) do walk(c) end
    elseif n.path then
      if n.path:match("%.m3u$") then pending = true end
      table.insert(found, n)
    end
  end
  walk(vlc.playlist.get("playlist", false))
  if #found > 0 and not pending then entries = found break end
  vlc.misc.mwait(vlc.misc.mdate() + 100000)
end
local f = io.open(config.out, "w")
for _, n in ipairs(entries or {}) do f:write(n.name, "\t", n.path, "\n") end
f:close()
vlc.misc.quit()
`
	if err := os.WriteFile(filepath.Join(intf, "list.lua"), []byte(lua), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(home, "out.txt")
	args := []string{"-I", "luaintf", "--lua-intf", "list", "--lua-config", fmt.Sprintf("list={out=%q}", out),
		"-A", "dummy", "-V", "dummy", "--no-dbus", "--no-video-title-show", playlist}
	name := "cvlc"
	if os.Geteuid() == 0 {
		for _, d := range []string{home, filepath.Join(home, ".local"), filepath.Join(home, ".local", "share"),
			filepath.Join(home, ".local", "share", "vlc"), filepath.Join(home, ".local", "share", "vlc", "lua"), intf} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		name, args = "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "cvlc"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	log, err := cmd.CombinedOutput()
	b, rerr := os.ReadFile(out)
	if err != nil || rerr != nil {
		t.Fatalf("vlc: %v, %v\n%s", err, rerr, log)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestGuideEndToEnd: through the appliance's HTTP server, /api/channels,
// /channels.m3u and /epg.xml serve the channels of the timeline; VLC reads
// the playlist's names and URLs; the guide validates against XMLTV's DTD;
// with viewer_auth they answer 401 (with a basic challenge) until the
// player gives a user's name and password, which VLC takes in the URL.
func TestGuideEndToEnd(t *testing.T) {
	tl := testGuideTimeline()
	vlcName := "Cine 'Clásico'\u201a <b>&amp;  #EXTINF:-1\u201aEvil  http://evil/"
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("viewer_auth=%v", auth), func(t *testing.T) {
			base := guideApp(t, auth, tl)
			authBase := base
			if auth {
				for _, p := range []string{"/api/channels", "/channels.m3u", "/epg.xml"} {
					code, _, hdr := apptest.Get(t, http.DefaultClient, base+p)
					if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
						t.Errorf("anonymous %s = %d %q, want 401 with a basic challenge", p, code, hdr.Get("WWW-Authenticate"))
					}
				}
				u, _ := url.Parse(base)
				u.User = url.UserPassword("ana", "ana-password")
				authBase = u.String()
				wrong := *u
				wrong.User = url.UserPassword("ana", "wrong")
				if code, _, _ := apptest.Get(t, http.DefaultClient, wrong.String()+"/channels.m3u"); code != http.StatusUnauthorized {
					t.Errorf("wrong password = %d, want 401", code)
				}
			}

			var api struct{ Channels []channels.ChannelNow }
			code, body, _ := apptest.Get(t, http.DefaultClient, authBase+"/api/channels")
			if err := json.Unmarshal([]byte(body), &api); code != 200 || err != nil || len(api.Channels) != 2 {
				t.Fatalf("/api/channels = %d %v: %s", code, err, body)
			}
			if c := api.Channels[0]; c.Now == nil || c.Now.Title != "Película (2024)" || c.Next == nil || c.Next.Title != "Serie S01E02" || c.HLS != "/live/pelis/index.m3u8" {
				t.Errorf("pelis = %+v", c)
			}

			code, body, _ = apptest.Get(t, http.DefaultClient, authBase+"/epg.xml")
			if code != 200 || strings.Count(body, "<programme ") != 3 || !strings.Contains(body, `<channel id="pelis">`) {
				t.Fatalf("/epg.xml = %d:\n%s", code, body)
			}
			validXMLTV(t, body)

			// VLC reads the names and the URLs (with the credentials it was
			// given, so it can open the channels too).
			got := vlcList(t, authBase+"/channels.m3u")
			want := []string{"Pelis\t" + authBase + "/live/pelis/index.m3u8", vlcName + "\t" + authBase + "/live/clasico/index.m3u8"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("VLC read:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			// The catalogue page shows the channels with now and next.
			c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			code, body, _ = apptest.Get(t, c, base+"/")
			if auth {
				if code != http.StatusSeeOther {
					t.Errorf("anonymous catalogue with viewer_auth = %d", code)
				}
				return
			}
			if code != 200 || !strings.Contains(body, "Now: Película (2024)") || !strings.Contains(body, `href="/live/pelis"`) {
				t.Errorf("catalogue = %d:\n%s", code, body)
			}
		})
	}
}

// TestGuideWithoutChannels: the running appliance with no channel answers
// an empty list, playlist and guide (a valid one), not 404.
func TestGuideWithoutChannels(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "run", "-c", writeConfig(t, dir, ""))
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	base := "http://" + addr
	if code, body, _ := apptest.Get(t, http.DefaultClient, base+"/api/channels"); code != 200 || strings.TrimSpace(body) != `{"channels":[]}` {
		t.Errorf("/api/channels = %d %s", code, body)
	}
	if code, body, _ := apptest.Get(t, http.DefaultClient, base+"/channels.m3u"); code != 200 || body != `#EXTM3U url-tvg="`+base+`/epg.xml" x-tvg-url="`+base+"/epg.xml\"\n" {
		t.Errorf("/channels.m3u = %d %q", code, body)
	}
	code, body, _ := apptest.Get(t, http.DefaultClient, base+"/epg.xml")
	if code != 200 || strings.Contains(body, "<channel") {
		t.Errorf("/epg.xml = %d:\n%s", code, body)
	}
	validXMLTV(t, body)
}

// TestViewerBasicAuthPlaysHLS: with viewer_auth, a player that takes a
// user's name and password in the URL (ffmpeg, as Kodi and VLC do) plays a
// live stream's HLS, playlist and segments; without them it is refused.
func TestViewerBasicAuthPlaysHLS(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigHTTP(t, dir, "viewer_auth = true\n", "")
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	rtmpAddr := waitLog(t, p, `msg=listening svc=rtmp key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]
	waitLog(t, p, `msg="thecure is running"`, 30*time.Second)
	if _, errOut, code := runIn(t, dir, "viewer-pass-1\n", "user", "add", "ana", "-password-stdin", "-c", cfg); code != 0 {
		t.Fatalf("thecure user add: %d\n%s", code, errOut)
	}
	publish(t, rtmpAddr, "cam1")
	authed := "http://ana:viewer-pass-1@" + addr + "/live/cam1/index.m3u8"
	// ffmpeg reads no LL-HLS parts: wait for two whole segments
	fetch := func(path string) string {
		req, _ := http.NewRequest("GET", "http://"+addr+"/live/cam1/"+path, nil)
		req.SetBasicAuth("ana", "viewer-pass-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			return ""
		}
		return string(b)
	}
	apptest.WaitFor(t, 30*time.Second, "the live playlist's segments", func() bool {
		for _, l := range strings.Split(fetch("index.m3u8"), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") { // the media playlist
				return strings.Count(fetch(l), "#EXTINF") >= 2
			}
		}
		return false
	})
	// 3 s of media through the playlist and its segments, decoded.
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", authed,
		"-t", "3", "-f", "framemd5", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg with basic auth: %v\n%s", err, out)
	}
	if frames := strings.Count(string(out), "\n0,"); frames < 50 {
		t.Errorf("ffmpeg decoded %d video frames in 3 s, want about 75:\n%.2000s", frames, out)
	}
	out, err = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i",
		"http://"+addr+"/live/cam1/index.m3u8", "-t", "1", "-f", "null", "-").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("ffmpeg without credentials: %v\n%s", err, out)
	}
}
