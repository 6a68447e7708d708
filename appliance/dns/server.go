// Package dns is thecure's optional authoritative DNS server for the box's
// own zone ([dns] in the config), on github.com/miekg/dns: SOA and NS
// generated, the zone's [[dns.records]], ftp, live, www and the apex pointing
// to public_host; authoritative answers only (REFUSED for other zones, never
// recursion), EDNS0 and TC with TCP fallback, AXFR/IXFR to allow_transfer
// with NOTIFY on change, response rate limiting on UDP and optional online
// DNSSEC signing (ECDSA P-256, NSEC).
package dns

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"thecure/appliance/config"
	"thecure/appliance/health"
	"thecure/appliance/logsafe"
	"thecure/appliance/store"
)

// Limits on TCP clients (enforced at accept, before any byte is read).
const (
	maxTCPConns   = 256
	maxTCPPerIP   = 16
	tcpReadTime   = 2 * time.Second  // first query of a connection
	tcpIdleTime   = 8 * time.Second  // between queries (RFC 7766)
	tcpWriteTime  = 10 * time.Second // one response (or transfer message)
	maxTCPQueries = 128              // per connection
	notifyTries   = 5
	statusEvery   = 5 * time.Second
	resignCheck   = time.Hour
)

// Options are what a Server needs.
type Options struct {
	Config  *config.Config // [dns] and public_host
	DataDir string         // absolute; the DNSSEC key lives in DataDir/dns/
	Store   *store.Store   // the zone's serial
	Log     *slog.Logger
	Metrics prometheus.Registerer
	Health  *health.Registry // optional: the status line on /admin and in `thecure status`
	Name    string           // the service's name in Health
	Now     func() time.Time // tests; time.Now when nil
}

// Server serves one zone over UDP and TCP.
type Server struct {
	o   Options
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex // one rebuild at a time
	dnsCfg   config.DNS
	pubHost  string
	key      *dns.DNSKEY
	signer   *ecdsa.PrivateKey
	zone     atomic.Pointer[zone]
	acl      atomic.Pointer[[]netip.Prefix]
	notifyTo atomic.Pointer[[]netip.AddrPort]
	rrl      atomic.Pointer[rrl]
	changed  chan struct{} // the zone changed: send NOTIFYs

	queries   *prometheus.CounterVec
	rrlCount  *prometheus.CounterVec
	xfers     *prometheus.CounterVec
	notifies  *prometheus.CounterVec
	serialG   prometheus.Gauge
	nQueries  atomic.Uint64
	nRRL      atomic.Uint64
	refusedXF rate.Sometimes
	readErr   rate.Sometimes
}

// New builds the zone from the configuration (making the DNSSEC key the
// first time, and recording the serial in the store). It opens no socket.
func New(o Options) (*Server, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, log: o.Log, now: o.Now, changed: make(chan struct{}, 1),
		refusedXF: rate.Sometimes{Interval: time.Minute}, readErr: rate.Sometimes{Interval: time.Minute}}
	s.queries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thecure_dns_queries_total", Help: "DNS queries answered, by query type and response code.",
	}, []string{"type", "rcode"})
	s.rrlCount = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thecure_dns_rrl_limited_total", Help: "UDP responses over the rate limit (RRL): dropped, or slipped (sent empty with TC).",
	}, []string{"action"})
	s.xfers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thecure_dns_transfers_total", Help: "Zone transfer requests (AXFR/IXFR), by result.",
	}, []string{"result"})
	s.notifies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thecure_dns_notifies_total", Help: "NOTIFY messages to secondaries, by result.",
	}, []string{"result"})
	s.serialG = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "thecure_dns_zone_serial", Help: "The zone's SOA serial.",
	})
	if o.Metrics != nil {
		for _, c := range []prometheus.Collector{s.queries, s.rrlCount, s.xfers, s.notifies, s.serialG} {
			if err := o.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("dns metrics: %w", err)
			}
		}
	}
	if err := s.rebuild(o.Config); err != nil {
		return nil, err
	}
	return s, nil
}

// LiveKeys are the config keys Reload applies while the server runs.
func (s *Server) LiveKeys() []string {
	return []string{"dns.zone", "dns.ttl", "dns.min_ttl", "dns.max_ttl", "dns.allow_transfer",
		"dns.notify", "dns.dnssec", "dns.rrl", "dns.records"}
}

// Reload applies a new configuration's zone, transfer and rate-limit
// settings; a changed zone gets a new serial and NOTIFYs. On an error the
// server keeps serving what it had.
func (s *Server) Reload(cfg *config.Config) error { return s.rebuild(cfg) }

// rebuild makes and installs the zone of cfg.
func (s *Server) rebuild(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rebuildLocked(cfg.DNS, cfg.PublicHost, false)
}

func (s *Server) rebuildLocked(c config.DNS, publicHost string, resign bool) error {
	cz, probs := c.BuildZone(publicHost)
	if len(probs) > 0 {
		return probs
	}
	var key *dns.DNSKEY
	var signer *ecdsa.PrivateKey
	if c.DNSSEC {
		k, p, created, err := loadOrCreateKey(s.o.DataDir, cz.Origin)
		if err != nil {
			return fmt.Errorf("dnssec key: %w", err)
		}
		if created {
			s.log.Info("made a DNSSEC key; give the parent zone the DS record of `thecure dns ds`", "zone", cz.Origin, "file", keyPath(s.o.DataDir, cz.Origin))
		}
		key, signer = k, p
	}
	now := s.now()
	hash := contentHash(cz, key)
	if resign {
		hash += " resign " + strconv.FormatInt(now.Unix(), 10)
	}
	serial, changed, err := nextSerial(s.o.Store, cz.Origin, hash, signer != nil, now)
	if err != nil {
		return err
	}
	var sg crypto.Signer // stays a nil interface when unsigned
	if signer != nil {
		sg = signer
	}
	z, err := buildZone(cz, config.TTLSeconds(c.TTL), serial, key, sg, now)
	if err != nil {
		return err
	}
	var acl []netip.Prefix
	for _, a := range c.AllowTransfer {
		if p, err := config.ParsePrefix(a); err == nil {
			acl = append(acl, p)
		}
	}
	var targets []netip.AddrPort
	for _, n := range c.Notify {
		if ap, err := config.NotifyAddr(n); err == nil {
			targets = append(targets, ap)
		}
	}
	old := s.zone.Load()
	s.dnsCfg, s.pubHost, s.key, s.signer = c, publicHost, key, signer
	s.acl.Store(&acl)
	s.notifyTo.Store(&targets)
	if old == nil || old.origin != z.origin || old.serial != z.serial || old.signed != z.signed || resign {
		s.zone.Store(z)
	} else if old.signed {
		// Same content and serial: keep the signatures in force.
		z = old
	} else {
		s.zone.Store(z)
	}
	s.rrl.Store(newRRL(c.RRL))
	s.serialG.Set(float64(z.serial))
	if changed || old == nil {
		s.log.Info("zone loaded", "zone", z.origin, "serial", z.serial, "records", z.count, "signed", z.signed, "changed", changed)
	}
	if changed || old == nil || old.serial != z.serial {
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

// Serial is the zone's current SOA serial.
func (s *Server) Serial() uint32 { return s.zone.Load().serial }

// Serve answers on pc (UDP) and ln (TCP) until ctx is cancelled; then it
// stops both, waits for the connections and NOTIFYs it started, and
// returns nil. The zone is re-signed (new serial, NOTIFY) before its
// signatures grow old.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tcp := &dns.Server{
		Listener: newTCPListener(ln), Handler: handler{s, true},
		ReadTimeout: tcpReadTime, WriteTimeout: tcpWriteTime,
		IdleTimeout: func() time.Duration { return tcpIdleTime }, MaxTCPQueries: maxTCPQueries,
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	servers := []*dns.Server{tcp}
	if uc, ok := pc.(*net.UDPConn); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.serveUDP(ctx, uc)
			if ctx.Err() == nil {
				if err == nil {
					err = errors.New("udp: stopped unexpectedly")
				}
				errs <- err
				cancel()
			}
		}()
	} else { // not a socket: miekg/dns's loop
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: handler{s, false}, UDPSize: dns.DefaultMsgSize})
	}
	for _, srv := range servers {
		started, returned := make(chan struct{}), make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(returned)
			err := srv.ActivateAndServe()
			if ctx.Err() == nil {
				if err == nil {
					err = errors.New("stopped unexpectedly")
				}
				errs <- err
				cancel()
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Wait for it to start even when ctx is done already: a
			// server stopped before it started would serve forever.
			select {
			case <-started:
			case <-returned:
				return // it failed to start: nothing to stop
			}
			<-ctx.Done()
			sctx, stop := context.WithTimeout(context.Background(), tcpWriteTime)
			defer stop()
			if err := srv.ShutdownContext(sctx); err != nil {
				s.log.Warn("dns: stop", "err", err)
			}
		}()
	}
	wg.Add(2)
	go func() { defer wg.Done(); s.notifyLoop(ctx) }()
	go func() { defer wg.Done(); s.background(ctx, ln.Addr().String()) }()
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}

// background keeps the status line current and re-signs the zone in time.
func (s *Server) background(ctx context.Context, addr string) {
	status := time.NewTicker(statusEvery)
	defer status.Stop()
	resign := time.NewTicker(resignCheck)
	defer resign.Stop()
	s.status(addr)
	for {
		select {
		case <-ctx.Done():
			return
		case <-status.C:
			s.status(addr)
		case <-resign.C:
			if err := s.resignIfDue(); err != nil {
				s.log.Error("dns: re-signing the zone failed; the old signatures stay", "err", err)
			}
		}
	}
}

// resignIfDue signs the zone again (with a new serial) when its signatures
// are older than resignAfter.
func (s *Server) resignIfDue() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zone.Load()
	if !z.signed || z.expire.Sub(s.now()) > sigValidity-resignAfter {
		return nil
	}
	return s.rebuildLocked(s.dnsCfg, s.pubHost, true)
}

// status writes the service's line (shown on /admin and by `thecure status`).
func (s *Server) status(addr string) {
	if s.o.Health == nil {
		return
	}
	z := s.zone.Load()
	signed := ""
	if z.signed {
		signed = ", signed"
	}
	s.o.Health.Set(s.o.Name, health.Up, fmt.Sprintf("%s udp+tcp; zone %s serial %d, %d records%s; %d queries, %d over the rate limit",
		addr, z.origin, z.serial, z.count, signed, s.nQueries.Load(), s.nRRL.Load()))
}

// handler answers one transport's queries.
type handler struct {
	s   *Server
	tcp bool
}

// ServeDNS answers one query.
func (h handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s := h.s
	remote := addrOf(w.RemoteAddr())
	if !h.tcp {
		switch s.rrl.Load().check(remote, s.now()) {
		case drop:
			s.nRRL.Add(1)
			s.rrlCount.WithLabelValues("dropped").Inc()
			return
		case slip:
			s.nRRL.Add(1)
			s.rrlCount.WithLabelValues("slipped").Inc()
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			s.write(w, r, m)
			return
		}
	}
	z := s.zone.Load()
	m := s.respond(z, r, h.tcp, remote, w)
	if m != nil {
		s.write(w, r, m)
	}
}

// respond computes the reply to r; nil when it was written already (a
// transfer over TCP, through w; w is nil for UDP).
func (s *Server) respond(z *zone, r *dns.Msg, tcp bool, remote netip.Addr, w dns.ResponseWriter) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = false
	if len(r.Question) != 1 { // the accept function lets none through; fuzzing might
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := r.Question[0]
	opt := r.IsEdns0()
	if opt != nil && opt.Version() != 0 {
		m.Rcode = dns.RcodeBadVers
		m.SetEdns0(udpSize, false)
		return m
	}
	do := opt != nil && opt.Do()
	qname := dns.CanonicalName(q.Name)
	switch {
	case r.Opcode == dns.OpcodeNotify:
		m.Rcode = dns.RcodeRefused // we are the primary
	case r.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		m.Rcode = dns.RcodeRefused
	case !dns.IsSubDomain(z.origin, qname):
		m.Rcode = dns.RcodeRefused // not ours: never a resolver
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		if reply, done := s.transfer(w, r, z, tcp, remote); done {
			return reply
		}
		m.Rcode = dns.RcodeRefused
	default:
		z.answer(m, qname, q.Qtype, do, tcp)
	}
	if opt != nil {
		m.SetEdns0(udpSize, do)
	}
	if !tcp {
		size := dns.MinMsgSize
		if opt != nil {
			size = min(max(int(opt.UDPSize()), dns.MinMsgSize), udpSize)
		}
		m.Truncate(size)
	} else {
		m.Compress = true
	}
	return m
}

// write sends m and counts it.
func (s *Server) write(w dns.ResponseWriter, r, m *dns.Msg) {
	s.count(r, m.Rcode)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns: write", "err", err)
	}
}

// queryTypes are the query types counted by name; others are "other" (the
// metric's labels stay few whatever clients send).
var queryTypes = map[uint16]string{}

func init() {
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeTXT, dns.TypeMX, dns.TypeSRV,
		dns.TypeCAA, dns.TypeNS, dns.TypeSOA, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeDNSKEY,
		dns.TypeDS, dns.TypeNSEC, dns.TypeRRSIG, dns.TypePTR, dns.TypeHTTPS, dns.TypeSVCB} {
		queryTypes[t] = dns.TypeToString[t]
	}
}

func (s *Server) count(r *dns.Msg, rcode int) {
	qtype := uint16(0) // "other"
	if len(r.Question) == 1 {
		qtype = r.Question[0].Qtype
	}
	s.countType(qtype, rcode)
}

func (s *Server) countType(qtype uint16, rcode int) {
	s.nQueries.Add(1)
	t, ok := queryTypes[qtype]
	if !ok {
		t = "other"
	}
	rc, ok := dns.RcodeToString[rcode]
	if !ok {
		rc = "other"
	}
	s.queries.WithLabelValues(t, rc).Inc()
}

// addrOf is a client's IP address.
func addrOf(a net.Addr) netip.Addr {
	var ap netip.AddrPort
	switch v := a.(type) {
	case *net.UDPAddr:
		ap = v.AddrPort()
	case *net.TCPAddr:
		ap = v.AddrPort()
	default:
		p, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		ap = p
	}
	return ap.Addr().Unmap()
}

// transfer answers AXFR and IXFR from allowed addresses: a full transfer
// is written to w (TCP) and gives (nil, true); an IXFR answered with the SOA
// alone gives that reply; (nil, false) means refuse.
func (s *Server) transfer(w dns.ResponseWriter, r *dns.Msg, z *zone, tcp bool, remote netip.Addr) (*dns.Msg, bool) {
	allowed := false
	for _, p := range *s.acl.Load() {
		if p.Contains(remote) {
			allowed = true
			break
		}
	}
	q := r.Question[0]
	if !allowed || dns.CanonicalName(q.Name) != z.origin {
		s.xfers.WithLabelValues("refused").Inc()
		s.refusedXF.Do(func() {
			s.log.Warn("dns: zone transfer refused (logged once a minute)", "client", remote.String(),
				"name", logsafe.Value(q.Name, logsafe.Max), "allowed", allowed)
		})
		return nil, false
	}
	if q.Qtype == dns.TypeIXFR {
		var have uint32
		known := false
		if len(r.Ns) == 1 {
			if soa, ok := r.Ns[0].(*dns.SOA); ok {
				have, known = soa.Serial, true
			}
		}
		// Over UDP, or when the client is current: our SOA alone (RFC 1995:
		// "up to date", or "use TCP"). Else a full transfer, AXFR style.
		if !tcp || (known && !serialBefore(have, z.serial)) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Authoritative = true
			m.Answer = []dns.RR{z.soa}
			s.xfers.WithLabelValues("current").Inc()
			return m, true
		}
	}
	if !tcp || w == nil {
		return nil, false // AXFR only over TCP
	}
	rrs := append(z.records(), z.soa)
	var envs []*dns.Envelope
	const chunk = 16 << 10
	for start, size, i := 0, 0, 0; i < len(rrs); i++ {
		size += dns.Len(rrs[i])
		if size > chunk || i == len(rrs)-1 {
			end := i + 1
			if size > chunk && i > start {
				end = i
			}
			envs = append(envs, &dns.Envelope{RR: rrs[start:end]})
			start, size = end, 0
			if end == i {
				i--
			}
		}
	}
	ch := make(chan *dns.Envelope, len(envs))
	for _, e := range envs {
		ch <- e
	}
	close(ch)
	s.count(r, dns.RcodeSuccess)
	tr := new(dns.Transfer)
	if err := tr.Out(w, r, ch); err != nil {
		s.xfers.WithLabelValues("failed").Inc()
		s.log.Warn("dns: zone transfer failed", "client", remote.String(), "err", err)
		return nil, true
	}
	s.xfers.WithLabelValues("sent").Inc()
	s.log.Info("dns: zone transferred", "client", remote.String(), "serial", z.serial, "records", len(rrs))
	return nil, true
}

// serialBefore is RFC 1982 serial arithmetic: a < b.
func serialBefore(a, b uint32) bool { return a != b && int32(b-a) > 0 }

// notifyLoop sends NOTIFYs to the secondaries each time the zone changes
// (and once at start), retrying with back-off until each answers.
func (s *Server) notifyLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
		}
		z := s.zone.Load()
		for _, t := range *s.notifyTo.Load() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.notify(ctx, t, z)
			}()
		}
	}
}

func (s *Server) notify(ctx context.Context, target netip.AddrPort, z *zone) {
	m := new(dns.Msg)
	m.SetNotify(z.origin)
	m.Answer = []dns.RR{z.soa}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		in, _, err := c.ExchangeContext(ctx, m, target.String())
		switch {
		case err != nil:
			return struct{}{}, err
		case in.Rcode != dns.RcodeSuccess:
			return struct{}{}, backoff.Permanent(fmt.Errorf("answered %s", dns.RcodeToString[in.Rcode]))
		}
		return struct{}{}, nil
	}, backoff.WithBackOff(b), backoff.WithMaxTries(notifyTries))
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.notifies.WithLabelValues("failed").Inc()
		s.log.Warn("dns: NOTIFY not acknowledged", "secondary", target.String(), "serial", z.serial, "err", err)
		return
	}
	s.notifies.WithLabelValues("ok").Inc()
	s.log.Info("dns: NOTIFY acknowledged", "secondary", target.String(), "serial", z.serial)
}
