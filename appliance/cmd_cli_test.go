package appliance

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"thecure/appliance/cli"
)

// cliRow is one command line run by TestCommandLine.
type cliRow struct {
	name  string
	setup [][]string // commands run first (with -c F appended), each must succeed
	args  []string   // "F" stands for the config file
	stdin string
	code  int
	first string // prefix of the first line: stdout's on exit 0, else stderr's
	// dataDir says whether the config's data dir exists afterwards (only
	// commands that reach the store may make it).
	dataDir bool
	warn    string // in stderr
}

// TestCommandLine runs the real binary over every command and subcommand,
// with -c before the command, after it and after the positional arguments,
// plus unexpected arguments, unknown subcommands and every form of help.
// Each row runs in an empty working directory of its own: nothing may
// appear there, and the config's data dir only when the command uses it.
func TestCommandLine(t *testing.T) {
	var rows []cliRow
	// -c in three places. "A" marks where the positional arguments end.
	type cmdCase struct {
		cmd     []string // command path
		pos     []string
		stdin   string
		setup   [][]string
		code    int
		first   string
		dataDir bool
	}
	mkUser := [][]string{{"user", "add", "maria", "-password-stdin"}}
	mkBackup := [][]string{{"backup", "run"}}
	cases := []cmdCase{
		{cmd: []string{"check-config"}, first: "ok: F"},
		{cmd: []string{"status"}, code: 1, first: "thecure status: thecure is not running on data dir DATA"},
		{cmd: []string{"user", "add"}, pos: []string{"josé"}, stdin: "secret-password\n", first: "added josé (groups: )", dataDir: true},
		{cmd: []string{"user", "list"}, setup: mkUser, first: "NAME", dataDir: true},
		{cmd: []string{"user", "passwd"}, pos: []string{"maria"}, stdin: "other-password\n", setup: mkUser, first: "password of maria changed", dataDir: true},
		{cmd: []string{"user", "groups"}, pos: []string{"maria", "innovatech"}, setup: mkUser, first: "maria is in groups: innovatech", dataDir: true},
		{cmd: []string{"user", "quota"}, pos: []string{"maria", "2GiB"}, setup: mkUser, first: "quota of maria: 2GiB", dataDir: true},
		{cmd: []string{"user", "del"}, pos: []string{"maria"}, setup: mkUser, first: "deleted maria", dataDir: true},
		{cmd: []string{"bot", "allow"}, pos: []string{"42"}, first: "user 42 may use the bot", dataDir: true},
		{cmd: []string{"bot", "deny"}, pos: []string{"42"}, first: "user 42 may not use the bot", dataDir: true},
		{cmd: []string{"bot", "log"}, first: "TIME", dataDir: true},
		{cmd: []string{"bot", "tickets"}, first: "TICKET", dataDir: true},
		{cmd: []string{"bot", "stats"}, first: "support statistics from ", dataDir: true},
		{cmd: []string{"bot", "stats"}, pos: []string{"-since", "7d"}, first: "support statistics from ", dataDir: true},
		{cmd: []string{"bot", "stats"}, pos: []string{"-since", "0"}, code: 1, first: `thecure bot stats: --since: "0" is not a positive duration`},
		{cmd: []string{"backup", "run"}, first: "backup ", dataDir: true},
		{cmd: []string{"backup", "list"}, setup: mkBackup, first: "ID", dataDir: true},
		{cmd: []string{"backup", "verify"}, pos: []string{"latest"}, setup: mkBackup, first: "backup ", dataDir: true},
		{cmd: []string{"backup", "verify"}, pos: []string{"nosuch"}, setup: mkBackup, code: 1, first: "thecure backup verify: no such backup: nosuch", dataDir: true},
		{cmd: []string{"restore"}, pos: []string{"nosuch"}, setup: mkBackup, code: 1, first: "thecure restore: no such backup: nosuch", dataDir: true},
		{cmd: []string{"restore"}, pos: []string{"latest", "-to", "RESTORED"}, setup: mkBackup, first: "restored backup ", dataDir: true},
		{cmd: []string{"library", "list"}, first: "ID", dataDir: true},
		{cmd: []string{"library", "list"}, pos: []string{"missing"}, first: "ID", dataDir: true},
		{cmd: []string{"library", "list"}, pos: []string{"gone"}, code: 1, first: `thecure library list: no state "gone": one of queued, processing, ready, failed, missing`},
		{cmd: []string{"library", "rm"}, pos: []string{"movies/nosuch.mkv"}, setup: [][]string{{"library", "list"}}, code: 1, first: `thecure library rm: "movies/nosuch.mkv": no such title`, dataDir: true},
		{cmd: []string{"dns", "ds"}, code: 1, first: "thecure dns ds: [dns] zone is not set"},
		// commands that take no config refuse -c
		{cmd: []string{"version"}, code: 2, first: "thecure version: unknown flag -"},
		{cmd: []string{"help"}, code: 2, first: "thecure help: unknown flag -"},
	}
	for _, c := range cases {
		name := strings.Join(append(slices.Clone(c.cmd), c.pos...), " ")
		for where, args := range map[string][]string{
			"-c before": slices.Concat([]string{"-c", "F"}, c.cmd, c.pos),
			"-c after":  slices.Concat(c.cmd, []string{"-c", "F"}, c.pos),
			"-c last":   slices.Concat(c.cmd, c.pos, []string{"--config", "F"}),
		} {
			rows = append(rows, cliRow{name: name + " (" + where + ")", setup: c.setup, args: args, stdin: c.stdin,
				code: c.code, first: c.first, dataDir: c.dataDir})
		}
	}
	// `thecure run` with -c anywhere reads F: a config it refuses.
	for _, args := range [][]string{{"-c", "BAD", "run"}, {"run", "-c", "BAD"}, {"run", "--config=BAD"}} {
		rows = append(rows, cliRow{name: strings.Join(args, " "), args: args, code: 1, first: "BAD:1: log.level"})
	}

	model, err := cli.Model()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range model.Leaves(true) {
		path := strings.Fields(n.FullPath())[1:]
		cmd := strings.Join(path, " ")
		// help, three ways, same first line
		for _, args := range [][]string{append(slices.Clone(path), "-h"), append(slices.Clone(path), "--help"), append([]string{"help"}, path...)} {
			rows = append(rows, cliRow{name: strings.Join(args, " "), args: args, first: "Usage: thecure " + cmd})
		}
		// one argument too many, after everything the command takes
		extra := slices.Clone(path)
		switch cmd {
		case "check-config":
			extra = append(extra, "F")
		case "user add", "user passwd", "user del", "restore", "backup verify", "library rm":
			extra = append(extra, "maria")
		case "user groups", "user quota":
			extra = append(extra, "maria", "1")
		case "bot allow", "bot deny":
			extra = append(extra, "42")
		case "library list":
			extra = append(extra, "failed")
		case "help":
			continue // help takes any words: they name a command
		}
		extra = append(extra, "x")
		if cmd != "version" {
			extra = append(extra, "-c", "F")
		}
		rows = append(rows, cliRow{name: strings.Join(extra, " "), args: extra, stdin: "secret-password\n", code: 2,
			first: "thecure " + cmd + `: unexpected argument "x"`})
	}
	for _, group := range []string{"user", "bot", "backup", "library"} {
		args := []string{group, "frobnicate", "-c", "F"}
		rows = append(rows, cliRow{name: strings.Join(args, " "), args: args, code: 2,
			first: "thecure " + group + `: unknown command "frobnicate"`})
	}
	rows = append(rows,
		cliRow{name: "frobnicate", args: []string{"frobnicate"}, code: 2, first: `thecure: unknown command "frobnicate"`},
		cliRow{name: "help frobnicate", args: []string{"help", "frobnicate"}, code: 2, first: `thecure: unknown command "frobnicate"`},
		cliRow{name: "help user frobnicate", args: []string{"help", "user", "frobnicate"}, code: 2, first: `thecure user: unknown command "frobnicate"`},
		cliRow{name: "no command", args: nil, code: 2, first: "thecure: missing command"},
		cliRow{name: "user add bad name, before any prompt", args: []string{"user", "add", "a/b", "-c", "F"}, code: 2,
			first: `thecure user add: <name>: invalid value: name "a/b" may only hold letters`},
		cliRow{name: "bot allow not a number", args: []string{"bot", "allow", "abc", "-c", "F"}, code: 2, first: "thecure bot allow: <id>:"},
		cliRow{name: "bot stats bad duration", args: []string{"bot", "stats", "-since", "soon", "-c", "F"}, code: 2, first: "thecure bot stats: --since:"},
		cliRow{name: "check-config two files", args: []string{"check-config", "F", "-c", "BAD"}, code: 2, first: "thecure check-config: two config files given"},
		cliRow{name: "check-config positional", args: []string{"check-config", "BAD"}, code: 1, first: "BAD:1: log.level"},
		cliRow{name: "user add unknown group", args: []string{"user", "add", "pepe", "-group", "innovatch", "-c", "F", "-password-stdin"},
			stdin: "secret-password\n", first: "added pepe (groups: innovatch)", dataDir: true,
			warn: "warning: no folder or role uses group(s) innovatch"},
	)

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			root := t.TempDir()
			conf, work := filepath.Join(root, "conf"), filepath.Join(root, "work")
			for _, d := range []string{conf, work} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			data := filepath.Join(conf, "data")
			cfg := filepath.Join(conf, "config.toml")
			bad := filepath.Join(conf, "bad.toml")
			writeFile(t, cfg, fmt.Sprintf("data_dir = %q\n[http]\nlisten = \"127.0.0.1:0\"\n", data))
			writeFile(t, bad, "log.level = \"loud\"\n")
			restored := filepath.Join(root, "restored")
			words := map[string]string{"F": cfg, "BAD": bad, "RESTORED": restored, "--config=BAD": "--config=" + bad}
			expand := func(args []string) []string {
				out := make([]string, len(args))
				for i, a := range args {
					out[i] = cmp.Or(words[a], a)
				}
				return out
			}
			subst := strings.NewReplacer("DATA", data, "BAD", bad, "F", cfg)
			for _, s := range r.setup {
				if out, errOut, code := runIn(t, work, "secret-password\n", append(slices.Clone(s), "-c", cfg)...); code != 0 {
					t.Fatalf("setup %v: exit %d\n%s%s", s, code, out, errOut)
				}
			}
			args := expand(r.args)
			out, errOut, code := runIn(t, work, r.stdin, args...)
			stream := errOut
			if r.code == 0 {
				stream = out
			}
			first, _, _ := strings.Cut(stream, "\n")
			want := subst.Replace(r.first)
			if code != r.code || !strings.HasPrefix(first, want) {
				t.Errorf("thecure %s: exit %d, first line %q; want exit %d, %q\nstdout:\n%s\nstderr:\n%s",
					strings.Join(args, " "), code, first, r.code, want, out, errOut)
			}
			if !strings.Contains(errOut, r.warn) {
				t.Errorf("stderr lacks %q:\n%s", r.warn, errOut)
			}
			if left, err := os.ReadDir(work); err != nil || len(left) > 0 {
				t.Errorf("the working directory is not empty afterwards: %v %v", left, err)
			}
			_, err := os.Stat(data)
			if exists := err == nil; exists != (r.dataDir || len(r.setup) > 0) {
				t.Errorf("data dir exists afterwards: %v, want %v (%v)", exists, r.dataDir, err)
			}
		})
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runIn runs the binary in dir with stdin.
func runIn(t *testing.T, dir, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(thecureBin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return o.String(), e.String(), code
}
