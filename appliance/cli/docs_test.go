package cli

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestREADMECommands: the README's command list is what `thecure help`
// prints, byte for byte.
func TestREADMECommands(t *testing.T) {
	var out bytes.Buffer
	if _, code, done := Parse([]string{"help"}, &out, io.Discard, Options{}); !done || code != 0 {
		t.Fatalf("help: done %v, exit %d", done, code)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const head = "`thecure help` prints (a test keeps this block equal to it):\n\n```\n"
	_, rest, ok := strings.Cut(string(readme), head)
	if !ok {
		t.Fatalf("README.md has no %q", head)
	}
	block, _, ok := strings.Cut(rest, "```\n")
	if !ok {
		t.Fatal("README.md: the help block is not closed")
	}
	if block != out.String() {
		t.Errorf("README.md's command list differs from `thecure help`; paste this:\n%s", out.String())
	}
}

var (
	troffFont = regexp.MustCompile(`\\f[BIRP]`)
	longFlag  = regexp.MustCompile(`--([a-z0-9][a-z0-9-]*)`)
)

// manEntries returns, for each command the man page's COMMANDS section
// describes (the .B/.BR line after .TP or .TQ), the flags on its line.
func manEntries(t *testing.T, app *kong.Application, man string) map[string][]string {
	t.Helper()
	_, sect, ok := strings.Cut(man, "\n.SH COMMANDS\n")
	if !ok {
		t.Fatal("thecure.1 has no COMMANDS section")
	}
	sect, _, _ = strings.Cut(sect, "\n.SH ")
	lines := strings.Split(sect, "\n")
	entries := map[string][]string{}
	for i := 1; i < len(lines); i++ {
		if lines[i-1] != ".TP" && lines[i-1] != ".TQ" {
			continue
		}
		l := lines[i]
		l = strings.TrimPrefix(strings.TrimPrefix(l, ".BR "), ".B ")
		l = strings.ReplaceAll(troffFont.ReplaceAllString(l, " "), `\-`, "-")
		l = strings.ReplaceAll(l, `"`, " ")
		words := strings.Fields(l)
		if len(words) == 0 {
			t.Errorf("thecure.1 line %q: no command", lines[i])
			continue
		}
		node := findChild(app.Node, words[0])
		path := words[0]
		if node != nil && hasCommands(node) {
			if len(words) < 2 || findChild(node, words[1]) == nil {
				t.Errorf("thecure.1 describes %q: %s has no such subcommand", lines[i], words[0])
				continue
			}
			path += " " + words[1]
		} else if node == nil {
			t.Errorf("thecure.1 describes a command the parser does not have: %q", lines[i])
			continue
		}
		var flags []string
		for _, m := range longFlag.FindAllStringSubmatch(l, -1) {
			flags = append(flags, m[1])
		}
		slices.Sort(flags)
		entries[path] = flags
	}
	return entries
}

func findChild(n *kong.Node, name string) *kong.Node {
	for _, c := range n.Children {
		if c.Type == kong.CommandNode && c.Name == name {
			return c
		}
	}
	return nil
}

func hasCommands(n *kong.Node) bool {
	for _, c := range n.Children {
		if c.Type == kong.CommandNode {
			return true
		}
	}
	return false
}

// TestManPage: the man page describes every command and subcommand with
// exactly the flags the parser gives it (-c and -h in OPTIONS), and no
// other command.
func TestManPage(t *testing.T) {
	app, err := Model()
	if err != nil {
		t.Fatal(err)
	}
	man, err := os.ReadFile("../../packaging/thecure.1")
	if err != nil {
		t.Fatal(err)
	}
	entries := manEntries(t, app, string(man))
	for _, leaf := range app.Leaves(true) {
		path := strings.Join(strings.Fields(leaf.FullPath())[1:], " ")
		got, ok := entries[path]
		if !ok {
			t.Errorf("thecure.1 does not describe %q", path)
			continue
		}
		var want []string
		for _, f := range leaf.AllFlags(true) {
			for _, fl := range f {
				if fl.Name != "help" && fl.Name != "config" {
					want = append(want, fl.Name)
				}
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("thecure.1 gives %q the flags %v; the parser: %v", path, got, want)
		}
		delete(entries, path)
	}
	for path := range entries {
		t.Errorf("thecure.1 describes %q, which the parser does not have", path)
	}
	_, opts, _ := strings.Cut(string(man), "\n.SH OPTIONS\n")
	opts, _, _ = strings.Cut(opts, "\n.SH ")
	for _, want := range []string{`\-c`, `\-\-config`, `\-h`, `\-\-help`} {
		if !strings.Contains(opts, want) {
			t.Errorf("thecure.1 OPTIONS lacks %s", want)
		}
	}
}
