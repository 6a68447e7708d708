package appliance

import (
	"context"
	"time"

	"thecure/appliance/bot"
	"thecure/appliance/store"
	"thecure/appliance/webui"
)

// webuiSupport shows the support bot's history and statistics (read from
// the store: they show whether the bot runs or not).
type webuiSupport struct{ st *store.Store }

func supportLines(es []bot.LogEntry) []webui.SupportLine {
	out := make([]webui.SupportLine, 0, len(es))
	for _, e := range es {
		out = append(out, webui.SupportLine{Time: e.Time, Dir: e.Dir, Text: e.Text})
	}
	return out
}

func (s webuiSupport) History(_ context.Context, q webui.SupportQuery) ([]webui.SupportConversation, error) {
	cs, err := bot.History(s.st, bot.HistoryQuery{User: q.User, Since: q.Since, Until: q.Until, Search: q.Search})
	out := make([]webui.SupportConversation, 0, len(cs))
	for _, c := range cs {
		out = append(out, webui.SupportConversation{User: c.User, Start: c.Start, End: c.End, Ticket: c.Ticket, Lines: supportLines(c.Lines)})
	}
	return out, err
}

func (s webuiSupport) Stats(_ context.Context, since, until time.Time) (webui.SupportStats, error) {
	st, err := bot.ComputeStats(s.st, since, until, time.Now())
	out := webui.SupportStats{
		Conversations: st.Conversations, WithoutTicket: st.WithoutTicket, ResolvedShare: st.ResolvedShare,
		Tickets: st.Tickets, Replied: st.Replied, FirstReplyMed: st.FirstReplyMed,
		OpenTickets: len(st.OpenTickets), OldestOpenAge: st.OldestOpenAge, MedianOpenAge: st.MedianOpenAge,
	}
	for _, d := range st.PerDay {
		out.PerDay = append(out.PerDay, webui.SupportDay{Day: d.Day, Count: d.Conversations})
	}
	for _, a := range st.TopAnswers {
		out.TopAnswers = append(out.TopAnswers, webui.SupportAnswer{Node: a.Node, Count: a.Count})
	}
	return out, err
}

func (s webuiSupport) Tickets(_ context.Context, n int) ([]webui.SupportTicket, error) {
	ts, err := bot.AllTickets(s.st)
	if err != nil {
		return nil, err
	}
	var out []webui.SupportTicket
	for i := len(ts) - 1; i >= 0 && len(out) < n; i-- { // by id: newest last
		t := ts[i]
		lines, err := bot.TicketExchange(s.st, t)
		if err != nil {
			return out, err
		}
		out = append(out, webui.SupportTicket{ID: t.ID, User: t.User, Name: t.Name, Opened: t.Opened, Closed: t.Closed, Lines: supportLines(lines)})
	}
	return out, nil
}
