package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/NicoNex/echotron/v3"
	xrate "golang.org/x/time/rate"

	"thecure/appliance/config"
	"thecure/appliance/reason"
)

// handle is the bot's logic for one update, run on its chat's worker.
func (b *Bot) handle(ctx context.Context, u *echotron.Update) {
	switch {
	case u.Message != nil:
		b.metrics.updates.WithLabelValues("message").Inc()
		b.onMessage(ctx, u.Message)
	case u.CallbackQuery != nil:
		b.metrics.updates.WithLabelValues("callback_query").Inc()
		b.onCallback(ctx, u.CallbackQuery)
	default:
		b.metrics.updates.WithLabelValues("other").Inc()
	}
}

func displayName(u *echotron.User) string {
	if u == nil {
		return "?"
	}
	name := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if name == "" && u.Username != "" {
		name = "@" + u.Username
	}
	if name == "" {
		name = strconv.FormatInt(u.ID, 10)
	}
	return name
}

func (b *Bot) messageText(m *echotron.Message) string {
	switch {
	case m.Text != "":
		return m.Text
	case m.Caption != "":
		return m.Caption
	}
	return b.tx.nonText
}

func (b *Bot) isAdmin(user int64) bool { return b.rules().admins[user] }

func (b *Bot) isAllowed(user int64) bool {
	if b.rules().admins[user] {
		return true
	}
	allowed, known, err := Access(b.st, user)
	if err != nil {
		b.log.Error("cannot read the bot allow-list", "err", err)
	}
	if known {
		return allowed
	}
	return b.rules().allowCfg[user]
}

// rate is one user's token bucket.
type rate struct {
	lim    *xrate.Limiter
	warned bool
}

// rateOK takes a token from the user's bucket (rate_limit a minute, as
// many at once); the first update over the limit gets one "slow down",
// the next ones nothing.
func (b *Bot) rateOK(ctx context.Context, user, chat int64) bool {
	now := b.now()
	b.mu.Lock()
	r := b.rates[user]
	if r == nil {
		perMinute := b.cfg.RateLimit
		r = &rate{lim: xrate.NewLimiter(xrate.Limit(float64(perMinute)/60), perMinute)}
		b.rates[user] = r
	}
	if r.lim.AllowN(now, 1) {
		r.warned = false
		b.mu.Unlock()
		return true
	}
	warn := !r.warned
	r.warned = true
	b.mu.Unlock()
	if warn {
		b.send(ctx, user, chat, b.tx.slowDown, nil)
	}
	return false
}

// refuse answers a user who is not allowed, once ever.
func (b *Bot) refuse(ctx context.Context, user, chat int64) {
	b.mu.Lock()
	seen := b.refused[user]
	b.refused[user] = true
	b.mu.Unlock()
	if seen {
		return
	}
	first, err := markRefused(b.st, user, b.now())
	if err != nil {
		b.log.Error("cannot record a refusal", "err", err)
		return
	}
	b.log.Info("refused a Telegram user who is not allowed", "user", user, "first", first)
	if first {
		b.send(ctx, user, chat, b.tx.refusal, nil)
	}
}

// admit says whether the user may be served now: refused when not allowed,
// dropped over the rate limit; an admitted user's name is remembered.
func (b *Bot) admit(ctx context.Context, from *echotron.User, chat int64) bool {
	if !b.isAllowed(from.ID) {
		b.refuse(ctx, from.ID, chat)
		return false
	}
	if !b.rateOK(ctx, from.ID, chat) {
		return false
	}
	b.rememberName(from)
	return true
}

func (b *Bot) onMessage(ctx context.Context, m *echotron.Message) {
	chat := m.Chat.ID
	var user int64
	if m.From != nil {
		user = m.From.ID
	}
	// its "in" line was logged when the update was taken (inLines)
	if b.rules().opChats[chat] {
		if m.ReplyToMessage != nil {
			t, ok, err := related(b.st, chat, m.ReplyToMessage.ID)
			if err == nil && !ok {
				t, ok, err = b.forwardedTicket(chat, m.ReplyToMessage)
			}
			if err != nil {
				b.log.Error("cannot read which ticket a reply belongs to", "err", err)
				b.send(ctx, 0, chat, b.tx.notAvailable, nil)
				return
			}
			if ok {
				b.operatorReply(ctx, m, t)
				return
			}
		}
		if chat == b.cfg.OperatorsChat {
			b.operatorCommand(ctx, m)
			return
		}
	}
	if m.From == nil || m.From.IsBot || m.Chat.Type != "private" {
		return // users talk to the bot in private; other groups are ignored
	}
	if !b.admit(ctx, m.From, chat) {
		return
	}
	if cmd, args, ok := parseCommand(m.Text, b.username()); ok {
		b.command(ctx, m, cmd, args)
		return
	}
	t, ok, err := userTicket(b.st, user)
	if err != nil {
		b.log.Error("cannot read the user's ticket", "err", err)
		b.send(ctx, user, chat, b.tx.notAvailable, nil)
		return
	}
	if ok {
		b.relayToOperators(ctx, m, t)
		return
	}
	b.showNode(ctx, user, chat, 0, MenuRootNode, b.tx.useMenu)
}

// MenuRootNode is the id of the menu's first node.
const MenuRootNode = config.MenuRoot

func (b *Bot) command(ctx context.Context, m *echotron.Message, cmd string, args []string) {
	user, chat := m.From.ID, m.Chat.ID
	t := b.tx
	switch cmd {
	case "start":
		b.showNode(ctx, user, chat, 0, MenuRootNode, fmt.Sprintf(t.greeting, escapeMD(displayName(m.From))))
	case "menu":
		b.showNode(ctx, user, chat, 0, MenuRootNode, "")
	case "help":
		b.send(ctx, user, chat, t.help, nil)
	case "status":
		b.send(ctx, user, chat, b.statusText(ctx), nil)
	case "close":
		if len(args) > 0 && b.isAdmin(user) {
			b.closeByOperator(ctx, chat, args[0])
			return
		}
		b.closeByUser(ctx, m.From, chat)
	case "tickets":
		if !b.isAdmin(user) {
			b.send(ctx, user, chat, t.notAdmin, nil)
			return
		}
		b.send(ctx, user, chat, b.ticketsText(), nil)
	case "allow", "deny":
		if !b.isAdmin(user) {
			b.send(ctx, user, chat, t.notAdmin, nil)
			return
		}
		var id int64
		if len(args) == 1 {
			if n, err := strconv.ParseInt(args[0], 10, 64); err == nil {
				id = n // else 0: the usage below
			}
		}
		if id <= 0 {
			b.send(ctx, user, chat, map[string]string{"allow": t.usageAllow, "deny": t.usageDeny}[cmd], nil)
			return
		}
		if err := SetAccess(b.st, id, cmd == "allow"); err != nil {
			b.log.Error("cannot change the bot allow-list", "err", err)
			return
		}
		b.log.Info("bot access changed", "user", id, "allowed", cmd == "allow", "by", user)
		b.mu.Lock()
		delete(b.refused, id) // refused again once, if denied later
		b.mu.Unlock()
		msg := t.denied
		if cmd == "allow" {
			msg = t.allowed
		}
		b.send(ctx, user, chat, fmt.Sprintf(msg, id), nil)
	default:
		b.send(ctx, user, chat, t.unknownCommand, nil)
	}
}

func (b *Bot) onCallback(ctx context.Context, q *echotron.CallbackQuery) {
	if q.From == nil {
		return
	}
	user, chat := q.From.ID, q.From.ID
	if q.Message != nil {
		chat = q.Message.Chat.ID
	}
	// its "in" line was logged when the update was taken (inLines)
	if !b.admit(ctx, q.From, chat) {
		return
	}
	// Answer first: the client shows a spinner on the button until then.
	if err := b.call(ctx, "answerCallbackQuery", func() error {
		_, err := b.api.AnswerCallbackQuery(q.ID, nil)
		return err
	}); err != nil {
		b.log.Warn("cannot answer a callback query", "err", err)
	}
	id, ok := parseCallback(q.Data)
	prefix := ""
	if _, exists := b.rules().tree[id]; !ok || !exists {
		id, prefix = MenuRootNode, b.tx.menuChanged
	}
	msgID := 0
	if q.Message != nil {
		msgID = q.Message.ID
	}
	b.showNode(ctx, user, chat, msgID, id, prefix)
}

// showNode shows a node of the tree (running its action), editing message
// msgID in place, or in a new message when msgID is 0. prefix goes above the
// node's text.
func (b *Bot) showNode(ctx context.Context, user, chat int64, msgID int, id, prefix string) {
	n := b.rules().tree[id]
	text := n.Text
	switch n.Action {
	case config.ActionStatus:
		text = joinText(text, b.statusText(ctx))
	case config.ActionCatalogue:
		text = joinText(text, b.catalogueText(ctx))
	case config.ActionEscalate:
		text = joinText(text, b.escalate(ctx, user, chat))
	}
	text = joinText(prefix, text)
	var rows [][]echotron.InlineKeyboardButton
	for _, bid := range n.Buttons {
		if c, ok := b.rules().tree[bid]; ok {
			rows = append(rows, []echotron.InlineKeyboardButton{{Text: c.Label, CallbackData: callbackData(bid)}})
		}
	}
	if id != MenuRootNode {
		rows = append(rows, []echotron.InlineKeyboardButton{{Text: b.tx.back, CallbackData: callbackData(MenuRootNode)}})
	}
	kb := echotron.InlineKeyboardMarkup{InlineKeyboard: rows}
	if msgID != 0 {
		b.edit(ctx, user, chat, msgID, text, kb)
		return
	}
	b.send(ctx, user, chat, text, &kb)
}

func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n\n" + b
}

// send sends a Markdown message (plain text if Telegram cannot parse it) and
// logs it; it returns the message id, 0 on failure.
func (b *Bot) send(ctx context.Context, user, chat int64, text string, kb *echotron.InlineKeyboardMarkup) int {
	opts := &echotron.MessageOptions{ParseMode: echotron.Markdown}
	if kb != nil {
		opts.ReplyMarkup = *kb
	}
	var res echotron.APIResponseMessage
	err := b.call(ctx, "sendMessage", func() (err error) { res, err = b.api.SendMessage(text, chat, opts); return err })
	if ae, ok := asAPIError(err); ok && ae.Code == 400 && strings.Contains(ae.Desc, "parse") {
		opts.ParseMode = ""
		err = b.call(ctx, "sendMessage", func() (err error) { res, err = b.api.SendMessage(text, chat, opts); return err })
	}
	if err != nil {
		b.log.Warn("cannot send a message", "chat", chat, "err", err)
		return 0
	}
	b.metrics.sent.Inc()
	b.logLine(user, chat, "out", text)
	if res.Result == nil {
		return 0
	}
	return res.Result.ID
}

func (b *Bot) edit(ctx context.Context, user, chat int64, msgID int, text string, kb echotron.InlineKeyboardMarkup) {
	opts := &echotron.MessageTextOptions{ParseMode: echotron.Markdown, ReplyMarkup: kb}
	do := func() error {
		return b.call(ctx, "editMessageText", func() error {
			_, err := b.api.EditMessageText(text, echotron.NewMessageID(chat, msgID), opts)
			return err
		})
	}
	err := do()
	if ae, ok := asAPIError(err); ok && ae.Code == 400 {
		switch {
		case strings.Contains(ae.Desc, "not modified"):
			err = nil
		case strings.Contains(ae.Desc, "parse"):
			opts.ParseMode = ""
			err = do()
		default: // too old to edit, deleted...: send the node anew
			b.send(ctx, user, chat, text, &kb)
			return
		}
	}
	if err != nil {
		b.log.Warn("cannot edit a message", "chat", chat, "err", err)
		return
	}
	b.metrics.sent.Inc()
	b.logLine(user, chat, "out", text)
}

// statusText is the live state of the appliance for /status.
func (b *Bot) statusText(ctx context.Context) string {
	t := b.tx
	var lines []string
	if b.health == nil {
		lines = append(lines, "🩺 "+t.notAvailable)
	} else {
		svcs := b.health.Snapshot()
		up := 0
		var down []string
		for _, s := range svcs {
			if s.State.OK() {
				up++
				continue
			}
			detail := string(s.State)
			if r := reason.Public(s.Detail); r != "" { // bot users are not admins: no paths
				detail += ", " + r
			}
			down = append(down, fmt.Sprintf(t.statusDown, escapeMD(s.Name), escapeMD(detail)))
		}
		mark := "✅ "
		if len(down) > 0 {
			mark = "⚠️ "
		}
		lines = append(lines, mark+fmt.Sprintf(t.statusServices, up, len(svcs)))
		lines = append(lines, down...)
	}
	streams := t.notAvailable
	if b.streams != nil {
		var names []string
		for _, s := range b.streams.Streams() {
			names = append(names, fmt.Sprintf(t.viewersFmt, escapeMD(s.Name), s.Viewers))
		}
		streams = t.statusNoStreams
		if len(names) > 0 {
			streams = strings.Join(names, ", ")
		}
	}
	lines = append(lines, fmt.Sprintf(t.statusStreams, streams))
	queue := t.notAvailable
	if b.jobs != nil {
		if p, r, err := b.jobs.QueueLength(ctx); err == nil {
			queue = fmt.Sprintf(t.queueFmt, p, r)
		}
	}
	lines = append(lines, fmt.Sprintf(t.statusQueue, queue))
	backup := t.notAvailable
	if b.backups != nil {
		if at, err := b.backups.LastBackup(ctx); err == nil {
			backup = t.statusNoBackup
			if !at.IsZero() {
				backup = at.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
	}
	lines = append(lines, fmt.Sprintf(t.statusBackup, backup))
	return strings.Join(lines, "\n")
}

func (b *Bot) catalogueText(ctx context.Context) string {
	if b.cat == nil {
		return b.tx.notAvailable
	}
	titles, total, err := b.cat.Recent(ctx, 10)
	if err != nil {
		return b.tx.notAvailable
	}
	if total == 0 {
		return b.tx.catalogueEmpty
	}
	var lines []string
	for _, tt := range titles {
		icon := map[string]string{"movies": "🎬", "series": "📺", "music": "🎵"}[tt.Kind]
		if icon == "" {
			icon = "•"
		}
		lines = append(lines, icon+" "+escapeMD(tt.Name))
	}
	lines = append(lines, fmt.Sprintf(b.tx.catalogueTotal, total))
	return strings.Join(lines, "\n")
}

func (b *Bot) ticketsText() string {
	ts, err := OpenTickets(b.st)
	if err != nil {
		return b.tx.notAvailable
	}
	if len(ts) == 0 {
		return b.tx.opNoTickets
	}
	lines := []string{b.tx.opTickets}
	for _, t := range ts {
		lines = append(lines, fmt.Sprintf(b.tx.ticketLine, t.ID, escapeMD(t.Name), t.User, t.Opened.Format("2006-01-02 15:04 UTC")))
	}
	return strings.Join(lines, "\n")
}

// escalate opens (or finds) the user's ticket and tells the operators about
// a new one; it returns what to tell the user.
func (b *Bot) escalate(ctx context.Context, user, chat int64) string {
	name := strconv.FormatInt(user, 10)
	if tk, ok, err := userTicket(b.st, user); err != nil {
		b.log.Error("cannot read the user's ticket", "err", err)
		return b.tx.notAvailable
	} else if ok {
		return fmt.Sprintf(b.tx.ticketAlready, tk.ID)
	}
	name = b.nameOf(user, name)
	t, created, err := openTicket(b.st, user, chat, name, b.now())
	if err != nil {
		b.log.Error("cannot open a ticket", "err", err)
		return b.tx.notAvailable
	}
	if !created {
		return fmt.Sprintf(b.tx.ticketAlready, t.ID)
	}
	b.log.Info("ticket opened", "ticket", t.ID, "user", user)
	for op := range b.rules().opChats {
		id := b.send(ctx, 0, op, fmt.Sprintf(b.tx.opNewTicket, t.ID, escapeMD(name), user, t.ID), nil)
		if id != 0 {
			if err := relate(b.st, op, id, t.ID); err != nil {
				b.log.Error("cannot store a ticket relation", "err", err)
			}
		}
	}
	return fmt.Sprintf(b.tx.ticketOpened, t.ID)
}

func (b *Bot) rememberName(u *echotron.User) {
	b.mu.Lock()
	b.names[u.ID] = displayName(u)
	b.mu.Unlock()
}

// nameOf is the user's display name as last seen by this bot.
func (b *Bot) nameOf(user int64, fallback string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n, ok := b.names[user]; ok {
		return n
	}
	return fallback
}

// relayToOperators forwards a user's message to the operators.
func (b *Bot) relayToOperators(ctx context.Context, m *echotron.Message, t Ticket) {
	for op := range b.rules().opChats {
		var res echotron.APIResponseMessage
		err := b.call(ctx, "forwardMessage", func() (err error) {
			res, err = b.api.ForwardMessage(op, m.Chat.ID, m.ID, nil)
			return err
		})
		if err != nil {
			b.log.Warn("cannot relay a message to the operators", "ticket", t.ID, "err", err)
			continue
		}
		b.metrics.sent.Inc()
		if res.Result != nil {
			if err := relate(b.st, op, res.Result.ID, t.ID); err != nil {
				b.log.Error("cannot store a ticket relation", "err", err)
			}
		}
	}
}

// forwardedTicket finds the ticket of a relayed message whose relation was
// not stored (the appliance stopped between relaying it and storing which
// ticket it belongs to): the open ticket of the user it was forwarded from,
// when Telegram says who (users may hide it). The relation is stored then.
func (b *Bot) forwardedTicket(chat int64, m *echotron.Message) (Ticket, bool, error) {
	if m.ForwardOrigin == nil || m.ForwardOrigin.SenderUser == nil {
		return Ticket{}, false, nil
	}
	t, ok, err := userTicket(b.st, m.ForwardOrigin.SenderUser.ID)
	if err != nil || !ok {
		return t, false, err
	}
	if err := relate(b.st, chat, m.ID, t.ID); err != nil {
		b.log.Error("cannot store a ticket relation", "err", err)
	}
	return t, true, nil
}

// operatorReply handles an operator's reply to a relayed message.
func (b *Bot) operatorReply(ctx context.Context, m *echotron.Message, t Ticket) {
	if cmd, args, ok := parseCommand(m.Text, b.username()); ok {
		// A command is never passed on to the user.
		switch {
		case cmd == "close" && len(args) == 0: // "/close" in reply: this ticket
			b.closeByOperator(ctx, m.Chat.ID, strconv.FormatUint(t.ID, 10))
		case m.Chat.ID == b.cfg.OperatorsChat:
			b.operatorCommand(ctx, m)
		case m.From != nil:
			b.command(ctx, m, cmd, args)
		}
		return
	}
	if !t.Open() {
		b.send(ctx, 0, m.Chat.ID, fmt.Sprintf(b.tx.opTicketClosed, t.ID), nil)
		return
	}
	err := b.call(ctx, "copyMessage", func() error {
		_, err := b.api.CopyMessage(t.Chat, m.Chat.ID, m.ID, nil)
		return err
	})
	if err != nil {
		b.log.Warn("cannot pass an operator's reply on", "ticket", t.ID, "err", err)
		return
	}
	b.metrics.sent.Inc()
	b.logLine(t.User, t.Chat, "out", "[operator] "+b.messageText(m))
}

// operatorCommand handles commands in the operators' chat.
func (b *Bot) operatorCommand(ctx context.Context, m *echotron.Message) {
	cmd, args, ok := parseCommand(m.Text, b.username())
	if !ok {
		return
	}
	switch cmd {
	case "tickets":
		b.send(ctx, 0, m.Chat.ID, b.ticketsText(), nil)
	case "close":
		if len(args) == 0 {
			b.send(ctx, 0, m.Chat.ID, b.tx.usageClose, nil)
			return
		}
		b.closeByOperator(ctx, m.Chat.ID, args[0])
	case "status":
		b.send(ctx, 0, m.Chat.ID, b.statusText(ctx), nil)
	}
}

func (b *Bot) closeByOperator(ctx context.Context, opChat int64, arg string) {
	id, err := strconv.ParseUint(strings.TrimPrefix(arg, "#"), 10, 64)
	if err != nil {
		b.send(ctx, 0, opChat, b.tx.usageClose, nil)
		return
	}
	t, was, err := closeTicket(b.st, id, b.now())
	if err != nil {
		b.send(ctx, 0, opChat, b.tx.usageClose, nil)
		return
	}
	if !was {
		b.send(ctx, 0, opChat, fmt.Sprintf(b.tx.opTicketClosed, id), nil)
		return
	}
	b.log.Info("ticket closed by an operator", "ticket", id)
	b.send(ctx, t.User, t.Chat, fmt.Sprintf(b.tx.ticketClosedOp, id), nil)
	b.send(ctx, 0, opChat, fmt.Sprintf(b.tx.opClosed, id), nil)
}

func (b *Bot) closeByUser(ctx context.Context, from *echotron.User, chat int64) {
	tk, ok, err := userTicket(b.st, from.ID)
	if err != nil || !ok {
		b.send(ctx, from.ID, chat, b.tx.noTicket, nil)
		return
	}
	if _, _, err := closeTicket(b.st, tk.ID, b.now()); err != nil {
		b.log.Error("cannot close a ticket", "err", err)
		return
	}
	b.log.Info("ticket closed by its user", "ticket", tk.ID)
	b.send(ctx, from.ID, chat, fmt.Sprintf(b.tx.ticketClosedUser, tk.ID), nil)
	for op := range b.rules().opChats {
		b.send(ctx, 0, op, fmt.Sprintf(b.tx.opClosedByUser, escapeMD(displayName(from)), tk.ID), nil)
	}
}
