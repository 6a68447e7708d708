package ftps

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/store"
	"thecure/appliance/tlscert"
	"thecure/appliance/users"
)

// Test accounts; every password is name + "-password".
const (
	uploader = "uploader" // innovatech
	viewer   = "viewer"   // no groups
	boss     = "boss"     // admin, innovatech
)

func pw(name string) string { return name + "-password" }

// recorder is a tiny Ingest that remembers what it was told.
type recorder struct {
	mu      sync.Mutex
	events  []string // "enqueue PATH" / "remove PATH"
	failing bool
}

func (r *recorder) Enqueue(_ context.Context, p string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("queue is down")
	}
	r.events = append(r.events, "enqueue "+p)
	return nil
}

func (r *recorder) Remove(_ context.Context, p string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "remove "+p)
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

type env struct {
	t        testing.TB
	srv      *Server
	addr     string // explicit
	implAddr string // implicit, when asked for
	media    string
	users    *users.Users
	ingest   *recorder
	reg      *prometheus.Registry
	roots    *x509.CertPool
	cancel   context.CancelFunc
	done     chan error
	logs     *apptest.SyncBuffer
	st       *store.Store
}

// start runs a server on loopback with the default folders; tweak changes
// the options before New.
func start(t testing.TB, tweak func(*Options)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "data"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	us := users.NewWithCost(st, bcrypt.MinCost)
	for name, groups := range map[string][]string{uploader: {"innovatech"}, viewer: nil, boss: {"admin", "innovatech"}} {
		if _, err := us.Add(name, pw(name), groups); err != nil {
			t.Fatal(err)
		}
	}
	cert, _, err := tlscert.Load("", "", filepath.Join(dir, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)

	fc := config.Default().FTP
	fc.PassivePorts = config.PortRange{} // any free port
	e := &env{t: t, st: st, media: filepath.Join(dir, "media"), users: us, ingest: &recorder{}, reg: prometheus.NewRegistry(), roots: roots, logs: &apptest.SyncBuffer{}}
	o := Options{
		FTP:             fc,
		MediaDir:        e.media,
		ShutdownTimeout: 5 * time.Second,
		Cert:            cert,
		Accounts:        us,
		Store:           st,
		Ingest:          e.ingest,
		Metrics:         e.reg,
		Log:             slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	wantImplicit := false
	if tweak != nil {
		tweak(&o)
		e.media = o.MediaDir
		wantImplicit = o.FTP.ImplicitListen != ""
	}
	if o.Ingest == nil {
		e.ingest = nil
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	var iln net.Listener
	if wantImplicit {
		if iln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		e.implAddr = iln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- srv.Serve(ctx, ln, iln) }()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	// wait until the folders exist (Serve made them)
	apptest.WaitFor(t, 30*time.Second, "folders created", func() bool {
		_, err := os.Stat(filepath.Join(e.media, "admin"))
		return err == nil
	})
	return e
}

func (e *env) stop() error {
	e.cancel()
	select {
	case err := <-e.done:
		e.done <- err
		return err
	case <-time.After(60 * time.Second):
		e.t.Fatal("Serve did not return after cancel")
		return nil
	}
}

func (e *env) tlsConfig() *tls.Config {
	return &tls.Config{
		RootCAs:            e.roots,
		ServerName:         "localhost",
		ClientSessionCache: tls.NewLRUClientSessionCache(16),
	}
}

// login connects with jlaffaye/ftp over explicit TLS.
func (e *env) login(user string) *ftp.ServerConn {
	e.t.Helper()
	c, err := e.dial(user, pw(user))
	if err != nil {
		e.t.Fatalf("login %s: %v", user, err)
	}
	e.t.Cleanup(func() { _ = c.Quit() })
	return c
}

func (e *env) dial(user, pass string) (*ftp.ServerConn, error) {
	c, err := ftp.Dial(e.addr, ftp.DialWithExplicitTLS(e.tlsConfig()), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, pass); err != nil {
		_ = c.Quit()
		return nil, err
	}
	return c, nil
}

func (e *env) counter(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := true
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				ok = ok && found
			}
			if ok {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func randomData(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	// a few line endings, which an ASCII-mode transfer would mangle
	for i := 0; i+1 < n; i += 997 {
		b[i], b[i+1] = '\r', '\n'
	}
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func retr(t *testing.T, c *ftp.ServerConn, p string) []byte {
	t.Helper()
	r, err := c.Retr(p)
	if err != nil {
		t.Fatalf("RETR %s: %v", p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("RETR %s: %v", p, err)
	}
	return b
}

// visible lists the media tree as it is on disk, hidden files included.
func (e *env) disk() []string {
	var out []string
	_ = filepath.WalkDir(e.media, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(e.media, p)
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	return out
}

// raw is a minimal hand-driven FTPS client, for what jlaffaye/ftp cannot
// do: abort a transfer mid-way, read a PASV reply.
type raw struct {
	t    testing.TB
	e    *env
	conn net.Conn
	tp   *textproto.Conn
	tlsc *tls.Config
}

func (e *env) raw(user string) *raw {
	e.t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, 10*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &raw{t: e.t, e: e, conn: c, tp: textproto.NewConn(c), tlsc: e.tlsConfig()}
	e.t.Cleanup(func() { c.Close() })
	r.expect(220)
	r.cmd(234, "AUTH TLS")
	tc := tls.Client(c, r.tlsc)
	r.conn, r.tp = tc, textproto.NewConn(tc)
	r.cmd(331, "USER %s", user)
	r.cmd(230, "PASS %s", pw(user))
	r.cmd(200, "TYPE I")
	r.cmd(200, "PBSZ 0")
	r.cmd(200, "PROT P")
	return r
}

func (r *raw) expect(code int) string {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, msg, err := r.tp.ReadResponse(code)
	if err != nil {
		r.t.Fatalf("want %d: %v", code, err)
	}
	return msg
}

func (r *raw) cmd(code int, format string, args ...any) string {
	r.t.Helper()
	if err := r.tp.PrintfLine(format, args...); err != nil {
		r.t.Fatal(err)
	}
	return r.expect(code)
}

// pasv sends PASV and returns the announced host and port.
func (r *raw) pasv() (string, int) {
	r.t.Helper()
	msg := r.cmd(227, "PASV")
	i, j := strings.IndexByte(msg, '('), strings.IndexByte(msg, ')')
	f := strings.Split(msg[i+1:j], ",")
	if len(f) != 6 {
		r.t.Fatalf("bad PASV reply %q", msg)
	}
	hi, _ := strconv.Atoi(f[4])
	lo, _ := strconv.Atoi(f[5])
	return strings.Join(f[:4], "."), hi*256 + lo
}

// storStart opens a STOR data connection (EPSV) and returns it with its TCP conn.
func (r *raw) storStart(p string) (*tls.Conn, *net.TCPConn) {
	r.t.Helper()
	msg := r.cmd(229, "EPSV")
	i := strings.Index(msg, "(|||")
	port, _ := strconv.Atoi(strings.TrimSuffix(msg[i+4:], "|)"))
	host, _, _ := net.SplitHostPort(r.e.addr)
	dc, err := net.DialTimeout("tcp", net.JoinHostPort(host, fmt.Sprint(port)), 10*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.tp.PrintfLine("STOR %s", p); err != nil {
		r.t.Fatal(err)
	}
	r.expect(150)
	tc := tls.Client(dc, r.tlsc)
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	return tc, dc.(*net.TCPConn)
}
