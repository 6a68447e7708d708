//go:build soak

package soak

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The support bot's traffic: users walk the configured decision tree with
// the inline buttons, some escalate to a technician, write, get the
// operator's reply and close their ticket. Telegram is a fake Bot API on
// loopback (httptest) that speaks its JSON; every update a user sends must
// get its answer, and every line must end in the bot's conversation log.

const (
	botToken   = "777000:SOAK-token"
	botOpsChat = -100        // operators_chat
	botAdmin   = 9000        // bot.admins: gets the alerts
	botUser0   = int64(5000) // users are botUser0, botUser0+1, ...
)

// botMenu is the soak's [[bot.menu]]: the tree the users walk.
const botMenu = `
[[bot.menu]]
id = "root"
text = "Hi, what is wrong?"
buttons = ["wifi", "play", "state", "human"]

[[bot.menu]]
id = "wifi"
label = "No connection"
text = "Restart the router and try again."
buttons = ["wifi_more", "human"]

[[bot.menu]]
id = "wifi_more"
label = "Still no connection"
text = "Check the cable, then talk to us."
buttons = ["human"]

[[bot.menu]]
id = "play"
label = "Playback fails"
text = "Update your browser, or try another one."

[[bot.menu]]
id = "state"
label = "Service status"
action = "status"

[[bot.menu]]
id = "human"
label = "Talk to a technician"
action = "escalate"
`

// botCall is one Bot API call the appliance made.
type botCall struct {
	method string
	p      map[string]string
	result int // message id handed back, when one was
}

// fakeBotAPI is the Bot API: getUpdates long-polls the queued updates;
// every other method is recorded and succeeds as Telegram's would.
type fakeBotAPI struct {
	srv *httptest.Server

	mu      sync.Mutex
	cond    *sync.Cond
	updates []map[string]any
	nextUpd int
	nextMsg int
	calls   []botCall
}

func newFakeBotAPI() *fakeBotAPI {
	f := &fakeBotAPI{nextUpd: 1, nextMsg: 1}
	f.cond = sync.NewCond(&f.mu)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	go func() { // wake long polls now and then (timeouts, gone clients)
		for range time.Tick(200 * time.Millisecond) {
			f.mu.Lock()
			f.cond.Broadcast()
			f.mu.Unlock()
		}
	}()
	return f
}

func (f *fakeBotAPI) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+botToken+"/")
	if !ok || r.ParseForm() != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
		return
	}
	p := map[string]string{}
	for k, v := range r.Form {
		p[k] = v[0]
	}
	var result any = true
	f.mu.Lock()
	switch method {
	case "getUpdates":
		off, _ := strconv.Atoi(p["offset"])
		timeout, _ := strconv.Atoi(p["timeout"])
		deadline := time.Now().Add(time.Duration(timeout) * time.Second)
		var out []map[string]any
		for {
			for _, u := range f.updates {
				if u["update_id"].(int) >= off && len(out) < 100 {
					out = append(out, u)
				}
			}
			if len(out) > 0 || time.Now().After(deadline) || r.Context().Err() != nil {
				break
			}
			f.cond.Wait()
		}
		if out == nil {
			out = []map[string]any{}
		}
		result = out
	case "getMe":
		result = map[string]any{"id": 42, "is_bot": true, "first_name": "Soak", "username": "thecure_soak_bot"}
	case "sendMessage", "forwardMessage", "copyMessage", "editMessageText":
		id := f.nextMsg
		if method == "editMessageText" {
			id, _ = strconv.Atoi(p["message_id"])
		} else {
			f.nextMsg++
		}
		chat, _ := strconv.ParseInt(p["chat_id"], 10, 64)
		f.calls = append(f.calls, botCall{method: method, p: p, result: id})
		if method == "copyMessage" {
			result = map[string]any{"message_id": id}
		} else {
			result = map[string]any{"message_id": id, "date": time.Now().Unix(), "text": p["text"],
				"chat": map[string]any{"id": chat, "type": map[bool]string{true: "private", false: "supergroup"}[chat > 0]}}
		}
	default: // answerCallbackQuery, setMyCommands, deleteWebhook...
		f.calls = append(f.calls, botCall{method: method, p: p})
	}
	f.cond.Broadcast()
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result}); err != nil {
		return // the appliance hung up (killed): nothing to answer
	}
}

// mark is the call index the next answers come after.
func (f *fakeBotAPI) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// push queues one update and returns the call index its answer comes after.
func (f *fakeBotAPI) push(u map[string]any) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	u["update_id"] = f.nextUpd
	f.nextUpd++
	f.updates = append(f.updates, u)
	f.cond.Broadcast()
	return len(f.calls)
}

// await waits until every predicate has a matching call at or after index
// from (each a different call), or until the deadline; it returns the
// matching calls (nil entries for those not seen).
func (f *fakeBotAPI) await(from int, deadline time.Time, preds ...func(botCall) bool) []*botCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		got := make([]*botCall, len(preds))
		all := true
		for i, pred := range preds {
			for j := from; j < len(f.calls); j++ {
				if pred(f.calls[j]) && !slices.ContainsFunc(got[:i], func(c *botCall) bool { return c == &f.calls[j] }) {
					got[i] = &f.calls[j]
					break
				}
			}
			all = all && got[i] != nil
		}
		if all || time.Now().After(deadline) {
			out := make([]*botCall, len(got))
			for i, c := range got {
				if c != nil {
					cp := *c
					out[i] = &cp
				}
			}
			return out
		}
		f.cond.Wait()
	}
}

func (f *fakeBotAPI) count(method string, pred func(botCall) bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.method == method && pred(c) {
			n++
		}
	}
	return n
}

// botStats is what the bot users measured.
type botStats struct {
	mu          sync.Mutex
	updates     int                // updates sent
	unanswered  []string           // updates that never got their answer
	killed      []string           // updates without an answer that were taken at a kill -9 of the appliance
	escalations int                // tickets opened (the operators told)
	replies     int                // operator replies passed on to the user
	inLines     map[int64][]string // per user: the lines the log must hold
}

func (s *botStats) want(user int64, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inLines[user] = append(s.inLines[user], line)
}

// botUser runs one Telegram user's conversations until ctx ends; each
// update is done on cls (served, errors, latency until its answer).
func botUser(ctx context.Context, f *fakeBotAPI, user int64, a *appliance, cls *class, st *botStats) {
	private := map[string]any{"id": user, "type": "private"}
	from := map[string]any{"id": user, "is_bot": false, "first_name": fmt.Sprintf("Soak%d", user)}
	// step sends one update and waits for its answers; false when one is
	// missing (the conversation starts over).
	step := func(what string, u map[string]any, preds ...func(botCall) bool) ([]*botCall, bool) {
		inFault := a.fault.Load() > 0 || !a.ready.Load()
		kills := a.kills.Load()
		start := time.Now()
		mark := f.push(u)
		st.mu.Lock()
		st.updates++
		st.mu.Unlock()
		// time for a restart (kill -9, ~6 s) and for the bot's back-off
		got := f.await(mark, time.Now().Add(90*time.Second), preds...)
		var err error
		for _, c := range got {
			if c == nil {
				err = fmt.Errorf("user %d: %s: no answer within 90 s", user, what)
			}
		}
		if err != nil {
			// The bot keeps an update it took in its inbox until it is
			// handled, so one taken just as the appliance is killed is
			// answered after the restart (README): an update without its
			// answer is a loss, kill or no kill (those at a kill are listed
			// apart, to tell them from the rest).
			st.mu.Lock()
			if a.kills.Load() != kills {
				st.killed = append(st.killed, err.Error())
			}
			st.unanswered = append(st.unanswered, err.Error())
			st.mu.Unlock()
		}
		cls.done(start, err, inFault || a.fault.Load() > 0)
		return got, err == nil
	}
	toUser := func(methods ...string) func(botCall) bool {
		return func(c botCall) bool {
			return slices.Contains(methods, c.method) && c.p["chat_id"] == strconv.FormatInt(user, 10)
		}
	}
	buttons := func(c *botCall) []string {
		var kb struct {
			Rows [][]struct {
				Data string `json:"callback_data"`
			} `json:"inline_keyboard"`
		}
		if json.Unmarshal([]byte(c.p["reply_markup"]), &kb) != nil {
			return nil
		}
		var out []string
		for _, r := range kb.Rows {
			for _, b := range r {
				out = append(out, b.Data)
			}
		}
		return out
	}
	msgID := 100
	for i := 0; ctx.Err() == nil; i++ {
		msgID++
		text := "/start"
		got, ok := step("/start", map[string]any{"message": map[string]any{"message_id": msgID, "date": time.Now().Unix(),
			"text": text, "from": from, "chat": private,
			"entities": []map[string]any{{"type": "bot_command", "offset": 0, "length": 6}}}}, toUser("sendMessage"))
		st.want(user, text)
		if !ok {
			continue
		}
		menuMsg, kb := got[0].result, buttons(got[0])
		escalate := mrand.IntN(3) == 0
		// walk down the tree, a few buttons deep
		for depth := 0; depth < 3 && len(kb) > 0 && ctx.Err() == nil; depth++ {
			var choice []string
			for _, b := range kb {
				if b != "n:root" && (b != "n:human" || escalate) {
					choice = append(choice, b)
				}
			}
			if len(choice) == 0 {
				break
			}
			data := choice[mrand.IntN(len(choice))]
			qid := fmt.Sprintf("q%d-%d-%d", user, i, depth)
			preds := []func(botCall) bool{
				func(c botCall) bool { return c.method == "answerCallbackQuery" && c.p["callback_query_id"] == qid },
				toUser("editMessageText", "sendMessage"),
			}
			mark := f.mark()
			got, ok := step("button "+data, map[string]any{"callback_query": map[string]any{"id": qid, "from": from, "data": data,
				"chat_instance": "soak", "message": map[string]any{"message_id": menuMsg, "date": time.Now().Unix(), "chat": private, "text": "menu"}}}, preds...)
			st.want(user, "[button] "+data)
			if !ok {
				break
			}
			if data == "n:human" {
				// A new ticket is announced to the operators; a ticket left
				// open by a conversation a kill -9 cut short is not (the user
				// is told it is still open): either way the user writes on.
				uid := strconv.FormatInt(user, 10)
				if c := f.await(mark, time.Now().Add(5*time.Second), func(c botCall) bool {
					return c.method == "sendMessage" && c.p["chat_id"] == strconv.Itoa(botOpsChat) && strings.Contains(c.p["text"], uid)
				}); c[0] != nil {
					st.mu.Lock()
					st.escalations++
					st.mu.Unlock()
				}
				escalated(ctx, f, user, i, &msgID, from, private, step, st)
				break
			}
			kb = buttons(got[1])
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(2000+mrand.IntN(4000)) * time.Millisecond):
		}
	}
}

// escalated is a conversation with a technician: the user writes, the
// operator replies to the relayed message, the user closes the ticket.
func escalated(ctx context.Context, f *fakeBotAPI, user int64, i int, msgID *int, from, private map[string]any,
	step func(string, map[string]any, ...func(botCall) bool) ([]*botCall, bool), st *botStats) {
	uid := strconv.FormatInt(user, 10)
	*msgID++
	text := fmt.Sprintf("soak %d/%d: the stream stutters", user, i)
	got, ok := step("message to the technician", map[string]any{"message": map[string]any{"message_id": *msgID, "date": time.Now().Unix(),
		"text": text, "from": from, "chat": private}},
		func(c botCall) bool {
			return c.method == "forwardMessage" && c.p["from_chat_id"] == uid && c.p["chat_id"] == strconv.Itoa(botOpsChat)
		})
	st.want(user, text)
	if !ok || ctx.Err() != nil {
		return
	}
	// The operator reads the relayed message before replying (the bot
	// records which ticket it belongs to just after relaying it).
	time.Sleep(time.Duration(1000+mrand.IntN(2000)) * time.Millisecond)
	ops := map[string]any{"id": botOpsChat, "type": "supergroup", "title": "operators"}
	reply := fmt.Sprintf("soak reply %d/%d: try another browser", user, i)
	_, ok = step("operator's reply", map[string]any{"message": map[string]any{"message_id": 1_000_000 + got[0].result, "date": time.Now().Unix(),
		"text": reply, "chat": ops, "from": map[string]any{"id": botAdmin, "is_bot": false, "first_name": "Tech"},
		"reply_to_message": map[string]any{"message_id": got[0].result, "date": time.Now().Unix(), "chat": ops, "text": text,
			"forward_origin": map[string]any{"type": "user", "date": time.Now().Unix(), "sender_user": from}}}},
		func(c botCall) bool { return c.method == "copyMessage" && c.p["chat_id"] == uid })
	if ok {
		st.mu.Lock()
		st.replies++
		st.mu.Unlock()
	}
	*msgID++
	step("/close", map[string]any{"message": map[string]any{"message_id": *msgID, "date": time.Now().Unix(),
		"text": "/close", "from": from, "chat": private,
		"entities": []map[string]any{{"type": "bot_command", "offset": 0, "length": 6}}}},
		func(c botCall) bool { return c.method == "sendMessage" && c.p["chat_id"] == uid })
	st.want(user, "/close")
}

// botLogLines reads the conversation log of one user through the control
// socket (`thecure bot log`'s route).
func botLogLines(sock string, user int64) ([]string, error) {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	b, err := httpGet(c, "http://thecure/bot/log?user="+strconv.FormatInt(user, 10))
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Dir, Text string
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Dir == "in" {
			out = append(out, e.Text)
		}
	}
	return out, nil
}

// missingLines is the multiset difference want - got.
func missingLines(want, got []string) []string {
	have := map[string]int{}
	for _, l := range got {
		have[l]++
	}
	var out []string
	for _, l := range want {
		if have[l] > 0 {
			have[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}
