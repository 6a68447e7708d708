package appliance

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/store"
	"thecure/appliance/users"
)

const userUsage = "usage: thecure user [-c FILE] COMMAND ...\n\n" + userCommands

// userCommands is the part of the help that lists the subcommands.
const userCommands = `commands:
  add NAME [-group G1,G2] [-password-stdin]   create a user
  list                                         list users and their groups
  passwd NAME [-password-stdin]                set a user's password
  groups NAME G1,G2                            replace a user's groups ("" for none)
  quota NAME SIZE                              a user's own storage quota ("50GiB"; 0: the [ftp] user_quota)
  del NAME                                     delete a user

The password is asked on the terminal (twice, not echoed); with
-password-stdin, or when stdin is not a terminal, one line is read from stdin;
it must have at least 8 characters.
While thecure runs, the change goes through its control socket; when it is
stopped, straight to the database.
`

// userOps is what `thecure user` does, on the running appliance (control
// socket) or on the store directly.
type userOps interface {
	add(name, password string, groups []string) (users.User, error)
	list() ([]users.User, error)
	passwd(name, password string) error
	groups(name string, groups []string) (users.User, error)
	quota(name string, quota int64) (users.User, error)
	del(name string) error
}

func cmdUser(ctx context.Context, e *env, fset *flag.FlagSet, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, userUsage)
		return exitError{2}
	}
	sub, rest := args[0], args[1:]
	sfs := flag.NewFlagSet("thecure user "+sub, flag.ContinueOnError)
	sfs.SetOutput(e.stderr)
	if slicesContainsHelp(rest) {
		sfs.SetOutput(e.stdout)
	}
	sfs.Usage = func() { fmt.Fprint(sfs.Output(), userUsage) }
	group := sfs.String("group", "", "comma-separated `GROUPS`")
	fromStdin := sfs.Bool("password-stdin", false, "read the password as one line from stdin")
	cfgFile := sfs.String("c", "", "config `FILE`")
	pos, err := parseInterleaved(sfs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if *cfgFile != "" {
		_ = fset.Set("c", *cfgFile)
	}
	want := map[string]int{"add": 1, "list": 0, "passwd": 1, "groups": 2, "quota": 2, "del": 1}
	n, ok := want[sub]
	if !ok || len(pos) != n {
		fmt.Fprint(e.stderr, userUsage)
		return exitError{2}
	}
	l, err := loadConfig(fset, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	var pw string
	if sub == "add" || sub == "passwd" {
		if pw, err = readPassword(e, *fromStdin); err != nil {
			return err
		}
	}
	run := func(ops userOps) error {
		switch sub {
		case "add":
			u, err := ops.add(pos[0], pw, splitGroups(*group))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added %s (groups: %s)\n", u.Name, strings.Join(u.Groups, ","))
		case "list":
			list, err := ops.list()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGROUPS\tQUOTA\tCREATED")
			for _, u := range list {
				q := "-"
				if u.Quota > 0 {
					q = config.ByteSize(u.Quota).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, strings.Join(u.Groups, ","), q, u.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		case "passwd":
			if err := ops.passwd(pos[0], pw); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "password of %s changed\n", pos[0])
		case "groups":
			u, err := ops.groups(pos[0], splitGroups(pos[1]))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s is in groups: %s\n", u.Name, strings.Join(u.Groups, ","))
		case "quota":
			q, err := config.ParseByteSize(pos[1])
			if err != nil {
				return err
			}
			if _, err := ops.quota(pos[0], int64(q)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "quota of %s: %s\n", pos[0], q)
		case "del":
			if err := ops.del(pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted %s\n", pos[0])
		}
		return nil
	}
	return viaControlOrStore(ctx, l.dataDir,
		func(c *control.Client) error { return run(remoteUsers{ctx: ctx, c: c}) },
		func(st *store.Store) error { return run(directUsers{users.New(st)}) })
}

// parseInterleaved parses flags found anywhere among args and returns the
// other arguments in order ("add NAME -group x" as well as "add -group x NAME").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
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
	if !fromStdin && isFile && isTerminal(f) {
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

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func promptNoEcho(e *env, f *os.File, prompt string) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old) //nolint:errcheck
	fmt.Fprint(e.stderr, prompt)
	line, err := bufio.NewReader(f).ReadString('\n')
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

type directUsers struct{ u *users.Users }

func (d directUsers) add(n, p string, g []string) (users.User, error) { return d.u.Add(n, p, g) }
func (d directUsers) list() ([]users.User, error)                     { return d.u.List() }
func (d directUsers) passwd(n, p string) error                        { return d.u.SetPassword(n, p) }
func (d directUsers) groups(n string, g []string) (users.User, error) { return d.u.SetGroups(n, g) }
func (d directUsers) quota(n string, q int64) (users.User, error)     { return d.u.SetQuota(n, q) }
func (d directUsers) del(n string) error                              { return d.u.Delete(n) }

type remoteUsers struct {
	ctx context.Context
	c   *control.Client
}

func (r remoteUsers) do(method, path string, in, out any) error {
	return r.c.Do(r.ctx, method, path, in, out)
}

func userPath(name, what string) string {
	p := "/users/" + url.PathEscape(name)
	if what != "" {
		p += "/" + what
	}
	return p
}

func (r remoteUsers) add(n, p string, g []string) (users.User, error) {
	var u users.User
	err := r.do("POST", "/users", userRequest{Name: n, Password: p, Groups: g}, &u)
	return u, err
}

func (r remoteUsers) list() ([]users.User, error) {
	var l []users.User
	err := r.do("GET", "/users", nil, &l)
	return l, err
}

func (r remoteUsers) passwd(n, p string) error {
	return r.do("PUT", userPath(n, "password"), userRequest{Password: p}, nil)
}

func (r remoteUsers) groups(n string, g []string) (users.User, error) {
	var u users.User
	err := r.do("PUT", userPath(n, "groups"), userRequest{Groups: g}, &u)
	return u, err
}

func (r remoteUsers) quota(n string, q int64) (users.User, error) {
	var u users.User
	err := r.do("PUT", userPath(n, "quota"), userRequest{Quota: q}, &u)
	return u, err
}

func (r remoteUsers) del(n string) error { return r.do("DELETE", userPath(n, ""), nil, nil) }
