package ftps

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
)

const utf8Name = "Película del año (2024).mp4"

func TestRoundTripUTF8AndIngest(t *testing.T) {
	e := start(t, nil)
	c := e.login(uploader)
	data := randomData(t, 3<<20+123)
	p := "/pelis/" + utf8Name
	if err := c.Stor(p, bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if got := retr(t, c, p); sum(got) != sum(data) {
		t.Fatalf("checksum differs: got %d bytes", len(got))
	}
	entries, err := c.List("/pelis")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != utf8Name || entries[0].Size != uint64(len(data)) {
		t.Fatalf("listing: %+v", entries)
	}
	if n, err := c.FileSize(p); err != nil || n != int64(len(data)) {
		t.Fatalf("SIZE = %d, %v", n, err)
	}
	onDisk, err := os.ReadFile(filepath.Join(e.media, "pelis", utf8Name))
	if err != nil || sum(onDisk) != sum(data) {
		t.Fatalf("file on disk: %v", err)
	}
	// HASH is SHA-256 by default, computed on the published file.
	r := e.raw(viewer)
	// (ftpserverlib splits HASH arguments on spaces: such a name is quoted.)
	if msg := r.cmd(213, "HASH %q", p); !strings.Contains(strings.ToLower(msg), sum(data)) {
		t.Fatalf("HASH reply %q, want %s", msg, sum(data))
	}
	// The root shows the readable folders; the admin folder is not one of them.
	names, err := c.NameList("/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "musica,pelis,series" {
		t.Fatalf("root listing %v", names)
	}
	if got := e.ingest.got(); len(got) != 1 || got[0] != "enqueue pelis/"+utf8Name {
		t.Fatalf("ingest got %q", got)
	}
	// Data connections resumed the control connection's TLS session.
	if n := e.counter("thecure_ftp_tls_handshakes_total", "resumed", "true"); n < 1 {
		t.Fatalf("no resumed TLS handshake (resumed=%v, full=%v)", n, e.counter("thecure_ftp_tls_handshakes_total", "resumed", "false"))
	}
	if n := e.counter("thecure_ftp_received_bytes_total"); n != float64(len(data)) {
		t.Fatalf("received bytes %v, want %d", n, len(data))
	}
	if n := e.counter("thecure_ftp_uploads_total", "result", "completed"); n != 1 {
		t.Fatalf("completed uploads %v", n)
	}
}

func TestIngestSeesExactlyCompletedUploads(t *testing.T) {
	e := start(t, nil)
	b := e.login(boss)
	small := []byte("0123456789")
	for _, p := range []string{"/pelis/a.mkv", "/series/Show/S01E01.mkv", "/musica/song.flac", "/admin/notes.txt"} {
		if strings.Count(p, "/") > 2 {
			if err := b.MakeDir(filepath.Dir(p)); err != nil {
				t.Fatalf("MKD %s: %v", filepath.Dir(p), err)
			}
		}
		if err := b.Stor(p, bytes.NewReader(small)); err != nil {
			t.Fatalf("STOR %s: %v", p, err)
		}
	}
	if err := b.Rename("/pelis/a.mkv", "/pelis/b.mkv"); err != nil {
		t.Fatal(err)
	}
	if err := b.Rename("/series/Show", "/series/Other"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("/musica/song.flac"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("/admin/notes.txt"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"enqueue pelis/a.mkv", "enqueue series/Show/S01E01.mkv", "enqueue musica/song.flac",
		"remove pelis/a.mkv", "enqueue pelis/b.mkv",
		"remove series/Show/S01E01.mkv", "enqueue series/Other/S01E01.mkv",
		"remove musica/song.flac",
	}
	if got := e.ingest.got(); !slices.Equal(got, want) {
		t.Fatalf("ingest got\n %q\nwant\n %q", got, want)
	}

	// A failed Enqueue is a failed transfer for the client; the file stays.
	e.ingest.failing = true
	err := b.Stor("/pelis/c.mkv", bytes.NewReader(small))
	if err == nil {
		t.Fatal("STOR succeeded although the queue refused the file")
	}
	if _, err := os.Stat(filepath.Join(e.media, "pelis", "c.mkv")); err != nil {
		t.Fatalf("the file should stay: %v", err)
	}
}

// TestBinaryEvenInASCIIMode: a client that asks for TYPE A (or never sends
// TYPE I) still gets its bytes stored unchanged.
func TestBinaryEvenInASCIIMode(t *testing.T) {
	e := start(t, nil)
	r := e.raw(uploader)
	r.cmd(200, "TYPE A")
	data := randomData(t, 200<<10)
	dc, _ := r.storStart("/pelis/ascii.mkv")
	if _, err := dc.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := dc.Close(); err != nil {
		t.Fatal(err)
	}
	r.expect(226)
	b, err := os.ReadFile(filepath.Join(e.media, "pelis", "ascii.mkv"))
	if err != nil || sum(b) != sum(data) {
		t.Fatalf("stored %d bytes, want %d unchanged (%v)", len(b), len(data), err)
	}
}

func TestNilIngest(t *testing.T) {
	e := start(t, func(o *Options) { o.Ingest = nil })
	c := e.login(uploader)
	if err := c.Stor("/pelis/x.mkv", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/pelis/x.mkv"); err != nil {
		t.Fatal(err)
	}
}

func TestPlaintextRefused(t *testing.T) {
	e := start(t, nil)
	c, err := ftp.Dial(e.addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	err = c.Login(uploader, pw(uploader))
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("plaintext login: %v, want a TLS-required refusal", err)
	}
	if e.counter("thecure_ftp_logins_total", "result", "ok") != 0 {
		t.Fatal("a plaintext login went through")
	}
}

func TestWriteRights(t *testing.T) {
	e := start(t, nil)
	v := e.login(viewer)
	u := e.login(uploader)
	if err := u.Stor("/pelis/film.mp4", strings.NewReader("film")); err != nil {
		t.Fatal(err)
	}
	// A user without write rights reads but changes nothing.
	if got := retr(t, v, "/pelis/film.mp4"); string(got) != "film" {
		t.Fatalf("viewer read %q", got)
	}
	denied := map[string]func() error{
		"STOR":        func() error { return v.Stor("/pelis/v.mp4", strings.NewReader("x")) },
		"APPE":        func() error { return v.Append("/pelis/film.mp4", strings.NewReader("x")) },
		"DELE":        func() error { return v.Delete("/pelis/film.mp4") },
		"RNFR/RNTO":   func() error { return v.Rename("/pelis/film.mp4", "/pelis/f2.mp4") },
		"MKD":         func() error { return v.MakeDir("/pelis/dir") },
		"MKD at root": func() error { return u.MakeDir("/newfolder") },
		"STOR root":   func() error { return u.Stor("/rootfile", strings.NewReader("x")) },
		"RMD folder":  func() error { return u.RemoveDir("/pelis") },
		"RNFR folder": func() error { return u.Rename("/pelis", "/films") },
		"STOR admin":  func() error { return u.Stor("/admin/x", strings.NewReader("x")) },
		"LIST admin":  func() error { _, err := u.List("/admin"); return err },
		"move out":    func() error { return u.Rename("/pelis/film.mp4", "/admin/film.mp4") },
	}
	for name, f := range denied {
		err := f()
		if err == nil {
			t.Errorf("%s: allowed", name)
			continue
		}
		if !strings.Contains(err.Error(), "55") && !strings.Contains(err.Error(), "ermission") && !strings.Contains(err.Error(), "exist") {
			t.Errorf("%s: %v, want a 55x refusal", name, err)
		}
	}
	if d := e.disk(); !slices.Equal(d, []string{"pelis/film.mp4"}) {
		t.Fatalf("disk holds %q", d)
	}
	if len(e.ingest.got()) != 1 {
		t.Fatalf("ingest %q", e.ingest.got())
	}
}

func TestTraversal(t *testing.T) {
	e := start(t, nil)
	outside := filepath.Join(filepath.Dir(e.media), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A symlink planted inside the library that points out of it.
	if err := os.Symlink(filepath.Dir(e.media), filepath.Join(e.media, "pelis", "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.media, "pelis", "secret-link")); err != nil {
		t.Fatal(err)
	}
	c := e.login(boss)
	for _, p := range []string{
		"../secret.txt", "/../secret.txt", "/pelis/../../secret.txt", "pelis/../../../secret.txt",
		"/pelis/escape/secret.txt", "/pelis/secret-link", `..\secret.txt`, `/pelis/..\..\secret.txt`,
		"/pelis/%2e%2e/secret.txt", "/pelis/\x00/../../secret.txt",
	} {
		r, err := c.Retr(p)
		if err == nil {
			b, _ := io.ReadAll(r)
			r.Close()
			t.Errorf("RETR %q worked: %q", p, b)
		}
	}
	for _, p := range []string{"../evil.txt", "/pelis/../../evil.txt", "/pelis/escape/evil.txt", `..\evil.txt`, "/pelis/.hidden"} {
		if err := c.Stor(p, strings.NewReader("evil")); err == nil {
			t.Errorf("STOR %q worked", p)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.media), "evil.txt")); err == nil {
		t.Fatal("a file was written outside the FTP root")
	}
	if err := c.ChangeDir("/pelis/escape"); err == nil {
		if names, err := c.NameList(""); err == nil && slices.Contains(names, "secret.txt") {
			t.Fatal("listed outside the FTP root through a symlink")
		}
	}
	// A ".." that stays inside is fine.
	if err := c.Stor("/pelis/../musica/ok.flac", strings.NewReader("ok")); err != nil {
		t.Fatalf("in-root .. refused: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.media, "musica", "ok.flac")); err != nil {
		t.Fatal(err)
	}
}

func TestBan(t *testing.T) {
	e := start(t, func(o *Options) {
		o.FTP.BanAfter = 3
		o.FTP.BanWindow = config.Duration(time.Minute)
		o.FTP.BanTime = config.Duration(time.Hour)
	})
	for i := range 3 {
		if _, err := e.dial(uploader, "wrong"); err == nil {
			t.Fatalf("bad password %d accepted", i)
		}
	}
	_, err := e.dial(uploader, pw(uploader))
	if err == nil || !strings.Contains(err.Error(), "421") {
		t.Fatalf("login from a banned address: %v, want 421", err)
	}
	if n := e.counter("thecure_ftp_bans_total"); n != 1 {
		t.Fatalf("bans %v", n)
	}
	if n := e.counter("thecure_ftp_connections_refused_total", "reason", "banned"); n != 1 {
		t.Fatalf("refused(banned) %v", n)
	}
	if n := e.counter("thecure_ftp_logins_total", "result", "failed"); n != 3 {
		t.Fatalf("failed logins %v", n)
	}
	if !strings.Contains(e.logs.String(), "address banned") {
		t.Fatal("ban not logged")
	}
}

func TestConnectionLimits(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.MaxPerIP = 2 })
	e.login(viewer)
	e.login(viewer)
	_, err := e.dial(viewer, pw(viewer))
	if err == nil || !strings.Contains(err.Error(), "421") {
		t.Fatalf("third connection: %v, want 421", err)
	}
}

func TestAbortedUploadThenResume(t *testing.T) {
	e := start(t, nil)
	data := randomData(t, 2<<20)
	p := "/pelis/" + utf8Name

	// 1: the client sends half, then ABOR.
	r := e.raw(uploader)
	dc, _ := r.storStart(p)
	if _, err := dc.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	if err := r.tp.PrintfLine("ABOR"); err != nil {
		t.Fatal(err)
	}
	// 426 for the transfer then 226 for ABOR, in some order, or just 226;
	// the data connection is closed after them, as RFC 959 has it (closed
	// cleanly before the server saw ABOR, it would look like a whole file).
	_ = r.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for range 2 {
		code, _, err := r.tp.ReadResponse(0)
		if err != nil || code == 226 {
			break
		}
	}
	dc.Close()
	apptest.WaitFor(t, 30*time.Second, "aborted upload", func() bool { return e.counter("thecure_ftp_uploads_total", "result", "aborted") == 1 })

	// 2: a second attempt is cut by a TCP reset.
	r2 := e.raw(uploader)
	dc2, tcp := r2.storStart(p)
	if _, err := dc2.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	_ = tcp.SetLinger(0)
	tcp.Close()
	apptest.WaitFor(t, 30*time.Second, "reset upload", func() bool { return e.counter("thecure_ftp_uploads_total", "result", "aborted") == 2 })

	c := e.login(uploader)
	entries, err := c.List("/pelis")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("an interrupted upload is visible: %+v", entries)
	}
	if got := e.ingest.got(); len(got) != 0 {
		t.Fatalf("an interrupted upload was announced: %q", got)
	}
	if _, err := os.Stat(filepath.Join(e.media, "pelis", utf8Name)); err == nil {
		t.Fatal("an interrupted upload is in place on disk")
	}

	// 3: resume. SIZE answers what was received; REST+STOR sends the rest.
	have, err := c.FileSize(p)
	if err != nil || have <= 0 || have > int64(len(data)) {
		t.Fatalf("SIZE of the interrupted upload = %d, %v", have, err)
	}
	if err := c.StorFrom(p, bytes.NewReader(data[have:]), uint64(have)); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if got := retr(t, c, p); sum(got) != sum(data) {
		t.Fatalf("resumed file differs (%d bytes, want %d)", len(got), len(data))
	}
	if got := e.ingest.got(); !slices.Equal(got, []string{"enqueue pelis/" + utf8Name}) {
		t.Fatalf("ingest %q", got)
	}
	if d := e.disk(); !slices.Equal(d, []string{"pelis/" + utf8Name}) {
		t.Fatalf("disk %q (a part file left behind?)", d)
	}

	// APPE resumes too, and an abandoned part can be deleted.
	if err := c.Append("/pelis/appended.mkv", strings.NewReader("hello ")); err != nil {
		t.Fatal(err)
	}
	if err := c.Append("/pelis/appended.mkv", strings.NewReader("world")); err != nil {
		t.Fatal(err)
	}
	if got := retr(t, c, "/pelis/appended.mkv"); string(got) != "hello world" {
		t.Fatalf("APPE: %q", got)
	}
}

func TestConcurrentUploads(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.MaxPerIP = 25 })
	const n = 20
	datas := make([][]byte, n)
	for i := range datas {
		datas[i] = randomData(t, 256<<10+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := e.dial(uploader, pw(uploader))
			if err != nil {
				errs <- err
				return
			}
			defer c.Quit()
			if err := c.Stor(fmt.Sprintf("/pelis/file-%02d.mkv", i), bytes.NewReader(datas[i])); err != nil {
				errs <- fmt.Errorf("upload %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		b, err := os.ReadFile(filepath.Join(e.media, "pelis", fmt.Sprintf("file-%02d.mkv", i)))
		if err != nil || sum(b) != sum(datas[i]) {
			t.Errorf("file %d: %v", i, err)
		}
	}
	got := e.ingest.got()
	slices.Sort(got)
	if len(got) != n || !slices.IsSorted(got) || got[0] != "enqueue pelis/file-00.mkv" {
		t.Fatalf("ingest got %d events: %q", len(got), got)
	}
}

func TestQuota(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.UserQuota = 100 << 10 })
	c := e.login(uploader)
	if err := c.Stor("/pelis/a.mkv", bytes.NewReader(make([]byte, 60<<10))); err != nil {
		t.Fatal(err)
	}
	err := c.Stor("/pelis/b.mkv", bytes.NewReader(make([]byte, 60<<10)))
	if err == nil {
		t.Fatal("upload over quota accepted")
	}
	if _, err := os.Stat(filepath.Join(e.media, "pelis", "b.mkv")); err == nil {
		t.Fatal("an upload over quota was published")
	}
	// Deleting gives the space back.
	if err := c.Delete("/pelis/a.mkv"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("/pelis/b.mkv", bytes.NewReader(make([]byte, 60<<10))); err != nil {
		t.Fatalf("after freeing space: %v", err)
	}
	// A user's own quota overrides the default.
	if _, err := e.users.SetQuota(boss, 1<<20); err != nil {
		t.Fatal(err)
	}
	b := e.login(boss)
	if err := b.Stor("/pelis/big.mkv", bytes.NewReader(make([]byte, 500<<10))); err != nil {
		t.Fatalf("boss within own quota: %v", err)
	}
}

func TestPASVAnnouncesPublicHost(t *testing.T) {
	for _, tc := range []struct{ host, want string }{{"203.0.113.7", "203.0.113.7"}, {"localhost", "127.0.0.1"}, {"", "127.0.0.1"}} {
		e := start(t, func(o *Options) { o.PublicHost = tc.host })
		r := e.raw(viewer)
		if got, port := r.pasv(); got != tc.want || port <= 0 {
			t.Errorf("public_host %q: PASV announced %s:%d, want %s", tc.host, got, port, tc.want)
		}
	}
}

func TestPassivePortRange(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.PassivePorts = config.PortRange{First: 52311, Last: 52315} })
	r := e.raw(viewer)
	for range 3 {
		if _, port := r.pasv(); port < 52311 || port > 52315 {
			t.Fatalf("PASV port %d outside 52311-52315", port)
		}
	}
}

func TestImplicitTLS(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.ImplicitListen = "127.0.0.1:0" })
	c, err := ftp.Dial(e.implAddr, ftp.DialWithTLS(e.tlsConfig()), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login(uploader, pw(uploader)); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("/series/ep.mkv", strings.NewReader("episode")); err != nil {
		t.Fatal(err)
	}
	if got := retr(t, c, "/series/ep.mkv"); string(got) != "episode" {
		t.Fatalf("got %q", got)
	}
}

// slowReader hands out data in small pieces with pauses.
type slowReader struct {
	data  []byte
	pause time.Duration
}

func (s *slowReader) Read(b []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := copy(b[:min(len(b), 16<<10)], s.data)
	s.data = s.data[n:]
	return n, nil
}

func TestShutdownLetsTransfersFinish(t *testing.T) {
	e := start(t, func(o *Options) { o.ShutdownTimeout = 30 * time.Second })
	c := e.login(uploader)
	idle := e.login(viewer)
	data := randomData(t, 512<<10)
	errc := make(chan error, 1)
	go func() { errc <- c.Stor("/pelis/slow.mkv", &slowReader{data: data, pause: 20 * time.Millisecond}) }()
	apptest.WaitFor(t, 30*time.Second, "upload running", func() bool { return e.srv.transfers.Load() == 1 })
	start := time.Now()
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("upload during shutdown: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(e.media, "pelis", "slow.mkv"))
	if err != nil || sum(b) != sum(data) {
		t.Fatalf("upload not published whole: %v", err)
	}
	if err := idle.NoOp(); err == nil {
		t.Fatal("idle session still open after shutdown")
	}
	t.Logf("shutdown took %v", time.Since(start))
}

func TestOldPartsAreSwept(t *testing.T) {
	dir := t.TempDir()
	pelis := filepath.Join(dir, "media", "pelis")
	if err := os.MkdirAll(pelis, 0o750); err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(pelis, partName("pelis/old.mkv")[len("pelis/"):]), filepath.Join(pelis, partName("pelis/new.mkv")[len("pelis/"):])
	for _, f := range []string{old, fresh} {
		if err := os.WriteFile(f, []byte("part"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-partMaxAge - time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	start(t, func(o *Options) { o.MediaDir = filepath.Join(dir, "media") })
	// Serve sweeps right after making the folders start waits for: wait
	// for the sweep too (checking at once raced it).
	apptest.WaitFor(t, 10*time.Second, "the old part swept", func() bool {
		_, err := os.Stat(old)
		return errors.Is(err, os.ErrNotExist)
	})
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("recent part removed: %v", err)
	}
}

func TestShutdownTimeoutDoesNotPublish(t *testing.T) {
	e := start(t, func(o *Options) { o.ShutdownTimeout = 300 * time.Millisecond })
	r := e.raw(uploader)
	dc, _ := r.storStart("/pelis/never.mkv")
	if _, err := dc.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 30*time.Second, "upload running", func() bool { return e.srv.transfers.Load() == 1 })
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	// The client now ends the transfer cleanly, too late.
	_ = dc.Close()
	if _, err := os.Stat(filepath.Join(e.media, "pelis", "never.mkv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an upload cut by shutdown was published: %v", err)
	}
	if len(e.ingest.got()) != 0 {
		t.Fatalf("announced: %q", e.ingest.got())
	}
}

// TestUploadsInProgress: an upload shows in Uploads with its bytes while it
// runs, and is gone once it completed.
func TestUploadsInProgress(t *testing.T) {
	e := start(t, nil)
	c := e.login(uploader)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- c.Stor("/pelis/slow.mkv", pr) }()
	chunk := randomData(t, 256<<10)
	if _, err := pw.Write(chunk); err != nil {
		t.Fatal(err)
	}
	var got []Upload
	apptest.WaitFor(t, 30*time.Second, "the upload listed with its first 256 KiB", func() bool {
		got = e.srv.Uploads()
		return len(got) == 1 && got[0].Bytes == int64(len(chunk))
	})
	if got[0].Path != "pelis/slow.mkv" || got[0].User != uploader || got[0].Remote != "127.0.0.1" || time.Since(got[0].Started) > time.Minute {
		t.Errorf("upload in progress: %+v", got[0])
	}
	pw.Write(chunk)
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("STOR: %v", err)
	}
	apptest.WaitFor(t, 30*time.Second, "the finished upload gone from the list", func() bool { return len(e.srv.Uploads()) == 0 })
}
