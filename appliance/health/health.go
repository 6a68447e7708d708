// Package health records the state of each of the appliance's services, for
// /healthz, `thecure status`, the admin page and the support bot.
package health

import (
	"sync"
	"time"
)

// State is where a service is in its life.
type State string

// The states a service goes through. Degraded means it runs and serves but
// part of its job is not done (backups cannot prune or reach their S3 target,
// say): the box stays ready. Down means it runs but cannot do its job (for
// example ffmpeg is missing); Failed means it stopped with an error.
const (
	Up       State = "up"
	Degraded State = "degraded"
	Down     State = "down"
	Stopping State = "stopping"
	Stopped  State = "stopped"
	Failed   State = "failed"
)

// OK reports whether the state counts as healthy.
func (s State) OK() bool { return s == Up }

// Status is the whole box's health, from its services' states.
type Status string

// The box is OK when every service is up; Degraded when it serves but a
// service is degraded, or an optional one (it depends on the outside: the
// Telegram bot) is down or failed; Unhealthy when a service it needs to serve
// is down, failed or stopping.
const (
	StatusOK        Status = "ok"
	StatusDegraded  Status = "degraded"
	StatusUnhealthy Status = "unhealthy"
)

// Ready reports whether a box in this status should get traffic.
func (s Status) Ready() bool { return s != StatusUnhealthy }

// Service is one service's state.
type Service struct {
	Name   string    `json:"name"`
	State  State     `json:"state"`
	Since  time.Time `json:"since"`
	Detail string    `json:"detail,omitempty"` // listen address, reason for down or failed
}

// Registry holds the states of all services; safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	order    []string
	svcs     map[string]*Service
	optional map[string]bool
	now      func() time.Time
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{svcs: map[string]*Service{}, optional: map[string]bool{}, now: time.Now}
}

// Optional marks a service whose trouble only degrades the box: it depends on
// something outside it (the Telegram Bot API), and streaming goes on without it.
func (r *Registry) Optional(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.optional[name] = true
}

// Set records a service's state and a detail (listen address, or why it is
// down or failed). Setting the same state again only updates the detail.
func (r *Registry) Set(name string, st State, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.svcs[name]
	if !ok {
		s = &Service{Name: name}
		r.svcs[name] = s
		r.order = append(r.order, name)
	}
	if s.State != st {
		s.State, s.Since = st, r.now()
	}
	s.Detail = detail
}

// Snapshot returns every service's state in registration order.
func (r *Registry) Snapshot() []Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Service, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, *r.svcs[n])
	}
	return out
}

// Healthy reports whether every service is in a healthy state.
func (r *Registry) Healthy() bool {
	for _, s := range r.Snapshot() {
		if !s.State.OK() {
			return false
		}
	}
	return true
}

// Status sums the services' states up into the box's; see Status.
func (r *Registry) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := StatusOK
	for _, n := range r.order {
		switch s := r.svcs[n].State; {
		case s == Up:
		case s == Degraded, r.optional[n] && (s == Down || s == Failed):
			st = StatusDegraded
		default:
			return StatusUnhealthy
		}
	}
	return st
}
