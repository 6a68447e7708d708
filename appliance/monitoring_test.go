package appliance

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"thecure/appliance/apptest"
	"thecure/appliance/sampler"
)

// metricName finds the metric names a PromQL expression uses: ours and the
// process collector's (up is Prometheus's own).
var metricName = regexp.MustCompile(`\b(?:thecure|process)_[a-z0-9_]+\b`)

// monitoringQueries reads the Grafana dashboard's and the alert rules'
// expressions shipped in the .deb, checking their structure.
func monitoringQueries(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{} // file -> expressions
	b, err := os.ReadFile("../packaging/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ RefID, Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) < 9 {
		t.Errorf("the dashboard has no title/uid or fewer than 9 panels: %+v", dash)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.RefID == "" || q.Expr == "" {
				t.Errorf("dashboard panel %q: a query without refId or expr", p.Title)
			}
			out["grafana-dashboard.json"] = append(out["grafana-dashboard.json"], q.Expr)
		}
	}
	b, err = os.ReadFile("../packaging/monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	if len(rules.Groups) == 0 {
		t.Fatal("alerts.yml has no group")
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert rule %+v lacks alert, expr, severity or summary", r)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for: %v", r.Alert, err)
				}
			}
			out["alerts.yml"] = append(out["alerts.yml"], r.Expr)
		}
	}
	for f, exprs := range out {
		for _, e := range exprs {
			if strings.Count(e, "(") != strings.Count(e, ")") || strings.Count(e, "{") != strings.Count(e, "}") || strings.Count(e, "[") != strings.Count(e, "]") {
				t.Errorf("%s: unbalanced brackets in %q", f, e)
			}
		}
	}
	return out
}

// TestMonitoringFilesNameExposedMetrics runs the appliance, makes every
// figure happen once (an FTPS upload that is transcoded, a failed FTPS and a
// failed web login, an RTMP publisher and player), then checks that every
// metric the Grafana dashboard, the alert rules and the admin charts name is
// in its /metrics.
func TestMonitoringFilesNameExposedMetrics(t *testing.T) {
	queries := monitoringQueries(t)
	w := startWeb(t, nil)
	password := readFirstPassword(t, waitLog(t, w.p, firstPasswordLog, 30*time.Second)[1])
	ftpAddr := waitLog(t, w.p, `msg=listening svc=\S+ key=ftp.listen addr=(\S+)`, 30*time.Second)[1]
	rtmpAddr := waitLog(t, w.p, `msg=listening svc=\S+ key=rtmp.listen addr=(\S+)`, 30*time.Second)[1]

	clip := filepath.Join(t.TempDir(), "Metric.Test.2026.mp4")
	makeClip(t, clip, 2)
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password,
		"-T", clip, "ftp://"+ftpAddr+"/pelis/").CombinedOutput(); err != nil {
		t.Fatalf("FTPS upload: %v\n%s", err, out)
	}
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:wrong", "ftp://"+ftpAddr+"/").CombinedOutput(); err == nil {
		t.Fatalf("a wrong password logged in:\n%s", out)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	_, form, _ := apptest.Get(t, c, w.base+"/login")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("no CSRF field in the login form:\n%s", form)
	}
	resp, err := c.PostForm(w.base+"/login", url.Values{"csrf": {m[1]}, "user": {"admin"}, "password": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	stop := publish(t, rtmpAddr, "cam1")
	defer stop()
	apptest.WaitFor(t, 30*time.Second, "the stream on air", func() bool {
		var ls struct{ Streams []struct{ Name string } }
		return getJSON(t, w.base+"/api/live", &ls) == 200 && len(ls.Streams) == 1
	})
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "rtmp://"+rtmpAddr+"/live/cam1",
		"-t", "2", "-f", "null", "-").CombinedOutput(); err != nil {
		t.Fatalf("RTMP player: %v\n%s", err, out)
	}
	w.waitTitle(t, "Metric Test")

	_, body, _ := apptest.Get(t, http.DefaultClient, w.base+"/metrics")
	exposed := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			exposed[strings.Fields(name)[0]] = true
		}
	}
	for _, sp := range sampler.DefaultSpecs() {
		queries["admin charts"] = append(queries["admin charts"], sp.Metric)
	}
	checked := 0
	for f, exprs := range queries {
		for _, e := range exprs {
			for _, name := range metricName.FindAllString(e, -1) {
				checked++
				if !exposed[name] {
					t.Errorf("%s names %s, which /metrics does not expose", f, name)
				}
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d metric names found in the files", checked)
	}
	if !slices.Contains(queries["grafana-dashboard.json"], `thecure_filesystem_avail_bytes{job=~"$job"}`) {
		t.Error("the dashboard lost its disk panel")
	}
}
