package users

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"thecure/appliance/control"
)

// ControlRoutes serves `thecure user ...` on the control socket:
// GET /users, POST /users, PUT /users/{name}/password|groups|quota and
// DELETE /users/{name}.
func ControlRoutes(ctl *control.Server, us *Users) {
	ctl.Handle("GET /users", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		list, err := us.List()
		reply(w, list, err)
	}))
	ctl.Handle("POST /users", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in Request
		if decode(w, r, &in) {
			u, err := us.Add(in.Name, in.Password, in.Groups)
			reply(w, u, err)
		}
	}))
	ctl.Handle("PUT /users/{name}/password", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in Request
		if decode(w, r, &in) {
			reply(w, struct{}{}, us.SetPassword(r.PathValue("name"), in.Password))
		}
	}))
	ctl.Handle("PUT /users/{name}/groups", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in Request
		if decode(w, r, &in) {
			u, err := us.SetGroups(r.PathValue("name"), in.Groups)
			reply(w, u, err)
		}
	}))
	ctl.Handle("PUT /users/{name}/quota", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in Request
		if decode(w, r, &in) {
			u, err := us.SetQuota(r.PathValue("name"), in.Quota)
			reply(w, u, err)
		}
	}))
	ctl.Handle("DELETE /users/{name}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, us.Delete(r.PathValue("name")))
	}))
}

// Request is the body of the user routes.
type Request struct {
	Name     string   `json:"name,omitempty"`
	Password string   `json:"password,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Quota    int64    `json:"quota,omitempty"`
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := control.DecodeJSON(r, v); err != nil {
		control.Error(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		control.JSON(w, http.StatusOK, v)
	case errors.Is(err, ErrNotFound):
		control.Error(w, http.StatusNotFound, err)
	case errors.Is(err, ErrExists):
		control.Error(w, http.StatusConflict, err)
	case errors.Is(err, ErrInvalid):
		control.Error(w, http.StatusBadRequest, err)
	default:
		control.Error(w, http.StatusInternalServerError, err)
	}
}

// Client manages users through a running appliance's control socket. Its
// errors are control.ErrNotRunning when no appliance answers, else the
// appliance's message.
type Client struct{ c *control.Client }

// NewClient returns a client on c.
func NewClient(c *control.Client) *Client { return &Client{c: c} }

func userPath(name, what string) string {
	p := "/users/" + url.PathEscape(name)
	if what != "" {
		p += "/" + what
	}
	return p
}

// Add creates a user.
func (c *Client) Add(ctx context.Context, name, password string, groups []string) (User, error) {
	var u User
	err := c.c.Do(ctx, "POST", "/users", Request{Name: name, Password: password, Groups: groups}, &u)
	return u, err
}

// List lists the users.
func (c *Client) List(ctx context.Context) ([]User, error) {
	var l []User
	err := c.c.Do(ctx, "GET", "/users", nil, &l)
	return l, err
}

// SetPassword sets a user's password.
func (c *Client) SetPassword(ctx context.Context, name, password string) error {
	return c.c.Do(ctx, "PUT", userPath(name, "password"), Request{Password: password}, nil)
}

// SetGroups replaces a user's groups.
func (c *Client) SetGroups(ctx context.Context, name string, groups []string) (User, error) {
	var u User
	err := c.c.Do(ctx, "PUT", userPath(name, "groups"), Request{Groups: groups}, &u)
	return u, err
}

// SetQuota sets a user's own quota.
func (c *Client) SetQuota(ctx context.Context, name string, quota int64) (User, error) {
	var u User
	err := c.c.Do(ctx, "PUT", userPath(name, "quota"), Request{Quota: quota}, &u)
	return u, err
}

// Delete deletes a user.
func (c *Client) Delete(ctx context.Context, name string) error {
	return c.c.Do(ctx, "DELETE", userPath(name, ""), nil, nil)
}
