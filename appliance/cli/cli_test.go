package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestParseFlagsAnywhere: -c in every place and spelling reaches the leaf,
// Go-style single-dash long flags work, and positional arguments keep their
// order around flags.
func TestParseFlagsAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"-c", "F", "user", "add", "maria", "-group", "a,b"},
		{"user", "-c", "F", "add", "maria", "--group", "a,b"},
		{"user", "add", "-c", "F", "--group=a,b", "maria"},
		{"user", "add", "maria", "-group=a,b", "-c=F"},
		{"user", "add", "-group", "a", "-group", "b", "maria", "--config", "F"},
		{"-config", "F", "user", "add", "maria", "-group", "a,b"},
		{"--config=F", "user", "add", "maria", "-group", "a,b"},
		{"-cF", "user", "add", "maria", "-group", "a,b"},
	} {
		var out, errb bytes.Buffer
		p, code, done := Parse(args, &out, &errb, Options{})
		if done {
			t.Errorf("%q: done, exit %d: %s", args, code, errb.String())
			continue
		}
		a := p.User.Add
		if p.Command != "user add" || a.Config != "F" || a.Name != "maria" || strings.Join(a.Group, ",") != "a,b" {
			t.Errorf("%q: %s %+v", args, p.Command, a)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		first string
	}{
		{[]string{"version", "-c", "F"}, "thecure version: unknown flag -c"},
		{[]string{"-c", "F", "version"}, "thecure version: unknown flag -c"},
		{[]string{"-c", "F"}, "thecure: missing command"},
		{[]string{"run", "x"}, `thecure run: unexpected argument "x"`},
		{[]string{"user", "frob"}, `thecure user: unknown command "frob"`},
		{[]string{"help", "frob"}, `thecure: unknown command "frob"`},
		{[]string{"help", "user", "frob"}, `thecure user: unknown command "frob"`},
		{[]string{"bot", "allow", "-5"}, "thecure bot allow: unknown flag -5"},
		{[]string{"bot", "allow", "0"}, "thecure bot allow: <id>: 0 is not a Telegram user id"},
		{[]string{"check-config", "a", "-c", "b"}, `thecure check-config: two config files given: "a" and -c "b"`},
		{[]string{"user", "add", "--", "-x"}, ""}, // a name after -- is a name (checked by the UserName hook)
	} {
		var out, errb bytes.Buffer
		_, code, done := Parse(tc.args, &out, &errb, Options{})
		if tc.first == "" {
			if done {
				t.Errorf("%q: refused: %s", tc.args, errb.String())
			}
			continue
		}
		first, _, _ := strings.Cut(errb.String(), "\n")
		if !done || code != 2 || !strings.HasPrefix(first, tc.first) || out.Len() != 0 {
			t.Errorf("%q: done %v, exit %d, first line %q, want %q", tc.args, done, code, first, tc.first)
		}
	}
}

func TestCheckConfigPositional(t *testing.T) {
	for _, args := range [][]string{{"check-config", "F"}, {"check-config", "-c", "F"}, {"check-config", "F", "-c", "F"}, {"-c", "F", "check-config"}} {
		p, _, done := Parse(args, &bytes.Buffer{}, &bytes.Buffer{}, Options{})
		if done || p.CheckConfig.Config != "F" {
			t.Errorf("%q: done %v, config %+v", args, done, p)
		}
	}
}
