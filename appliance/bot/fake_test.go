package bot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NicoNex/echotron/v3"
)

// fakeAPI is an httptest Bot API server: it queues updates for getUpdates
// and records every other call. It speaks the JSON of the real one.
type fakeAPI struct {
	t     testing.TB
	srv   *httptest.Server
	token string

	mu      sync.Mutex
	cond    *sync.Cond
	updates []echotron.Update // every update ever pushed; getUpdates returns those >= offset
	nextUpd int
	nextMsg int
	calls   []call
	offsets []int                   // offsets asked for by getUpdates, in order
	fail    map[string][]int        // method -> HTTP error codes to answer with, in order
	quiet   bool                    // do not record calls (benchmarks)
	slow    map[int64]time.Duration // chat -> delay before answering calls about it
	counts  map[string]int
}

// call is one recorded Bot API call.
type call struct {
	Method string
	Params map[string]string
	At     time.Time
}

func (c call) int(key string) int64 {
	n, _ := strconv.ParseInt(c.Params[key], 10, 64)
	return n
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{t: t, token: "123456:TEST-token", nextUpd: 1000, nextMsg: 1, fail: map[string][]int{}, slow: map[int64]time.Duration{}, counts: map[string]int{}}
	f.cond = sync.NewCond(&f.mu)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (f *fakeAPI) URL() string { return f.srv.URL }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot"+f.token+"/")
	if !ok {
		writeJSON(w, 401, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	method := rest
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: " + err.Error()})
		return
	}
	params := map[string]string{}
	for k, v := range r.Form {
		params[k] = v[0]
	}
	f.mu.Lock()
	if chat, _ := strconv.ParseInt(params["chat_id"], 10, 64); f.slow[chat] > 0 {
		d := f.slow[chat]
		f.mu.Unlock()
		time.Sleep(d)
		f.mu.Lock()
	}
	if codes := f.fail[method]; len(codes) > 0 {
		code := codes[0]
		f.fail[method] = codes[1:]
		f.calls = append(f.calls, call{Method: method, Params: params, At: time.Now()})
		f.mu.Unlock()
		if code == 429 {
			writeJSON(w, 429, map[string]any{"ok": false, "error_code": 429,
				"description": "Too Many Requests: retry after 1", "parameters": map[string]any{"retry_after": 1}})
			return
		}
		writeJSON(w, code, map[string]any{"ok": false, "error_code": code, "description": "Internal Server Error"})
		return
	}
	if method == "getUpdates" {
		f.getUpdates(w, r, params) // unlocks
		return
	}
	f.counts[method]++
	if !f.quiet {
		f.calls = append(f.calls, call{Method: method, Params: params, At: time.Now()})
	}
	chat, _ := strconv.ParseInt(params["chat_id"], 10, 64)
	var result any = true
	switch method {
	case "getMe":
		result = map[string]any{"id": 42, "is_bot": true, "first_name": "Soporte", "username": "thecure_bot"}
	case "sendMessage", "editMessageText", "forwardMessage":
		id := f.nextMsg
		if method == "editMessageText" {
			id, _ = strconv.Atoi(params["message_id"])
		} else {
			f.nextMsg++
		}
		result = map[string]any{"message_id": id, "date": time.Now().Unix(),
			"chat": map[string]any{"id": chat, "type": "private"}, "text": params["text"]}
	case "copyMessage":
		result = map[string]any{"message_id": f.nextMsg}
		f.nextMsg++
	}
	f.cond.Broadcast()
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"ok": true, "result": result})
}

// getUpdates answers with the updates at or after offset, waiting up to the
// asked timeout for one. Called with f.mu held; unlocks it.
func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, params map[string]string) {
	offset, _ := strconv.Atoi(params["offset"])
	timeout, _ := strconv.Atoi(params["timeout"])
	f.offsets = append(f.offsets, offset)
	f.cond.Broadcast()
	deadline := time.Now().Add(time.Duration(timeout) * time.Second)
	stop := time.AfterFunc(time.Duration(timeout)*time.Second, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer stop.Stop()
	go func() {
		<-r.Context().Done()
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	}()
	var out []echotron.Update
	for {
		out = out[:0]
		for _, u := range f.updates {
			if u.ID >= offset {
				out = append(out, u)
			}
			if len(out) == 100 {
				break
			}
		}
		if len(out) > 0 || time.Now().After(deadline) || r.Context().Err() != nil {
			break
		}
		f.cond.Wait()
	}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"ok": true, "result": out})
}

// push queues updates; it returns their ids.
func (f *fakeAPI) push(us ...echotron.Update) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int
	for _, u := range us {
		u.ID = f.nextUpd
		f.nextUpd++
		f.updates = append(f.updates, u)
		ids = append(ids, u.ID)
	}
	f.cond.Broadcast()
	return ids
}

// failNext makes the next calls of method fail with the given HTTP codes.
func (f *fakeAPI) failNext(method string, codes ...int) {
	f.mu.Lock()
	f.fail[method] = append(f.fail[method], codes...)
	f.mu.Unlock()
}

func (f *fakeAPI) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// find returns the recorded calls of method matching pred.
func (f *fakeAPI) find(method string, pred func(call) bool) []call {
	var out []call
	for _, c := range f.snapshot() {
		if c.Method == method && (pred == nil || pred(c)) {
			out = append(out, c)
		}
	}
	return out
}

// waitCall waits until a call of method matching pred has been made and
// returns the first one.
func (f *fakeAPI) waitCall(method string, pred func(call) bool) call {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cs := f.find(method, pred); len(cs) > 0 {
			return cs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("no %s call matching after 20s; calls:\n%s", method, f.dump())
	return call{}
}

// waitOffset waits until getUpdates has been asked for offset (or beyond):
// every update before it has been taken.
func (f *fakeAPI) waitOffset(off int) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		n := len(f.offsets)
		last := 0
		if n > 0 {
			last = f.offsets[n-1]
		}
		f.mu.Unlock()
		if last >= off {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("getUpdates never asked for offset %d", off)
}

func (f *fakeAPI) dump() string {
	var b strings.Builder
	for _, c := range f.snapshot() {
		fmt.Fprintf(&b, "  %s %v\n", c.Method, c.Params)
	}
	return b.String()
}

// Update builders.

func textMsg(user, chat int64, msgID int, text string) echotron.Update {
	return echotron.Update{Message: &echotron.Message{ID: msgID, Text: text, Date: int(time.Now().Unix()),
		From: &echotron.User{ID: user, FirstName: "User" + strconv.FormatInt(user, 10)},
		Chat: echotron.Chat{ID: chat, Type: "private"}}}
}

func replyMsg(user, chat int64, msgID, replyTo int, text string) echotron.Update {
	u := textMsg(user, chat, msgID, text)
	u.Message.Chat.Type = "group"
	u.Message.ReplyToMessage = &echotron.Message{ID: replyTo, Chat: echotron.Chat{ID: chat}}
	return u
}

func press(user int64, msgID int, data string) echotron.Update {
	return echotron.Update{CallbackQuery: &echotron.CallbackQuery{ID: "cb" + strconv.Itoa(msgID) + data, Data: data,
		From:    &echotron.User{ID: user, FirstName: "User" + strconv.FormatInt(user, 10)},
		Message: &echotron.Message{ID: msgID, Chat: echotron.Chat{ID: user, Type: "private"}}}}
}
