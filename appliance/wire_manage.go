package appliance

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"

	"thecure/appliance/audit"
	"thecure/appliance/transcode"
	"thecure/appliance/users"
	"thecure/appliance/webui"
)

// webuiManage lets an admin change accounts and titles from the page.
type webuiManage struct {
	u          *users.Users
	q          *transcode.Queue // nil: no title actions
	mediaDir   string           // absolute
	quarantine string           // relative to mediaDir
}

var errNoQueue = errors.New("the transcode queue is not running")

func (m webuiManage) Users(context.Context) ([]webui.UserInfo, error) {
	list, err := m.u.List()
	out := make([]webui.UserInfo, 0, len(list))
	for _, u := range list {
		out = append(out, webui.UserInfo{Name: u.Name, Groups: u.Groups, Quota: u.Quota})
	}
	return out, err
}

func (m webuiManage) AddUser(_ context.Context, name, password string, groups []string, quota int64) error {
	if _, err := m.u.Add(name, password, groups); err != nil {
		return err
	}
	if quota > 0 {
		_, err := m.u.SetQuota(name, quota)
		return err
	}
	return nil
}

func (m webuiManage) SetGroups(_ context.Context, name string, groups []string) error {
	_, err := m.u.SetGroups(name, groups)
	return err
}

func (m webuiManage) ResetPassword(_ context.Context, name string) (string, error) {
	pw := users.RandomPassword()
	return pw, m.u.SetPassword(name, pw)
}

func (m webuiManage) SetQuota(_ context.Context, name string, quota int64) error {
	_, err := m.u.SetQuota(name, quota)
	return err
}

func (m webuiManage) DeleteUser(_ context.Context, name string) error { return m.u.Delete(name) }

func (m webuiManage) RetryTitle(ctx context.Context, source string) error {
	if m.q == nil {
		return errNoQueue
	}
	if err := m.unquarantine(source); err != nil {
		return err
	}
	return m.q.Enqueue(ctx, source)
}

// unquarantine moves a failed source back from the quarantine folder to its
// place, when it is there and its place is free (inside the media dir only:
// an os.Root keeps a crafted source from reaching out of it).
func (m webuiManage) unquarantine(source string) error {
	root, err := os.OpenRoot(m.mediaDir)
	if err != nil {
		return err
	}
	defer root.Close()
	if _, err := root.Lstat(source); !errors.Is(err, fs.ErrNotExist) {
		return err // there (nil) or unreadable
	}
	q := path.Join(m.quarantine, source)
	if _, err := root.Lstat(q); err != nil {
		return err // neither in place nor in quarantine: nothing to retry
	}
	return root.Rename(q, source)
}

func (m webuiManage) RemoveTitle(ctx context.Context, source string) error {
	if m.q == nil {
		return errNoQueue
	}
	return m.q.Remove(ctx, source)
}

// webuiAudit keeps the page's admin actions in the store's audit log.
type webuiAudit struct{ l *audit.Log }

func (a webuiAudit) Record(e webui.AuditEntry) error {
	return a.l.Record(audit.Entry{When: e.When, Who: e.Who, Action: e.Action, Target: e.Target, Detail: e.Detail, Error: e.Error})
}

func (a webuiAudit) Recent(n int) ([]webui.AuditEntry, error) {
	es, err := a.l.Recent(n)
	out := make([]webui.AuditEntry, 0, len(es))
	for _, e := range es {
		out = append(out, webui.AuditEntry{When: e.When, Who: e.Who, Action: e.Action, Target: e.Target, Detail: e.Detail, Error: e.Error})
	}
	return out, err
}
