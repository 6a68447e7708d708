package appliance

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/control"
	"thecure/appliance/store"
)

func runMain(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBotCommands(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("data_dir = \""+dataDir+"\"\n[http]\nlisten = \"127.0.0.1:0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Stopped appliance: straight to the store.
	if code, out, errs := runMain(t, ctx, "bot", "-c", cfg, "allow", "42"); code != 0 || !strings.Contains(out, "user 42 may use the bot") {
		t.Fatalf("allow: %d %q %q", code, out, errs)
	}
	if code, _, _ := runMain(t, ctx, "bot", "-c", cfg, "allow", "nope"); code != 1 {
		t.Errorf("allow nope: exit %d, want 1", code)
	}
	if code, _, _ := runMain(t, ctx, "bot", "-c", cfg, "frob"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}

	// Running appliance: through the control socket (the store is locked).
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() { c, _, _ := runMain(t, rctx, "run", "-c", cfg); done <- c }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("the appliance did not stop")
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for control.NewClient(control.SocketPath(dataDir)).Do(ctx, "GET", "/status", nil, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the appliance never answered on its control socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, out, errs := runMain(t, ctx, "bot", "-c", cfg, "deny", "42"); code != 0 || !strings.Contains(out, "may not use") {
		t.Fatalf("deny: %d %q %q", code, out, errs)
	}
	if code, out, errs := runMain(t, ctx, "bot", "-c", cfg, "log", "-since", "1h", "-user", "42"); code != 0 || !strings.HasPrefix(out, "TIME") {
		t.Fatalf("log: %d %q %q", code, out, errs)
	}
	if code, out, _ := runMain(t, ctx, "bot", "-c", cfg, "tickets"); code != 0 || !strings.HasPrefix(out, "TICKET") {
		t.Fatalf("tickets: %d %q", code, out)
	}
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("run exited %d", c)
	}
	done <- 0

	st, err := store.Open(dataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// 42 was allowed directly, then denied through the running appliance.
	if allowed, known, err := bot.Access(st, 42); err != nil || !known || allowed {
		t.Errorf("user 42: allowed %v known %v err %v; want denied", allowed, known, err)
	}
	entries, err := bot.ReadLog(st, 0, time.Time{})
	if err != nil || len(entries) != 0 {
		t.Errorf("log: %v %v", entries, err)
	}
}
