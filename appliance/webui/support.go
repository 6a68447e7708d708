package webui

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SupportLine is one line of a support conversation.
type SupportLine struct {
	Time time.Time
	Dir  string // in (from the user) | out (from the bot or a technician)
	Text string
}

// SupportConversation is one user's exchange with the support bot.
type SupportConversation struct {
	User   int64
	Start  time.Time
	End    time.Time
	Ticket uint64 // 0: none opened
	Lines  []SupportLine
}

// SupportTicket is a ticket with its whole exchange.
type SupportTicket struct {
	ID     uint64
	User   int64
	Name   string
	Opened time.Time
	Closed time.Time // zero: open
	Lines  []SupportLine
}

// SupportStats are the support figures of a period.
type SupportStats struct {
	Conversations int
	PerDay        []SupportDay
	TopAnswers    []SupportAnswer
	WithoutTicket int
	ResolvedShare float64 // 0..1
	Tickets       int
	Replied       int
	FirstReplyMed time.Duration
	OpenTickets   int
	OldestOpenAge time.Duration
	MedianOpenAge time.Duration
}

// SupportDay is the conversations started on a day.
type SupportDay struct {
	Day   string
	Count int
}

// SupportAnswer is how often a menu answer was chosen.
type SupportAnswer struct {
	Node  string
	Count int
}

// SupportQuery picks conversations (see the support page's filters).
type SupportQuery struct {
	User         int64 // 0: everyone
	Since, Until time.Time
	Search       string
}

// Support reads the support bot's history (it works with the bot stopped).
type Support interface {
	History(ctx context.Context, q SupportQuery) ([]SupportConversation, error)
	Stats(ctx context.Context, since, until time.Time) (SupportStats, error)
	// Tickets are the latest tickets (at most n, newest first) with their exchange.
	Tickets(ctx context.Context, n int) ([]SupportTicket, error)
}

// supportView is the support page.
type supportView struct {
	User, From, To, Search string // the filters as typed
	Stats                  SupportStats
	Conversations          []SupportConversation
	Tickets                []SupportTicket
	Error                  string
	Avail                  bool
}

// supportPage is GET /admin/support?user=ID&from=YYYY-MM-DD&to=YYYY-MM-DD&q=TEXT
// (the period defaults to the last 30 days; to is included).
func (u *UI) supportPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := supportView{User: q.Get("user"), From: q.Get("from"), To: q.Get("to"), Search: truncate(q.Get("q"), 200), Avail: u.o.Support != nil}
	now := u.now().UTC()
	until := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	since := until.Add(-30 * 24 * time.Hour)
	var bad []string
	if v.From != "" {
		if t, err := time.Parse(time.DateOnly, v.From); err == nil {
			since = t
		} else {
			bad = append(bad, "from")
		}
	}
	if v.To != "" {
		if t, err := time.Parse(time.DateOnly, v.To); err == nil {
			until = t.Add(24 * time.Hour)
		} else {
			bad = append(bad, "to")
		}
	}
	var user int64
	if v.User != "" {
		n, err := strconv.ParseInt(v.User, 10, 64)
		if err != nil {
			bad = append(bad, "user")
		}
		user = n
	}
	v.From, v.To = since.Format(time.DateOnly), until.Add(-24*time.Hour).Format(time.DateOnly)
	code := http.StatusOK
	if len(bad) > 0 {
		v.Error, code = u.tr.t("support.bad", strings.Join(bad, ", ")), http.StatusBadRequest
	}
	if u.o.Support != nil && code == http.StatusOK {
		ctx := r.Context()
		var err error
		if v.Stats, err = u.o.Support.Stats(ctx, since, until); err != nil {
			u.log.Warn("admin: support statistics", "err", err)
		}
		if v.Conversations, err = u.o.Support.History(ctx, SupportQuery{User: user, Since: since, Until: until, Search: v.Search}); err != nil {
			u.log.Warn("admin: support history", "err", err)
		}
		if v.Tickets, err = u.o.Support.Tickets(ctx, 50); err != nil {
			u.log.Warn("admin: support tickets", "err", err)
		}
	}
	u.render(w, r, code, "support", u.tr.t("support.title"), v)
}
