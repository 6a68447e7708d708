package config

import (
	"fmt"
	"net/url"
)

// Bot configures the Telegram support bot (off by default).
type Bot struct {
	Enabled bool `toml:"enabled"`
	// Token is the bot's token from @BotFather. Prefer token_file or the
	// THECURE_BOT_TOKEN environment variable to writing it here.
	Token     string `toml:"token" secret:"THECURE_BOT_TOKEN"`
	TokenFile string `toml:"token_file"`
	// APIURL is the Bot API server's base URL; the bot calls
	// APIURL + "/bot" + token + "/METHOD".
	APIURL   string `toml:"api_url"`
	Language string `toml:"language"` // es | en: built-in texts and default menu
	// AllowedUsers may use the bot (plus those allowed with /allow or
	// `thecure bot allow`). Admins are always allowed.
	AllowedUsers []int64 `toml:"allowed_users"`
	// Admins get alerts and may /allow and /deny users.
	Admins []int64 `toml:"admins"`
	// OperatorsChat is the chat (usually a group) where tickets are relayed
	// and operators answer by replying. 0: tickets go to the admins.
	OperatorsChat int64 `toml:"operators_chat"`
	// RateLimit is how many updates per minute one user may send.
	RateLimit int `toml:"rate_limit"`
	// LogRetention is how long the conversation log is kept.
	LogRetention Duration `toml:"log_retention"`
	// PollTimeout is the long-polling timeout of getUpdates.
	PollTimeout Duration `toml:"poll_timeout"`
	// AlertInterval throttles admin alerts: the same alert is sent at most
	// once per interval.
	AlertInterval Duration `toml:"alert_interval"`
	// WebhookURL, when set, switches from long polling to a webhook: the
	// public HTTPS URL Telegram posts updates to; its path is served by the
	// appliance's web server.
	WebhookURL        string `toml:"webhook_url"`
	WebhookSecret     string `toml:"webhook_secret" secret:"THECURE_BOT_WEBHOOK_SECRET"`
	WebhookSecretFile string `toml:"webhook_secret_file"`
	// Menu is the decision tree; empty means the built-in tree in Language.
	Menu []MenuNode `toml:"menu"`
}

// Menu node actions: what pressing a node's button does besides showing its text.
const (
	ActionEscalate  = "escalate"  // open a ticket and talk to a technician
	ActionStatus    = "status"    // live service state
	ActionCatalogue = "catalogue" // the latest titles of the catalogue
)

// MenuRoot is the id of the node /start and /menu show.
const MenuRoot = "root"

// MenuNode is one node of the bot's decision tree.
type MenuNode struct {
	ID      string   `toml:"id"`
	Label   string   `toml:"label"`   // the text of the button leading here
	Text    string   `toml:"text"`    // Markdown shown when the node is opened
	Buttons []string `toml:"buttons"` // ids of the nodes offered from here
	Action  string   `toml:"action"`  // "" | escalate | status | catalogue
}

func defaultBot() Bot {
	return Bot{
		APIURL:        "https://api.telegram.org",
		Language:      "es",
		RateLimit:     30,
		LogRetention:  Duration(90 * 24 * 3600e9),
		PollTimeout:   Duration(25e9),
		AlertInterval: Duration(600e9),
	}
}

// menuID: 1-32 characters a-z 0-9 _ -.
func menuID(s string) bool {
	return charset(s, 1, 32, func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' })
}

// secretToken: 1-256 characters A-Z a-z 0-9 _ - (what Telegram accepts).
func secretToken(s string) bool { return charset(s, 1, 256, tokenChar) }

func (v *validator) bot(c *Bot) {
	v.secret(!c.Enabled || c.Token != "", "bot.token", "enabled = true needs a token (token, token_file or the THECURE_BOT_TOKEN environment variable)")
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail("bot.api_url", "%q is not an http(s) URL", c.APIURL)
	}
	v.oneOf(c.Language, "bot.language", "es", "en")
	for i, id := range c.AllowedUsers {
		v.check(id > 0, fmt.Sprintf("bot.allowed_users[%d]", i), "a user id is a positive number")
	}
	for i, id := range c.Admins {
		v.check(id > 0, fmt.Sprintf("bot.admins[%d]", i), "a user id is a positive number")
	}
	v.check(c.RateLimit > 0, "bot.rate_limit", "must be positive (updates per minute per user)")
	v.check(c.LogRetention > 0, "bot.log_retention", "must be positive")
	v.check(c.PollTimeout >= Duration(1e9) && c.PollTimeout <= Duration(50e9), "bot.poll_timeout", "must be between 1s and 50s")
	v.check(c.AlertInterval >= 0, "bot.alert_interval", "must not be negative")
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.fail("bot.webhook_url", "%q is not an https URL (Telegram only posts to https)", c.WebhookURL)
		} else if u.Path == "" || u.Path == "/" || u.RawQuery != "" {
			v.fail("bot.webhook_url", "%q needs a path of its own (such as /telegram/SOMETHING) and no query: the web server routes it to the bot", c.WebhookURL)
		}
		if !secretToken(c.WebhookSecret) {
			v.fail("bot.webhook_secret", "a webhook needs a secret of 1-256 characters A-Z a-z 0-9 _ - (webhook_secret, webhook_secret_file or THECURE_BOT_WEBHOOK_SECRET)")
		}
	}
	if c.Enabled && c.OperatorsChat == 0 && len(c.Admins) == 0 {
		v.fail("bot.operators_chat", "with no operators_chat and no admins, tickets and alerts reach nobody: set one of them")
	}
	v.menu(c.Menu)
}

// menu checks a decision tree: ids unique and well formed, a root, buttons
// that point at existing nodes, every node reachable from the root.
func (v *validator) menu(nodes []MenuNode) {
	if len(nodes) == 0 {
		return // the built-in tree
	}
	index := map[string]int{}
	for i, n := range nodes {
		key := fmt.Sprintf("bot.menu[%d]", i)
		switch {
		case !menuID(n.ID):
			v.fail(key+".id", "%q must be 1-32 characters a-z 0-9 _ -", n.ID)
		default:
			if j, dup := index[n.ID]; dup {
				v.fail(key+".id", "id %q is already used by bot.menu[%d]", n.ID, j)
				continue
			}
			index[n.ID] = i
		}
		if n.ID != MenuRoot && n.Label == "" {
			v.fail(key+".label", "must not be empty: it is the text of the button that leads here")
		}
		if n.Text == "" && n.Action == "" {
			v.fail(key+".text", "must not be empty (or give the node an action)")
		}
		if n.Action != "" {
			v.oneOf(n.Action, key+".action", ActionEscalate, ActionStatus, ActionCatalogue)
		}
		if n.Action == "" && len(n.Buttons) == 0 && n.ID == MenuRoot {
			v.fail(key+".buttons", "the root node needs buttons")
		}
	}
	root, ok := index[MenuRoot]
	if !ok {
		v.fail("bot.menu", "no node has id %q: /start and /menu show it", MenuRoot)
	}
	for i, n := range nodes {
		for j, b := range n.Buttons {
			if _, ok := index[b]; !ok {
				v.fail(fmt.Sprintf("bot.menu[%d].buttons[%d]", i, j), "no node has id %q", b)
			}
		}
	}
	if !ok {
		return
	}
	seen := map[string]bool{MenuRoot: true}
	queue := []int{root}
	for len(queue) > 0 {
		n := nodes[queue[0]]
		queue = queue[1:]
		for _, b := range n.Buttons {
			if j, ok := index[b]; ok && !seen[b] {
				seen[b] = true
				queue = append(queue, j)
			}
		}
	}
	for i, n := range nodes {
		if j, ok := index[n.ID]; ok && j == i && !seen[n.ID] {
			v.fail(fmt.Sprintf("bot.menu[%d]", i), "node %q cannot be reached from %q", n.ID, MenuRoot)
		}
	}
}
