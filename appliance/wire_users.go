package appliance

import (
	"errors"
	"net/http"

	"thecure/appliance/control"
	"thecure/appliance/users"
)

// wireUsers opens the accounts, makes the first admin on a first start and
// serves the user management routes on the control socket (thecure user ...).
func (a *app) wireUsers() error {
	a.users = users.New(a.store)
	if _, err := a.users.EnsureAdmin(a.log.With("svc", "users")); err != nil {
		return err
	}
	us := a.users
	a.ctl.Handle("GET /users", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		list, err := us.List()
		reply(w, list, err)
	}))
	a.ctl.Handle("POST /users", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in userRequest
		if !decode(w, r, &in) {
			return
		}
		u, err := us.Add(in.Name, in.Password, in.Groups)
		reply(w, u, err)
	}))
	a.ctl.Handle("PUT /users/{name}/password", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in userRequest
		if !decode(w, r, &in) {
			return
		}
		reply(w, struct{}{}, us.SetPassword(r.PathValue("name"), in.Password))
	}))
	a.ctl.Handle("PUT /users/{name}/groups", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in userRequest
		if !decode(w, r, &in) {
			return
		}
		u, err := us.SetGroups(r.PathValue("name"), in.Groups)
		reply(w, u, err)
	}))
	a.ctl.Handle("PUT /users/{name}/quota", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in userRequest
		if !decode(w, r, &in) {
			return
		}
		u, err := us.SetQuota(r.PathValue("name"), in.Quota)
		reply(w, u, err)
	}))
	a.ctl.Handle("DELETE /users/{name}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, us.Delete(r.PathValue("name")))
	}))
	return nil
}

// userRequest is the body of the user routes.
type userRequest struct {
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
	case errors.Is(err, users.ErrNotFound):
		control.Error(w, http.StatusNotFound, err)
	case errors.Is(err, users.ErrExists):
		control.Error(w, http.StatusConflict, err)
	case errors.Is(err, users.ErrInvalid):
		control.Error(w, http.StatusBadRequest, err)
	default:
		control.Error(w, http.StatusInternalServerError, err)
	}
}
