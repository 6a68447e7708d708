// Package appliance wires thecure together: the configuration, the store,
// every service and their supervision, and what each command of the command
// line (package cli) does. It holds no service logic of its own.
package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"thecure/appliance/cli"
	"thecure/appliance/config"
	"thecure/appliance/users"
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

// exitError carries an exit status other than 1 (2 for usage).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// argForms are the checks of arguments' form the parser runs, before any
// prompt or file is touched.
func argForms() cli.Options {
	return cli.Options{
		UserName: users.ValidName,
		Size:     func(s string) error { _, err := config.ParseByteSize(s); return err },
		Duration: func(s string) error { _, err := config.ParseDuration(s); return err },
	}
}

// Main runs `thecure ARGS...` and returns the process exit status. ctx is
// cancelled on SIGINT/SIGTERM.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p, code, done := cli.Parse(args, stdout, stderr, argForms())
	if done {
		return code
	}
	e := &env{stdout: stdout, stderr: stderr, stdin: stdin}
	err := dispatch(ctx, e, p)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "thecure %s: %v\n", p.Command, err)
		return 1
	}
}

// dispatch runs the command p names.
func dispatch(ctx context.Context, e *env, p *cli.Parsed) error {
	g := p.Grammar
	switch p.Command {
	case "run":
		return cmdRun(ctx, e, g.Run.Config)
	case "check-config":
		return cmdCheckConfig(ctx, e, g.CheckConfig.Config)
	case "status":
		return cmdStatus(ctx, e, g.Status.Config)
	case "user add", "user list", "user passwd", "user groups", "user quota", "user del":
		return cmdUser(ctx, e, p.Command, &g.User)
	case "bot allow", "bot deny", "bot log", "bot tickets", "bot stats":
		return cmdBot(ctx, e, p.Command, &g.Bot)
	case "backup run", "backup list", "backup verify":
		return cmdBackup(ctx, e, p.Command, &g.Backup)
	case "restore":
		return cmdRestore(ctx, e, &g.Restore)
	case "library list", "library rm":
		return cmdLibrary(ctx, e, p.Command, &g.Library)
	case "dns ds":
		return cmdDNSDS(e, g.DNS.DS.Config)
	case "version":
		fmt.Fprintf(e.stdout, "thecure %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	return fmt.Errorf("command %q has no implementation", p.Command)
}
