package appliance

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPullHealthTellsTheTruth: an edge pulling a stream from a real origin
// appliance says so in its health and on /admin: up while the stream
// flows; down ("retrying") with the box only degraded while the origin is
// stopped; up again, with a reconnect counted, once it is back; the stream
// key is masked on /admin.
func TestPullHealthTellsTheTruth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	originRTMP := ln.Addr().String()
	ln.Close()

	odir := t.TempDir()
	ocfg := filepath.Join(odir, "config.toml")
	if err := os.WriteFile(ocfg, []byte(fmt.Sprintf("data_dir = %q\nshutdown_timeout = \"2s\"\n[http]\nlisten = \"127.0.0.1:0\"\n[ftp]\nlisten = \"127.0.0.1:0\"\n[rtmp]\nlisten = %q\n",
		filepath.Join(odir, "data"), originRTMP)), 0o644); err != nil {
		t.Fatal(err)
	}
	startOrigin := func() *proc {
		p := start(t, odir, "run", "-c", ocfg)
		waitLog(t, p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)
		publish(t, originRTMP, "cam")
		return p
	}
	origin := startOrigin()

	edir := t.TempDir()
	ecfg := writeConfigHTTP(t, edir, "language = \"en\"\n", fmt.Sprintf("[[rtmp.pull]]\nname = \"cam\"\nurl = \"rtmp://%s/live/cam\"\n", originRTMP))
	edge := start(t, edir, "run", "-c", ecfg)
	base := "http://" + waitLog(t, edge, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	edgeRTMP := waitLog(t, edge, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]
	password := readFirstPassword(t, waitLog(t, edge, firstPasswordLog, 30*time.Second)[1])

	jar, _ := cookiejar.New(nil)
	admin := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	resp, err := admin.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)
	if m == nil {
		t.Fatalf("no csrf field in the login form:\n%s", form)
	}
	if resp, err = admin.PostForm(base+"/login", url.Values{"user": {"admin"}, "password": {password}, "csrf": {string(m[1])}, "next": {"/admin"}}); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	relay := func() map[string]any {
		t.Helper()
		resp, err := admin.Get(base + "/api/live")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct{ Relays []map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || len(v.Relays) != 1 {
			t.Fatalf("/api/live relays: %v %+v", err, v)
		}
		return v.Relays[0]
	}
	adminRelays := func() string {
		t.Helper()
		resp, err := admin.Get(base + "/admin?fragment=1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		s := string(b)
		i := strings.Index(s, `id="relays"`)
		if i < 0 {
			t.Fatalf("/admin has no relays section:\n%s", s)
		}
		s = s[i:]
		return s[:strings.Index(s, "</section>")]
	}
	// waitState waits for the pull's health state, the box's readiness
	// and the relay's state to agree with want.
	waitState := func(health, box, relayState string) {
		t.Helper()
		svc := regexp.MustCompile(`"name":"rtmp-pull-cam","state":"` + health + `"`)
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, body := 0, ""
			if resp, err := http.Get(base + "/readyz"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				code, body = resp.StatusCode, string(b)
			}
			r := relay()
			if code == 200 && svc.MatchString(body) && strings.Contains(body, `"status":"`+box+`"`) && r["state"] == relayState {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("want pull %s, box %s, relay %s; /readyz %d %s; relay %v", health, box, relayState, code, body, r)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	waitState("up", "ok", "up")
	if sec := adminRelays(); !strings.Contains(sec, "rtmp://"+originRTMP+"/live/****") || strings.Contains(sec, "/live/cam") ||
		!strings.Contains(sec, `data-state="up"`) || !strings.Contains(sec, ">pull<") {
		t.Errorf("/admin relays while up:\n%s", sec)
	}
	if out, err := exec.Command("ffprobe", "-v", "error", "-rw_timeout", "15000000", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
		"rtmp://"+edgeRTMP+"/live/cam").CombinedOutput(); err != nil || !strings.Contains(string(out), "video") {
		t.Errorf("ffprobe of the edge's stream: %v\n%s", err, out)
	}

	// The origin stops: the pull retries, and says so.
	if err := origin.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	origin.wait(t, 30*time.Second)
	waitState("down", "degraded", "retrying")
	if body := waitBody(t, base+"/healthz", `"reason":"retrying"`, 10*time.Second); strings.Contains(body, originRTMP) {
		t.Errorf("anonymous /healthz shows the origin's address:\n%s", body)
	}
	r := relay()
	if r["connected"] != false || r["last_error"] == "" {
		t.Errorf("relay while the origin is away: %v", r)
	}
	if sec := adminRelays(); !strings.Contains(sec, `data-state="retrying"`) || !strings.Contains(sec, ">retrying<") {
		t.Errorf("/admin relays while retrying:\n%s", sec)
	}

	// Back: up again, with the reconnects counted.
	startOrigin()
	waitState("up", "ok", "up")
	if r := relay(); r["reconnects"].(float64) < 1 || r["bytes"].(float64) == 0 {
		t.Errorf("relay after the origin came back: %v", r)
	}
	if out, err := exec.Command("ffprobe", "-v", "error", "-rw_timeout", "15000000", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
		"rtmp://"+edgeRTMP+"/live/cam").CombinedOutput(); err != nil || !strings.Contains(string(out), "video") {
		t.Errorf("ffprobe of the edge's stream after the origin's restart: %v\n%s", err, out)
	}
}
