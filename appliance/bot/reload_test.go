package bot

import (
	"strings"
	"testing"

	"thecure/appliance/config"
)

// TestReloadMenuAndAllowList: a reload allows a new user and replaces the
// menu while the bot runs; the next /start shows the new menu to them.
func TestReloadMenuAndAllowList(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	f.waitCall("setMyCommands", nil)
	cfg := config.Default()
	cfg.Bot = testConfig(f.URL())
	cfg.Bot.AllowedUsers = append(cfg.Bot.AllowedUsers, userNope)
	cfg.Bot.Menu = []config.MenuNode{
		{ID: MenuRootNode, Text: "Menú nuevo", Buttons: []string{"help"}},
		{ID: "help", Label: "Ayuda nueva", Text: "Escríbenos", Action: "escalate"},
	}
	if err := h.bot.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	f.push(textMsg(userNope, userNope, 1, "/start"))
	m := f.waitCall("sendMessage", toChat(userNope))
	if !strings.Contains(m.Params["text"], "Menú nuevo") || !strings.Contains(m.Params["reply_markup"], `"callback_data":"n:help"`) {
		t.Errorf("/start after the reload: %v", m.Params)
	}
	if strings.Contains(m.Params["text"], "usuarios autorizados") {
		t.Errorf("the user the reload allowed was refused: %v", m.Params)
	}
}
