package appliance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"thecure/appliance/dns"
)

const dnsCommands = `commands:
  ds    print the DS record of the signed zone ([dns] dnssec = true), for the parent zone
`

// cmdDNS is `thecure dns ds`.
func cmdDNS(_ context.Context, e *env, fset *flag.FlagSet, args []string) error {
	if len(args) > 0 && args[0] == "ds" {
		// flags may follow the subcommand: thecure dns ds -c FILE
		if err := fset.Parse(args[1:]); err != nil {
			return exitError{code: 2}
		}
		args = append([]string{"ds"}, fset.Args()...)
	}
	if len(args) != 1 || args[0] != "ds" {
		fmt.Fprintf(e.stderr, "usage: thecure dns ds [-c FILE]\n\n%s", dnsCommands)
		return exitError{code: 2}
	}
	l, err := loadConfig(fset, anySecrets)
	if err != nil {
		return printProblems(e, err)
	}
	return printDS(e.stdout, l)
}

// printDS writes the DS record of the configured zone's DNSSEC key, as the
// parent zone publishes it. It reads the key the appliance made (in
// data_dir/dns/) and never makes one.
func printDS(w io.Writer, l *loaded) error {
	c := l.cfg.DNS
	switch {
	case c.Zone == "":
		return errors.New("[dns] zone is not set")
	case !c.DNSSEC:
		return fmt.Errorf("[dns] dnssec is off in %s: the zone %s is not signed", l.source, c.Origin())
	}
	ds, err := dns.DS(l.dataDir, c.Zone)
	if errors.Is(err, dns.ErrNoKey) {
		return fmt.Errorf("%w: start thecure once with [dns] enabled = true and dnssec = true; it makes the key", err)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, ds.String())
	return err
}
