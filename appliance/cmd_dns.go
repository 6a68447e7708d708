package appliance

import (
	"errors"
	"fmt"
	"io"

	"thecure/appliance/dns"
)

// cmdDNSDS is `thecure dns ds`.
func cmdDNSDS(e *env, file string) error {
	l, err := loadConfig(file, anySecrets)
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
