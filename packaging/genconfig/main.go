// Command genconfig writes the Debian package's /etc/thecure/config.toml:
// config.toml.example, comments and all, with the production values of
// packaging/production.toml set. It is a build tool run by `make deb`; the
// appliance binary never links it.
//
// Rules, so that the conffile never drifts from the example while other
// features add keys to it:
//   - a key present in the example (set, or shown commented out) gets the
//     production value; a commented-out key is uncommented;
//   - a key whose whole section is not in the example yet (a feature still
//     being merged) is skipped, with a note on stderr;
//   - a key missing from a section that exists (or a top-level key missing)
//     is an error: it was renamed or mistyped;
//   - the result must load and validate with the appliance's own config
//     loader, and each production value must read back unchanged.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	example := flag.String("example", "config.toml.example", "the documented example config `FILE`")
	overrides := flag.String("overrides", "packaging/production.toml", "the production values `FILE` (TOML)")
	out := flag.String("o", "", "write the result to `FILE` (default: stdout)")
	flag.Parse()
	if err := run(*example, *overrides, *out, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "genconfig: %v\n", err)
		os.Exit(1)
	}
}

func run(examplePath, overridesPath, outPath string, stdout, stderr io.Writer) error {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		return err
	}
	ovData, err := os.ReadFile(overridesPath)
	if err != nil {
		return err
	}
	ovs, err := parseOverrides(ovData)
	if err != nil {
		return fmt.Errorf("%s: %w", overridesPath, err)
	}
	res, err := generate(example, ovs, loadConfig)
	if err != nil {
		return fmt.Errorf("%s: %w", examplePath, err)
	}
	for _, k := range res.skipped {
		fmt.Fprintf(stderr, "genconfig: note: %s not set: %s has no [%s] section yet\n", k, examplePath, parent(k))
	}
	if outPath == "" {
		_, err = stdout.Write(res.text)
		return err
	}
	return os.WriteFile(outPath, res.text, 0o644)
}
