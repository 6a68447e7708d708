package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"thecure/appliance/control"
	"thecure/appliance/store"
)

// ControlRoutes serves `thecure bot ...` on the control socket (they only
// touch the store, so they are there whether the bot runs or not):
// POST /bot/access, GET /bot/log?user=&since=, GET /bot/tickets,
// GET /bot/stats?since=&until=.
func ControlRoutes(ctl *control.Server, st *store.Store, log *slog.Logger) {
	ctl.Handle("POST /bot/access", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req AccessRequest
		if err := control.DecodeJSON(r, &req); err != nil {
			control.Error(w, http.StatusBadRequest, err)
			return
		}
		if err := SetAccess(st, req.User, req.Allowed); err != nil {
			control.Error(w, http.StatusBadRequest, err)
			return
		}
		log.Info("bot access changed", "user", req.User, "allowed", req.Allowed, "by", "control socket")
		control.JSON(w, http.StatusOK, req)
	}))
	ctl.Handle("GET /bot/log", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var user int64
		var since time.Time
		if s := q.Get("user"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				control.Error(w, http.StatusBadRequest, fmt.Errorf("user: %w", err))
				return
			}
			user = n
		}
		if s := q.Get("since"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				control.Error(w, http.StatusBadRequest, fmt.Errorf("since: %w", err))
				return
			}
			since = t
		}
		entries, err := ReadLog(st, user, since)
		if err != nil {
			control.Error(w, http.StatusInternalServerError, err)
			return
		}
		control.JSON(w, http.StatusOK, entries)
	}))
	ctl.Handle("GET /bot/tickets", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ts, err := OpenTickets(st)
		if err != nil {
			control.Error(w, http.StatusInternalServerError, err)
			return
		}
		control.JSON(w, http.StatusOK, ts)
	}))
	ctl.Handle("GET /bot/stats", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, err1 := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
		until, err2 := time.Parse(time.RFC3339Nano, r.URL.Query().Get("until"))
		if err := errors.Join(err1, err2); err != nil {
			control.Error(w, http.StatusBadRequest, fmt.Errorf("since, until: %w", err))
			return
		}
		s, err := ComputeStats(st, since, until, time.Now())
		if err != nil {
			control.Error(w, http.StatusInternalServerError, err)
			return
		}
		control.JSON(w, http.StatusOK, s)
	}))
}

// AccessRequest is the body of POST /bot/access.
type AccessRequest struct {
	User    int64 `json:"user"`
	Allowed bool  `json:"allowed"`
}

// Client reads and changes the bot's store through a running appliance's
// control socket; control.ErrNotRunning when none answers.
type Client struct{ c *control.Client }

// NewClient returns a client on c.
func NewClient(c *control.Client) *Client { return &Client{c: c} }

// SetAccess is SetAccess through the appliance.
func (c *Client) SetAccess(ctx context.Context, user int64, allowed bool) error {
	return c.c.Do(ctx, "POST", "/bot/access", AccessRequest{User: user, Allowed: allowed}, nil)
}

// ReadLog is ReadLog through the appliance.
func (c *Client) ReadLog(ctx context.Context, user int64, since time.Time) ([]LogEntry, error) {
	q := url.Values{}
	if user != 0 {
		q.Set("user", strconv.FormatInt(user, 10))
	}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	var entries []LogEntry
	err := c.c.Do(ctx, "GET", "/bot/log?"+q.Encode(), nil, &entries)
	return entries, err
}

// OpenTickets is OpenTickets through the appliance.
func (c *Client) OpenTickets(ctx context.Context) ([]Ticket, error) {
	var ts []Ticket
	err := c.c.Do(ctx, "GET", "/bot/tickets", nil, &ts)
	return ts, err
}

// Stats is ComputeStats of the conversations started in [since, until)
// through the appliance.
func (c *Client) Stats(ctx context.Context, since, until time.Time) (Stats, error) {
	q := url.Values{
		"since": {since.UTC().Format(time.RFC3339Nano)},
		"until": {until.UTC().Format(time.RFC3339Nano)},
	}
	var s Stats
	err := c.c.Do(ctx, "GET", "/bot/stats?"+q.Encode(), nil, &s)
	return s, err
}
