package bot

import (
	"thecure/appliance/config"
)

// rules is what a reload may change while the bot runs: the menu, who may
// use the bot, its admins and where tickets go.
type rules struct {
	tree     tree
	allowCfg map[int64]bool
	admins   map[int64]bool
	opChats  map[int64]bool
}

// rules returns the rules in force: the last reload's, else New's.
func (b *Bot) rules() *rules {
	if r := b.live.Load(); r != nil {
		return r
	}
	return &rules{tree: b.tree, allowCfg: b.allowCfg, admins: b.admins, opChats: b.opChats}
}

// LiveKeys are the [bot] keys Reload applies.
func (b *Bot) LiveKeys() []string {
	return []string{"bot.menu", "bot.allowed_users", "bot.admins", "bot.operators_chat"}
}

// Reload applies a new menu, allow-list, admins and operators' chat from the
// next update on; open conversations and tickets stay. A user on a menu
// node that no longer exists is taken back to the root by the next press
// (as after a restart).
func (b *Bot) Reload(cfg *config.Config) error {
	c := cfg.Bot
	nodes := c.Menu
	if len(nodes) == 0 {
		nodes = BuiltinMenu(b.cfg.Language)
	}
	r := &rules{tree: newTree(nodes), allowCfg: map[int64]bool{}, admins: map[int64]bool{}, opChats: map[int64]bool{}}
	for _, id := range c.AllowedUsers {
		r.allowCfg[id] = true
	}
	for _, id := range c.Admins {
		r.admins[id] = true
	}
	if c.OperatorsChat != 0 {
		r.opChats[c.OperatorsChat] = true
	} else {
		for id := range r.admins {
			r.opChats[id] = true
		}
	}
	b.live.Store(r)
	b.log.Info("bot: new menu and allow-list in force", "menu_nodes", len(r.tree), "allowed_users", len(r.allowCfg), "admins", len(r.admins))
	return nil
}
