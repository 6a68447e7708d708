// Package bot is thecure's Telegram support bot: a decision tree of answers
// shown as inline buttons, an allow-list of users, tickets relayed to the
// operators' chat and answered by replying, throttled alerts to admins, and
// a conversation log in the store.
//
// It speaks the Bot API through github.com/NicoNex/echotron/v3, but runs its
// own update loop: echotron's dispatcher and poller cannot be stopped, so Run
// long-polls getUpdates under its context, persists the update offset
// before handling a batch (an update is never handled twice, even across
// restarts) and hands each chat's updates to that chat's own worker, so that
// one slow conversation never holds up the others.
package bot

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/NicoNex/echotron/v3"
	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/store"
)

// Health is the service-state registry: the bot shows it in /status, alerts
// on services going down, and reports its own state in it.
type Health interface {
	Snapshot() []health.Service
	Set(name string, st health.State, detail string)
}

// Stream is one live stream on air.
type Stream struct {
	Name    string
	Viewers int
}

// LiveStreams lists the live streams on air.
type LiveStreams interface {
	Streams() []Stream
}

// Jobs is the transcode queue.
type Jobs interface {
	QueueLength(ctx context.Context) (pending, running int, err error)
}

// Title is one entry of the catalogue.
type Title struct {
	Kind string // movies | series | music
	Name string
}

// Catalogue lists the latest titles of the library.
type Catalogue interface {
	Recent(ctx context.Context, n int) (titles []Title, total int, err error)
}

// Backups tells when the last good backup was made (zero: never).
type Backups interface {
	LastBackup(ctx context.Context) (time.Time, error)
}

// Options are what a Bot needs. Streams, Jobs, Catalogue and Backups may be
// nil: /status then says "not available" for them.
type Options struct {
	Config    config.Bot
	Store     *store.Store
	Log       *slog.Logger
	Health    Health
	Name      string // the service's name in Health; default "bot"
	Streams   LiveStreams
	Jobs      Jobs
	Catalogue Catalogue
	Backups   Backups
	Metrics   prometheus.Registerer // may be nil
	// DiskPaths are the folders whose file systems are watched for "disk
	// nearly full" alerts (none: no such alerts).
	DiskPaths []string
	// Unthrottled turns off echotron's client-side request limits (30/s, and
	// per chat 1/s with bursts of 20). For tests and benchmarks against a fake.
	Unthrottled bool
}

// Bot is the support bot. It starts nothing until Run.
type Bot struct {
	cfg       config.Bot
	st        *store.Store
	log       *slog.Logger
	health    Health
	name      string
	streams   LiveStreams
	jobs      Jobs
	cat       Catalogue
	backups   Backups
	diskPaths []string
	api       echotron.API
	poll      *poller
	token     string
	tree      tree
	tx        *texts
	metrics   metrics
	backoff   time.Duration // first retry delay
	inflight  chan struct{} // see maxInflight
	watch     time.Duration // how often services and the disk are checked
	sendDown  atomic.Bool   // webhook mode: the last call failed for want of the network
	now       func() time.Time

	allowCfg map[int64]bool
	admins   map[int64]bool
	opChats  map[int64]bool        // where tickets are relayed
	live     atomic.Pointer[rules] // set by Reload (reload.go)

	mu      sync.Mutex
	botName string
	running context.Context // Run's context, for webhook deliveries; nil when not running
	queues  map[int64]*chatQueue
	workers sync.WaitGroup
	rates   map[int64]*rate
	refused map[int64]bool   // users refused already (cache of bot_refused)
	names   map[int64]string // display names of allowed users, for tickets
	lastID  int              // highest update id accepted (webhook de-duplication)

	logc   chan LogEntry
	alertc chan string
	amu    sync.Mutex
	alerts map[string]time.Time
}

type metrics struct {
	updates   *prometheus.CounterVec
	apiErrors *prometheus.CounterVec
	sent      prometheus.Counter
	alerts    prometheus.Counter
}

// New returns a bot for the configuration; it starts nothing.
func New(o Options) (*Bot, error) {
	c := o.Config
	if c.Token == "" {
		return nil, errors.New("bot: no token")
	}
	if o.Store == nil || o.Log == nil {
		return nil, errors.New("bot: store and log are required")
	}
	nodes := c.Menu
	if len(nodes) == 0 {
		nodes = BuiltinMenu(c.Language)
	}
	base := strings.TrimRight(c.APIURL, "/") + "/bot" + c.Token + "/"
	b := &Bot{
		cfg: c, st: o.Store, log: o.Log, health: o.Health, name: o.Name,
		streams: o.Streams, jobs: o.Jobs, cat: o.Catalogue, backups: o.Backups, diskPaths: o.DiskPaths,
		api:   echotron.CustomAPI(base, c.Token),
		poll:  &poller{base: base, token: c.Token, hc: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}},
		token: c.Token, tree: newTree(nodes), tx: textsFor(c.Language),
		backoff:  time.Second,
		inflight: make(chan struct{}, maxInflight),
		watch:    15 * time.Second,
		now:      time.Now,
		allowCfg: map[int64]bool{}, admins: map[int64]bool{}, opChats: map[int64]bool{},
		queues: map[int64]*chatQueue{}, rates: map[int64]*rate{}, refused: map[int64]bool{}, names: map[int64]string{},
		logc: make(chan LogEntry, 4096), alertc: make(chan string, 64), alerts: map[string]time.Time{},
	}
	if b.name == "" {
		b.name = "bot"
	}
	for _, id := range c.AllowedUsers {
		b.allowCfg[id] = true
	}
	for _, id := range c.Admins {
		b.admins[id] = true
	}
	if c.OperatorsChat != 0 {
		b.opChats[c.OperatorsChat] = true
	} else {
		for id := range b.admins {
			b.opChats[id] = true
		}
	}
	// No client-side per-chat limit: echotron's would block inside a call
	// (holding an in-flight slot); Telegram's own per-chat limits answer 429
	// with retry_after, which call waits out on that chat's worker alone.
	b.api.SetChatRequestLimit(0, 1)
	if o.Unthrottled {
		b.api.SetGlobalRequestLimit(0, 1)
	} else {
		b.api.SetGlobalRequestLimit(time.Second/30, 30) // Telegram's bulk limit
	}
	b.metrics = metrics{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_bot_updates_total",
			Help: "Telegram updates received, by kind."}, []string{"kind"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_bot_api_errors_total",
			Help: "Failed Bot API calls, by method."}, []string{"method"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_bot_messages_sent_total",
			Help: "Messages sent, copied or forwarded by the bot."}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_bot_alerts_total",
			Help: "Admin alerts sent (after throttling)."}),
	}
	if o.Metrics != nil {
		for _, c := range []prometheus.Collector{b.metrics.updates, b.metrics.apiErrors, b.metrics.sent, b.metrics.alerts} {
			if err := o.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("bot metrics: %w", err)
			}
		}
	}
	return b, nil
}

func (b *Bot) setHealth(st health.State, detail string) {
	if b.health != nil {
		b.health.Set(b.name, st, detail)
	}
}

// Run connects to the Bot API and handles updates until ctx is cancelled.
// Failures of the Bot API or the network never end it: it retries with
// back-off and reports itself Down meanwhile. It returns nil after ctx is
// cancelled and its workers have stopped, or an error if the store fails at
// start.
func (b *Bot) Run(ctx context.Context) error {
	offset, err := loadOffset(b.st)
	if err != nil {
		return fmt.Errorf("bot: load offset: %w", err)
	}
	b.mu.Lock()
	b.lastID = offset - 1
	b.mu.Unlock()

	var bg sync.WaitGroup
	b.logc = make(chan LogEntry, 4096) // closed when Run ends
	logDone := make(chan struct{})
	go func() { defer close(logDone); b.logWriter() }()
	bgctx, stopBG := context.WithCancel(ctx)
	bg.Add(2)
	go func() { defer bg.Done(); b.alertSender(bgctx) }()
	go func() { defer bg.Done(); b.housekeeping(bgctx) }()
	defer func() {
		stopBG()
		bg.Wait()
		b.mu.Lock()
		b.running = nil
		b.mu.Unlock()
		b.workers.Wait()
		close(b.logc)
		<-logDone
	}()

	if !b.connect(ctx) {
		return nil
	}
	inbox, err := loadInbox(b.st)
	if err != nil {
		b.log.Error("cannot read the updates left unhandled at the last stop", "err", err)
	}
	b.mu.Lock()
	b.running = ctx
	// taken before the last stop but not handled: handled first (a reply
	// may be sent twice if the stop came just after it, never lost)
	for _, u := range inbox {
		b.dispatchLocked(ctx, u)
	}
	b.mu.Unlock()
	if len(inbox) > 0 {
		b.log.Info("handling updates left unhandled at the last stop", "updates", len(inbox))
	}
	if b.cfg.WebhookURL != "" {
		<-ctx.Done() // updates arrive through ServeHTTP
		return nil
	}
	b.pollLoop(ctx, offset)
	return nil
}

// connect checks the token (getMe), registers the commands and sets or
// removes the webhook, retrying until it works or ctx is cancelled.
func (b *Bot) connect(ctx context.Context) bool {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := b.setup(ctx)
		if err == nil {
			return struct{}{}, nil
		}
		b.setHealth(health.Down, "cannot reach the Bot API: "+err.Error())
		return struct{}{}, err
	}, backoff.WithBackOff(b.newBackOff(time.Minute)), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, d time.Duration) {
			b.log.Warn("cannot reach the Bot API; retrying", "err", err, "in", d)
		}))
	if err != nil { // only ctx ends the retries
		return false
	}
	b.setHealth(health.Up, "@"+b.username())
	b.log.Info("connected to the Bot API", "bot", b.username(), "mode", b.mode())
	return true
}

// newBackOff is the bot's exponential back-off: b.backoff first, doubling
// up to max, with some jitter so that restarts do not retry in step.
func (b *Bot) newBackOff(max time.Duration) *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     b.backoff,
		RandomizationFactor: 0.1,
		Multiplier:          2,
		MaxInterval:         max,
	}
}

func (b *Bot) mode() string {
	if b.cfg.WebhookURL != "" {
		return "webhook"
	}
	return "polling"
}

func (b *Bot) setup(ctx context.Context) error {
	var me echotron.APIResponseUser
	// No retries here: connect retries with back-off and reports Down meanwhile.
	if err := b.callRetry(ctx, "getMe", 0, func() (err error) { me, err = b.api.GetMe(); return err }); err != nil {
		return err
	}
	if me.Result != nil {
		b.mu.Lock()
		b.botName = me.Result.Username
		b.mu.Unlock()
	}
	t := b.tx
	cmds := []echotron.BotCommand{
		{Command: "start", Description: t.cmdStart}, {Command: "menu", Description: t.cmdMenu},
		{Command: "status", Description: t.cmdStatus}, {Command: "close", Description: t.cmdClose},
		{Command: "help", Description: t.cmdHelp},
	}
	if err := b.call(ctx, "setMyCommands", func() error { _, err := b.api.SetMyCommands(nil, cmds...); return err }); err != nil {
		return err
	}
	if b.cfg.WebhookURL != "" {
		opts := &echotron.WebhookOptions{SecretToken: b.cfg.WebhookSecret,
			AllowedUpdates: []echotron.UpdateType{echotron.MessageUpdate, echotron.CallbackQueryUpdate}}
		return b.call(ctx, "setWebhook", func() error { _, err := b.api.SetWebhook(b.cfg.WebhookURL, false, opts); return err })
	}
	return b.call(ctx, "deleteWebhook", func() error { _, err := b.api.DeleteWebhook(false); return err })
}

func (b *Bot) username() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.botName
}

func (b *Bot) pollLoop(ctx context.Context, offset int) {
	delays := b.newBackOff(time.Minute)
	delays.Reset()
	down := false
	for ctx.Err() == nil {
		ups, err := b.poll.getUpdates(ctx, offset, b.cfg.PollTimeout.Std())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var wait time.Duration
			var ae *apiError
			if errors.As(err, &ae) && ae.RetryAfter > 0 {
				wait = min(ae.RetryAfter, maxRetryAfter)
			} else {
				wait = delays.NextBackOff()
			}
			b.metrics.apiErrors.WithLabelValues("getUpdates").Inc()
			b.setHealth(health.Down, "polling the Bot API: "+err.Error())
			if !down {
				b.log.Warn("polling the Bot API failed; retrying", "err", err, "in", wait)
			}
			down = true
			sleep(ctx, wait)
			continue
		}
		if down {
			b.setHealth(health.Up, "@"+b.username())
			b.log.Info("the Bot API answers again")
			down = false
			delays.Reset()
		}
		if len(ups) == 0 {
			continue
		}
		next := offset
		for _, u := range ups {
			next = max(next, u.ID+1)
		}
		// Durable first: the offset, the updates (in the inbox until each is
		// handled: one taken when the appliance is killed is handled after
		// the restart) and their lines in the conversation log, at once.
		if err := saveOffsetAndLog(b.st, next, ups, b.inLines(ups)); err != nil {
			b.setHealth(health.Down, "store: "+err.Error())
			b.log.Error("cannot store the update offset", "err", err)
			sleep(ctx, delays.NextBackOff())
			continue
		}
		offset = next
		b.mu.Lock()
		b.lastID = next - 1
		b.mu.Unlock()
		for _, u := range ups {
			b.dispatch(ctx, u)
		}
	}
}

// chatQueue is one chat's pending updates, handled in order by one worker.
type chatQueue struct {
	pending []*echotron.Update
	running bool
}

func updateChat(u *echotron.Update) int64 {
	switch {
	case u.Message != nil:
		return u.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil:
		return u.CallbackQuery.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.From != nil:
		return u.CallbackQuery.From.ID
	}
	return 0
}

// dispatch queues u for its chat's worker, starting one if needed.
func (b *Bot) dispatch(ctx context.Context, u *echotron.Update) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dispatchLocked(ctx, u)
}

func (b *Bot) dispatchLocked(ctx context.Context, u *echotron.Update) {
	chat := updateChat(u)
	q := b.queues[chat]
	if q == nil {
		q = &chatQueue{}
		b.queues[chat] = q
	}
	q.pending = append(q.pending, u)
	if q.running {
		return
	}
	q.running = true
	b.workers.Add(1)
	go b.drain(ctx, chat, q)
}

func (b *Bot) drain(ctx context.Context, chat int64, q *chatQueue) {
	defer b.workers.Done()
	for {
		b.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			delete(b.queues, chat)
			b.mu.Unlock()
			return
		}
		u := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		b.mu.Unlock()
		if ctx.Err() != nil {
			continue // stopping: it stays in the inbox for the next start
		}
		b.handle(ctx, u)
		if err := handled(b.st, u.ID); err != nil {
			b.log.Error("cannot take a handled update out of the inbox; it may be answered again after a restart", "update", u.ID, "err", err)
		}
	}
}

// WebhookPath is the path of the webhook URL, to route on the web server.
func WebhookPath(webhookURL string) string {
	i := strings.Index(webhookURL, "://")
	if i < 0 {
		return "/"
	}
	rest := webhookURL[i+3:]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		p := rest[j:]
		if k := strings.IndexAny(p, "?#"); k >= 0 {
			p = p[:k]
		}
		return p
	}
	return "/"
}

// ServeHTTP receives webhook deliveries. Telegram sends the secret back in
// the X-Telegram-Bot-Api-Secret-Token header; anything else is refused.
func (b *Bot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if b.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(b.cfg.WebhookSecret)) != 1 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	var u echotron.Update
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&u); err != nil {
		http.Error(w, "bad update", http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	ctx, last := b.running, b.lastID
	b.mu.Unlock()
	if ctx == nil {
		http.Error(w, "bot not running", http.StatusServiceUnavailable) // Telegram retries later
		return
	}
	if u.ID <= last {
		w.WriteHeader(http.StatusOK) // a redelivery: handled already
		return
	}
	if err := saveOffsetAndLog(b.st, u.ID+1, []*echotron.Update{&u}, b.inLines([]*echotron.Update{&u})); err != nil {
		http.Error(w, "store", http.StatusInternalServerError)
		return
	}
	b.mu.Lock()
	b.lastID = max(b.lastID, u.ID)
	if b.running != nil { // Run may have ended meanwhile: then no new workers
		b.dispatchLocked(ctx, &u)
	}
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// The admin alerts, by key. Whoever raises one gives its arguments; the bot
// writes the sentence in its language.
const (
	AlertTranscodeFailed = "transcode_failed" // source, reason
	AlertBackupFailed    = "backup_failed"    // error
	AlertBackupDamaged   = "backup_damaged"   // what is damaged
	AlertBackupWarning   = "backup_warning"   // backup id, the problem
	AlertServiceDown     = "service_down"     // service, state, detail
	AlertDiskFull        = "disk_full"        // free, size, share, file system
	AlertPublishFailed   = "publish_failed"   // what fails and why

	// AlertChannelTitle: channel, title, reason.
	AlertChannelTitle = "channel_title_unreadable"
)

// alertText is the sentence for alert key with args in the bot's language;
// an unknown key is shown with its arguments as they are.
func (b *Bot) alertText(key string, args []string) string {
	format, ok := b.tx.alerts[key]
	if !ok || strings.Count(format, "%s") != len(args) {
		return strings.Join(append([]string{key}, args...), ": ")
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
	}
	return fmt.Sprintf(format, vals...)
}

// Alert sends the alert key (one of the Alert* constants) with its
// arguments to the admins, at most once per alert_interval for the same
// alert. It never blocks: alerts are queued and sent by Run.
func (b *Bot) Alert(_ context.Context, key string, args ...string) {
	text := b.alertText(key, args)
	now := b.now()
	b.amu.Lock()
	if last, ok := b.alerts[text]; ok && now.Sub(last) < b.cfg.AlertInterval.Std() {
		b.amu.Unlock()
		return
	}
	b.alerts[text] = now
	if len(b.alerts) > 1000 { // forget alerts whose interval is over
		for k, t := range b.alerts {
			if now.Sub(t) >= b.cfg.AlertInterval.Std() {
				delete(b.alerts, k)
			}
		}
	}
	b.amu.Unlock()
	select {
	case b.alertc <- text:
	default:
		b.log.Warn("bot alert queue full; alert dropped", "alert", text)
	}
}

func (b *Bot) alertSender(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case text := <-b.alertc:
			b.metrics.alerts.Inc()
			for id := range b.rules().admins {
				b.send(ctx, id, id, b.tx.alertPrefix+escapeMD(text), nil)
			}
		}
	}
}

// housekeeping prunes the log and watches services and the disk for alerts.
func (b *Bot) housekeeping(ctx context.Context) {
	prune := func() {
		n, err := pruneLog(b.st, b.now().Add(-b.cfg.LogRetention.Std()))
		if err != nil {
			b.log.Error("cannot prune the bot log", "err", err)
		} else if n > 0 {
			b.log.Info("pruned the bot log", "entries", n)
		}
	}
	prune()
	down := map[string]bool{}
	diskWarned, statfsFailed := map[string]bool{}, map[string]bool{}
	tick := time.NewTicker(b.watch)
	defer tick.Stop()
	lastPrune := b.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if b.now().Sub(lastPrune) > time.Hour {
			prune()
			lastPrune = b.now()
		}
		if b.health != nil {
			for _, s := range b.health.Snapshot() {
				bad := s.State == health.Down || s.State == health.Failed
				if bad && !down[s.Name] && s.Name != b.name {
					b.Alert(ctx, AlertServiceDown, s.Name, string(s.State), s.Detail)
				}
				down[s.Name] = bad
			}
		}
		seen := map[[2]int32]bool{} // each file system once, under its first folder
		for _, p := range b.diskPaths {
			var fs syscall.Statfs_t
			err := syscall.Statfs(p, &fs)
			switch {
			case err != nil:
				if !statfsFailed[p] {
					b.log.Warn("cannot read the disk's free space", "path", p, "err", err)
				}
				statfsFailed[p] = true
			case fs.Blocks > 0 && !seen[fs.Fsid.X__val]:
				seen[fs.Fsid.X__val] = true
				statfsFailed[p] = false
				free := float64(fs.Bavail) / float64(fs.Blocks)
				if free < 0.05 && !diskWarned[p] {
					bs := uint64(fs.Bsize)
					b.Alert(ctx, AlertDiskFull, config.HumanBytes(fs.Bavail*bs), config.HumanBytes(fs.Blocks*bs),
						fmt.Sprintf("%.1f%%", free*100), p)
				}
				diskWarned[p] = free < 0.05
			}
		}
	}
}

// logWriter writes the conversation log in batches: one transaction per
// batch keeps the store's fsyncs off every message's path.
func (b *Bot) logWriter() {
	batch := make([]LogEntry, 0, 512)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := writeLog(b.st, batch); err != nil {
			b.log.Error("cannot write the bot log", "err", err, "entries", len(batch))
		}
		batch = batch[:0]
	}
	for e := range b.logc {
		batch = append(batch, e)
	drain:
		for len(batch) < cap(batch) {
			select {
			case e, ok := <-b.logc:
				if !ok {
					break drain
				}
				batch = append(batch, e)
			default:
				break drain
			}
		}
		flush()
	}
	flush()
}

// inLines are the conversation log's lines of updates received: a message
// (its text) or a button pressed ("[button] DATA").
func (b *Bot) inLines(ups []*echotron.Update) []LogEntry {
	var out []LogEntry
	now := b.now().UTC()
	for _, u := range ups {
		switch {
		case u.Message != nil:
			var user int64
			if u.Message.From != nil {
				user = u.Message.From.ID
			}
			out = append(out, LogEntry{Time: now, User: user, Chat: u.Message.Chat.ID, Dir: "in", Text: b.messageText(u.Message)})
		case u.CallbackQuery != nil && u.CallbackQuery.From != nil:
			q := u.CallbackQuery
			chat := q.From.ID
			if q.Message != nil {
				chat = q.Message.Chat.ID
			}
			out = append(out, LogEntry{Time: now, User: q.From.ID, Chat: chat, Dir: "in", Text: "[button] " + q.Data})
		}
	}
	return out
}

func (b *Bot) logLine(user, chat int64, dir, text string) {
	b.logc <- LogEntry{Time: b.now().UTC(), User: user, Chat: chat, Dir: dir, Text: text}
}
