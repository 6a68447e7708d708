package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/library"
	"thecure/appliance/store"
)

// ErrRunning means an appliance holds the store of the data dir to restore into.
var ErrRunning = errors.New("a thecure is running on this data dir (the store is locked); stop it first")

// RestoreOptions say where each part of a backup goes.
type RestoreOptions struct {
	DataDir  string // the store and the TLS certificates go here
	ConfigTo string // the config file goes here (an existing one is kept as FILE.before-restore); "" skips it
	MediaDir string // media files go here; "" skips them
	HLSDir   string // HLS files go here; "" skips them
	// FileTo maps an operator-given file's original path to where it is
	// restored; nil restores it where it was.
	FileTo   func(orig string) string
	Progress Progress
}

// RestoreReport is what a restore did besides writing files.
type RestoreReport struct {
	// Missing are the catalogue's titles whose source (or HLS output) is
	// neither in the backup nor on disk: they stay `missing` until their
	// files are copied back. Each is "source (title)".
	Missing []string
	// NoMedia: the backup holds no media at all (include_media = false).
	NoMedia bool
}

// String is what `thecure restore` prints about media: nothing when every
// title's files are there.
func (r RestoreReport) String() string {
	if len(r.Missing) == 0 {
		return ""
	}
	var b strings.Builder
	if r.NoMedia {
		b.WriteString("this backup holds no media (made with include_media = false).\n")
	}
	fmt.Fprintf(&b, "%d title(s) have files neither in the backup nor on disk; they stay `missing` (hidden from viewers, listed for admins) until the files are copied back into media_dir (or hls_dir), then return by themselves:\n", len(r.Missing))
	for _, m := range r.Missing {
		b.WriteString("  " + m + "\n")
	}
	return b.String()
}

// restoreStage is one folder files are restored into, with its staging
// folder (hidden, inside it: same file system, so files move in by rename).
type restoreStage struct {
	dir   string   // absolute
	root  *os.Root // on dir
	stage string   // staging folder, relative to dir
	owner Owner    // dir's owner: new files and folders get it
	files []*restoreItem
}

// restoreItem is one file of the backup on its way into place.
type restoreItem struct {
	f      File
	st     *restoreStage
	rel    string   // slash-separated, relative to st.dir
	placed bool     // moved into place
	hadOld bool     // an existing file was moved aside (into stage/old)
	made   []string // folders made to place it, outermost first
	config bool     // the config file: the one it replaces is kept as .before-restore
}

func (it *restoreItem) newName() string { return path.Join(it.st.stage, "new", it.rel) }
func (it *restoreItem) oldName() string { return path.Join(it.st.stage, "old", it.rel) }

// Restore writes backup id of r into the places o names. Everything is
// first written into a staging folder beside its target and every checksum
// checked (and the store opened); only then are the files moved into place,
// the store last, each keeping the owner and mode of the file it replaces
// (new ones get their folder's owner and the mode they had). A restore that
// fails at any point changes nothing and leaves nothing behind: the files it
// moved aside go back, its staging folders and the folders it made are
// removed. The appliance must be stopped: the store's lock is held for the
// whole restore and ErrRunning returned when another process holds it.
// Files present on disk but not in the backup are left alone.
func (r *Repo) Restore(ctx context.Context, id string, o RestoreOptions) (m *Manifest, err error) {
	m, _, err = r.RestoreWithReport(ctx, id, o)
	return m, err
}

// RestoreWithReport is Restore, also saying which titles will be missing.
func (r *Repo) RestoreWithReport(ctx context.Context, id string, o RestoreOptions) (m *Manifest, rep RestoreReport, err error) {
	m, err = r.Manifest(ctx, id)
	if err != nil {
		return nil, rep, err
	}
	// Folders this restore makes are removed again if it fails.
	var made []string
	var stages []*restoreStage
	defer func() {
		for _, st := range stages {
			if rerr := st.root.RemoveAll(st.stage); rerr != nil && err == nil {
				err = fmt.Errorf("remove the staging folder %s: %w", filepath.Join(st.dir, st.stage), rerr)
			}
			st.root.Close()
		}
		if err != nil {
			for _, d := range slices.Backward(made) {
				// Only what this restore made; it is empty again by now
				// unless something else wrote there meanwhile.
				if rerr := os.RemoveAll(d); rerr != nil {
					err = errors.Join(err, fmt.Errorf("remove %s: %w", d, rerr))
				}
			}
		}
	}()
	mkdir := func(dir string) error {
		top, err := mkdirAllOwned(dir, 0o750)
		if top != "" {
			made = append(made, top)
		}
		return err
	}
	if err := mkdir(o.DataDir); err != nil {
		return m, rep, fmt.Errorf("create data dir: %w", err)
	}
	dbPath := filepath.Join(o.DataDir, store.FileName)
	// bbolt holds an exclusive flock on its file while open read-write.
	// No file, no appliance: none is created here (an empty store would
	// make the next start create a new admin).
	if lock, err := os.OpenFile(dbPath, os.O_RDWR, 0); err == nil {
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return m, rep, ErrRunning
			}
			return m, rep, fmt.Errorf("lock %s: %w", dbPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return m, rep, fmt.Errorf("open %s: %w", dbPath, err)
	}

	byDir := map[string]*restoreStage{}
	stageOf := func(dir string) (*restoreStage, error) {
		if st := byDir[dir]; st != nil {
			return st, nil
		}
		if err := mkdir(dir); err != nil {
			return nil, err
		}
		owner, err := ownerOf(dir)
		if err != nil {
			return nil, err
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, err
		}
		st := &restoreStage{dir: dir, root: root, stage: ".thecure-restore-" + randomHex(4), owner: owner}
		if err := root.Mkdir(st.stage, 0o700); err != nil {
			root.Close()
			return nil, err
		}
		stages = append(stages, st)
		byDir[dir] = st
		return st, nil
	}
	var items []*restoreItem
	var storeItem *restoreItem
	held := heldMedia{sources: map[string]bool{}, hls: map[string]bool{}}
	for _, f := range m.Files {
		var dir, rel string
		isConfig := false
		switch f.Kind {
		case KindStore:
			dir, rel = o.DataDir, store.FileName
		case KindConfig:
			if o.ConfigTo != "" {
				dir, rel, isConfig = filepath.Dir(o.ConfigTo), filepath.Base(o.ConfigTo), true
			}
		case KindTLS:
			dir, rel = o.DataDir, f.Path
		case KindMedia:
			dir, rel = o.MediaDir, f.Path
			held.sources[f.Path] = true
		case KindHLS:
			dir, rel = o.HLSDir, f.Path
			held.hls[strings.SplitN(f.Path, "/", 2)[0]] = true
		case KindFile:
			dst := f.Path
			if o.FileTo != nil {
				dst = o.FileTo(f.Path)
			}
			dir, rel = filepath.Dir(dst), filepath.Base(dst)
		default:
			return m, rep, fmt.Errorf("%s %s: unknown kind", f.Kind, f.Path)
		}
		if dir == "" {
			continue
		}
		rel = filepath.ToSlash(rel)
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return m, rep, fmt.Errorf("%s %s: path leaves its folder", f.Kind, f.Path)
		}
		if len(f.SHA256) != 64 {
			return m, rep, fmt.Errorf("%s: invalid checksum in manifest", f.Path)
		}
		st, err := stageOf(dir)
		if err != nil {
			return m, rep, fmt.Errorf("restore into %s: %w", dir, err)
		}
		it := &restoreItem{f: f, st: st, rel: rel, config: isConfig}
		st.files = append(st.files, it)
		if f.Kind == KindStore {
			storeItem = it
			continue
		}
		items = append(items, it)
	}
	if storeItem == nil {
		return m, rep, fmt.Errorf("backup %s holds no store", id)
	}
	items = append(items, storeItem) // the store goes in last

	// 1. Everything into staging, every checksum checked.
	var total, done int64
	for _, it := range items {
		total += it.f.Size
	}
	step := func(k int64) { done += k; o.Progress.report("restore", done, total) }
	for _, it := range items {
		if err := r.stageFile(ctx, it, step); err != nil {
			return m, rep, err
		}
	}
	tmpStore := filepath.Join(storeItem.st.dir, filepath.FromSlash(storeItem.newName()))
	db, err := bolt.Open(tmpStore, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return m, rep, fmt.Errorf("restored store does not open: %w", err)
	}
	rep.Missing = missingTitles(db, o, held)
	rep.NoMedia = len(held.sources)+len(held.hls) == 0
	if err := db.Close(); err != nil {
		return m, rep, fmt.Errorf("restored store: %w", err)
	}

	// 2. Into place, the store last; on any failure, everything back.
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return m, rep, rollback(items, err)
		}
		if err := place(it); err != nil {
			return m, rep, rollback(items, fmt.Errorf("restore %s: %w", filepath.Join(it.st.dir, it.rel), err))
		}
	}
	// Committed: the config replaced is kept beside it.
	for _, it := range items {
		if it.config && it.hadOld {
			keep := it.rel + ".before-restore"
			if err := it.st.root.Rename(it.oldName(), keep); err != nil {
				return m, rep, fmt.Errorf("keep the replaced config as %s: %w", keep, err)
			}
		}
	}
	for _, st := range stages {
		if err := syncDir(st.dir); err != nil {
			return m, rep, err
		}
	}
	return m, rep, nil
}

// stageFile writes it's content into its staging folder and checks it.
func (r *Repo) stageFile(ctx context.Context, it *restoreItem, step func(int64)) error {
	st, f := it.st, it.f
	name := it.newName()
	shown := filepath.Join(st.dir, filepath.FromSlash(it.rel))
	if err := st.root.MkdirAll(path.Dir(name), 0o700); err != nil {
		return fmt.Errorf("restore %s: %w", shown, err)
	}
	rc, err := r.open(ctx, f)
	if err != nil {
		return fmt.Errorf("restore %s: %w", shown, err)
	}
	defer rc.Close()
	out, err := st.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", shown, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), ctxReader{ctx, &progressReader{r: rc, fn: step}})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errCorrupted) {
		return fmt.Errorf("restore %s: the backup's copy is corrupted: %w", shown, err)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", shown, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if len(f.Chunks) > 0 {
		sum = treeHash(f.Chunks) // each chunk was checked while read
	}
	if n != f.Size || sum != f.SHA256 {
		return fmt.Errorf("restore %s: the backup's copy is corrupted (checksum mismatch)", shown)
	}
	// The owner and mode of the file it will replace, else its folder's
	// owner and the mode it had.
	own := st.owner
	own.Mode = fs.FileMode(f.Mode).Perm()
	if own.Mode == 0 {
		own.Mode = 0o640
	}
	if fi, err := st.root.Stat(it.rel); err == nil {
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			own = Owner{UID: int(sys.Uid), GID: int(sys.Gid), Mode: fi.Mode().Perm()}
		}
	}
	if err := st.root.Chmod(name, own.Mode); err != nil {
		return fmt.Errorf("restore %s: %w", shown, err)
	}
	if asRoot() {
		if err := st.root.Lchown(name, own.UID, own.GID); err != nil {
			return fmt.Errorf("restore %s: %w", shown, err)
		}
	}
	if !f.MTime.IsZero() && f.Kind != KindStore {
		if err := st.root.Chtimes(name, f.MTime, f.MTime); err != nil {
			return fmt.Errorf("restore %s: %w", shown, err)
		}
	}
	return nil
}

// place moves one staged file into place, the file it replaces aside.
func place(it *restoreItem) error {
	root := it.st.root
	made, err := mkdirOwnedIn(root, path.Dir(it.rel), it.st.owner)
	it.made = made
	if err != nil {
		return err
	}
	if fi, err := root.Lstat(it.rel); err == nil {
		if fi.IsDir() {
			return errors.New("a folder is in the way")
		}
		if err := root.MkdirAll(path.Dir(it.oldName()), 0o700); err != nil {
			return err
		}
		if err := root.Rename(it.rel, it.oldName()); err != nil {
			return err
		}
		it.hadOld = true
	}
	if err := root.Rename(it.newName(), it.rel); err != nil {
		return err
	}
	it.placed = true
	return nil
}

// rollback puts back what place moved, newest first.
func rollback(items []*restoreItem, cause error) error {
	errs := []error{cause}
	for _, it := range slices.Backward(items) {
		root := it.st.root
		if it.placed {
			if err := root.Remove(it.rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("undo %s: %w", it.rel, err))
			}
		}
		if it.hadOld {
			if err := root.Rename(it.oldName(), it.rel); err != nil {
				errs = append(errs, fmt.Errorf("put back %s: %w", it.rel, err))
			}
		}
		for _, d := range slices.Backward(it.made) {
			if err := root.Remove(d); err != nil {
				errs = append(errs, fmt.Errorf("undo folder %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// mkdirOwnedIn makes dir (relative to root) and its missing parents, each
// given owner (when running as root), and returns the ones it made.
func mkdirOwnedIn(root *os.Root, dir string, owner Owner) (made []string, err error) {
	if dir == "." || dir == "" {
		return nil, nil
	}
	cur := ""
	for part := range strings.SplitSeq(dir, "/") {
		cur = path.Join(cur, part)
		err := root.Mkdir(cur, 0o750)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return made, err
		}
		made = append(made, cur)
		if asRoot() {
			if err := root.Lchown(cur, owner.UID, owner.GID); err != nil {
				return made, err
			}
		}
	}
	return made, nil
}

// heldMedia is what of the library a backup holds: sources by path, HLS
// outputs by title id.
type heldMedia struct{ sources, hls map[string]bool }

// missingTitles are the titles of the restored catalogue (db) whose source
// is neither in the backup nor on disk, or whose HLS output is in neither.
func missingTitles(db *bolt.DB, o RestoreOptions, held heldMedia) []string {
	items, err := library.New(db, o.HLSDir).List()
	if err != nil {
		return []string{"(the catalogue cannot be read: " + err.Error() + ")"}
	}
	var out []string
	for _, it := range items {
		if it.State != library.StateReady && it.State != library.StateMissing {
			continue
		}
		var what []string
		if !held.sources[it.Source] && !exists(o.MediaDir, it.Source) {
			what = append(what, "source")
		}
		if !held.hls[it.ID] && !exists(o.HLSDir, it.ID) {
			what = append(what, "HLS")
		}
		if len(what) > 0 {
			out = append(out, fmt.Sprintf("%s (%s: no %s)", it.Source, it.Title, strings.Join(what, ", no ")))
		}
	}
	return out
}

func exists(dir, rel string) bool {
	if dir == "" {
		return false
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	_, err = root.Stat(rel)
	return err == nil
}
