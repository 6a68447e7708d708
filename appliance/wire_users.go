package appliance

import "thecure/appliance/users"

// wireUsers opens the accounts, makes the first admin on a first start and
// serves the user management routes on the control socket (thecure user ...).
func (a *app) wireUsers() error {
	a.users = users.New(a.store)
	if _, err := a.users.EnsureAdmin(a.log.With("svc", "users")); err != nil {
		return err
	}
	users.ControlRoutes(a.ctl, a.users)
	return nil
}
