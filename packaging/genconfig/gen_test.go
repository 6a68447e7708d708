package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"thecure/appliance/config"
)

// TestRealFiles generates the package's config from the repository's own
// config.toml.example and packaging/production.toml.
func TestRealFiles(t *testing.T) {
	out := filepath.Join(t.TempDir(), "config.toml")
	var stderr bytes.Buffer
	if err := run("../../config.toml.example", "../production.toml", out, nil, &stderr); err != nil {
		t.Fatalf("genconfig: %v\n%s", err, stderr.String())
	}
	t.Logf("stderr: %s", stderr.String())
	cfg, _, err := config.Load(out)
	if err != nil {
		t.Fatalf("generated config does not load: %v", err)
	}
	for key, got := range map[string]string{
		"data_dir":    cfg.DataDir,
		"http.listen": cfg.HTTP.Listen,
		"ftp.listen":  cfg.FTP.Listen,
		"rtmp.listen": cfg.RTMP.Listen,
	} {
		want := map[string]string{"data_dir": "/var/lib/thecure", "http.listen": ":80", "ftp.listen": ":21", "rtmp.listen": ":1935"}[key]
		if got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	// Every comment of the example is there, in the same order.
	example, _ := os.ReadFile("../../config.toml.example")
	gen, _ := os.ReadFile(out)
	rest := string(gen)
	for _, l := range strings.Split(string(example), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		i := strings.Index(rest, l+"\n")
		if i < 0 {
			t.Fatalf("comment line %q of the example is missing or out of order", l)
		}
		rest = rest[i+len(l):]
	}
	// backup.dir is either set (the [backup] section exists) or reported skipped.
	if strings.Contains(string(example), "[backup]") {
		if !strings.Contains(string(gen), `dir = "/var/backups/thecure"`) {
			t.Errorf("[backup] exists but dir is not /var/backups/thecure")
		}
	} else if !strings.Contains(stderr.String(), "backup.dir not set") {
		t.Errorf("no note about the skipped backup.dir: %q", stderr.String())
	}
}

const example = `# top comment
data_dir = "thecure-data"

[http]
# The web server.
listen = ":8080" # keep this comment
name = "a # not a comment" # real comment

[[ftp.folders]]
name = "pelis"

[bot]
enabled = false
# token = ""
# [bot.extra]
# level = 3
`

func gen(t *testing.T, overrides string) (*result, error) {
	t.Helper()
	ovs, err := parseOverrides([]byte(overrides))
	if err != nil {
		t.Fatalf("overrides: %v", err)
	}
	return generate([]byte(example), ovs, tomlOnly)
}

// tomlOnly checks that text is TOML: the examples here are not thecure configs.
func tomlOnly(text []byte) error {
	var m map[string]any
	_, err := toml.Decode(string(text), &m)
	return err
}

func TestSetsValuesAndKeepsComments(t *testing.T) {
	res, err := gen(t, "data_dir = \"/var/lib/x\"\n[http]\nlisten = \":80\"\nname = \"b\"\n")
	if err != nil {
		t.Fatal(err)
	}
	got := string(res.text)
	for _, want := range []string{
		"data_dir = \"/var/lib/x\"  # built-in default: \"thecure-data\"\n",
		"listen = \":80\" # keep this comment\n",
		"name = \"b\" # real comment\n",
		"# top comment\n", "# The web server.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if len(res.applied) != 3 || len(res.skipped) != 0 {
		t.Errorf("applied %v skipped %v", res.applied, res.skipped)
	}
}

func TestUncommentsCommentedKeyAndHeader(t *testing.T) {
	res, err := gen(t, "[bot]\ntoken = \"t\"\n[bot.extra]\nlevel = 5\n")
	if err != nil {
		t.Fatal(err)
	}
	got := string(res.text)
	for _, want := range []string{"\ntoken = \"t\"", "\n[bot.extra]\n", "\nlevel = 5"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestSkipsKeyOfMissingSection(t *testing.T) {
	res, err := gen(t, "[backup]\ndir = \"/var/backups/thecure\"\n[http]\nlisten = \":80\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.skipped) != 1 || res.skipped[0] != "backup.dir" {
		t.Errorf("skipped %v, want [backup.dir]", res.skipped)
	}
	if strings.Contains(string(res.text), "backups") {
		t.Errorf("the skipped key was written:\n%s", res.text)
	}
}

func TestFailsOnMissingKeyOfExistingSection(t *testing.T) {
	for _, ov := range []string{
		"[bot]\ndirectory = \"/x\"\n", // section exists, key renamed
		"datadir = \"/x\"\n",          // top level always exists
		"[bot.extra]\nlvl = 1\n",      // a commented-out section exists too
	} {
		_, err := gen(t, ov)
		if err == nil || !strings.Contains(err.Error(), "was it renamed") {
			t.Errorf("%q: err = %v, want a renamed-key error", ov, err)
		}
	}
}

func TestFailsOnArrayTables(t *testing.T) {
	if _, err := gen(t, "[ftp.folders]\nname = \"x\"\n"); err == nil || !strings.Contains(err.Error(), "arrays of tables") {
		t.Errorf("err = %v, want an arrays-of-tables error", err)
	}
}

func TestFailsWhenResultDoesNotValidate(t *testing.T) {
	// A value the appliance's loader rejects fails the build.
	ex := "data_dir = \"d\"\n[http]\nlisten = \":8080\"\n"
	ovs, _ := parseOverrides([]byte("[http]\nlisten = \"nonsense\"\n"))
	if _, err := generate([]byte(ex), ovs, loadConfig); err == nil || !strings.Contains(err.Error(), "does not load") {
		t.Errorf("err = %v, want a does-not-load error", err)
	}
}
