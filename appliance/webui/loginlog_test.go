package webui

import (
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/logsafe"
)

// TestLoginLogs: a failed login says whether the user exists, and never
// what was typed for an unknown one; the failures of one address are
// logged at most once per interval, the next line carrying the count.
func TestLoginLogs(t *testing.T) {
	var logs apptest.SyncBuffer
	u, srv := newTestUI(t, Options{Language: "en", Log: slog.New(slog.NewTextHandler(&logs, nil)),
		BanAfter: 100, BanWindow: time.Minute, BanTime: time.Minute})
	clock := fakeClock(u)
	c := client(t)

	const typed = "hunter2-typed-as-a-name"
	if code, _, _ := login(t, c, srv.URL, typed, "x", "/"); code != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", code)
	}
	for range 4 {
		if code, _, _ := login(t, c, srv.URL, "boss", "wrong", "/"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", code)
		}
	}
	lines := failedLines(logs.String())
	if len(lines) != 1 || !strings.Contains(lines[0], "user_exists=false") || !strings.Contains(lines[0], "count=1") {
		t.Errorf("after 5 failures within the interval, want one line for the unknown user, got:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), typed) {
		t.Errorf("the log quotes what was typed for an unknown user:\n%s", logs.String())
	}
	clock.add(refusalEvery + time.Second)
	login(t, c, srv.URL, "boss", "wrong", "/")
	lines = failedLines(logs.String())
	if len(lines) != 2 || !strings.Contains(lines[1], "user_exists=true user=boss") || !strings.Contains(lines[1], "count=5") {
		t.Errorf("the next interval's line must name the existing user and count 5 failures, got:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "wrong") {
		t.Errorf("a password reached the log:\n%s", logs.String())
	}
}

// testClock is a clock the test moves; the UI (sessions, bans, refusal
// lines) reads it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeClock makes u read a test clock; it must be called before any request.
func fakeClock(u *UI) *testClock {
	c := &testClock{t: time.Now()}
	u.now = c.now
	u.auth.now = c.now
	return c
}

func failedLines(log string) []string {
	return regexp.MustCompile(`(?m)^.*msg="web login failed".*$`).FindAllString(log, -1)
}

// TestBannedRefusalsRateLimited: an address banned and still knocking
// writes one line per interval, not one per attempt, with the count.
func TestBannedRefusalsRateLimited(t *testing.T) {
	var logs apptest.SyncBuffer
	u, srv := newTestUI(t, Options{Language: "en", Log: slog.New(slog.NewTextHandler(&logs, nil)),
		BanAfter: 2, BanWindow: time.Minute, BanTime: time.Hour})
	clock := fakeClock(u)
	c := client(t)
	for range 12 {
		login(t, c, srv.URL, "boss", "wrong", "/")
	}
	// the first failure, the ban itself; the 10 refused attempts are counted
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 || !strings.Contains(logs.String(), `msg="web login failed; address banned"`) {
		t.Errorf("want 2 lines (a failure, the ban), got %d:\n%s", n, logs.String())
	}
	clock.add(refusalEvery + time.Second) // still within the ban
	login(t, c, srv.URL, "boss", "wrong", "/")
	if !regexp.MustCompile(`msg="web login refused: address banned" remote=127.0.0.1 count=11 `).MatchString(logs.String()) {
		t.Errorf("the next interval's line must count the 11 refusals:\n%s", logs.String())
	}
}

func TestLogValue(t *testing.T) {
	long := strings.Repeat("é", 100) + "\n\u202eevil"
	got := logValue(long)
	if len(got) > 2*logsafe.Max+3 || !strings.HasSuffix(got, "...") || strings.ContainsAny(got, "\n\u202e") {
		t.Errorf("logValue(long) = %q", got)
	}
	if got := logValue("a\nb\u202ec"); got != `a\nb\u202ec` {
		t.Errorf("logValue escapes = %q", got)
	}
	if got := logValue("maría"); got != "maría" {
		t.Errorf("logValue(maría) = %q", got)
	}
}
