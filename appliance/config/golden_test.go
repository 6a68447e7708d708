package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/config")

// TestBrokenConfigs loads each testdata/config/*.toml and compares every
// problem reported with its .golden file.
func TestBrokenConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "config", "*.toml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test configs: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Parse("testdata/config/"+name, data)
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("want problems, got cfg=%v err=%v", cfg != nil, err)
			}
			got := probs.Error() + "\n"
			golden := strings.TrimSuffix(f, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./appliance/config -update)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}
