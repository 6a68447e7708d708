package webui

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// UserInfo is one account as the management page lists it.
type UserInfo struct {
	Name   string
	Groups []string
	Quota  int64 // bytes; 0: the configured default
}

// Management is what the admin may change from the page: accounts and
// titles. Errors are shown to the admin as they are (they name no paths).
type Management interface {
	Users(ctx context.Context) ([]UserInfo, error)
	AddUser(ctx context.Context, name, password string, groups []string, quota int64) error
	SetGroups(ctx context.Context, name string, groups []string) error
	// ResetPassword sets a new random password and returns it (shown once).
	ResetPassword(ctx context.Context, name string) (string, error)
	SetQuota(ctx context.Context, name string, quota int64) error
	DeleteUser(ctx context.Context, name string) error
	// RetryTitle queues a failed title's source again; RemoveTitle forgets
	// the title (its job, catalogue entry and HLS).
	RetryTitle(ctx context.Context, source string) error
	RemoveTitle(ctx context.Context, source string) error
}

// AuditEntry is one admin action of the audit log.
type AuditEntry struct {
	When   time.Time
	Who    string
	Action string
	Target string
	Detail string
	Error  string
}

// Audit keeps the admin actions.
type Audit interface {
	Record(e AuditEntry) error
	Recent(n int) ([]AuditEntry, error)
}

// manageView is the management page.
type manageView struct {
	Users    []UserInfo
	Titles   []Title // failed first, then the rest
	Audit    []AuditEntry
	Notice   string // what the last action did
	Error    string // why it failed
	Password string // a password just set: shown this once
	For      string // whose password
	Avail    bool
}

// auditShown is how many entries the page lists.
const auditShown = 50

func (u *UI) manageData(r *http.Request, v *manageView) {
	ctx := r.Context()
	v.Avail = u.o.Manage != nil
	if u.o.Manage != nil {
		us, err := u.o.Manage.Users(ctx)
		if err != nil {
			u.log.Warn("admin: users", "err", err)
		}
		v.Users = us
	}
	if u.o.Catalogue != nil {
		ts, err := u.o.Catalogue.Titles(ctx)
		if err != nil {
			u.log.Warn("admin: catalogue", "err", err)
		}
		slices.SortStableFunc(ts, func(a, b Title) int {
			fa, fb := a.State == StateFailed, b.State == StateFailed
			switch {
			case fa && !fb:
				return -1
			case fb && !fa:
				return 1
			}
			return strings.Compare(a.Source, b.Source)
		})
		v.Titles = ts
	}
	if u.o.Audit != nil {
		es, err := u.o.Audit.Recent(auditShown)
		if err != nil {
			u.log.Warn("admin: audit log", "err", err)
		}
		v.Audit = es
	}
}

// managePage is GET /admin/manage.
func (u *UI) managePage(w http.ResponseWriter, r *http.Request) {
	var v manageView
	u.manageData(r, &v)
	u.render(w, r, http.StatusOK, "manage", u.tr.t("manage.title"), v)
}

// managePost is POST /admin/manage (admin and CSRF checked by RequireAdmin):
// one action, recorded in the audit log, then the page again with what
// happened.
func (u *UI) managePost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, u.tr.t("err.csrf"), http.StatusBadRequest)
		return
	}
	var v manageView
	code := http.StatusOK
	if u.o.Manage == nil {
		v.Error, code = u.tr.t("admin.na"), http.StatusNotFound
	} else {
		who := ""
		if s := u.auth.session(r); s != nil {
			who = s.user
		}
		e, pw, err := u.manageAction(r)
		e.Who, e.When = who, u.now().UTC()
		if err != nil {
			e.Error = err.Error()
			v.Error, code = u.tr.t("manage.failed", e.Action, e.Target, err.Error()), http.StatusBadRequest
		} else {
			v.Notice = u.tr.t("manage.done", e.Action, e.Target)
			v.Password, v.For = pw, e.Target
		}
		if e.Action != "" && u.o.Audit != nil {
			if aerr := u.o.Audit.Record(e); aerr != nil {
				u.log.Error("admin: cannot write the audit log", "err", aerr, "action", e.Action)
			}
		}
		u.log.Info("admin action", "who", who, "action", e.Action, "target", strconv.Quote(truncate(e.Target, 80)), "err", e.Error)
	}
	u.manageData(r, &v)
	u.render(w, r, code, "manage", u.tr.t("manage.title"), v)
}

var errBadAction = errors.New("unknown action")

// manageAction runs the form's action.
func (u *UI) manageAction(r *http.Request) (AuditEntry, string, error) {
	ctx := r.Context()
	m := u.o.Manage
	f := r.PostFormValue
	name := strings.TrimSpace(f("name"))
	e := AuditEntry{Action: f("action"), Target: name}
	switch e.Action {
	case "user.add":
		groups := splitGroups(f("groups"))
		quota, err := quotaMiB(f("quota"))
		if err != nil {
			return e, "", err
		}
		pw := f("password")
		generated := pw == ""
		if generated {
			if pw, err = u.randomPassword(); err != nil {
				return e, "", err
			}
		}
		e.Detail = "groups=" + strings.Join(groups, ",")
		if err := m.AddUser(ctx, name, pw, groups, quota); err != nil {
			return e, "", err
		}
		if generated {
			return e, pw, nil
		}
		return e, "", nil
	case "user.groups":
		groups := splitGroups(f("groups"))
		e.Detail = "groups=" + strings.Join(groups, ",")
		return e, "", m.SetGroups(ctx, name, groups)
	case "user.password":
		pw, err := m.ResetPassword(ctx, name)
		return e, pw, err
	case "user.quota":
		quota, err := quotaMiB(f("quota"))
		if err != nil {
			return e, "", err
		}
		e.Detail = "quota=" + strconv.FormatInt(quota, 10)
		return e, "", m.SetQuota(ctx, name, quota)
	case "user.delete":
		if s := u.auth.session(r); s != nil && s.user == name {
			return e, "", errors.New("an admin cannot delete their own account here")
		}
		return e, "", m.DeleteUser(ctx, name)
	case "title.retry":
		e.Target = f("source")
		return e, "", m.RetryTitle(ctx, e.Target)
	case "title.remove":
		e.Target = f("source")
		return e, "", m.RemoveTitle(ctx, e.Target)
	}
	e.Action = truncate(e.Action, 40)
	return e, "", errBadAction
}

// randomPassword is a new password for an account made without one (the
// management side makes them: ResetPassword's generator).
func (u *UI) randomPassword() (string, error) {
	if u.o.NewPassword == nil {
		return "", errors.New("a password is needed")
	}
	return u.o.NewPassword(), nil
}

func splitGroups(s string) []string {
	var out []string
	for _, g := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// quotaMiB reads the quota field: MiB, empty or 0 for the default.
func quotaMiB(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, errors.New("quota: a whole number of MiB (0 for the default)")
	}
	return n << 20, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
