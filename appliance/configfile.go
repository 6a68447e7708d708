package appliance

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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

// loadConfig loads the file named by -c, else the first default path that
// exists, else the built-in defaults.
func loadConfig(fset *flag.FlagSet, need secrets) (*loaded, error) {
	l, err := readConfig(fset)
	var probs config.Problems
	if err != nil && !bool(need) && l != nil && l.cfg != nil && errors.As(err, &probs) {
		// Every problem is a missing secret (Load returned the config):
		// this command does not use them.
		return withDataDir(l, nil)
	}
	return l, err
}

func readConfig(fset *flag.FlagSet) (*loaded, error) {
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
// appliance is stopped. It refuses a data dir that does not exist: a command
// run from the wrong directory or with the wrong config would otherwise make
// an empty database there and seem to work.
func openStoreCLI(dataDir string) (*store.Store, error) {
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no data dir %s: is this the config thecure runs with? (-c FILE; `thecure run` creates it)", dataDir)
	}
	return store.Open(dataDir, storeLockTimeout)
}
