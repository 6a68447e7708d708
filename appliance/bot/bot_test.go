package bot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/NicoNex/echotron/v3"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/store"
)

const (
	userOK    = 100
	userNope  = 666
	adminID   = 1
	opsChat   = -500
	operator1 = 7
)

func testConfig(apiURL string) config.Bot {
	c := config.Default().Bot
	c.Enabled = true
	c.Token = "123456:TEST-token"
	c.APIURL = apiURL
	c.AllowedUsers = []int64{userOK}
	c.Admins = []int64{adminID}
	c.OperatorsChat = opsChat
	c.PollTimeout = config.Duration(time.Second)
	return c
}

type harness struct {
	t      *testing.T
	fake   *fakeAPI
	st     *store.Store
	health *health.Registry
	bot    *Bot
	cancel context.CancelFunc
	done   chan error
}

func openStore(t testing.TB, dir string) *store.Store {
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(apptest.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start builds a bot on st against fake and runs it until the test ends.
func start(t *testing.T, fake *fakeAPI, st *store.Store, cfg config.Bot) *harness {
	t.Helper()
	h := &harness{t: t, fake: fake, st: st, health: health.NewRegistry(), done: make(chan error, 1)}
	b, err := New(Options{Config: cfg, Store: st, Log: testLog(t), Health: h.health, Unthrottled: true})
	if err != nil {
		t.Fatal(err)
	}
	h.bot = b
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- b.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

// stop cancels Run and checks it returns nil in time.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		h.t.Fatal("Run did not return within 15s of cancel")
	}
}

func newHarness(t *testing.T) *harness {
	fake := newFakeAPI(t)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	return start(t, fake, st, testConfig(fake.URL()))
}

func toChat(id int64) func(call) bool {
	return func(c call) bool { return c.int("chat_id") == id }
}

func and(ps ...func(call) bool) func(call) bool {
	return func(c call) bool {
		for _, p := range ps {
			if !p(c) {
				return false
			}
		}
		return true
	}
}

func textHas(s string) func(call) bool {
	return func(c call) bool { return strings.Contains(c.Params["text"], s) }
}

func TestAllowedUserWalksTreeToAnswer(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	f.waitCall("setMyCommands", func(c call) bool { return strings.Contains(c.Params["commands"], `"close"`) })

	f.push(textMsg(userOK, userOK, 1, "/start"))
	first := f.waitCall("sendMessage", toChat(userOK))
	if !strings.Contains(first.Params["text"], "Hola, User100") || !strings.Contains(first.Params["reply_markup"], `"callback_data":"n:conn"`) {
		t.Fatalf("/start answer: %v", first.Params)
	}
	if first.Params["parse_mode"] != "Markdown" {
		t.Errorf("parse_mode %q, want Markdown", first.Params["parse_mode"])
	}
	menuMsg := messageIDOf(f, "sendMessage", first)

	f.push(press(userOK, menuMsg, "n:conn"))
	f.waitCall("answerCallbackQuery", func(c call) bool { return c.Params["callback_query_id"] == "cb1n:conn" })
	e := f.waitCall("editMessageText", textHas("Problemas de conexión"))
	if e.int("message_id") != int64(menuMsg) || !strings.Contains(e.Params["reply_markup"], `"n:conn_none"`) ||
		!strings.Contains(e.Params["reply_markup"], `"n:root"`) {
		t.Fatalf("edit after conn: %v", e.Params)
	}

	f.push(press(userOK, menuMsg, "n:conn_none"))
	answer := f.waitCall("editMessageText", textHas("Reinicia el router"))
	if !strings.Contains(answer.Params["reply_markup"], `"n:human"`) {
		t.Errorf("answer should offer a technician: %v", answer.Params["reply_markup"])
	}

	// A forged or stale button falls back to the root menu.
	f.push(press(userOK, menuMsg, "n:../../etc"))
	f.waitCall("editMessageText", textHas("Ese menú ya no existe"))

	// The conversation is in the log, in and out.
	h.stop()
	entries, err := ReadLog(h.st, userOK, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var in, out int
	for _, e := range entries {
		switch e.Dir {
		case "in":
			in++
		case "out":
			out++
		}
	}
	if in != 4 || out != 4 {
		t.Errorf("log has %d in and %d out for the user, want 4 and 4: %+v", in, out, entries)
	}
}

func TestUnauthorisedUserRefusedOnce(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	ids := f.push(textMsg(userNope, userNope, 1, "/start"), textMsg(userNope, userNope, 2, "hola?"),
		press(userNope, 3, "n:conn"), textMsg(userNope, userNope, 4, "/help"))
	f.waitOffset(ids[len(ids)-1] + 1)
	refusal := f.waitCall("sendMessage", toChat(userNope))
	if !strings.Contains(refusal.Params["text"], "usuarios autorizados") {
		t.Errorf("refusal text: %q", refusal.Params["text"])
	}
	// Let the worker finish its queue, then check nothing more went out.
	h.stop()
	if n := len(f.find("sendMessage", toChat(userNope))); n != 1 {
		t.Errorf("%d messages to the refused user, want 1:\n%s", n, f.dump())
	}
	if n := len(f.find("answerCallbackQuery", nil)) + len(f.find("editMessageText", nil)); n != 0 {
		t.Errorf("refused user got %d menu answers", n)
	}
	// Once ever: after a restart too.
	h2 := start(t, f, h.st, testConfig(f.URL()))
	ids = f.push(textMsg(userNope, userNope, 5, "/start"))
	f.waitOffset(ids[0] + 1)
	h2.stop()
	if n := len(f.find("sendMessage", toChat(userNope))); n != 1 {
		t.Errorf("after restart: %d messages to the refused user, want 1", n)
	}
	entries, _ := ReadLog(h.st, userNope, time.Time{})
	if len(entries) != 6 { // 5 in + 1 out
		t.Errorf("the refused user's log has %d entries, want 6", len(entries))
	}
}

func TestEscalationRoundTrip(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	f.push(press(userOK, 9, "n:human"))
	e := f.waitCall("editMessageText", textHas("Consulta #1 abierta"))
	if e.int("chat_id") != userOK {
		t.Fatalf("ticket notice went to %d", e.int("chat_id"))
	}
	notice := f.waitCall("sendMessage", and(toChat(opsChat), textHas("Consulta #1 de User100")))
	_ = notice

	f.push(textMsg(userOK, userOK, 10, "El vídeo de ayer no carga"))
	fwd := f.waitCall("forwardMessage", toChat(opsChat))
	if fwd.int("from_chat_id") != userOK || fwd.int("message_id") != 10 {
		t.Fatalf("forward: %v", fwd.Params)
	}
	// The forwarded copy's id in the operators' chat: the fake numbers every
	// sent or forwarded message; find it from the call order.
	fwdID := messageIDOf(f, "forwardMessage", fwd)

	f.push(replyMsg(operator1, opsChat, 500, fwdID, "Reinicia el reproductor, por favor"))
	cp := f.waitCall("copyMessage", toChat(userOK))
	if cp.int("from_chat_id") != opsChat || cp.int("message_id") != 500 {
		t.Fatalf("copy to user: %v", cp.Params)
	}

	f.push(textMsg(operator1, opsChat, 501, "/tickets"))
	f.waitCall("sendMessage", and(toChat(opsChat), textHas("#1 User100")))
	// A command in reply to a relayed message is not passed on.
	f.push(replyMsg(operator1, opsChat, 503, fwdID, "/tickets"))
	deadline := time.Now().Add(20 * time.Second)
	for len(f.find("sendMessage", and(toChat(opsChat), textHas("#1 User100")))) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("/tickets in reply not answered")
		}
		time.Sleep(10 * time.Millisecond)
	}

	f.push(textMsg(userOK, userOK, 11, "/close"))
	f.waitCall("sendMessage", and(toChat(userOK), textHas("Consulta #1 cerrada")))
	f.waitCall("sendMessage", and(toChat(opsChat), textHas("ha cerrado la consulta #1")))

	// A late reply to a closed ticket does not reach the user.
	f.push(replyMsg(operator1, opsChat, 502, fwdID, "¿Sigue?"))
	f.waitCall("sendMessage", and(toChat(opsChat), textHas("ya está cerrada")))
	if n := len(f.find("copyMessage", nil)); n != 1 {
		t.Errorf("%d copies to the user, want 1", n)
	}
	// After /close, plain text goes back to the menu, not to the operators.
	f.push(textMsg(userOK, userOK, 12, "gracias"))
	f.waitCall("sendMessage", and(toChat(userOK), textHas("Usa los botones")))
	if n := len(f.find("forwardMessage", nil)); n != 1 {
		t.Errorf("%d forwards, want 1", n)
	}
	ts, err := OpenTickets(h.st)
	if err != nil || len(ts) != 0 {
		t.Errorf("open tickets after close: %v %v", ts, err)
	}
}

// messageIDOf finds the message id the fake gave to a recorded call: the
// fake numbers sendMessage, forwardMessage and copyMessage results in order.
func messageIDOf(f *fakeAPI, method string, target call) int {
	id := 1
	for _, c := range f.snapshot() {
		switch c.Method {
		case "sendMessage", "forwardMessage", "copyMessage":
			if c.Method == method && c.At.Equal(target.At) && c.Params["message_id"] == target.Params["message_id"] {
				return id
			}
			id++
		}
	}
	return -1
}

func TestRetryAfter429(t *testing.T) {
	fake := newFakeAPI(t)
	fake.failNext("getUpdates", 429)
	fake.failNext("sendMessage", 429)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	start(t, fake, st, testConfig(fake.URL()))
	fake.push(textMsg(userOK, userOK, 1, "/help"))
	fake.waitCall("sendMessage", and(toChat(userOK), textHas("/status")))
	deadline := time.Now().Add(20 * time.Second)
	for len(fake.find("sendMessage", nil)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	all := fake.find("sendMessage", toChat(userOK))

	if len(all) != 2 {
		t.Fatalf("%d sendMessage calls, want 2 (one 429, one retry):\n%s", len(all), fake.dump())
	}
	if gap := all[1].At.Sub(all[0].At); gap < 900*time.Millisecond {
		t.Errorf("retried after %v, before retry_after (1s)", gap)
	}
	if all[0].Params["text"] != all[1].Params["text"] {
		t.Errorf("the retry sent another message: %q", all[1].Params["text"])
	}
	// A server error is retried after a back-off.
	fake.failNext("answerCallbackQuery", 502)
	fake.push(press(userOK, 5, "n:ftp"))
	fake.waitCall("editMessageText", textHas("FTP y subidas"))
	if n := len(fake.find("answerCallbackQuery", nil)); n != 2 {
		t.Errorf("%d answerCallbackQuery calls, want 2 (one 502, one retry)", n)
	}
	// getUpdates got a 429 too, and polling went on after it.
	if n := len(fake.find("getUpdates", nil)); n != 1 {
		t.Errorf("%d failed getUpdates recorded, want 1", n)
	}
}

func TestRestartDoesNotReprocess(t *testing.T) {
	fake := newFakeAPI(t)
	dir := t.TempDir()
	st := openStore(t, dir)
	h := start(t, fake, st, testConfig(fake.URL()))
	ids := fake.push(textMsg(userOK, userOK, 1, "/help"), textMsg(userOK, userOK, 2, "/status"))
	fake.waitCall("sendMessage", textHas("Cola de conversión"))
	h.stop()
	st.Close()

	// The fake keeps every update (as Telegram does until it is confirmed):
	// only the stored offset keeps the new process from handling them again.
	st = openStore(t, dir)
	t.Cleanup(func() { st.Close() })
	h = start(t, fake, st, testConfig(fake.URL()))
	fake.waitOffset(ids[1] + 1)
	more := fake.push(textMsg(userOK, userOK, 3, "/help"))
	fake.waitOffset(more[0] + 1)
	h.stop()
	if n := len(fake.find("sendMessage", textHas("/close: cerrar"))); n != 2 {
		t.Errorf("/help answered %d times, want 2 (once per /help, none re-processed):\n%s", n, fake.dump())
	}
	if n := len(fake.find("sendMessage", textHas("Cola de conversión"))); n != 1 {
		t.Errorf("/status answered %d times, want 1", n)
	}
}

func TestNetworkLossNeverStopsTheBot(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	cfg := testConfig("http://" + addr)
	h := &harness{t: t, health: health.NewRegistry(), done: make(chan error, 1)}
	b, err := New(Options{Config: cfg, Store: st, Log: testLog(t), Health: h.health, Unthrottled: true})
	if err != nil {
		t.Fatal(err)
	}
	b.backoff = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- b.Run(ctx) }()
	t.Cleanup(h.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := h.health.Snapshot()
		if len(s) == 1 && s[0].State == health.Down {
			if strings.Contains(s[0].Detail, cfg.Token) {
				t.Errorf("health detail leaks the token: %s", s[0].Detail)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot never reported Down: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-h.done:
		t.Fatalf("Run returned while the network is down: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// Alerts queue without blocking while the API is unreachable.
	for range 100 {
		b.Alert(context.Background(), AlertBackupFailed, "disk full")
	}
}

func TestWebhook(t *testing.T) {
	fake := newFakeAPI(t)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	cfg := testConfig(fake.URL())
	cfg.WebhookURL = "https://box.example.org/telegram/hook"
	cfg.WebhookSecret = "s3cret-Token"
	h := start(t, fake, st, cfg)
	set := fake.waitCall("setWebhook", nil)
	if set.Params["secret_token"] != cfg.WebhookSecret || set.Params["url"] != cfg.WebhookURL {
		t.Errorf("setWebhook: %v", set.Params)
	}
	if p := WebhookPath(cfg.WebhookURL); p != "/telegram/hook" {
		t.Errorf("WebhookPath = %q", p)
	}
	srv := httptest.NewServer(h.bot)
	defer srv.Close()
	post := func(secret, body string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/telegram/hook", strings.NewReader(body))
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"update_id": 77, "message": {"message_id": 1, "date": 1, "text": "/help",
		"from": {"id": 100, "is_bot": false, "first_name": "Ana"}, "chat": {"id": 100, "type": "private"}}}`
	if code := post("", body); code != http.StatusForbidden {
		t.Errorf("no secret: %d, want 403", code)
	}
	if code := post("wrong", body); code != http.StatusForbidden {
		t.Errorf("wrong secret: %d, want 403", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for post(cfg.WebhookSecret, body) != http.StatusOK { // 503 until Run has connected
		if time.Now().After(deadline) {
			t.Fatal("webhook never accepted the update")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fake.waitCall("sendMessage", toChat(userOK))
	if code := post(cfg.WebhookSecret, body); code != http.StatusOK { // Telegram redelivers
		t.Errorf("redelivery: %d", code)
	}
	h.stop()
	if n := len(fake.find("sendMessage", toChat(userOK))); n != 1 {
		t.Errorf("webhook update handled %d times, want 1", n)
	}
	if n := len(fake.find("getUpdates", nil)); n != 0 {
		t.Errorf("webhook mode polled %d times", n)
	}
}

func TestAdminAllowDenyAndAlerts(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	const newcomer = 555
	f.push(textMsg(userOK, userOK, 1, "/allow 555")) // not an admin
	f.waitCall("sendMessage", and(toChat(userOK), textHas("solo para administradores")))
	f.push(textMsg(adminID, adminID, 2, "/allow 555"))
	f.waitCall("sendMessage", and(toChat(adminID), textHas("Usuario 555 autorizado")))
	f.push(textMsg(newcomer, newcomer, 3, "/help"))
	f.waitCall("sendMessage", and(toChat(newcomer), textHas("/status")))
	f.push(textMsg(adminID, adminID, 4, "/deny 100")) // overrides allowed_users
	f.waitCall("sendMessage", and(toChat(adminID), textHas("Usuario 100 sin acceso")))
	f.push(textMsg(userOK, userOK, 5, "/help"))
	f.waitCall("sendMessage", and(toChat(userOK), textHas("usuarios autorizados")))

	h.bot.Alert(context.Background(), AlertTranscodeFailed, "pelis/*nightly*.mkv", "encoding failed")
	h.bot.Alert(context.Background(), AlertTranscodeFailed, "pelis/*nightly*.mkv", "encoding failed") // throttled
	a := f.waitCall("sendMessage", and(toChat(adminID), textHas("Alerta")))
	// in the bot's language (es here), the client's name escaped
	if !strings.Contains(a.Params["text"], `no se pudo convertir pelis/\*nightly\*.mkv: encoding failed`) {
		t.Errorf("alert text not in Spanish or not escaped: %q", a.Params["text"])
	}
	h.stop()
	if n := len(f.find("sendMessage", and(toChat(adminID), textHas("Alerta")))); n != 1 {
		t.Errorf("%d alerts sent, want 1 (throttled)", n)
	}
}

func TestBuiltinMenusAreValid(t *testing.T) {
	for _, lang := range []string{"es", "en"} {
		c := config.Default()
		c.Bot.Menu = BuiltinMenu(lang)
		for _, p := range c.Validate() {
			t.Errorf("%s: %s", lang, p)
		}
		if len(c.Bot.Menu) != len(BuiltinMenu("es")) {
			t.Errorf("%s: %d nodes, es has %d", lang, len(c.Bot.Menu), len(BuiltinMenu("es")))
		}
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	p := &poller{base: "http://127.0.0.1:1/bot123:SECRET/", token: "123:SECRET", hc: &http.Client{}}
	_, err := p.getUpdates(context.Background(), 0, time.Second)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error %v (should exist and not carry the token)", err)
	}
	if e := redact(errors.New("x 123:SECRET y"), "123:SECRET"); strings.Contains(e.Error(), "SECRET") {
		t.Errorf("redact: %v", e)
	}
}

func TestSlowConversationDoesNotBlockOthers(t *testing.T) {
	fake := newFakeAPI(t)
	const slowUser = 101
	fake.mu.Lock()
	fake.slow[slowUser] = 4 * time.Second
	fake.mu.Unlock()
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	cfg := testConfig(fake.URL())
	cfg.AllowedUsers = []int64{userOK, slowUser}
	start(t, fake, st, cfg)
	fake.push(textMsg(slowUser, slowUser, 1, "/help"), textMsg(userOK, userOK, 2, "/help"))
	fast := fake.waitCall("sendMessage", toChat(userOK))
	slow := fake.waitCall("sendMessage", toChat(slowUser))
	if !fast.At.Before(slow.At) {
		t.Errorf("the fast chat was answered at %v, after the slow one (%v)", fast.At, slow.At)
	}
}

func TestRateLimit(t *testing.T) {
	fake := newFakeAPI(t)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	cfg := testConfig(fake.URL())
	cfg.RateLimit = 3
	h := start(t, fake, st, cfg)
	var us []echotron.Update
	for i := range 8 {
		us = append(us, textMsg(userOK, userOK, i+1, "/help"))
	}
	ids := fake.push(us...)
	fake.waitOffset(ids[len(ids)-1] + 1)
	fake.waitCall("sendMessage", textHas("muy rápido"))
	h.stop()
	if n := len(fake.find("sendMessage", textHas("/close: cerrar"))); n != 3 {
		t.Errorf("%d answers, want 3 (the limit)", n)
	}
	if n := len(fake.find("sendMessage", textHas("muy rápido"))); n != 1 {
		t.Errorf("%d slow-down notices, want 1", n)
	}
}

func TestEnglishAndServiceAlerts(t *testing.T) {
	fake := newFakeAPI(t)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	cfg := testConfig(fake.URL())
	cfg.Language = "en"
	reg := health.NewRegistry()
	b, err := New(Options{Config: cfg, Store: st, Log: testLog(t), Health: reg, Unthrottled: true})
	if err != nil {
		t.Fatal(err)
	}
	b.watch = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	fake.push(textMsg(userOK, userOK, 1, "/start"))
	m := fake.waitCall("sendMessage", toChat(userOK))
	if !strings.Contains(m.Params["text"], "Hello, User100") || !strings.Contains(m.Params["reply_markup"], "Connection problems") {
		t.Errorf("English /start: %v", m.Params)
	}
	reg.Set("ftp", health.Up, "")
	fake.push(textMsg(userOK, userOK, 2, "/status"))
	st1 := fake.waitCall("sendMessage", textHas("services up"))
	for _, want := range []string{"Live streams: not available", "Transcode queue: not available", "Last backup: not available"} {
		if !strings.Contains(st1.Params["text"], want) {
			t.Errorf("/status without views should say %q: %q", want, st1.Params["text"])
		}
	}
	reg.Set("ftp", health.Down, "no certificate")
	a := fake.waitCall("sendMessage", and(toChat(adminID), textHas("Alert")))
	if !strings.Contains(a.Params["text"], "ftp is down: no certificate") {
		t.Errorf("alert: %q", a.Params["text"])
	}
	// Bot users see a down service's short reason, never its paths.
	reg.Set("transcode", health.Down, "disk full: write /var/lib/thecure/hls/.staging/ab.1/seg1.m4s: no space left on device")
	fake.push(textMsg(userOK, userOK, 3, "/status"))
	st2 := fake.waitCall("sendMessage", and(toChat(userOK), textHas("disk full")))
	if strings.Contains(st2.Params["text"], "/var/lib") || strings.Contains(st2.Params["text"], "staging") {
		t.Errorf("/status shows a path to a bot user: %q", st2.Params["text"])
	}
}

func TestLogRetention(t *testing.T) {
	fake := newFakeAPI(t)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	old := []LogEntry{{Time: now.Add(-100 * 24 * time.Hour), User: 5, Chat: 5, Dir: "in", Text: "old"},
		{Time: now.Add(-time.Hour), User: 5, Chat: 5, Dir: "in", Text: "new"}}
	if err := writeLog(st, old); err != nil {
		t.Fatal(err)
	}
	h := start(t, fake, st, testConfig(fake.URL()))
	fake.waitCall("getMe", nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		es, err := ReadLog(st, 5, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 1 && es[0].Text == "new" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log not pruned to 90 days: %+v", es)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.stop()
	if es, _ := ReadLog(st, 0, now.Add(-2*time.Hour)); len(es) != 1 {
		t.Errorf("-since: %d entries, want 1", len(es))
	}
}

func TestUneditableMessageIsSentAnew(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	f.failNext("editMessageText", 400)
	f.push(press(userOK, 3, "n:video"))
	m := f.waitCall("sendMessage", and(toChat(userOK), textHas("Errores de reproducción")))
	if !strings.Contains(m.Params["reply_markup"], `"n:video_nostart"`) {
		t.Errorf("node sent anew without its buttons: %v", m.Params)
	}
	// Messages in groups other than the operators' are ignored.
	u := textMsg(userOK, -9999, 4, "/start")
	u.Message.Chat.Type = "group"
	ids := f.push(u)
	f.waitOffset(ids[0] + 1)
	h.stop()
	if n := len(f.find("sendMessage", toChat(-9999))); n != 0 {
		t.Errorf("answered in a foreign group %d times", n)
	}
}

// TestAlertsTranslated: every alert key has a sentence in each language,
// with a place for each of its arguments.
func TestAlertsTranslated(t *testing.T) {
	args := map[string]int{AlertTranscodeFailed: 2, AlertBackupFailed: 1, AlertBackupDamaged: 1,
		AlertBackupWarning: 2, AlertServiceDown: 3, AlertDiskFull: 4, AlertPublishFailed: 1, AlertChannelTitle: 3}
	for _, lang := range []string{"es", "en"} {
		tx := textsFor(lang)
		if len(tx.alerts) != len(args) {
			t.Errorf("%s: %d alert texts, want %d", lang, len(tx.alerts), len(args))
		}
		for key, n := range args {
			if got := strings.Count(tx.alerts[key], "%s"); got != n {
				t.Errorf("%s: alert %s has %d places, want %d", lang, key, got, n)
			}
		}
	}
}

// An update's "in" line is stored with the update offset, in the same
// transaction: the first moment the offset says the update was taken, its
// line is in the log (a kill -9 while it is handled loses neither).
func TestInLineStoredWithTheOffset(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	f.mu.Lock()
	f.slow[userOK] = 2 * time.Second // the answer is still on its way
	f.mu.Unlock()
	ids := f.push(textMsg(userOK, userOK, 1, "/start"), press(userOK, 1, "n:conn"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		var off int
		var lines []string
		err := h.st.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketState); b != nil {
				off = int(keyID(b.Get(keyOffset)))
			}
			if b := tx.Bucket(bucketLog); b != nil {
				return b.ForEach(func(_, v []byte) error {
					var e LogEntry
					if err := json.Unmarshal(v, &e); err != nil {
						return err
					}
					if e.Dir == "in" && e.User == userOK {
						lines = append(lines, e.Text)
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if off > ids[1] {
			if strings.Join(lines, "|") != "/start|[button] n:conn" {
				t.Fatalf("offset %d stored, but the log's lines are %q", off, lines)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset %d after 20 s", off)
		}
		time.Sleep(time.Millisecond)
	}
	if n := len(f.find("sendMessage", toChat(userOK))); n != 0 {
		t.Errorf("answered before the check: the test did not catch the moment (%d answers)", n)
	}
	f.waitCall("sendMessage", toChat(userOK))
}

// An operator's reply to a relayed message whose relation was never stored
// (the appliance stopped in between) reaches the user Telegram says it was
// forwarded from, when that user has an open ticket; without that, nothing
// is passed on.
func TestReplyFindsTicketByForwardOrigin(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	f.push(press(userOK, 9, "n:human"))
	f.waitCall("sendMessage", and(toChat(opsChat), textHas("Consulta #1 de User100")))

	lost := replyMsg(operator1, opsChat, 700, 4242, "sin dueño")
	f.push(lost)
	f.push(textMsg(operator1, opsChat, 701, "/tickets"))
	f.waitCall("sendMessage", and(toChat(opsChat), textHas("#1 User100")))
	if n := len(f.find("copyMessage", nil)); n != 0 {
		t.Fatalf("a reply to an unknown message was passed on (%d copies)", n)
	}

	u := replyMsg(operator1, opsChat, 702, 4243, "Reinicia el reproductor")
	u.Message.ReplyToMessage.ForwardOrigin = &echotron.MessageOrigin{Type: "user", SenderUser: &echotron.User{ID: userOK, FirstName: "User100"}}
	f.push(u)
	cp := f.waitCall("copyMessage", toChat(userOK))
	if cp.int("from_chat_id") != opsChat || cp.int("message_id") != 702 {
		t.Fatalf("copy to user: %v", cp.Params)
	}
	// the relation is stored now: a second reply needs no origin
	f.push(replyMsg(operator1, opsChat, 703, 4243, "¿Mejor?"))
	deadline := time.Now().Add(20 * time.Second)
	for len(f.find("copyMessage", toChat(userOK))) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the second reply was not passed on")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A folder on a nearly full file system of its own (the media disk, say)
// alerts the admins once, naming it; a folder on a roomy one does not.
func TestDiskAlertPerFileSystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a small tmpfs (a full disk) and needs root: run it as root (`sudo make test`)")
	}
	media := t.TempDir()
	if err := syscall.Mount("tmpfs", media, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(media, 0); err != nil {
			t.Errorf("umount: %v", err)
		}
	})
	if err := os.WriteFile(filepath.Join(media, "filler"), make([]byte, 250<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(media, "sub"), 0o755); err != nil { // the same file system again: one alert
		t.Fatal(err)
	}
	fake := newFakeAPI(t)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	cfg := testConfig(fake.URL())
	cfg.Language = "en"
	roomy := t.TempDir()
	b, err := New(Options{Config: cfg, Store: st, Log: testLog(t), Unthrottled: true, DiskPaths: []string{roomy, media, filepath.Join(media, "sub")}})
	if err != nil {
		t.Fatal(err)
	}
	b.watch = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	a := fake.waitCall("sendMessage", and(toChat(adminID), textHas("disk nearly full")))
	if !strings.Contains(a.Params["text"], media) || strings.Contains(a.Params["text"], roomy) {
		t.Errorf("alert: %q", a.Params["text"])
	}
	time.Sleep(200 * time.Millisecond) // ten more looks at the disks
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(fake.find("sendMessage", and(toChat(adminID), textHas("disk nearly full")))); n != 1 {
		t.Errorf("%d disk alerts, want 1:\n%s", n, fake.dump())
	}
}

// An update taken (its offset stored) but not handled when the appliance
// was killed is handled at the next start, and only once; a handled one
// leaves the inbox.
func TestUnhandledUpdateHandledAfterRestart(t *testing.T) {
	fake := newFakeAPI(t)
	dir := t.TempDir()
	st := openStore(t, dir)
	// what a kill -9 right after taking the update leaves in the store
	ids := fake.push(textMsg(userOK, userOK, 1, "/status"))
	u := textMsg(userOK, userOK, 1, "/status")
	u.ID = ids[0]
	if err := saveOffsetAndLog(st, u.ID+1, []*echotron.Update{&u}, nil); err != nil {
		t.Fatal(err)
	}
	h := start(t, fake, st, testConfig(fake.URL()))
	fake.waitCall("sendMessage", textHas("Cola de conversión"))
	more := fake.push(textMsg(userOK, userOK, 2, "/help"))
	fake.waitCall("sendMessage", textHas("/close: cerrar"))
	fake.waitOffset(more[0] + 1)
	h.stop()
	left, err := loadInbox(st)
	if err != nil || len(left) != 0 {
		t.Errorf("inbox after handling: %d updates, %v", len(left), err)
	}
	st.Close()
	st = openStore(t, dir)
	t.Cleanup(func() { st.Close() })
	h = start(t, fake, st, testConfig(fake.URL()))
	fake.waitOffset(more[0] + 1)
	h.stop()
	if n := len(fake.find("sendMessage", textHas("Cola de conversión"))); n != 1 {
		t.Errorf("/status answered %d times, want 1:\n%s", n, fake.dump())
	}
}
