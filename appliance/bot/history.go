package bot

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// ConversationGap is the silence that ends a conversation: a user's lines
// closer together than this are one conversation.
const ConversationGap = 30 * time.Minute

// Conversation is one user's exchange with the bot (and the technicians):
// their log lines with no silence of ConversationGap or more.
type Conversation struct {
	User   int64      `json:"user"`
	Start  time.Time  `json:"start"`
	End    time.Time  `json:"end"`
	Lines  []LogEntry `json:"lines"`
	Ticket uint64     `json:"ticket,omitempty"` // the ticket opened during it, if any
}

// HistoryQuery picks conversations: of one user (0: everyone), overlapping
// [Since, Until) (zero: unbounded), with a line containing Search (case
// folded; "": any), at most Limit (0: 200), newest first.
type HistoryQuery struct {
	User         int64
	Since, Until time.Time
	Search       string
	Limit        int
}

// History returns the conversations q picks, read from the bot's log and
// tickets (read-only: the bot may be running).
func History(st *store.Store, q HistoryQuery) ([]Conversation, error) {
	lines, err := ReadLog(st, q.User, q.Since.Add(-ConversationGap))
	if err != nil {
		return nil, err
	}
	tickets, err := AllTickets(st)
	if err != nil {
		return nil, err
	}
	convs := group(lines, tickets)
	search := strings.ToLower(q.Search)
	limit := cmp.Or(q.Limit, 200)
	var out []Conversation
	for i := len(convs) - 1; i >= 0 && len(out) < limit; i-- {
		c := convs[i]
		if (!q.Since.IsZero() && c.End.Before(q.Since)) || (!q.Until.IsZero() && !c.Start.Before(q.Until)) {
			continue
		}
		if search != "" && !slices.ContainsFunc(c.Lines, func(e LogEntry) bool { return strings.Contains(strings.ToLower(e.Text), search) }) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// group splits log lines (oldest first) into conversations per user, oldest
// first, and ties each to the ticket opened within it.
func group(lines []LogEntry, tickets []Ticket) []Conversation {
	open := map[int64]int{} // user -> index of their current conversation
	var convs []Conversation
	for _, e := range lines {
		u := cmp.Or(e.User, e.Chat)
		i, ok := open[u]
		if !ok || e.Time.Sub(convs[i].End) >= ConversationGap {
			convs = append(convs, Conversation{User: u, Start: e.Time})
			i = len(convs) - 1
			open[u] = i
		}
		convs[i].End = e.Time
		convs[i].Lines = append(convs[i].Lines, e)
	}
	for _, t := range tickets {
		for i := range convs {
			c := &convs[i]
			if c.User == t.User && c.Ticket == 0 && !t.Opened.Before(c.Start.Add(-time.Second)) && !t.Opened.After(c.End.Add(time.Second)) {
				c.Ticket = t.ID
				break
			}
		}
	}
	return convs
}

// AllTickets returns every ticket, open and closed, by id.
func AllTickets(st *store.Store) ([]Ticket, error) {
	var out []Ticket
	err := st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTickets)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var t Ticket
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("ticket %x: %w", k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

// TicketExchange is a ticket with the lines of its user from its opening to
// its closing (or now).
func TicketExchange(st *store.Store, t Ticket) ([]LogEntry, error) {
	lines, err := ReadLog(st, t.User, t.Opened.Add(-time.Minute))
	if err != nil {
		return nil, err
	}
	if !t.Open() {
		lines = slices.DeleteFunc(lines, func(e LogEntry) bool { return e.Time.After(t.Closed.Add(time.Minute)) })
	}
	return lines, nil
}

// DayCount is the conversations started on a day (UTC, YYYY-MM-DD).
type DayCount struct {
	Day           string `json:"day"`
	Conversations int    `json:"conversations"`
}

// AnswerCount is how often a menu answer (node id) was chosen.
type AnswerCount struct {
	Node  string `json:"node"`
	Count int    `json:"count"`
}

// TicketAge is an open ticket and how long it has been open.
type TicketAge struct {
	ID   uint64        `json:"id"`
	User int64         `json:"user"`
	Name string        `json:"name,omitempty"`
	Age  time.Duration `json:"age_ns"`
}

// Stats are the support figures over a period.
type Stats struct {
	Since         time.Time     `json:"since"`
	Until         time.Time     `json:"until"`
	Conversations int           `json:"conversations"`
	PerDay        []DayCount    `json:"per_day"`
	TopAnswers    []AnswerCount `json:"top_answers"`
	WithoutTicket int           `json:"resolved_without_technician"`
	ResolvedShare float64       `json:"resolved_share"` // WithoutTicket / Conversations (0 when none)
	Tickets       int           `json:"tickets"`        // opened in the period
	Replied       int           `json:"tickets_replied"`
	FirstReplyMed time.Duration `json:"first_reply_median_ns"` // median time to the first operator reply
	OpenTickets   []TicketAge   `json:"open_tickets"`          // oldest first
	OldestOpenAge time.Duration `json:"oldest_open_age_ns"`
	MedianOpenAge time.Duration `json:"median_open_age_ns"`
}

// ComputeStats works out the support figures for conversations started in
// [since, until), the open tickets' ages at now. This is what `thecure bot
// stats` prints (WriteText) and what the admin's support page shows.
func ComputeStats(st *store.Store, since, until, now time.Time) (Stats, error) {
	s := Stats{Since: since, Until: until, PerDay: []DayCount{}, TopAnswers: []AnswerCount{}, OpenTickets: []TicketAge{}}
	lines, err := ReadLog(st, 0, since.Add(-ConversationGap))
	if err != nil {
		return s, err
	}
	tickets, err := AllTickets(st)
	if err != nil {
		return s, err
	}
	days := map[string]int{}
	answers := map[string]int{}
	for _, c := range group(lines, tickets) {
		if c.Start.Before(since) || !c.Start.Before(until) {
			continue
		}
		s.Conversations++
		days[c.Start.UTC().Format(time.DateOnly)]++
		if c.Ticket == 0 {
			s.WithoutTicket++
		}
		for _, e := range c.Lines {
			if data, ok := strings.CutPrefix(e.Text, "[button] "); ok && e.Dir == "in" {
				if node, ok := parseCallback(data); ok {
					answers[node]++
				}
			}
		}
	}
	if s.Conversations > 0 {
		s.ResolvedShare = float64(s.WithoutTicket) / float64(s.Conversations)
	}
	for d, n := range days {
		s.PerDay = append(s.PerDay, DayCount{d, n})
	}
	slices.SortFunc(s.PerDay, func(a, b DayCount) int { return strings.Compare(a.Day, b.Day) })
	for n, c := range answers {
		s.TopAnswers = append(s.TopAnswers, AnswerCount{n, c})
	}
	slices.SortFunc(s.TopAnswers, func(a, b AnswerCount) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.Node, b.Node)) })
	if len(s.TopAnswers) > 10 {
		s.TopAnswers = s.TopAnswers[:10]
	}

	var replies []time.Duration
	for _, t := range tickets {
		if t.Open() {
			s.OpenTickets = append(s.OpenTickets, TicketAge{ID: t.ID, User: t.User, Name: t.Name, Age: now.Sub(t.Opened)})
		}
		if t.Opened.Before(since) || !t.Opened.Before(until) {
			continue
		}
		s.Tickets++
		for _, e := range lines {
			if e.User == t.User && e.Dir == "out" && strings.HasPrefix(e.Text, "[operator] ") && !e.Time.Before(t.Opened) &&
				(t.Open() || !e.Time.After(t.Closed)) {
				replies = append(replies, e.Time.Sub(t.Opened))
				break
			}
		}
	}
	s.Replied = len(replies)
	s.FirstReplyMed = median(replies)
	slices.SortFunc(s.OpenTickets, func(a, b TicketAge) int { return cmp.Compare(b.Age, a.Age) })
	ages := make([]time.Duration, 0, len(s.OpenTickets))
	for _, t := range s.OpenTickets {
		ages = append(ages, t.Age)
	}
	if len(ages) > 0 {
		s.OldestOpenAge = ages[0]
	}
	s.MedianOpenAge = median(ages)
	return s, nil
}

// median of ds (0 for none); ds is sorted in place.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	if n := len(ds); n%2 == 0 {
		return (ds[n/2-1] + ds[n/2]) / 2
	}
	return ds[len(ds)/2]
}

// WriteText prints the figures for a terminal (`thecure bot stats`).
func (s Stats) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "support statistics from %s to %s\n", s.Since.UTC().Format(time.DateOnly), s.Until.UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, "conversations: %d\n", s.Conversations)
	for _, d := range s.PerDay {
		fmt.Fprintf(&b, "  %s  %d\n", d.Day, d.Conversations)
	}
	fmt.Fprintf(&b, "resolved without a technician: %d of %d (%.0f%%)\n", s.WithoutTicket, s.Conversations, 100*s.ResolvedShare)
	b.WriteString("most used menu answers:\n")
	for _, a := range s.TopAnswers {
		fmt.Fprintf(&b, "  %-20s %d\n", a.Node, a.Count)
	}
	fmt.Fprintf(&b, "tickets opened: %d, answered: %d, median time to the first operator reply: %s\n",
		s.Tickets, s.Replied, s.FirstReplyMed.Round(time.Second))
	fmt.Fprintf(&b, "open tickets: %d, oldest %s, median age %s\n", len(s.OpenTickets), s.OldestOpenAge.Round(time.Second), s.MedianOpenAge.Round(time.Second))
	for _, t := range s.OpenTickets {
		fmt.Fprintf(&b, "  #%d  user %d %s  open %s\n", t.ID, t.User, t.Name, t.Age.Round(time.Second))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
