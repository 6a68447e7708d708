package appliance

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPublicEndpointsShowNoPaths runs the appliance with a failed job (a
// source ffprobe cannot read, moved to quarantine) and a full disk (hls_dir
// on a 16 KiB tmpfs), then reads every public endpoint as an anonymous
// visitor: none shows the data dir, an absolute path, the control socket, a
// listen address, ffprobe's output or the quarantine path, while the states
// and short reasons are there. An admin logged in on the web still gets the
// details.
func TestPublicEndpointsShowNoPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a small tmpfs (a full disk) and needs root: run it as root (`sudo make test`)")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	hls := filepath.Join(dir, "hls")
	if err := os.MkdirAll(hls, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", hls).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", hls).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
	})
	broken := filepath.Join(data, "media", "pelis", "Broken (2020).mp4")
	if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("this is not a film\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(broken, old, old)
	// a pull relay from an origin that is not there: its URL (with a key)
	// shows to admins only
	cfg := writeConfig(t, dir, "[library]\nhls_dir = \""+hls+"\"\n[transcode]\nrescan = \"1s\"\n"+
		"[[rtmp.pull]]\nname = \"relayed\"\nurl = \"rtmp://127.0.0.1:1/live/cam?key=PULLSECRET\"\n")
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	ftpAddr := waitLog(t, p, `msg=listening svc=\S+ key=ftp.listen addr=(\S+)`, 30*time.Second)[1]
	rtmpAddr := waitLog(t, p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]
	password := readFirstPassword(t, waitLog(t, p, firstPasswordLog, 30*time.Second)[1])
	base := "http://" + addr

	// The broken source fails and is quarantined.
	waitBody(t, base+"/api/jobs", `"state":"failed"`, time.Minute)
	// Then a real film that does not fit in hls_dir: the disk is full.
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	makeClip(t, clip, 4)
	if err := os.Rename(clip, filepath.Join(data, "media", "pelis", "Big (2021).mp4")); err != nil {
		t.Fatal(err)
	}
	waitBody(t, base+"/healthz", `"reason":"disk full"`, 2*time.Minute)

	var brokenID string
	if m := regexp.MustCompile(`"id":"([0-9a-f]+)","source":"pelis/Broken`).FindStringSubmatch(waitBody(t, base+"/api/jobs", "pelis/Broken", time.Second)); m != nil {
		brokenID = m[1]
	} else {
		t.Fatal("no id for the broken source in /api/jobs")
	}

	leaks := []string{dir, data, hls, "control.sock", ".staging", "quarantine/", "ffprobe", "Invalid data",
		addr, ftpAddr, rtmpAddr, "[::]:", "0.0.0.0:", "PULLSECRET"}
	anon := &http.Client{Timeout: 10 * time.Second}
	bodies := map[string]string{}
	for _, path := range []string{"/healthz", "/readyz", "/api/jobs", "/api/library", "/api/catalogue", "/api/live", "/metrics",
		"/", "/watch/" + brokenID, "/live/studio", "/api/live/studio", "/live/studio/index.m3u8", "/login", "/admin", "/api/status",
		"/nope", "/vod/" + brokenID + "/index.m3u8", "/static/player.js"} {
		resp, err := anon.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies[path] = string(b)
		for _, leak := range leaks {
			if strings.Contains(string(b), leak) {
				t.Errorf("anonymous GET %s shows %q:\n%s", path, leak, b)
			}
		}
	}
	for path, want := range map[string]string{
		"/healthz":     `"reason":"disk full"`,
		"/readyz":      `"reason":"disk full"`,
		"/api/jobs":    `"error":"not a readable media file; the source was moved to quarantine"`,
		"/api/library": `"error":"not a readable media file; the source was moved to quarantine"`,
	} {
		if !strings.Contains(bodies[path], want) {
			t.Errorf("anonymous GET %s lacks the short reason %q:\n%s", path, want, bodies[path])
		}
	}
	if strings.Contains(bodies["/healthz"], `"detail"`) {
		t.Errorf("/healthz has details: %s", bodies["/healthz"])
	}

	// An admin logged in on the web sees the details.
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
	resp, err = admin.PostForm(base+"/login", url.Values{"user": {"admin"}, "password": {password}, "csrf": {string(m[1])}, "next": {"/admin"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/admin" {
		t.Fatalf("admin login: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	for path, want := range map[string]string{
		"/api/jobs":    "quarantine/pelis/Broken (2020).mp4",
		"/api/library": "quarantine/pelis/Broken (2020).mp4",
		"/api/status":  "control.sock",
		"/api/live":    `"relays":[{"kind":"pull","stream":"relayed","url":"rtmp://127.0.0.1:1/live/cam?key=PULLSECRET","connected":false`,
	} {
		resp, err := admin.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("admin GET %s lacks the detail %q:\n%s", path, want, b)
		}
	}
	resp, err = admin.Get(base + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), ".staging") || !strings.Contains(string(b), "no space left on device") {
		t.Errorf("admin /api/status lacks the disk-full detail:\n%s", b)
	}
	// The control socket (thecure status) keeps the details too.
	out, _, code := runCmd(t, dir, "status", "-c", cfg)
	if code != 0 || !strings.Contains(out, data) {
		t.Errorf("thecure status: exit %d:\n%s", code, out)
	}
}

// waitBody polls url until its body contains want, and returns the body.
func waitBody(t *testing.T, url, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: no %q within %s; last body:\n%s", url, want, timeout, b)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
