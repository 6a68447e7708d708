package ftps

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/health"
)

// parts lists the hidden parts on disk and their total size.
func (e *env) parts() ([]string, int64) {
	var names []string
	var total int64
	_ = filepath.WalkDir(e.media, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), partPrefix) {
			names = append(names, p)
			if st, err := d.Info(); err == nil {
				total += st.Size()
			}
		}
		return nil
	})
	return names, total
}

// interrupted sends n bytes of an upload to p and cuts the data connection
// with a TCP reset (the part is kept for a resume). It returns the STOR
// reply when the upload was refused.
func (e *env) interrupted(t *testing.T, user, p string, n int) string {
	t.Helper()
	r := e.raw(user)
	msg := r.cmd(229, "EPSV")
	i := strings.Index(msg, "(|||")
	port := strings.TrimSuffix(msg[i+4:], "|)")
	host, _, _ := net.SplitHostPort(e.addr)
	dc, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if err := r.tp.PrintfLine("STOR %s", p); err != nil {
		t.Fatal(err)
	}
	_ = r.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	code, reply, err := r.tp.ReadResponse(150)
	if err != nil {
		return fmt.Sprintf("%d %s", code, reply)
	}
	tc := tls.Client(dc, r.tlsc)
	_, _ = tc.Write(make([]byte, n)) // may fail once the quota is reached
	_ = dc.(*net.TCPConn).SetLinger(0)
	dc.Close()
	_, _, _ = r.tp.ReadResponse(0)
	return ""
}

// replyOf returns the FTP reply in err (jlaffaye/ftp's *textproto.Error).
func replyOf(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Issue 13, case 5: hidden parts count against the quota and are bounded
// in number.
func TestHiddenPartsCountAgainstQuota(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.UserQuota = 1 << 20 })
	var refused []string
	for i := range 5 {
		if r := e.interrupted(t, uploader, fmt.Sprintf("/pelis/part-%d.mkv", i), 1<<20); r != "" {
			refused = append(refused, r)
		}
	}
	names, total := e.parts()
	t.Logf("5 interrupted 1 MiB uploads with a 1 MiB quota: %d hidden parts, %d bytes kept; %d refused at STOR (%q)", len(names), total, len(refused), refused)
	if total > 1<<20 {
		t.Fatalf("hidden parts hold %d bytes, over the 1 MiB quota", total)
	}
	if total < 1<<19 {
		t.Fatalf("only %d bytes of 5 MiB sent were kept: too few to tell whether parts count", total)
	}
	// one byte more than the quota leaves once the parts are counted (and
	// far less than it without them)
	c := e.login(uploader)
	err := c.Stor("/pelis/more.mkv", bytes.NewReader(make([]byte, 1<<20-total+1)))
	if err == nil || !strings.HasPrefix(replyOf(err), "55") {
		t.Fatalf("upload of %d bytes with %d of the 1 MiB quota held by hidden parts: %v, want 552", 1<<20-total+1, total, err)
	}
	t.Logf("next upload: %v", err)

	// The number of parts is bounded even when they are small.
	e2 := start(t, func(o *Options) { o.FTP.MaxPartsPerUser = 3 })
	for i := range 3 {
		if r := e2.interrupted(t, uploader, fmt.Sprintf("/pelis/small-%d.mkv", i), 1000); r != "" {
			t.Fatalf("part %d refused: %s", i, r)
		}
	}
	c2 := e2.login(uploader)
	err = c2.Stor("/pelis/fourth.mkv", bytes.NewReader(make([]byte, 1000)))
	if err == nil || !strings.HasPrefix(replyOf(err), "452") {
		t.Fatalf("a fourth unfinished upload: %v, want 452", err)
	}
	t.Logf("with 3 parts kept (max_parts_per_user 3): %v", err)
	// Resuming one of them is still allowed, and publishing frees its place.
	if err := c2.StorFrom("/pelis/small-0.mkv", bytes.NewReader(make([]byte, 10)), 1000); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if err := c2.Stor("/pelis/fourth.mkv", bytes.NewReader(make([]byte, 1000))); err != nil {
		t.Fatalf("after a part was finished: %v", err)
	}
	// DELE of an abandoned upload removes its part and its record.
	if err := c2.Delete("/pelis/small-1.mkv"); err != nil {
		t.Fatal(err)
	}
	if names, _ := e2.parts(); len(names) != 1 {
		t.Fatalf("parts left: %q", names)
	}
}

// Quota accounting that cannot be read or written refuses the upload.
func TestQuotaFailsClosed(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.UserQuota = 1 << 30 })
	c := e.login(uploader)
	if err := c.Stor("/pelis/ok.mkv", strings.NewReader("fine")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	err := c.Stor("/pelis/refused.mkv", strings.NewReader("not accounted"))
	t.Logf("upload with the store closed: %v", err)
	if err == nil || !strings.Contains(replyOf(err), "storage accounting unavailable") {
		t.Fatalf("upload without accounting: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.media, "pelis", "refused.mkv")); err == nil {
		t.Fatal("published without accounting")
	}
	if !strings.Contains(e.logs.String(), "cannot read storage use") {
		t.Fatalf("not logged:\n%s", e.logs.String())
	}
}

// Issue 13, cases 7 and 9: replies carry no server paths nor part names;
// names with bidi or control characters are refused; FTP creates no path
// deeper or longer than the bounds (issue 14, case 11).
func TestRepliesAndNames(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.UserQuota = 1 << 10 })
	c := e.login(uploader)
	e.interrupted(t, uploader, "/pelis/half.mkv", 100)
	var replies []string
	try := func(what string, err error) {
		if err == nil {
			t.Fatalf("%s succeeded", what)
		}
		replies = append(replies, what+": "+replyOf(err))
	}
	try("DELE missing", c.Delete("/pelis/missing.mkv"))
	try("RETR dir", func() error {
		r, err := c.Retr("/pelis")
		if err == nil {
			r.Close()
		}
		return err
	}())
	try("CWD missing", c.ChangeDir("/pelis/nope"))
	try("RNFR missing", c.Rename("/pelis/nope.mkv", "/pelis/x.mkv"))
	try("STOR over quota", c.Stor("/pelis/big.mkv", bytes.NewReader(make([]byte, 4<<10))))
	try("RMD missing", c.RemoveDir("/pelis/nodir"))
	try("STOR bidi", c.Stor("/pelis/evil\u202egpj.mkv", strings.NewReader("x")))
	try("MKD bidi", c.MakeDir("/pelis/\u2066dir"))
	try("STOR line separator", c.Stor("/pelis/a\u2028b.mkv", strings.NewReader("x")))
	deep := "/pelis" + strings.Repeat("/d", maxDepth)
	try("MKD too deep", c.MakeDir(deep))
	long := "/pelis/" + strings.Repeat("n", 250) + "/" + strings.Repeat("m", 250) + "/" + strings.Repeat("o", 250) + "/" + strings.Repeat("p", 250) + "/" + strings.Repeat("q", 100)
	try("STOR too long", c.Stor(long, strings.NewReader("x")))
	for _, r := range replies {
		t.Log(r)
		if strings.Contains(r, e.media) || strings.Contains(r, partPrefix) || strings.Contains(r, "/tmp/") {
			t.Fatalf("reply shows a server path: %s", r)
		}
	}
	for _, r := range replies[6:] {
		if !strings.Contains(r, "553") && !(strings.HasPrefix(r, "MKD") && strings.Contains(r, "550")) {
			t.Fatalf("bad name not refused with 553 (MKD: 550): %s", r)
		}
	}
	// MKD level by level works up to the bound, not one further.
	dir := "/pelis"
	for range maxDepth - 1 {
		dir += "/d"
		if err := c.MakeDir(dir); err != nil {
			t.Fatalf("MKD %s (within the bound): %v", dir, err)
		}
	}
	if err := c.MakeDir(dir + "/d"); err == nil {
		t.Fatalf("MKD beyond %d levels accepted", maxDepth)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory (the tests run
// as root in make test).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs: run it as root (make test does)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// Issue 14, case 8: an upload that fills the disk gets 452 (no server
// path), its part is removed so that the disk is usable again, and uploads
// work once there is space; with min_free_space the reserve is kept.
func TestDiskFull(t *testing.T) {
	for _, reserve := range []config.ByteSize{0, 2 << 20} {
		t.Run(fmt.Sprintf("reserve=%s", reserve), func(t *testing.T) {
			fsDir := mountTmpfs(t, 8<<20)
			media := filepath.Join(fsDir, "media")
			reg := health.NewRegistry()
			e := start(t, func(o *Options) {
				o.MediaDir = media
				o.FTP.MinFreeSpace = reserve
				o.Health = reg
			})
			before := freeBytes(t, fsDir)
			c := e.login(uploader)
			err := c.Stor("/pelis/huge.mkv", bytes.NewReader(randomData(t, 12<<20)))
			reply := replyOf(err)
			after := freeBytes(t, fsDir)
			names, _ := e.parts()
			t.Logf("12 MiB upload onto an 8 MiB tmpfs (min_free_space %s): reply %q; free before %d, after %d; parts left %d",
				reserve, reply, before, after, len(names))
			if !strings.Contains(reply, "452 ") || strings.Contains(reply, fsDir) || strings.Contains(reply, partPrefix) {
				t.Fatalf("reply %q, want 452 without a server path", reply)
			}
			if len(names) != 0 || after < before-(1<<20) {
				t.Fatalf("the disk was not given back: %d parts, %d bytes free of %d", len(names), after, before)
			}
			if reg.Healthy() {
				t.Fatalf("health after a full disk: %+v", reg.Snapshot())
			}
			t.Logf("health after the failure: %+v", reg.Snapshot())
			// Space is there again: an upload that fits works.
			data := randomData(t, 3<<20)
			if err := c.Stor("/pelis/fits.mkv", bytes.NewReader(data)); err != nil {
				t.Fatalf("upload after the failure: %v", err)
			}
			if got := retr(t, c, "/pelis/fits.mkv"); sum(got) != sum(data) {
				t.Fatal("upload after the failure differs")
			}
			if !reg.Healthy() {
				t.Fatalf("health once uploads work again: %+v", reg.Snapshot())
			}
			if reserve > 0 {
				if free := freeBytes(t, fsDir); free < int64(reserve) {
					t.Fatalf("reserve not kept: %d free", free)
				}
			}
		})
	}
}

// Issue 14, case 10: renaming or removing a folder while an upload into it
// runs cancels the upload cleanly: no part left, nothing published, the
// rename works and the reply holds no server path.
func TestFolderChangeDuringUpload(t *testing.T) {
	for _, op := range []string{"rename", "rmd"} {
		t.Run(op, func(t *testing.T) {
			e := start(t, nil)
			c := e.login(uploader)
			if err := c.MakeDir("/pelis/dir"); err != nil {
				t.Fatal(err)
			}
			r := e.raw(uploader)
			dc, _ := r.storStart("/pelis/dir/film.mkv")
			if _, err := dc.Write(make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			apptest.WaitFor(t, 10*time.Second, "upload running", func() bool { return len(e.srv.Uploads()) == 1 })
			var err error
			if op == "rename" {
				err = c.Rename("/pelis/dir", "/pelis/dir2")
			} else {
				err = c.RemoveDir("/pelis/dir")
			}
			if err != nil {
				t.Fatalf("%s during an upload: %v", op, err)
			}
			// The client keeps sending: its transfer fails.
			var werr error
			for range 100 {
				if _, werr = dc.Write(make([]byte, 64<<10)); werr != nil {
					break
				}
			}
			dc.Close()
			_ = r.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			code, msg, _ := r.tp.ReadResponse(0)
			t.Logf("%s during an upload: upload answered %d %q (client write error: %v); disk %q", op, code, msg, werr, e.disk())
			if code < 400 || strings.Contains(msg, e.media) {
				t.Fatalf("the upload answered %d %q", code, msg)
			}
			apptest.WaitFor(t, 10*time.Second, "upload ended", func() bool { return len(e.srv.Uploads()) == 0 })
			if names, _ := e.parts(); len(names) != 0 {
				t.Fatalf("parts left: %q", names)
			}
			for _, f := range e.disk() {
				if strings.HasSuffix(f, "film.mkv") {
					t.Fatalf("a cancelled upload was published: %s", f)
				}
			}
		})
	}
}

// Issue 14, case 12: an ABOR (or QUIT, or a dropped control connection)
// sent just before the data connection is closed always wins, under CPU
// load: the upload is never published.
func TestAbortBeforeDataCloseAlwaysWins(t *testing.T) {
	e := start(t, func(o *Options) {
		o.FTP.MaxPerIP = 100
		o.FTP.MaxPartsPerUser = 10000
	})
	// CPU load: busy goroutines on every core, for the whole test.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			x := 0
			for !stop.Load() {
				for i := range 100000 {
					x += i
				}
			}
			_ = x
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	data := randomData(t, 256<<10)
	// ABOR lost the race in 2 of 40 runs without the barrier, QUIT in 10 of 10.
	runs := map[string]int{"ABOR": 20, "QUIT": 10, "drop": 10}
	published, total := 0, 0
	for _, how := range []string{"ABOR", "QUIT", "drop"} {
		for i := range runs[how] {
			total++
			p := fmt.Sprintf("/pelis/%s-%02d.mkv", strings.ToLower(how), i)
			r := e.raw(uploader)
			dc, _ := r.storStart(p)
			if _, err := dc.Write(data); err != nil {
				t.Fatal(err)
			}
			switch how {
			case "drop":
				_ = r.conn.(interface{ NetConn() net.Conn }).NetConn().Close()
			default:
				if err := r.tp.PrintfLine("%s", how); err != nil {
					t.Fatal(err)
				}
			}
			dc.Close() // TLS close_notify, then FIN: a clean data end, right after
			apptest.WaitFor(t, 30*time.Second, "upload ended", func() bool { return len(e.srv.Uploads()) == 0 })
			if _, err := os.Stat(filepath.Join(e.media, strings.TrimPrefix(p, "/"))); err == nil {
				published++
				t.Errorf("%s run %d: published", how, i)
			}
			r.conn.Close()
		}
	}
	t.Logf("%d uploads each ended by ABOR, QUIT or a dropped control connection just before a clean data close, under %d busy goroutines: %d published",
		total, runtime.GOMAXPROCS(0), published)
	// A normal upload under the same load is published.
	c := e.login(uploader)
	if err := c.Stor("/pelis/normal.mkv", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got := e.ingest.got(); !slices.Equal(got, []string{"enqueue pelis/normal.mkv"}) {
		t.Fatalf("ingest %q", got)
	}
}
