package appliance

import (
	"fmt"
	"io"
	"os"

	"thecure/appliance/users"
)

// printInitialPassword shows root the first admin's password while its file
// exists in the data dir (until the first `thecure user passwd admin`).
func printInitialPassword(w io.Writer, dataDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	pw, file, ok, err := users.InitialPassword(dataDir)
	if err != nil || !ok {
		return err
	}
	_, err = fmt.Fprintf(w, "\nfirst admin password: %s\n(from %s; change it with `thecure user passwd admin`, which removes the file)\n", pw, file)
	return err
}
