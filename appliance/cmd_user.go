package appliance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"thecure/appliance/cli"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/store"
	"thecure/appliance/users"
)

// userOps is what `thecure user` does, on the running appliance (control
// socket) or on the store directly.
type userOps interface {
	Add(ctx context.Context, name, password string, groups []string) (users.User, error)
	List(ctx context.Context) ([]users.User, error)
	SetPassword(ctx context.Context, name, password string) error
	SetGroups(ctx context.Context, name string, groups []string) (users.User, error)
	SetQuota(ctx context.Context, name string, quota int64) (users.User, error)
	Delete(ctx context.Context, name string) error
}

var _ userOps = (*users.Client)(nil)

// cmdUser is `thecure user add|list|passwd|groups|quota|del`. Arguments
// were checked by the parser; the config is read before any password prompt.
func cmdUser(ctx context.Context, e *env, cmd string, g *cli.User) error {
	var file string
	switch cmd {
	case "user add":
		file = g.Add.Config
	case "user list":
		file = g.List.Config
	case "user passwd":
		file = g.Passwd.Config
	case "user groups":
		file = g.Groups.Config
	case "user quota":
		file = g.Quota.Config
	case "user del":
		file = g.Del.Config
	}
	l, err := loadConfig(file, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	var pw string
	switch cmd {
	case "user add":
		warnUnusedGroups(e, l.cfg, splitGroups(strings.Join(g.Add.Group, ",")))
		if pw, err = readPassword(e, g.Add.PasswordStdin); err != nil {
			return err
		}
	case "user passwd":
		if pw, err = readPassword(e, g.Passwd.PasswordStdin); err != nil {
			return err
		}
	case "user groups":
		warnUnusedGroups(e, l.cfg, splitGroups(g.Groups.Groups))
	}
	run := func(ops userOps) error {
		switch cmd {
		case "user add":
			u, err := ops.Add(ctx, g.Add.Name, pw, splitGroups(strings.Join(g.Add.Group, ",")))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added %s (groups: %s)\n", u.Name, strings.Join(u.Groups, ","))
		case "user list":
			list, err := ops.List(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGROUPS\tQUOTA\tCREATED")
			for _, u := range list {
				q := "-"
				if u.Quota > 0 {
					q = config.HumanBytes(u.Quota)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, strings.Join(u.Groups, ","), q, u.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		case "user passwd":
			if err := ops.SetPassword(ctx, g.Passwd.Name, pw); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "password of %s changed\n", g.Passwd.Name)
		case "user groups":
			u, err := ops.SetGroups(ctx, g.Groups.Name, splitGroups(g.Groups.Groups))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s is in groups: %s\n", u.Name, strings.Join(u.Groups, ","))
		case "user quota":
			q, err := config.ParseByteSize(g.Quota.Size)
			if err != nil {
				return err
			}
			if _, err := ops.SetQuota(ctx, g.Quota.Name, int64(q)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "quota of %s: %s\n", g.Quota.Name, q)
		case "user del":
			if err := ops.Delete(ctx, g.Del.Name); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted %s\n", g.Del.Name)
		}
		return nil
	}
	return viaControlOrStore(ctx, e, l,
		func(c *control.Client) error { return run(users.NewClient(c)) },
		func(st *store.Store) error { return run(directUsers{users.New(st)}) })
}

// warnUnusedGroups warns about groups that no folder and no role uses: a
// typo ("innovatch") would otherwise go unnoticed until the upload fails.
func warnUnusedGroups(e *env, cfg *config.Config, groups []string) {
	known := []string{users.GroupAdmin}
	for _, f := range cfg.FTP.Folders {
		known = append(known, f.WriteGroups...)
		known = append(known, f.ReadGroups...)
	}
	var unused []string
	for _, g := range groups {
		if !slices.Contains(known, g) && !slices.Contains(unused, g) {
			unused = append(unused, g)
		}
	}
	if len(unused) > 0 {
		slices.Sort(known)
		fmt.Fprintf(e.stderr, "thecure: warning: no folder or role uses group(s) %s (used: %s)\n",
			strings.Join(unused, ", "), strings.Join(slices.Compact(known), ", "))
	}
}

func splitGroups(s string) []string {
	var out []string
	for g := range strings.SplitSeq(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// readPassword asks twice on a terminal with echo off, else reads one line.
func readPassword(e *env, fromStdin bool) (string, error) {
	f, isFile := e.stdin.(*os.File)
	if !fromStdin && isFile && term.IsTerminal(int(f.Fd())) {
		first, err := promptNoEcho(e, f, "Password: ")
		if err != nil {
			return "", err
		}
		again, err := promptNoEcho(e, f, "Again: ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", errors.New("the passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func promptNoEcho(e *env, f *os.File, prompt string) (string, error) {
	fmt.Fprint(e.stderr, prompt)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(pw), nil
}

// directUsers is userOps on the store opened here.
type directUsers struct{ u *users.Users }

func (d directUsers) Add(_ context.Context, n, p string, g []string) (users.User, error) {
	return d.u.Add(n, p, g)
}
func (d directUsers) List(context.Context) ([]users.User, error) { return d.u.List() }
func (d directUsers) SetPassword(_ context.Context, n, p string) error {
	return d.u.SetPassword(n, p)
}
func (d directUsers) SetGroups(_ context.Context, n string, g []string) (users.User, error) {
	return d.u.SetGroups(n, g)
}
func (d directUsers) SetQuota(_ context.Context, n string, q int64) (users.User, error) {
	return d.u.SetQuota(n, q)
}
func (d directUsers) Delete(_ context.Context, n string) error { return d.u.Delete(n) }
