// Package appliance wires thecure together: the command line, the
// configuration, the store, every service and their supervision. It holds no
// service logic of its own.
package appliance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
)

// Set at build time with -ldflags "-X thecure/appliance.version=... -X thecure/appliance.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// env is what a command may touch of the outside world.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
}

// command is one `thecure <name>` subcommand.
type command struct {
	name, args, summary string
	more                string // printed after the flags in the command's help
	run                 func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error
	flags               func(fs *flag.FlagSet)
}

func commandList() []command {
	return []command{
		{name: "run", summary: "start the appliance", run: cmdRun},
		{name: "check-config", summary: "check the configuration and print every problem", run: cmdCheckConfig},
		{name: "status", summary: "show each service's state, from the running appliance", run: cmdStatus},
		{name: "bot", args: botUsage, summary: "manage the support bot's users, read its log and open tickets", run: cmdBot, more: botCommands},
		{name: "backup", args: "run | list | verify ID|latest", summary: "make a backup now, list backups, or check one's every checksum", run: cmdBackup, flags: backupFlags},
		{name: "restore", args: "ID|PATH|latest", summary: "restore a backup (store, config, certificates, media) with the appliance stopped", run: cmdRestore, flags: restoreFlags},
		{name: "library", args: libraryUsage, summary: "list titles (what a missing or failed one lacks) or remove one", run: cmdLibrary, more: libraryCommands},
		{name: "user", args: "add|list|passwd|groups|quota|del ...", summary: "manage the users who log in to FTPS (and the web admin)", run: cmdUser, more: userCommands},
		{name: "dns", args: "ds", summary: "print the DS record of the DNSSEC-signed zone, for the parent zone", run: cmdDNS, more: dnsCommands},
		{name: "version", summary: "print version, commit and Go version", run: cmdVersion},
		{name: "help", args: "[COMMAND]", summary: "show help for thecure or for one command", run: nil},
	}
}

// exitError carries an exit status other than 1 (0 for help, 2 for usage).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs `thecure ARGS...` and returns the process exit status. ctx is
// cancelled on SIGINT/SIGTERM.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, stdin: stdin}
	cmds := commandList()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "-h" || name == "--help" || name == "-help" {
		name = "help"
	}
	if name == "help" {
		if len(rest) == 0 {
			usage(stdout, cmds)
			return 0
		}
		name, rest = rest[0], []string{"-h"}
		if name == "help" || slicesContainsHelp([]string{name}) {
			usage(stdout, cmds)
			return 0
		}
	}
	for _, c := range cmds {
		if c.name != name || c.run == nil {
			continue
		}
		fs := flag.NewFlagSet("thecure "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.String("c", "", "config `FILE` (default ./config.toml, then /etc/thecure/config.toml, else built-in defaults)")
		if c.flags != nil {
			c.flags(fs)
		}
		fs.Usage = func() {
			args := c.args
			if args != "" {
				args = " " + args
			}
			fmt.Fprintf(fs.Output(), "usage: thecure %s [flags]%s\n\n%s.\n\nflags:\n", c.name, args, capitalize(c.summary))
			fs.PrintDefaults()
			if c.more != "" {
				fmt.Fprintf(fs.Output(), "\n%s", c.more)
			}
		}
		if slicesContainsHelp(rest) {
			fs.SetOutput(stdout)
		}
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		err := c.run(ctx, e, fs, fs.Args())
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.code
		default:
			fmt.Fprintf(stderr, "thecure %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "thecure: unknown command %q\n\n", name)
	usage(stderr, cmds)
	return 2
}

func slicesContainsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintf(w, "thecure %s: a streaming appliance (FTPS ingest, VOD/AOD, live RTMP/HLS, web, support bot, backups)\n\n", version)
	fmt.Fprintf(w, "usage: thecure <command> [flags]\n\ncommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command takes -c FILE and -h. Run 'thecure help COMMAND' for its flags.\n")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func cmdVersion(_ context.Context, e *env, _ *flag.FlagSet, _ []string) error {
	fmt.Fprintf(e.stdout, "thecure %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
