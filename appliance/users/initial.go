package users

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// InitialPasswordFile is the file in the data dir that holds the first
// admin's random password until it is changed (thecure user passwd admin):
// mode 0600, owned by the data dir's owner (the service user).
const InitialPasswordFile = "initial-admin-password"

// initialPasswordPath is the file beside the store's database.
func (u *Users) initialPasswordPath() string {
	return filepath.Join(filepath.Dir(u.st.Path()), InitialPasswordFile)
}

// writeInitialPassword writes pw to the data dir's initial password file,
// 0600, replacing it atomically; as root it gives it to the data dir's owner.
func writeInitialPassword(path, pw string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+InitialPasswordFile+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename it is gone: the error cannot matter
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if os.Geteuid() == 0 {
		if st, err := os.Stat(dir); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				if err := f.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
					f.Close()
					return err
				}
			}
		}
	}
	if _, err := f.WriteString(pw + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removeInitialPassword deletes the initial password file, if any.
func (u *Users) removeInitialPassword() error {
	err := os.Remove(u.initialPasswordPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the initial admin password file: %w", err)
	}
	return nil
}

// InitialPassword reads the first admin's password from dataDir while its
// file exists (until the first `thecure user passwd admin`); ok is false
// when there is none.
func InitialPassword(dataDir string) (pw, path string, ok bool, err error) {
	path = filepath.Join(dataDir, InitialPasswordFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", path, false, nil
	}
	if err != nil {
		return "", path, false, err
	}
	return strings.TrimSpace(string(b)), path, true, nil
}
