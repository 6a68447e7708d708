package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Files thecure writes into a data dir, a backup repository or a config
// path belong to whoever owns what they replace, or, when new, to the owner
// of the folder they go into (the service user), whoever runs the command:
// `sudo thecure restore` or `sudo thecure backup run` must not leave files
// the service can no longer open. Only root can give a file away, so for
// anyone else these are no-ops: their files are theirs and the folder's
// owner is usually themselves.

// Owner is a file's owner, group and permission bits.
type Owner struct {
	UID, GID int
	Mode     fs.FileMode
}

// ownerOf reads p's owner (following symlinks).
func ownerOf(p string) (Owner, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return Owner{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Owner{}, fmt.Errorf("%s: no owner information", p)
	}
	return Owner{UID: int(st.Uid), GID: int(st.Gid), Mode: fi.Mode().Perm()}, nil
}

// dirOwner is the owner of dir or, when it does not exist yet, of its
// nearest existing parent.
func dirOwner(dir string) (Owner, error) {
	for {
		o, err := ownerOf(dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return o, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return o, err
		}
		dir = parent
	}
}

// asRoot reports whether this process may give files away.
func asRoot() bool { return os.Geteuid() == 0 }

// ownLike gives p the owner of ref (an existing file p replaces, or the
// folder p is new in), when running as root. The mode is set by the caller.
func ownLike(p string, o Owner) error {
	if !asRoot() {
		return nil
	}
	if err := os.Lchown(p, o.UID, o.GID); err != nil {
		return fmt.Errorf("give %s to uid %d gid %d: %w", p, o.UID, o.GID, err)
	}
	return nil
}

// targetOwner is who dst must belong to and which permission bits it gets:
// those of the file it replaces, else the folder's owner and mode (the
// mode the backup recorded, when known).
func targetOwner(dst string, mode fs.FileMode) (Owner, error) {
	if o, err := ownerOf(dst); err == nil {
		return o, nil
	}
	o, err := dirOwner(filepath.Dir(dst))
	if err != nil {
		return o, err
	}
	o.Mode = mode
	return o, nil
}

// mkdirAllOwned makes dir and its missing parents (mode perm), each owned
// like its nearest existing parent (when running as root). It returns the
// topmost folder it made ("" when dir was there).
func mkdirAllOwned(dir string, perm fs.FileMode) (top string, err error) {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("%s: not a directory", dir)
		}
		return "", nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if top, err = mkdirAllOwned(parent, perm); err != nil {
			return top, err
		}
	}
	o, err := dirOwner(parent)
	if err != nil {
		return top, err
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return top, nil
		}
		return top, err
	}
	if top == "" {
		top = dir
	}
	return top, ownLike(dir, o)
}

// RootNote is what a command run as root on a folder owned by another user
// says before it writes there ("" when that is not the case).
func RootNote(dir string) string {
	if !asRoot() {
		return ""
	}
	o, err := dirOwner(dir)
	if err != nil || o.UID == 0 {
		return ""
	}
	return fmt.Sprintf("running as root on %s, owned by %s: files written there get that owner", dir, ownerName(o.UID))
}

// ownerName is a user's name and id ("thecure (uid 998)"), or the id alone.
func ownerName(uid int) string {
	if login := ownerLogin(uid); login != strconv.Itoa(uid) {
		return login + " (uid " + strconv.Itoa(uid) + ")"
	}
	return "uid " + strconv.Itoa(uid)
}

// ownerLogin is a user's login name, or its id when it has none.
func ownerLogin(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}
