package backup

import (
	"context"
	"net/http"

	"thecure/appliance/control"
)

// ControlRoutes serves `thecure backup run` on the control socket:
// POST /backup/run asks for a backup now and answers a Ticket;
// GET /backup/status answers the Status (progress of the current run,
// result of the last one).
func ControlRoutes(ctl *control.Server, svc *Service) {
	ctl.Handle("POST /backup/run", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		control.JSON(w, http.StatusAccepted, Ticket{Ticket: svc.Request()})
	}))
	ctl.Handle("GET /backup/status", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		control.JSON(w, http.StatusOK, svc.Status())
	}))
}

// Ticket answers POST /backup/run: the run asked for is done once
// Status.Served reaches Ticket.
type Ticket struct {
	Ticket uint64 `json:"ticket"`
}

// Client asks a running appliance for backups through its control socket;
// control.ErrNotRunning when none answers.
type Client struct{ c *control.Client }

// NewClient returns a client on c.
func NewClient(c *control.Client) *Client { return &Client{c: c} }

// Request asks for a backup now and returns its ticket.
func (c *Client) Request(ctx context.Context) (uint64, error) {
	var t Ticket
	err := c.c.Do(ctx, "POST", "/backup/run", nil, &t)
	return t.Ticket, err
}

// Status is the running appliance's backup status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.c.Do(ctx, "GET", "/backup/status", nil, &st)
	return st, err
}
