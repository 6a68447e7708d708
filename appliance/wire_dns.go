package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"thecure/appliance/dns"
)

// wireDNS adds the authoritative DNS server when [dns] is enabled. Its UDP
// socket is bound here, before anything runs; the TCP listener (same port,
// also when the config says port 0) is bound with the others by bind.
func (a *app) wireDNS() error {
	c := a.cfg.DNS
	if !c.Enabled {
		return nil
	}
	srv, err := dns.New(dns.Options{
		Config: a.cfg, DataDir: a.dataDir, Store: a.store, Log: a.log.With("svc", "dns"),
		Metrics: a.reg, Health: a.health, Name: "dns",
	})
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	pc, err := net.ListenPacket("udp", c.Listen)
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return fmt.Errorf("cannot listen on %s (dns.listen, udp): %w", c.Listen, err)
	}
	a.closers = append(a.closers, pc)
	a.log.Info("listening", "svc", "dns", "key", "dns.listen", "addr", pc.LocalAddr().String(), "net", "udp")
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("dns.listen: %w", err)
	}
	tcpAddr := net.JoinHostPort(host, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
	a.dns = srv
	a.add(service{name: "dns", listen: []listenSpec{{"dns.listen", tcpAddr}},
		run: func(ctx context.Context, lns []net.Listener) error { return srv.Serve(ctx, pc, lns[0]) }})
	return nil
}
