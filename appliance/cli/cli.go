// Package cli is thecure's command line: the grammar of every command and
// subcommand on one parser (github.com/alecthomas/kong), their help, and the
// checks of their arguments. It decides what was asked and whether that is
// well formed; package appliance does it.
//
// Flags may come before the command (only -c/--config), after it, or after
// the positional arguments. Go-style single-dash long flags (-group,
// -password-stdin, -s3) are accepted as well as --group. -c/--config is
// offered only by the commands that read a configuration. Usage errors exit
// with status 2, help with 0.
package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// Name is the program's name in help and errors.
const Name = "thecure"

// Description heads the top-level help.
const Description = `A streaming appliance: FTPS ingest, VOD/AOD, live RTMP/HLS, web, support bot, backups.

Flags go anywhere after the command, as --flag or -flag. Every command that reads the configuration takes -c FILE (default ./config.toml, then /etc/thecure/config.toml, else the built-in defaults).`

// ConfigFlag is -c/--config, embedded by every command that reads a
// configuration (and by no other).
type ConfigFlag struct {
	Config string `short:"c" name:"config" placeholder:"FILE" help:"Config file (default ./config.toml, then /etc/thecure/config.toml, else built-in defaults)."`
}

// Grammar is every command thecure takes. After Parse, the fields of the
// selected command hold its arguments.
type Grammar struct {
	Run         Run         `cmd:"" help:"Start the appliance."`
	CheckConfig CheckConfig `cmd:"" name:"check-config" help:"Check the configuration and print every problem."`
	Status      Status      `cmd:"" help:"Show the box's status (ok, degraded, unhealthy) and each service's state."`
	User        User        `cmd:"" help:"Manage the users who log in to FTPS and the web admin."`
	Bot         Bot         `cmd:"" help:"Manage the support bot's users, read its log, open tickets and statistics."`
	Backup      Backup      `cmd:"" help:"Make a backup now, list backups, or check one's every checksum."`
	Restore     Restore     `cmd:"" help:"Restore a backup (store, config, certificates, media)."`
	Library     Library     `cmd:"" help:"List titles (what a missing or failed one lacks) or remove one."`
	DNS         DNS         `cmd:"" name:"dns" help:"Print the DNS service's DNSSEC data for the parent zone."`
	Version     Version     `cmd:"" help:"Print version, commit and Go version."`
	Help        HelpCmd     `cmd:"" help:"Show help for thecure or for one command."`
}

// Run is `thecure run`.
type Run struct {
	ConfigFlag
}

// Help is shown after the summary in `thecure help run`.
func (Run) Help() string {
	return `Runs every configured service until SIGINT or SIGTERM.

Examples:
  thecure run
  thecure run -c /etc/thecure/config.toml`
}

// CheckConfig is `thecure check-config [FILE]`.
type CheckConfig struct {
	ConfigFlag
	File string `arg:"" optional:"" placeholder:"FILE" help:"The config file to check (same as -c FILE)."`
}

func (CheckConfig) Help() string {
	return `Prints "ok: FILE" or every problem as FILE:LINE: key.path: message (exit 1).

Examples:
  thecure check-config /etc/thecure/config.toml
  thecure check-config -c config.toml`
}

// Status is `thecure status`.
type Status struct {
	ConfigFlag
}

func (Status) Help() string {
	return `Asks the running appliance through its control socket (data_dir/control.sock).

Example:
  thecure status -c /etc/thecure/config.toml`
}

// User is `thecure user ...`.
type User struct {
	Add    UserAdd    `cmd:"" help:"Create a user; the password is asked on the terminal."`
	List   UserList   `cmd:"" help:"List users, their groups and quotas."`
	Passwd UserPasswd `cmd:"" help:"Set a user's password."`
	Groups UserGroups `cmd:"" help:"Replace a user's groups."`
	Quota  UserQuota  `cmd:"" help:"Set a user's own storage quota."`
	Del    UserDel    `cmd:"" help:"Delete a user."`
}

func (User) Help() string {
	return `While thecure runs, changes go through its control socket; when it is
stopped, straight to the database.

Examples:
  thecure user add maria -group innovatech
  echo "$PW" | thecure user add pepe -group innovatech -password-stdin
  thecure user list -c /etc/thecure/config.toml`
}

// PasswordFlag is -password-stdin.
type PasswordFlag struct {
	PasswordStdin bool `name:"password-stdin" help:"Read the password as one line from stdin (also when stdin is not a terminal)."`
}

// UserAdd is `thecure user add NAME [-group G1,G2] [-password-stdin]`.
type UserAdd struct {
	ConfigFlag
	PasswordFlag
	Name  string   `arg:"" help:"The user's name: letters (any script), digits, '.', '_', '-'."`
	Group []string `name:"group" placeholder:"G1,G2" help:"Comma-separated groups."`
}

func (UserAdd) Help() string {
	return `The password must have at least 8 characters. A group that no folder or
role uses is accepted with a warning.

Examples:
  thecure user add maria -group innovatech
  echo "$PW" | thecure user add pepe -group innovatech,admin -password-stdin`
}

// UserList is `thecure user list`.
type UserList struct {
	ConfigFlag
}

func (UserList) Help() string {
	return `Example:
  thecure user list -c /etc/thecure/config.toml`
}

// UserPasswd is `thecure user passwd NAME [-password-stdin]`.
type UserPasswd struct {
	ConfigFlag
	PasswordFlag
	Name string `arg:"" help:"The user."`
}

func (UserPasswd) Help() string {
	return `Example:
  thecure user passwd maria`
}

// UserGroups is `thecure user groups NAME G1,G2`.
type UserGroups struct {
	ConfigFlag
	Name   string `arg:"" help:"The user."`
	Groups string `arg:"" placeholder:"G1,G2" help:"Comma-separated groups (\"\" for none)."`
}

func (UserGroups) Help() string {
	return `Example:
  thecure user groups maria innovatech,admin`
}

// UserQuota is `thecure user quota NAME SIZE`.
type UserQuota struct {
	ConfigFlag
	Name string `arg:"" help:"The user."`
	Size string `arg:"" help:"A size such as 500GiB; 0: the [ftp] user_quota."`
}

func (UserQuota) Help() string {
	return `Example:
  thecure user quota maria 500GiB`
}

// UserDel is `thecure user del NAME`.
type UserDel struct {
	ConfigFlag
	Name string `arg:"" help:"The user."`
}

func (UserDel) Help() string {
	return `Example:
  thecure user del pepe`
}

// Bot is `thecure bot ...`.
type Bot struct {
	Allow   BotAllow   `cmd:"" help:"Let a Telegram user use the bot."`
	Deny    BotDeny    `cmd:"" help:"Stop a Telegram user from using the bot."`
	Log     BotLog     `cmd:"" help:"Show the conversation log."`
	Tickets BotTickets `cmd:"" help:"List the open support tickets."`
	Stats   BotStats   `cmd:"" help:"Show the support statistics of a period."`
}

func (Bot) Help() string {
	return `While thecure runs, these go through its control socket; when it is
stopped, straight to the database.

Examples:
  thecure bot allow 123456789
  thecure bot log -since 7d -user 123456789
  thecure bot tickets -c /etc/thecure/config.toml`
}

// TelegramID is a Telegram user id argument.
type TelegramID struct {
	ID int64 `arg:"" help:"The Telegram user id (a positive number)."`
}

// BotAllow is `thecure bot allow ID`.
type BotAllow struct {
	ConfigFlag
	TelegramID
}

func (BotAllow) Help() string {
	return `The store's word overrides [bot] allowed_users.

Example:
  thecure bot allow 123456789`
}

// BotDeny is `thecure bot deny ID`.
type BotDeny struct {
	ConfigFlag
	TelegramID
}

func (BotDeny) Help() string {
	return `Example:
  thecure bot deny 123456789`
}

// BotLog is `thecure bot log [-user ID] [-since DURATION]`.
type BotLog struct {
	ConfigFlag
	User  int64  `name:"user" placeholder:"ID" help:"Only this Telegram user."`
	Since string `name:"since" default:"24h" placeholder:"DURATION" help:"Only entries newer than this (90m, 24h, 7d; default ${default}); 0 for all."`
}

func (BotLog) Help() string {
	return `Examples:
  thecure bot log
  thecure bot log -since 7d -user 123456789`
}

// BotTickets is `thecure bot tickets`.
type BotTickets struct {
	ConfigFlag
}

func (BotTickets) Help() string {
	return `Example:
  thecure bot tickets -c /etc/thecure/config.toml`
}

// BotStats is `thecure bot stats [-since DURATION]`.
type BotStats struct {
	ConfigFlag
	Since string `name:"since" default:"30d" placeholder:"DURATION" help:"The conversations started in this last period (24h, 7d; default ${default})."`
}

func (BotStats) Help() string {
	return `Conversations per day, the menu's top answers, the share solved without a
technician, the median first operator reply and the open tickets' ages.

Examples:
  thecure bot stats
  thecure bot stats -since 7d -c /etc/thecure/config.toml`
}

// Backup is `thecure backup ...`.
type Backup struct {
	Run    BackupRun    `cmd:"" help:"Make a backup now (through the running appliance if any)."`
	List   BackupList   `cmd:"" help:"List every backup: id, time, size, files, state."`
	Verify BackupVerify `cmd:"" help:"Check every checksum of a backup; exit 1 on a mismatch."`
}

func (Backup) Help() string {
	return `Examples:
  thecure backup run
  thecure backup list -s3
  thecure backup verify latest -c /etc/thecure/config.toml`
}

// DNS is `thecure dns ...`.
type DNS struct {
	DS DNSDS `cmd:"" name:"ds" help:"Print the DS record of the signed zone, for the parent zone."`
}

// DNSDS is `thecure dns ds`.
type DNSDS struct {
	ConfigFlag
}

func (DNSDS) Help() string {
	return `The zone must be signed ([dns] enabled = true, dnssec = true) and thecure
must have run once with it (it makes the key in data_dir/dns/).

Example:
  thecure dns ds -c /etc/thecure/config.toml`
}

// S3Flag is -s3.
type S3Flag struct {
	S3 bool `name:"s3" help:"Use the [backup.s3] repository instead of the local backup.dir."`
}

// BackupRun is `thecure backup run`.
type BackupRun struct {
	ConfigFlag
}

func (BackupRun) Help() string {
	return `Into every configured repository (backup.dir, [backup.s3]).

Example:
  thecure backup run -c /etc/thecure/config.toml`
}

// BackupList is `thecure backup list [-s3]`.
type BackupList struct {
	ConfigFlag
	S3Flag
}

func (BackupList) Help() string {
	return `Examples:
  thecure backup list
  thecure backup list -s3`
}

// BackupVerify is `thecure backup verify [-s3] ID|latest`.
type BackupVerify struct {
	ConfigFlag
	S3Flag
	ID string `arg:"" placeholder:"ID|latest" help:"A backup id, or latest."`
}

func (BackupVerify) Help() string {
	return `Examples:
  thecure backup verify latest
  thecure backup verify 20261128T030000.000Z-1a2b3c -s3`
}

// Restore is `thecure restore ID|PATH|latest [-s3] [-to DIR] [-config-to FILE]`.
type Restore struct {
	ConfigFlag
	S3Flag
	Source   string `arg:"" placeholder:"ID|PATH|latest" help:"A backup id, latest, or the path of a backup folder or repository."`
	To       string `name:"to" placeholder:"DIR" help:"Restore into this data dir instead of the configured data_dir."`
	ConfigTo string `name:"config-to" placeholder:"FILE" help:"Write the backed-up config file here (default: where it was; DIR/config.toml with -to)."`
}

func (Restore) Help() string {
	return `Into the configured data dir it needs the appliance stopped; with -to it
writes into a fresh directory instead.

Examples:
  thecure restore latest -to /tmp/restored
  thecure restore 20261128T030000Z -s3`
}

// Library is `thecure library ...`.
type Library struct {
	List LibraryList `cmd:"" help:"List every title, or those in one state, with what a failed or missing one lacks."`
	Rm   LibraryRm   `cmd:"" name:"rm" help:"Remove a title, whatever its state: its record, its HLS and its files."`
}

func (Library) Help() string {
	return `While thecure runs, these go through its control socket; when it is
stopped, straight to the database.

Examples:
  thecure library list missing
  thecure library rm movies/Old.Film.2001.mkv -c /etc/thecure/config.toml`
}

// LibraryList is `thecure library list [STATE]`.
type LibraryList struct {
	ConfigFlag
	State string `arg:"" optional:"" placeholder:"STATE" help:"Only titles in this state: queued, processing, ready, failed or missing."`
}

func (LibraryList) Help() string {
	return `Prints each title's id, state, source, title and, for a failed or missing
one, what it lacks and how to bring it back.

Examples:
  thecure library list
  thecure library list failed -c /etc/thecure/config.toml`
}

// LibraryRm is `thecure library rm ID|SOURCE`.
type LibraryRm struct {
	ConfigFlag
	Title string `arg:"" placeholder:"ID|SOURCE" help:"The title's id or its source path, as thecure library list shows them."`
}

func (LibraryRm) Help() string {
	return `Removes the title's record, its HLS and its file: the source, or where a
failed title's source was quarantined, so that no scan brings it back.

Examples:
  thecure library rm 3f2a9c0b1d4e
  thecure library rm movies/Old.Film.2001.mkv`
}

// Version is `thecure version`.
type Version struct{}

func (Version) Help() string {
	return `Example:
  thecure version`
}

// HelpCmd is `thecure help [COMMAND...]`.
type HelpCmd struct {
	Command []string `arg:"" optional:"" placeholder:"COMMAND" help:"The command (and subcommand) to explain."`
}

func (HelpCmd) Help() string {
	return `thecure help CMD, thecure CMD -h and thecure CMD --help print the same.

Example:
  thecure help user add`
}

// Parsed is a command line that parsed.
type Parsed struct {
	// Command is the selected command's path: "run", "user add", "backup verify".
	Command string
	*Grammar
}

// Options are hooks that check arguments' form at parse time (they belong to
// the features that define the forms). A nil hook checks nothing.
type Options struct {
	UserName func(string) error // a user name (user add, passwd, ...)
	Size     func(string) error // a byte size (user quota)
	Duration func(string) error // a duration (bot log -since, bot stats -since)
}

// exit is how kong's help and errors leave Parse (kong.Exit).
type exit struct{ code int }

// Parse parses args (without the program name). It returns the command to
// run, or done with the exit status when there is nothing to run: help was
// printed (0) or the command line was wrong (2, the error and the usage
// printed on stderr).
func Parse(args []string, stdout, stderr io.Writer, o Options) (p *Parsed, code int, done bool) {
	g := &Grammar{}
	k, err := newParser(g, stdout, stderr)
	if err != nil { // a bug in the grammar above; tests build it
		fmt.Fprintf(stderr, "%s: %v\n", Name, err)
		return nil, 1, true
	}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(exit)
			if !ok {
				panic(r)
			}
			p, code, done = nil, e.code, true
		}
	}()
	args = normalize(k, args)
	kctx, err := k.Parse(args)
	if err == nil {
		err = checkForms(kctx, g, o)
	}
	if err != nil {
		return nil, usageError(k, kctx, err, stderr), true
	}
	cmd := commandPath(kctx.Selected())
	if cmd == "help" {
		// `thecure help CMD...` is `thecure CMD... --help`: one format.
		_, code, _ := Parse(append(slices.Clone(g.Help.Command), "--help"), stdout, stderr, o)
		return nil, code, true
	}
	return &Parsed{Command: cmd, Grammar: g}, 0, false
}

func newParser(g *Grammar, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(g,
		kong.Name(Name),
		kong.Description(Description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exit{code}) }),
		kong.ConfigureHelp(kong.HelpOptions{WrapUpperBound: 80}),
	)
}

// checkForms runs the form checks of the selected command's arguments.
func checkForms(kctx *kong.Context, g *Grammar, o Options) error {
	check := func(f func(string) error, what, v string) error {
		if f == nil {
			return nil
		}
		if err := f(v); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	telegramID := func(id int64) error {
		if id <= 0 {
			return fmt.Errorf("<id>: %d is not a Telegram user id", id)
		}
		return nil
	}
	switch commandPath(kctx.Selected()) {
	case "check-config":
		// The file to check: the positional argument or -c; both must agree.
		c := &g.CheckConfig
		if c.File != "" && c.Config != "" && c.File != c.Config {
			return fmt.Errorf("two config files given: %q and -c %q", c.File, c.Config)
		}
		if c.File != "" {
			c.Config = c.File
		}
	case "bot allow":
		return telegramID(g.Bot.Allow.ID)
	case "bot deny":
		return telegramID(g.Bot.Deny.ID)
	case "user add":
		return check(o.UserName, "<name>", g.User.Add.Name)
	case "user passwd":
		return check(o.UserName, "<name>", g.User.Passwd.Name)
	case "user groups":
		return check(o.UserName, "<name>", g.User.Groups.Name)
	case "user quota":
		if err := check(o.UserName, "<name>", g.User.Quota.Name); err != nil {
			return err
		}
		return check(o.Size, "<size>", g.User.Quota.Size)
	case "user del":
		return check(o.UserName, "<name>", g.User.Del.Name)
	case "bot log":
		if g.Bot.Log.Since == "0" {
			return nil
		}
		return check(o.Duration, "--since", g.Bot.Log.Since)
	case "bot stats":
		return check(o.Duration, "--since", g.Bot.Stats.Since)
	}
	return nil
}

// commandPath is "user add" for the node of `thecure user add`.
func commandPath(n *kong.Node) string {
	var parts []string
	for ; n != nil && n.Parent != nil; n = n.Parent {
		if n.Type == kong.CommandNode {
			parts = append([]string{n.Name}, parts...)
		}
	}
	return strings.Join(parts, " ")
}

var unexpectedArg = regexp.MustCompile(`^unexpected argument (.*?)(, did you mean .*)?$`)

// usageError prints err in thecure's words and the usage of the command it
// concerns on stderr, and returns 2.
func usageError(k *kong.Kong, kctx *kong.Context, err error, stderr io.Writer) int {
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		kctx = pe.Context
	}
	var node *kong.Node
	if kctx != nil {
		node = kctx.Selected()
	}
	where := Name
	if p := commandPath(node); p != "" {
		where += " " + p
	}
	msg := err.Error()
	if m := unexpectedArg.FindStringSubmatch(msg); m != nil {
		if hasSubcommands(node, k) {
			msg = fmt.Sprintf("unknown command %q%s", m[1], m[2])
		} else {
			msg = fmt.Sprintf("unexpected argument %q", m[1])
		}
	} else if strings.HasPrefix(msg, "expected one of ") && hasSubcommands(node, k) {
		msg = "missing command: " + strings.TrimPrefix(msg, "expected ")
	}
	fmt.Fprintf(stderr, "%s: %s\n\n", where, msg)
	if kctx != nil {
		kctx.Stdout = stderr
		if perr := kctx.PrintUsage(false); perr != nil {
			fmt.Fprintf(stderr, "%s: %v\n", Name, perr)
		}
	}
	return 2
}

func hasSubcommands(n *kong.Node, k *kong.Kong) bool {
	if n == nil {
		n = k.Model.Node
	}
	for _, c := range n.Children {
		if c.Type == kong.CommandNode {
			return true
		}
	}
	return false
}

var singleDashLong = regexp.MustCompile(`^-([a-z][a-z0-9-]+)(=.*)?$`)

// normalize accepts Go-style single-dash long flags (-group as --group)
// and moves -c/--config FILE given before the command after it (kong parses
// flags anywhere after their command; -c belongs to the leaf commands).
func normalize(k *kong.Kong, args []string) []string {
	long := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			long[f.Name] = true
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(k.Model.Node)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if m := singleDashLong.FindStringSubmatch(a); m != nil && long[m[1]] {
			a = "-" + a
		}
		out = append(out, a)
	}
	// -c/--config FILE anywhere (before the command, between a command and
	// its subcommand) goes to the end, where kong takes it for the leaf.
	var moved, rest []string
	for i := 0; i < len(out); i++ {
		a := out[i]
		switch {
		case a == "--":
			rest = append(rest, out[i:]...)
			i = len(out)
		case (a == "-c" || a == "--config") && i+1 < len(out):
			moved = append(moved, a, out[i+1])
			i++
		case strings.HasPrefix(a, "-c="):
			moved = append(moved, "--config="+a[3:]) // Go style
		case strings.HasPrefix(a, "--config=") || (strings.HasPrefix(a, "-c") && !strings.HasPrefix(a, "--") && len(a) > 2):
			moved = append(moved, a)
		default:
			rest = append(rest, a)
		}
	}
	if len(moved) == 0 || len(rest) == 0 {
		return rest // no command: say that, not that -c is unknown
	}
	if i := slices.Index(rest, "--"); i >= 0 {
		return slices.Concat(rest[:i], moved, rest[i:])
	}
	return append(rest, moved...)
}

// Model is the parser's model, for the tests that check README and the man
// page against it.
func Model() (*kong.Application, error) {
	k, err := newParser(&Grammar{}, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	return k.Model, nil
}
