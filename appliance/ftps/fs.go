package ftps

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"thecure/appliance/config"
)

// clientFs is one logged-in user's view of the media root: the folders they
// may read at "/", each folder's tree below, with writes refused (550)
// outside the folders of their write groups. Every access goes through an
// os.Root on the media dir, so no path, ".." or symlink reaches outside it.
type clientFs struct {
	s  *Server
	ss *session
}

var (
	_ ftpserver.ClientDriver                      = (*clientFs)(nil)
	_ ftpserver.ClientDriverExtensionFileList     = (*clientFs)(nil)
	_ ftpserver.ClientDriverExtentionFileTransfer = (*clientFs)(nil)
	_ ftpserver.ClientDriverExtensionRemoveDir    = (*clientFs)(nil)
)

// resolve sanitises name and finds its folder.
func (c *clientFs) resolve(op, name string) (vpath, config.Folder, error) {
	p, err := sanitize(name)
	if err != nil {
		return p, config.Folder{}, perr(op, name, err)
	}
	if p.folder == "" {
		return p, config.Folder{}, nil
	}
	f, ok := c.s.folder(p.folder)
	if !ok || !c.canRead(f) {
		return p, f, perr(op, p.String(), fs.ErrNotExist)
	}
	return p, f, nil
}

func (c *clientFs) canRead(f config.Folder) bool {
	return len(f.ReadGroups) == 0 || inAny(c.ss.user, f.ReadGroups) || inAny(c.ss.user, f.WriteGroups)
}

func (c *clientFs) canWrite(f config.Folder) bool { return inAny(c.ss.user, f.WriteGroups) }

// writable resolves name for a change inside a folder (not the root, not a
// folder itself) by a member of the folder's write groups.
func (c *clientFs) writable(op, name string) (vpath, config.Folder, error) {
	p, f, err := c.resolve(op, name)
	if err != nil {
		return p, f, err
	}
	if p.folder == "" || p.rest == "" || !c.canWrite(f) {
		return p, f, perr(op, p.String(), fs.ErrPermission)
	}
	return p, f, nil
}

func (c *clientFs) Name() string { return "thecure" }

func (c *clientFs) xCreate(name string) (afero.File, error) {
	return c.xOpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
}

func (c *clientFs) xMkdir(name string, _ os.FileMode) error {
	p, _, err := c.writable("mkdir", name)
	if err != nil {
		return err
	}
	if err := p.creatable(); err != nil {
		return err
	}
	return c.s.root.Mkdir(p.rel(), 0o750)
}

func (c *clientFs) xMkdirAll(name string, _ os.FileMode) error {
	p, _, err := c.writable("mkdir", name)
	if err != nil {
		return err
	}
	if err := p.creatable(); err != nil {
		return err
	}
	return c.s.root.MkdirAll(p.rel(), 0o750)
}

func (c *clientFs) xOpen(name string) (afero.File, error) { return c.xOpenFile(name, os.O_RDONLY, 0) }

// OpenFile serves reads; writes go through the same atomic upload as STOR.
func (c *clientFs) xOpenFile(name string, flag int, _ os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 {
		return nil, perr("open", name, fs.ErrPermission)
	}
	p, _, err := c.resolve("open", name)
	if err != nil {
		return nil, err
	}
	if p.folder == "" {
		return nil, perr("open", "/", fs.ErrPermission)
	}
	return c.s.root.OpenFile(p.rel(), os.O_RDONLY, 0)
}

// GetHandle opens a download or an upload (ftpserverlib's STOR/APPE/RETR).
func (c *clientFs) xGetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	if flags&(os.O_WRONLY|os.O_RDWR) == 0 {
		p, _, err := c.resolve("open", name)
		if err != nil {
			return nil, err
		}
		if p.folder == "" || p.rest == "" {
			return nil, perr("open", p.String(), errors.New("is a directory"))
		}
		f, err := c.s.root.OpenFile(p.rel(), os.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			f.Close()
			return nil, perr("open", p.String(), errors.New("not a regular file"))
		}
		return c.s.newDownload(c.ss, f), nil
	}
	p, f, err := c.writable("store", name)
	if err != nil {
		return nil, err
	}
	return c.s.newUpload(c.ss, p, f, flags&os.O_APPEND != 0, offset)
}

func (c *clientFs) xRemove(name string) error { return c.remove(name, false) }

func (c *clientFs) xRemoveDir(name string) error { return c.remove(name, true) }

func (c *clientFs) remove(name string, dir bool) error {
	p, f, err := c.writable("remove", name)
	if err != nil {
		return err
	}
	rel := p.rel()
	st, err := c.s.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) && !dir {
		// Abandon an interrupted upload: its hidden part is all there is.
		if c.s.claim(rel) {
			defer c.s.release(rel)
			if _, err := c.s.root.Stat(partName(rel)); err == nil {
				c.s.removePart(partName(rel), "deleted by the client")
				return nil
			}
		}
		return perr("remove", p.String(), fs.ErrNotExist)
	}
	if err != nil {
		return err
	}
	if st.IsDir() != dir {
		if dir {
			return perr("rmdir", p.String(), errors.New("not a directory"))
		}
		return perr("delete", p.String(), errors.New("is a directory (use RMD)"))
	}
	if dir {
		// Uploads running into the directory end, and parts kept for a
		// resume go with it (RMD of a directory holding only them works).
		c.s.cancelUploadsUnder(rel)
		c.s.removeParts(rel)
	}
	if err := c.s.root.Remove(rel); err != nil {
		return err
	}
	if !dir {
		if err := c.s.usage.forget(rel); err != nil {
			c.s.log.Error("deleted, but its storage use is still counted", "path", quote(rel), "err", err)
		}
		if mediaKind(f.Kind) {
			c.s.announceRemove(rel)
		}
	}
	return nil
}

func (c *clientFs) xRemoveAll(name string) error { return perr("remove", name, fs.ErrPermission) }

// Rename moves a file or directory. Both ends need write rights. Ingest is
// told that the old path is gone and the new one is there (for every file
// in a moved directory).
func (c *clientFs) xRename(oldname, newname string) error {
	op, of, err := c.writable("rename", oldname)
	if err != nil {
		return err
	}
	np, nf, err := c.writable("rename", newname)
	if err != nil {
		return err
	}
	oldRel, newRel := op.rel(), np.rel()
	st, err := c.s.root.Lstat(oldRel)
	if err != nil {
		return err
	}
	if err := np.creatable(); err != nil {
		return err
	}
	if st.IsDir() {
		if err := c.s.treeFits(oldRel, newRel); err != nil {
			return err
		}
	}
	if !c.s.claim(newRel) {
		return perr("rename", np.String(), errBusy)
	}
	defer c.s.release(newRel)
	if st.IsDir() {
		// Uploads running into the directory end first, their parts removed.
		c.s.cancelUploadsUnder(oldRel)
	}
	if err := c.s.root.Rename(oldRel, newRel); err != nil {
		return err
	}
	var files, parts []string // relative to the moved entry
	if st.IsDir() {
		// A walk error only leaves an entry's storage record behind.
		_ = fs.WalkDir(c.s.root.FS(), newRel, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.Name()[0] == '.' {
				if strings.HasPrefix(d.Name(), partPrefix) && d.Type().IsRegular() {
					r, _ := relTo(newRel, p)
					parts = append(parts, r)
				}
				if d.IsDir() && p != newRel {
					return fs.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				r, _ := relTo(newRel, p)
				files = append(files, r)
			}
			return nil
		})
	} else if st.Mode().IsRegular() {
		files = []string{""}
	}
	for _, r := range parts {
		if err := c.s.usage.movePart(path.Join(oldRel, r), path.Join(newRel, r)); err != nil {
			c.s.log.Error("renamed, but an unfinished upload's storage record did not follow", "path", quote(path.Join(newRel, r)), "err", err)
		}
	}
	for _, r := range files {
		from, to := path.Join(oldRel, r), path.Join(newRel, r)
		if err := c.s.usage.move(from, to); err != nil {
			c.s.log.Error("renamed, but its storage record did not follow", "path", quote(to), "err", err)
		}
		if mediaKind(of.Kind) {
			c.s.announceRemove(from)
		}
		if mediaKind(nf.Kind) {
			if err := c.s.announceEnqueue(to); err != nil {
				return fmt.Errorf("renamed, but not queued for processing: %w", err)
			}
		}
	}
	return nil
}

func relTo(base, p string) (string, bool) {
	if p == base {
		return "", true
	}
	if len(p) > len(base) && p[:len(base)] == base && p[len(base)] == '/' {
		return p[len(base)+1:], true
	}
	return "", false
}

func (c *clientFs) xStat(name string) (os.FileInfo, error) {
	p, _, err := c.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	if p.folder == "" {
		return rootInfo{}, nil
	}
	st, err := c.s.root.Stat(p.rel())
	if errors.Is(err, fs.ErrNotExist) && p.rest != "" {
		// An interrupted upload answers SIZE with what it has, so that
		// clients resume it (REST + STOR, or APPE).
		if ps, perr := c.s.root.Stat(partName(p.rel())); perr == nil {
			return renamed{ps, path.Base(p.rest)}, nil
		}
	}
	return st, err
}

// ReadDir lists a directory; "/" lists the folders the user may read.
// Hidden entries (our temporary uploads) are not shown.
func (c *clientFs) xReadDir(name string) ([]os.FileInfo, error) {
	p, _, err := c.resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	if p.folder == "" {
		var out []os.FileInfo
		for _, n := range c.s.order {
			if f, _ := c.s.folder(n); !c.canRead(f) {
				continue
			}
			if st, err := c.s.root.Stat(n); err == nil {
				out = append(out, st)
			}
		}
		return out, nil
	}
	d, err := c.s.root.Open(p.rel())
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.Readdir(-1)
	if err != nil {
		return nil, err
	}
	entries = slices.DeleteFunc(entries, func(e os.FileInfo) bool { return e.Name()[0] == '.' })
	slices.SortFunc(entries, func(a, b os.FileInfo) int {
		switch {
		case a.Name() < b.Name():
			return -1
		case a.Name() > b.Name():
			return 1
		}
		return 0
	})
	return entries, nil
}

func (c *clientFs) xChmod(name string, _ os.FileMode) error {
	return perr("chmod", name, fs.ErrPermission)
}

func (c *clientFs) xChown(name string, _, _ int) error {
	return perr("chown", name, fs.ErrPermission)
}

// Chtimes serves MFMT (clients keep the source's modification time).
func (c *clientFs) xChtimes(name string, atime, mtime time.Time) error {
	p, _, err := c.writable("chtimes", name)
	if err != nil {
		return err
	}
	return c.s.root.Chtimes(p.rel(), atime, mtime)
}

// rootInfo describes the virtual root "/".
type rootInfo struct{}

func (rootInfo) Name() string       { return "/" }
func (rootInfo) Size() int64        { return 0 }
func (rootInfo) Mode() os.FileMode  { return os.ModeDir | 0o555 }
func (rootInfo) ModTime() time.Time { return time.Time{} }
func (rootInfo) IsDir() bool        { return true }
func (rootInfo) Sys() any           { return nil }

// renamed is a FileInfo under another name.
type renamed struct {
	os.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

var _ io.Closer = (*os.File)(nil)
