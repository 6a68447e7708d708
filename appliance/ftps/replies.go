package ftps

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
)

// FTP replies carry what went wrong in the client's own terms: the path as
// the client named it and a fixed reason. Server paths (the media dir, the
// hidden part names) and system error texts never reach a reply: every error
// a client can see goes through reply.

// clientError is an error whose text a client may read.
type clientError struct {
	op, path string
	err      error
}

func (e *clientError) Error() string {
	if e.path == "" {
		return e.op + ": " + e.err.Error()
	}
	return e.op + " " + e.path + ": " + e.err.Error()
}

func (e *clientError) Unwrap() error { return e.err }

// perr is an error about the client's path p (a virtual path).
func perr(op, p string, err error) error { return &clientError{op: op, path: p, err: err} }

var (
	// errNoSpace answers 452 when the media file system is (nearly) full.
	errNoSpace = fmt.Errorf("not enough free space on the server; try again later: %w", ftpserver.ErrInsufficientStorage)
	// errAccounting answers 451-style refusals when storage use cannot be
	// read or written: quotas fail closed.
	errAccounting = errors.New("storage accounting unavailable; try again later")
	errNotEmpty   = errors.New("directory not empty")
	errServer     = errors.New("server error (logged)")
)

// clientSafe are errors whose text is ours and safe as is.
var clientSafe = []error{errBusy, errBadName, errTooDeep, errNoSpace, errAccounting, errBanned,
	errTooManyParts, errCancelled, ftpserver.ErrStorageExceeded, errNotEmpty}

// reply turns err from an operation on the client's path name into an
// error fit for an FTP reply; unexpected errors are logged in full.
func (s *Server) reply(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var ce *clientError
	if errors.As(err, &ce) {
		return err
	}
	for _, e := range clientSafe {
		if errors.Is(err, e) {
			if errors.Is(err, ftpserver.ErrStorageExceeded) && !errors.Is(err, errNoSpace) {
				return perr(op, name, err) // quota messages are ours
			}
			return perr(op, name, e)
		}
	}
	switch {
	case isNoSpace(err):
		return perr(op, name, errNoSpace)
	case errors.Is(err, fs.ErrNotExist):
		return perr(op, name, fs.ErrNotExist)
	case errors.Is(err, fs.ErrExist):
		return perr(op, name, fs.ErrExist)
	case errors.Is(err, fs.ErrPermission):
		return perr(op, name, fs.ErrPermission)
	case errors.Is(err, syscall.ENOTEMPTY):
		return perr(op, name, errNotEmpty)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return perr(op, name, errTooDeep)
	case errors.Is(err, syscall.ENOTDIR):
		return perr(op, name, errors.New("not a directory"))
	case errors.Is(err, syscall.EISDIR):
		return perr(op, name, errors.New("is a directory"))
	}
	s.log.Warn("FTP operation failed", "op", op, "path", quote(name), "err", err)
	return perr(op, name, errServer)
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, errNoSpace)
}

// The driver methods the FTP library calls: each answers through reply.

func (c *clientFs) Create(name string) (afero.File, error) {
	f, err := c.xCreate(name)
	return f, c.s.reply("create", name, err)
}

func (c *clientFs) Mkdir(name string, m os.FileMode) error {
	return c.s.reply("mkdir", name, c.xMkdir(name, m))
}

func (c *clientFs) MkdirAll(name string, m os.FileMode) error {
	return c.s.reply("mkdir", name, c.xMkdirAll(name, m))
}

func (c *clientFs) Open(name string) (afero.File, error) {
	f, err := c.xOpen(name)
	if err != nil {
		return nil, c.s.reply("open", name, err)
	}
	return f, nil
}

func (c *clientFs) OpenFile(name string, flag int, m os.FileMode) (afero.File, error) {
	f, err := c.xOpenFile(name, flag, m)
	if err != nil {
		return nil, c.s.reply("open", name, err)
	}
	return f, nil
}

func (c *clientFs) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	f, err := c.xGetHandle(name, flags, offset)
	if err != nil {
		return nil, c.s.reply("open", name, err)
	}
	return f, nil
}

func (c *clientFs) Remove(name string) error { return c.s.reply("delete", name, c.xRemove(name)) }

func (c *clientFs) RemoveDir(name string) error {
	return c.s.reply("rmdir", name, c.xRemoveDir(name))
}

func (c *clientFs) RemoveAll(name string) error {
	return c.s.reply("remove", name, c.xRemoveAll(name))
}

func (c *clientFs) Rename(oldname, newname string) error {
	return c.s.reply("rename", oldname, c.xRename(oldname, newname))
}

func (c *clientFs) Stat(name string) (os.FileInfo, error) {
	st, err := c.xStat(name)
	if err != nil {
		return nil, c.s.reply("stat", name, err)
	}
	return st, nil
}

func (c *clientFs) ReadDir(name string) ([]os.FileInfo, error) {
	l, err := c.xReadDir(name)
	return l, c.s.reply("list", name, err)
}

func (c *clientFs) Chmod(name string, m os.FileMode) error {
	return c.s.reply("chmod", name, c.xChmod(name, m))
}

func (c *clientFs) Chown(name string, uid, gid int) error {
	return c.s.reply("chown", name, c.xChown(name, uid, gid))
}

func (c *clientFs) Chtimes(name string, atime, mtime time.Time) error {
	return c.s.reply("mfmt", name, c.xChtimes(name, atime, mtime))
}
