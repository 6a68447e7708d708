package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"10s": 10 * time.Second, "1m30s": 90 * time.Second, "90d": 90 * 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, "200ms": 200 * time.Millisecond, " 5m ": 5 * time.Minute,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ten", "5", "1.5d", "-3d", "d", "10 s"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	if s := Duration(90 * 24 * time.Hour).String(); s != "90d" {
		t.Errorf("String() = %q", s)
	}
}

func TestLineIndex(t *testing.T) {
	src := `a = 1
s = """
x = 2
"""
arr = [
  1,
  2,
]
[t]
k = "v" # comment = 3
"quoted.key" = 1
[[list]]
name = "one"
[[list]]
name = "two"
[list.sub]
deep = true
[m.entry]
key = "x"
`
	ix := buildIndex(src)
	for path, line := range map[string]int{
		"a": 1, "s": 2, "arr": 5, "t": 9, "t.k": 10, "t.quoted.key": 11,
		"list[0]": 12, "list[0].name": 13, "list[1].name": 15, "list[1].sub.deep": 17,
		"m.entry.key": 19,
	} {
		if got := ix[path]; got != line {
			t.Errorf("line of %s = %d, want %d", path, got, line)
		}
	}
	if _, ok := ix["x"]; ok {
		t.Error("a key inside a multi-line string was indexed")
	}
	if got := ix.lookup("list[1].sub.missing"); got != 16 {
		t.Errorf("lookup falls back to the parent table: got %d, want 16", got)
	}
}

// secretsConfig carries a secret, to test the loader's secret handling
// without depending on a section that has one.
type secretsConfig struct {
	Token     string `toml:"token" secret:"THECURE_TEST_TOKEN"`
	TokenFile string `toml:"token_file"`
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{DataDir: dir}
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := secretsConfig{TokenFile: "token"}
	d := &decoder{}
	warnings := d.secrets(cfg, reflectValue(&sc), "bot")
	if sc.Token != "from-file" || len(d.probs) != 0 {
		t.Fatalf("token %q, problems %v", sc.Token, d.probs)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "bot.token_file") {
		t.Errorf("a world-readable secret file must warn, got %v", warnings)
	}
	os.Chmod(file, 0o640)
	sc = secretsConfig{TokenFile: "token"}
	if w := d.secrets(cfg, reflectValue(&sc), "bot"); len(w) != 0 {
		t.Errorf("unexpected warnings %v", w)
	}

	t.Setenv("THECURE_TEST_TOKEN", "from-env")
	sc = secretsConfig{TokenFile: "token"}
	d.secrets(cfg, reflectValue(&sc), "bot")
	if sc.Token != "from-env" {
		t.Errorf("the environment must win, got %q", sc.Token)
	}

	t.Setenv("THECURE_TEST_TOKEN", "")
	sc = secretsConfig{TokenFile: "missing"}
	d = &decoder{}
	d.secrets(cfg, reflectValue(&sc), "bot")
	if len(d.probs) != 1 || d.probs[0].Key != "bot.token_file" {
		t.Errorf("a missing secret file must be a problem at bot.token_file, got %v", d.probs)
	}
}

func TestDefaultsAreValid(t *testing.T) {
	if probs := Default().Validate(); len(probs) > 0 {
		t.Fatalf("built-in defaults have problems:\n%v", probs)
	}
}

func TestPortClashBetweenServices(t *testing.T) {
	_, _, err := Parse("x.toml", []byte("[http]\nlisten = \":2121\"\n"))
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Line != 2 || !strings.Contains(probs[0].Msg, "already used") {
		t.Fatalf("want one problem on line 2 about a shared address, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"acceptance", "many", "syntax", "types", "bounds", "tls-mismatch", "devices"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", name+".toml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	example, _ := os.ReadFile(filepath.Join("..", "..", "config.toml.example"))
	f.Add(example)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := Parse("fuzz.toml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("exactly one of config and error must be set: %v, %v", cfg != nil, err)
		}
		var probs Problems
		if err != nil && errors.As(err, &probs) && len(probs) == 0 {
			t.Fatal("an error with no problems")
		}
	})
}

func reflectValue(v any) reflect.Value { return reflect.ValueOf(v).Elem() }
