package appliance

import (
	"context"
	"errors"
	"fmt"

	"thecure/appliance/control"
	"thecure/appliance/store"
)

// viaControlOrStore is how a management command reaches the data: remote
// through the running appliance's control socket, or, when no appliance
// answers there, local on the store opened directly (openStoreCLI). remote
// must return control.ErrNotRunning only when it has changed nothing.
func viaControlOrStore(ctx context.Context, e *env, l *loaded, remote func(*control.Client) error, local func(*store.Store) error) error {
	err := remote(control.NewClient(control.SocketPath(l.dataDir)))
	if !errors.Is(err, control.ErrNotRunning) {
		return err
	}
	st, err := openStoreCLI(e, l)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("the store in %s is locked but no appliance answers on its control socket; try again", l.dataDir)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	return local(st)
}
