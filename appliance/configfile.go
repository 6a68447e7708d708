package appliance

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"thecure/appliance/config"
)

// defaultConfigPaths are tried in order when -c is not given.
var defaultConfigPaths = []string{"config.toml", "/etc/thecure/config.toml"}

// loaded is a configuration and where it came from.
type loaded struct {
	cfg      *config.Config
	source   string // the file, or "built-in defaults"
	file     string // the file, or "" for built-in defaults
	dataDir  string // cfg.DataDir made absolute
	warnings []string
}

// loadConfig loads the file named by -c, else the first default path that
// exists, else the built-in defaults.
func loadConfig(fset *flag.FlagSet) (*loaded, error) {
	path := fset.Lookup("c").Value.String()
	if path == "" {
		for _, p := range defaultConfigPaths {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("config %s: %w", p, err)
			}
		}
	}
	if path == "" {
		cfg, warnings, err := config.Checked()
		return withDataDir(&loaded{cfg: cfg, source: "built-in defaults", warnings: warnings}, err)
	}
	cfg, warnings, err := config.Load(path)
	return withDataDir(&loaded{cfg: cfg, source: path, file: path, warnings: warnings}, err)
}

// withDataDir fills in the absolute data dir of a configuration that loaded.
func withDataDir(l *loaded, err error) (*loaded, error) {
	if err != nil {
		return l, err
	}
	if l.dataDir, err = filepath.Abs(l.cfg.DataDir); err != nil {
		return l, fmt.Errorf("data_dir: %w", err)
	}
	return l, nil
}

// printProblems writes each configuration problem on its own line.
func printProblems(e *env, err error) error {
	var probs config.Problems
	if errors.As(err, &probs) {
		for _, p := range probs {
			fmt.Fprintln(e.stderr, p.String())
		}
		return exitError{code: 1}
	}
	return err
}
