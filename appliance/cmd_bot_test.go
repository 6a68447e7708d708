package appliance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/store"
)

// TestBotCommands runs `thecure bot ...` against a stopped appliance (the
// store directly) and a running one (the control socket).
func TestBotCommands(t *testing.T) {
	dir := t.TempDir()
	// A relative data dir that does not exist (wrong directory or config)
	// is refused, not made into an empty database.
	rel := filepath.Join(dir, "relative.toml")
	if err := os.WriteFile(rel, []byte("data_dir = \"data\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCmd(t, dir, "bot", "-c", rel, "allow", "42"); code != 1 || !strings.Contains(errOut, "no data dir") {
		t.Errorf("allow on a missing data dir: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command made the data dir: %v", err)
	}
	// A config naming an absolute data dir gets it made before the first start.
	cfg := writeConfig(t, dir, "")
	if out, errOut, code := runCmd(t, dir, "bot", "-c", cfg, "allow", "42"); code != 0 || !strings.Contains(out, "user 42 may use the bot") || !strings.Contains(errOut, "made data dir") {
		t.Fatalf("allow, stopped: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := runCmd(t, dir, "bot", "-c", cfg, "allow", "nope"); code != 2 || !strings.Contains(errOut, "<id>") {
		t.Errorf("allow nope: exit %d, want 2; %q", code, errOut)
	}
	if _, errOut, code := runCmd(t, dir, "bot", "-c", cfg, "frob"); code != 2 || !strings.HasPrefix(errOut, `thecure bot: unknown command "frob"`) {
		t.Errorf("unknown subcommand: exit %d, %q", code, errOut)
	}

	p := start(t, dir, "run", "-c", cfg)
	p.waitLine(t, `thecure is running`)
	if out, errOut, code := runCmd(t, dir, "bot", "-c", cfg, "deny", "42"); code != 0 || !strings.Contains(out, "may not use") {
		t.Fatalf("deny, running: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := runCmd(t, dir, "bot", "-c", cfg, "log", "-since", "1h", "-user", "42"); code != 0 || !strings.HasPrefix(out, "TIME") {
		t.Fatalf("log, running: %d %q %q", code, out, errOut)
	}
	if out, _, code := runCmd(t, dir, "bot", "-c", cfg, "tickets"); code != 0 || !strings.HasPrefix(out, "TICKET") {
		t.Fatalf("tickets, running: %d %q", code, out)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}

	st, err := store.Open(filepath.Join(dir, "data"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Allowed while stopped, then denied through the running appliance.
	if allowed, known, err := bot.Access(st, 42); err != nil || !known || allowed {
		t.Errorf("user 42: allowed %v known %v err %v; want denied", allowed, known, err)
	}
}

// TestBotWithoutNetwork enables the bot with a Bot API nobody answers: the
// appliance runs on, the bot shows as down, and the token (from a file that
// others may read: a warning) appears nowhere.
func TestBotWithoutNetwork(t *testing.T) {
	dir := t.TempDir()
	const token = "987654:SECRET-bot-token"
	tokenFile := filepath.Join(dir, "bot-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, "[bot]\nenabled = true\napi_url = \"http://127.0.0.1:1\"\ntoken_file = \""+tokenFile+"\"\nadmins = [1]\n")
	p := start(t, dir, "run", "-c", cfg)
	p.waitLine(t, `bot.token_file: .* is readable by every user`)
	addr := p.waitLine(t, `msg=listening svc=http key=http.listen addr=(\S+)`)[1]
	p.waitLine(t, `cannot reach the Bot API; retrying" svc=bot`)
	var h healthz
	// The bot depends on the outside: the box is degraded, still live and ready.
	if code := getJSON(t, "http://"+addr+"/readyz", &h); code != 200 || h.Status != "degraded" {
		t.Errorf("/readyz = %d %q with the bot down, want 200 degraded", code, h.Status)
	}
	if code := getJSON(t, "http://"+addr+"/healthz", &h); code != 200 || h.Status != "degraded" {
		t.Errorf("/healthz = %d %q with the bot down, want 200 degraded", code, h.Status)
	}
	states := map[string]string{}
	for _, s := range h.Services {
		states[s.Name] = s.State
		if strings.Contains(s.Detail, "SECRET") {
			t.Errorf("/healthz shows the token: %s", s.Detail)
		}
	}
	if states["bot"] != "down" || states["http"] != "up" {
		t.Errorf("states %v, want bot down and http up", states)
	}
	out, _, code := runCmd(t, dir, "status", "-c", cfg)
	if code != 0 || !strings.Contains(out, "bot") || !strings.Contains(out, "status degraded") || strings.Contains(out, "SECRET") {
		t.Errorf("status: %d\n%s", code, out)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(p.output(), "SECRET") {
		t.Errorf("the log shows the token:\n%s", p.output())
	}
}

// TestSecretOnlyInServiceEnvironment: a token given to the service in its
// environment only (systemd Environment=) is missing from an admin's shell;
// check-config and run need it, management commands do not.
func TestSecretOnlyInServiceEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "[bot]\nenabled = true\nadmins = [42]\n")
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCmd(t, dir, "check-config", "-c", cfg); code != 1 || !strings.Contains(errOut, "bot.token: enabled = true needs a token") {
		t.Errorf("check-config without the token: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCmd(t, dir, "status", "-c", cfg); code != 1 || !strings.Contains(errOut, "is not running") {
		t.Errorf("status without the token: exit %d, %q (want the not-running message, not a config error)", code, errOut)
	}
	if out, errOut, code := runCmd(t, dir, "bot", "-c", cfg, "allow", "5"); code != 0 || !strings.Contains(out, "user 5 may use the bot") {
		t.Errorf("bot allow without the token: exit %d, %q %q", code, out, errOut)
	}
}
