package appliance

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/webui/browsertest"
)

// miniBotAPI is a Telegram Bot API on loopback (httptest): getUpdates hands
// out the pushed updates, every other method succeeds with a message.
type miniBotAPI struct {
	srv     *httptest.Server
	mu      sync.Mutex
	updates []map[string]any
	nextMsg int
}

const miniBotToken = "123456:TEST-token"

func newMiniBotAPI(t *testing.T) *miniBotAPI {
	f := &miniBotAPI{nextMsg: 1}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// say pushes a text message from user (a private chat).
func (f *miniBotAPI) say(user int64, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := 1000 + len(f.updates)
	f.updates = append(f.updates, map[string]any{"update_id": id, "message": map[string]any{
		"message_id": 500 + id, "date": time.Now().Unix(), "text": text,
		"from": map[string]any{"id": user, "is_bot": false, "first_name": "Ana"},
		"chat": map[string]any{"id": user, "type": "private"},
	}})
}

func (f *miniBotAPI) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+miniBotToken+"/")
	if !ok || r.ParseForm() != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var result any = true
	switch method {
	case "getMe":
		result = map[string]any{"id": 42, "is_bot": true, "first_name": "Soporte", "username": "thecure_bot"}
	case "getUpdates":
		off, _ := strconv.Atoi(r.Form.Get("offset"))
		var out []map[string]any
		for range 10 {
			f.mu.Lock()
			for _, u := range f.updates {
				if u["update_id"].(int) >= off {
					out = append(out, u)
				}
			}
			f.mu.Unlock()
			if len(out) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		result = out
		if out == nil {
			result = []any{}
		}
	case "sendMessage", "editMessageText", "copyMessage", "forwardMessage":
		f.mu.Lock()
		id := f.nextMsg
		f.nextMsg++
		f.mu.Unlock()
		chat, _ := strconv.ParseInt(r.Form.Get("chat_id"), 10, 64)
		result = map[string]any{"message_id": id, "date": time.Now().Unix(), "text": r.Form.Get("text"),
			"chat": map[string]any{"id": chat, "type": "private"}}
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result}); err != nil {
		return // the bot hung up: nothing to answer
	}
}

// TestWebSupportHistory: a conversation driven through the Bot API shows on
// the admin's support page, found by user and by a word it contains, with
// the statistics counting it; a search for something never said finds nothing.
func TestWebSupportHistory(t *testing.T) {
	api := newMiniBotAPI(t)
	dir := t.TempDir()
	tok := filepath.Join(dir, "bot.token")
	if err := os.WriteFile(tok, []byte(miniBotToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfigHTTP(t, dir, "language = \"en\"\n", "[bot]\nenabled = true\nlanguage = \"en\"\ntoken_file = \""+tok+"\"\napi_url = \""+api.srv.URL+"\"\nallowed_users = [777]\noperators_chat = -100\n")
	p := start(t, dir, "run", "-c", cfg)
	addr := waitLog(t, p, `msg=listening svc=http key=http.listen addr=(\S+)`, 30*time.Second)[1]
	password := readFirstPassword(t, waitLog(t, p, firstPasswordLog, 30*time.Second)[1])
	base := "http://" + addr

	api.say(777, "/start")
	api.say(777, "hello, my upload of the zebra film fails")
	// The bot writes its log in batches: wait until the page has it.
	ctx := browsertest.New(t, 3*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login?next=%2Fadmin%2Fsupport"),
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`#support-stats`),
	); err != nil {
		t.Fatalf("admin login: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/support?user=777&q=zebra"), chromedp.WaitVisible(`#conversations`)); err != nil {
			t.Fatal(err)
		}
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('li.conversation[data-user="777"]').length`)); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the conversation is not on the support page after 30 s")
		}
		time.Sleep(time.Second)
	}
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('li.conversation[data-user="777"] ol.exchange').textContent`))
	if !strings.Contains(text, "/start") || !strings.Contains(text, "zebra film") {
		t.Errorf("the conversation lacks the user's lines:\n%s", text)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('li.conversation[data-user="777"] ol.exchange li.out').length`)); n == 0 {
		t.Error("the conversation lacks the bot's answers")
	}
	if c, _ := chromedp.Run(ctx, chromedp.Text(`[data-k=conversations]`)); c != "1" {
		t.Errorf("statistics: %q conversations, want 1", c)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/support?q=nobody-said-this"), chromedp.WaitVisible(`#conversations`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('li.conversation').length`)); n != 0 {
		t.Errorf("a search for something never said finds %d conversations", n)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(3)),
		chromedp.Navigate(base+"/admin/support?user=777"), chromedp.WaitVisible(`#conversations`)); err != nil {
		t.Fatal(err)
	}
	if sw, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); sw > 390 {
		t.Errorf("/admin/support at 390 px is %d px wide", sw)
	}

	// The same figures from the command line: through the control socket
	// while it runs, from the store once it is stopped.
	for _, running := range []bool{true, false} {
		if !running {
			if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t, 20*time.Second); code != 0 {
				t.Fatalf("exit %d", code)
			}
		}
		out, errOut, code := runCmd(t, dir, "bot", "stats", "-since", "1d", "-c", cfg)
		if code != 0 || !strings.Contains(out, "conversations: 1\n") || !strings.Contains(out, "resolved without a technician: 1 of 1 (100%)") {
			t.Errorf("thecure bot stats (running %v): exit %d\n%s%s", running, code, out, errOut)
		}
	}
	// a malformed duration is a usage error, refused before the store
	if _, errOut, code := runCmd(t, dir, "bot", "stats", "-since", "soon", "-c", cfg); code != 2 || !strings.Contains(errOut, "thecure bot stats: --since:") {
		t.Errorf("stats -since soon: exit %d, want 2\n%s", code, errOut)
	}
}
