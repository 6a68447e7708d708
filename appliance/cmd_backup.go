package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"thecure/appliance/backup"
	"thecure/appliance/cli"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/store"
)

// cmdBackup is `thecure backup run|list|verify ID|latest`.
func cmdBackup(ctx context.Context, e *env, cmd string, g *cli.Backup) error {
	var file string
	switch cmd {
	case "backup run":
		file = g.Run.Config
	case "backup list":
		file = g.List.Config
	case "backup verify":
		file = g.Verify.Config
	}
	l, err := loadConfig(file, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	switch cmd {
	case "backup run":
		return backupRun(ctx, e, l)
	case "backup list":
		repo, err := chooseRepo(l, g.List.S3)
		if err != nil {
			return err
		}
		list, err := repo.List(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintf(e.stdout, "no backups in %s\n", repo)
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIME\tSIZE\tFILES\tSTATE")
		for _, in := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", in.ID, in.Time.Local().Format(time.DateTime), config.HumanBytes(in.Size), in.Files, in.State)
		}
		return tw.Flush()
	case "backup verify":
		repo, err := chooseRepo(l, g.Verify.S3)
		if err != nil {
			return err
		}
		id, err := resolveBackup(ctx, repo, g.Verify.ID)
		if err != nil {
			return err
		}
		bar := newProgressBar(e.stderr)
		m, probs, err := repo.Verify(ctx, id, bar.report)
		bar.finish()
		if err != nil {
			return err
		}
		for _, p := range probs {
			fmt.Fprintf(e.stdout, "%s: %s\n", id, p)
		}
		if len(probs) > 0 {
			fmt.Fprintf(e.stderr, "thecure backup verify: backup %s has %d damaged file(s)\n", id, len(probs))
			return exitError{code: 1}
		}
		fmt.Fprintf(e.stdout, "backup %s is intact: %d files, %s, every checksum matches\n", id, len(m.Files), config.HumanBytes(m.Size))
		return nil
	}
	return fmt.Errorf("unknown backup command %q", cmd)
}

// resolveBackup is the id arg names in repo ("latest" or an id), or "no
// such backup" when the repository has none by that id.
func resolveBackup(ctx context.Context, repo *backup.Repo, arg string) (string, error) {
	id, err := repo.Resolve(ctx, arg)
	if err != nil || arg == "latest" {
		return id, err
	}
	list, err := repo.List(ctx)
	if err != nil {
		return "", err
	}
	for _, in := range list {
		if in.ID == id {
			return id, nil
		}
	}
	return "", fmt.Errorf("no such backup: %s (in %s; thecure backup list shows them)", arg, repo)
}

// chooseRepo is the local repository, or the S3 one with -s3.
func chooseRepo(l *loaded, wantS3 bool) (*backup.Repo, error) {
	repos, err := backup.Repos(l.cfg.Backup, l.dataDir)
	if err != nil {
		return nil, err
	}
	switch {
	case wantS3 && !l.cfg.Backup.S3.Enabled:
		return nil, errors.New("--s3: [backup.s3] is not enabled")
	case wantS3:
		return repos[len(repos)-1], nil
	}
	return repos[0], nil // the local folder, or S3 when there is none
}

// backupRun asks the running appliance for a backup (it holds the store and
// takes the hot snapshot), or backs up directly when none runs.
func backupRun(ctx context.Context, e *env, l *loaded) error {
	bar := newProgressBar(e.stderr)
	defer bar.finish()
	return viaControlOrStore(ctx, e, l,
		func(cl *control.Client) error { return backupRemote(ctx, e, backup.NewClient(cl), bar) },
		func(st *store.Store) error { return backupLocal(ctx, e, l, st, bar) })
}

// backupRemote has the running appliance back up and follows it.
func backupRemote(ctx context.Context, e *env, cl *backup.Client, bar *progressBar) error {
	ticket, err := cl.Request(ctx)
	if err != nil {
		return err
	}
	for {
		st, err := cl.Status(ctx)
		if err != nil {
			if errors.Is(err, control.ErrNotRunning) {
				// the backup was asked for: never start another one here
				return errors.New("thecure stopped before the backup finished")
			}
			return err
		}
		if st.Served >= ticket {
			bar.finish()
			if st.LastError != "" {
				return fmt.Errorf("backup failed: %s", st.LastError)
			}
			fmt.Fprintf(e.stdout, "backup %s done: %s in all, %s copied, took %.1fs\n",
				st.LastID, config.HumanBytes(st.LastSize), config.HumanBytes(st.LastCopied), st.LastTook)
			return nil
		}
		if st.Running {
			bar.report(st.Phase, st.Done, st.Total)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// backupLocal backs up with the store opened here (no appliance runs).
func backupLocal(ctx context.Context, e *env, l *loaded, st *store.Store, bar *progressBar) error {
	cfgFile, _ := filepath.Abs(l.file)
	if l.file == "" {
		cfgFile = ""
	}
	svc, err := backup.New(backupOptions(l.cfg, l.dataDir, cfgFile), st, newLogger(e.stderr, l.cfg.Log).With("svc", "backup"), backup.Deps{})
	if err != nil {
		return err
	}
	m, err := svc.Backup(ctx, bar.report)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup %s done: %d files, %s in all, %s copied, took %.1fs\n",
		m.ID, len(m.Files), config.HumanBytes(m.Size), config.HumanBytes(m.Copied), m.Duration.Seconds())
	return nil
}

// cmdRestore is `thecure restore ID|PATH|latest [-to DIR]`.
func cmdRestore(ctx context.Context, e *env, r *cli.Restore) error {
	l, err := loadConfig(r.Config, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	dataDir := l.dataDir
	repo, id, err := restoreSource(ctx, l, r.S3, r.Source)
	if err != nil {
		return err
	}
	m, err := repo.Manifest(ctx, id)
	if err != nil {
		return err
	}
	to := r.To
	target := dataDir
	if to != "" {
		if target, err = filepath.Abs(to); err != nil {
			return err
		}
	}
	inTarget := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(target, p)
	}
	o := backup.RestoreOptions{
		DataDir:  target,
		MediaDir: inTarget(l.cfg.Library.MediaDir),
		HLSDir:   inTarget(l.cfg.Library.HLSDir),
	}
	o.ConfigTo = r.ConfigTo
	for _, f := range m.Files {
		if f.Kind == backup.KindConfig && o.ConfigTo == "" {
			o.ConfigTo = f.Path
			if to != "" {
				o.ConfigTo = filepath.Join(target, "config.toml")
			}
		}
	}
	if to != "" {
		o.FileTo = func(orig string) string { return filepath.Join(target, "restored-files", orig) }
	}
	bar := newProgressBar(e.stderr)
	o.Progress = bar.report
	_, err = repo.Restore(ctx, id, o)
	bar.finish()
	if errors.Is(err, backup.ErrRunning) {
		return fmt.Errorf("thecure is running on data dir %s: stop it first (systemctl stop thecure)", target)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "restored backup %s (%s, %d files, %s) into %s\n", id, m.Time.Local().Format(time.DateTime), len(m.Files), config.HumanBytes(m.Size), target)
	if o.ConfigTo != "" {
		fmt.Fprintf(e.stdout, "config file: %s\n", o.ConfigTo)
	}
	return nil
}

// restoreSource finds the repository and backup an argument names: "latest"
// or an ID in the configured repository, or a path to a repository folder
// (its latest backup) or to one backup's folder in it (snapshots/ID).
func restoreSource(ctx context.Context, l *loaded, s3 bool, arg string) (*backup.Repo, string, error) {
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() && (strings.ContainsRune(arg, os.PathSeparator) || arg == ".") {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return nil, "", err
		}
		if _, err := os.Stat(filepath.Join(abs, "manifest.json")); err == nil {
			repo := backup.OpenDir(filepath.Dir(filepath.Dir(abs)))
			return repo, filepath.Base(abs), nil
		}
		repo := backup.OpenDir(abs)
		id, err := repo.Resolve(ctx, "latest")
		return repo, id, err
	}
	repo, err := chooseRepo(l, s3)
	if err != nil {
		return nil, "", err
	}
	id, err := resolveBackup(ctx, repo, arg)
	return repo, id, err
}

// progressBar draws one line on a terminal; on anything else it draws nothing.
type progressBar struct {
	w     io.Writer
	mu    sync.Mutex
	on    bool
	last  time.Time
	phase string
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	on := false
	if ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progressBar{w: w, on: on}
}

func (b *progressBar) report(phase string, done, total int64) {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if phase != b.phase && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
	if phase == b.phase && time.Since(b.last) < 100*time.Millisecond && done != total {
		return
	}
	b.phase, b.last = phase, time.Now()
	if total <= 0 { // size unknown beforehand (the store snapshot)
		fmt.Fprintf(b.w, "\r%-28.28s %s\033[K", phase, config.HumanBytes(done))
		b.drawn = true
		return
	}
	const width = 30
	fill := width
	pct := 100.0
	if total > 0 {
		fill = int(float64(width) * float64(done) / float64(total))
		pct = 100 * float64(done) / float64(total)
	}
	fill = min(max(fill, 0), width)
	fmt.Fprintf(b.w, "\r%-28.28s [%s%s] %5.1f%% %s/%s\033[K", phase, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), pct, config.HumanBytes(done), config.HumanBytes(total))
	b.drawn = true
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
