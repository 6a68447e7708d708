package bot

import (
	"strings"
	"testing"
	"time"

	"thecure/appliance/store"
)

// TestHistoryAndStats drives the store as the bot does: three
// conversations of two users on two days, one escalated to a ticket that an
// operator answers after 4 minutes, another ticket still open.
func TestHistoryAndStats(t *testing.T) {
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d1 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	d2 := d1.Add(24 * time.Hour)
	at := func(base time.Time, min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	lines := []LogEntry{
		// user 1, day 1: menu only (resolved without a technician)
		{Time: at(d1, 0), User: 1, Chat: 1, Dir: "in", Text: "/start"},
		{Time: at(d1, 1), User: 1, Chat: 1, Dir: "in", Text: "[button] n:upload"},
		{Time: at(d1, 2), User: 1, Chat: 1, Dir: "out", Text: "Use FTPS with your user"},
		// user 2, day 1: asks for a technician, answered after 4 min, ticket closed
		{Time: at(d1, 5), User: 2, Chat: 2, Dir: "in", Text: "[button] n:upload"},
		{Time: at(d1, 6), User: 2, Chat: 2, Dir: "in", Text: "[button] n:human"},
		{Time: at(d1, 7), User: 2, Chat: 2, Dir: "in", Text: "my password does not work"},
		{Time: at(d1, 10), User: 2, Chat: 2, Dir: "out", Text: "[operator] I reset it"},
		// user 1, day 2 (a new conversation): a ticket left open
		{Time: at(d2, 0), User: 1, Chat: 1, Dir: "in", Text: "[button] n:live"},
		{Time: at(d2, 1), User: 1, Chat: 1, Dir: "in", Text: "the stream stutters"},
	}
	if err := writeLog(st, lines); err != nil {
		t.Fatal(err)
	}
	t2, _, err := openTicket(st, 2, 2, "Bea", at(d1, 6))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := closeTicket(st, t2.ID, at(d1, 12)); err != nil {
		t.Fatal(err)
	}
	t1, _, err := openTicket(st, 1, 1, "Ana", at(d2, 1))
	if err != nil {
		t.Fatal(err)
	}

	all, err := History(st, HistoryQuery{})
	if err != nil || len(all) != 3 {
		t.Fatalf("History = %d conversations, %v; want 3", len(all), err)
	}
	if all[0].User != 1 || all[0].Ticket != t1.ID || all[2].User != 1 || all[2].Ticket != 0 || all[1].Ticket != t2.ID {
		t.Errorf("conversations (newest first) = %+v", all)
	}
	if got, _ := History(st, HistoryQuery{User: 2}); len(got) != 1 || len(got[0].Lines) != 4 {
		t.Errorf("user 2's history = %+v", got)
	}
	if got, _ := History(st, HistoryQuery{Search: "PASSWORD"}); len(got) != 1 || got[0].User != 2 {
		t.Errorf("search \"PASSWORD\" = %+v", got)
	}
	if got, _ := History(st, HistoryQuery{Since: d2, Until: d2.Add(24 * time.Hour)}); len(got) != 1 || got[0].Start != at(d2, 0) {
		t.Errorf("day 2 = %+v", got)
	}
	ex, err := TicketExchange(st, t2)
	if err != nil || len(ex) != 4 || ex[3].Text != "[operator] I reset it" {
		t.Errorf("ticket %d's exchange = %+v, %v", t2.ID, ex, err)
	}

	now := at(d2, 61)
	s, err := ComputeStats(st, d1, d2.Add(24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Conversations != 3 || len(s.PerDay) != 2 || s.PerDay[0].Conversations != 2 || s.PerDay[1].Conversations != 1 {
		t.Errorf("conversations %d per day %+v", s.Conversations, s.PerDay)
	}
	if s.WithoutTicket != 1 || s.ResolvedShare < 0.33 || s.ResolvedShare > 0.34 {
		t.Errorf("resolved without a technician %d (%.2f), want 1 of 3", s.WithoutTicket, s.ResolvedShare)
	}
	if len(s.TopAnswers) < 3 || s.TopAnswers[0] != (AnswerCount{"upload", 2}) {
		t.Errorf("top answers %+v, want upload ×2 first", s.TopAnswers)
	}
	if s.Tickets != 2 || s.Replied != 1 || s.FirstReplyMed != 4*time.Minute {
		t.Errorf("tickets %d replied %d median first reply %s, want 2, 1, 4m", s.Tickets, s.Replied, s.FirstReplyMed)
	}
	if len(s.OpenTickets) != 1 || s.OpenTickets[0].ID != t1.ID || s.OldestOpenAge != time.Hour {
		t.Errorf("open tickets %+v oldest %s, want ticket %d open 1h", s.OpenTickets, s.OldestOpenAge, t1.ID)
	}
	var out strings.Builder
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"conversations: 3", "resolved without a technician: 1 of 3 (33%)", "upload", "median time to the first operator reply: 4m0s", "open tickets: 1, oldest 1h0m0s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, out.String())
		}
	}
}
