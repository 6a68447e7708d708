package appliance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"thecure/appliance/config"
	"thecure/appliance/store"
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

// secrets says whether a command needs the configuration's secrets.
type secrets bool

const (
	needSecrets secrets = true  // run and check-config: a missing secret is an error
	anySecrets  secrets = false // management commands: the service's environment may hold them
)

// loadConfig loads path (the -c FILE), else the first default path that
// exists, else the built-in defaults.
func loadConfig(path string, need secrets) (*loaded, error) {
	l, err := readConfig(path)
	var probs config.Problems
	if err != nil && !bool(need) && l != nil && l.cfg != nil && errors.As(err, &probs) {
		// Every problem is a missing secret (Load returned the config):
		// this command does not use them.
		return withDataDir(l, nil)
	}
	return l, err
}

func readConfig(path string) (*loaded, error) {
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
	if err != nil || l.cfg == nil {
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

// openStoreCLI opens the store for a management command run while the
// appliance is stopped. A data dir that does not exist is made only when the
// config file names it with an absolute path (data_dir = "/var/lib/x"): a
// command run from the wrong directory or with the wrong config would
// otherwise make an empty database somewhere and seem to work.
func openStoreCLI(e *env, l *loaded) (*store.Store, error) {
	if _, err := os.Stat(l.dataDir); errors.Is(err, fs.ErrNotExist) {
		if !namesDataDir(l.file) {
			return nil, fmt.Errorf("no data dir %s (thecure has not run with %s yet): "+
				"pass the config thecure runs with (-c FILE), start thecure once (thecure run), "+
				"or set data_dir to an absolute path in the config file", l.dataDir, l.source)
		}
		if err := os.MkdirAll(l.dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("make data dir: %w", err)
		}
		fmt.Fprintf(e.stderr, "thecure: made data dir %s (data_dir in %s)\n", l.dataDir, l.file)
	}
	return store.Open(l.dataDir, storeLockTimeout)
}

// namesDataDir says whether the config file sets data_dir itself, to an
// absolute path.
func namesDataDir(file string) bool {
	if file == "" {
		return false
	}
	var top map[string]any
	if _, err := toml.DecodeFile(file, &top); err != nil {
		return false // it loaded before: unreadable now is "no"
	}
	dir, ok := top["data_dir"].(string)
	return ok && filepath.IsAbs(dir)
}
