package ftps

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
)

// These tests drive the command-line clients people use: curl and lftp
// (installed by .ci/test-deps).

func (e *env) caFile() string {
	e.t.Helper()
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(e.media), "data", "tls", "*.crt"))
	if len(matches) != 1 {
		e.t.Fatalf("certificate not found: %v", matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		e.t.Fatal(err)
	}
	if blk, _ := pem.Decode(b); blk == nil {
		e.t.Fatal("bad certificate file")
	}
	return matches[0]
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) ftpURL(user, p string, implicit bool) string {
	u := url.URL{Scheme: "ftp", User: url.UserPassword(user, pw(user)), Host: strings.Replace(e.addr, "127.0.0.1", "localhost", 1), Path: p}
	if implicit {
		u.Scheme, u.Host = "ftps", strings.Replace(e.implAddr, "127.0.0.1", "localhost", 1)
	}
	return u.String()
}

func TestCurl(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.ImplicitListen = "127.0.0.1:0" })
	ca := e.caFile()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.mp4")
	data := randomData(t, 1<<20+7)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p := "/pelis/" + utf8Name
	if out, err := run(t, "curl", "-sS", "--ssl-reqd", "--cacert", ca, "-T", src, e.ftpURL(uploader, p, false)); err != nil {
		t.Fatalf("curl upload: %v\n%s", err, out)
	}
	dst := filepath.Join(dir, "dst.mp4")
	if out, err := run(t, "curl", "-sS", "--ssl-reqd", "--cacert", ca, "-o", dst, e.ftpURL(viewer, p, false)); err != nil {
		t.Fatalf("curl download: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(dst); sum(b) != sum(data) {
		t.Fatal("curl round trip: checksum differs")
	}
	// Implicit FTPS.
	if out, err := run(t, "curl", "-sS", "--cacert", ca, "-T", src, e.ftpURL(uploader, "/musica/track.flac", true)); err != nil {
		t.Fatalf("curl implicit upload: %v\n%s", err, out)
	}
	// Without TLS: refused.
	out, err := run(t, "curl", "-sS", "-T", src, e.ftpURL(uploader, "/pelis/plain.mp4", false))
	if err == nil {
		t.Fatalf("plaintext upload accepted:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(e.media, "pelis", "plain.mp4")); err == nil {
		t.Fatal("plaintext upload stored")
	}
	// No write rights: refused.
	if out, err := run(t, "curl", "-sS", "--ssl-reqd", "--cacert", ca, "-T", src, e.ftpURL(viewer, "/pelis/v.mp4", false)); err == nil {
		t.Fatalf("upload without rights accepted:\n%s", out)
	}
	// curl -C - resumes an upload from the size the server reports.
	half := filepath.Join(dir, "half.mp4")
	if err := os.WriteFile(half, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.raw(uploader)
	dc, tcp := r.storStart("/series/resume.mp4")
	if _, err := dc.Write(data[:len(data)/3]); err != nil {
		t.Fatal(err)
	}
	_ = tcp.SetLinger(0)
	tcp.Close()
	apptest.WaitFor(t, 30*time.Second, "interrupted upload", func() bool { return e.counter("thecure_ftp_uploads_total", "result", "aborted") == 1 })
	if out, err := run(t, "curl", "-sS", "--ssl-reqd", "--cacert", ca, "-C", "-", "-T", src, e.ftpURL(uploader, "/series/resume.mp4", false)); err != nil {
		t.Fatalf("curl resume: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(e.media, "series", "resume.mp4")); sum(b) != sum(data) {
		t.Fatalf("resumed file differs (%d bytes)", len(b))
	}
	want := []string{"enqueue pelis/" + utf8Name, "enqueue musica/track.flac", "enqueue series/resume.mp4"}
	if got := e.ingest.got(); !slices.Equal(got, want) {
		t.Fatalf("ingest %q, want %q", got, want)
	}
}

func TestLftp(t *testing.T) {
	e := start(t, nil)
	ca := e.caFile()
	dir := t.TempDir()
	data := randomData(t, 2<<20+3)
	if err := os.WriteFile(filepath.Join(dir, utf8Name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.mkv"), data[:1000], 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(e.addr, ":")
	script := func(user, cmds string) string {
		return fmt.Sprintf(`set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20;
set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file %q; set ssl:check-hostname yes;
open -u %s,%s -p %s ftp://localhost; %s`, ca, user, pw(user), port, cmds)
	}
	out, err := run(t, "lftp", "-c", script(uploader, fmt.Sprintf(
		"lcd %q; cd pelis; put %q; mput b.mkv; ls; get %q -o %q", dir, utf8Name, utf8Name, filepath.Join(dir, "back.mp4"))))
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	if !strings.Contains(out, utf8Name) {
		t.Fatalf("lftp ls does not show the UTF-8 name:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "back.mp4")); sum(b) != sum(data) {
		t.Fatal("lftp round trip: checksum differs")
	}
	// lftp refuses nothing by itself; the server refuses the viewer's upload.
	if out, err := run(t, "lftp", "-c", script(viewer, fmt.Sprintf("lcd %q; cd pelis; put b.mkv -o c.mkv", dir))); err == nil {
		t.Fatalf("viewer upload accepted:\n%s", out)
	}
	// Active mode is off by default.
	if out, err := run(t, "lftp", "-c", script(uploader, fmt.Sprintf("set ftp:passive-mode off; lcd %q; cd pelis; put b.mkv -o active.mkv", dir))); err == nil {
		t.Fatalf("active mode worked although it is off:\n%s", out)
	}
	// Plain FTP: refused.
	if out, err := run(t, "lftp", "-c", fmt.Sprintf("set cmd:fail-exit yes; set net:max-retries 1; set ftp:ssl-allow no; open -u %s,%s -p %s ftp://localhost; ls", uploader, pw(uploader), port)); err == nil {
		t.Fatalf("plaintext lftp session worked:\n%s", out)
	}
	want := []string{"enqueue pelis/" + utf8Name, "enqueue pelis/b.mkv"}
	if got := e.ingest.got(); !slices.Equal(got, want) {
		t.Fatalf("ingest %q, want %q", got, want)
	}
}

func TestActiveMode(t *testing.T) {
	e := start(t, func(o *Options) { o.FTP.ActiveMode = true })
	ca := e.caFile()
	dir := t.TempDir()
	data := randomData(t, 300<<10)
	if err := os.WriteFile(filepath.Join(dir, "a.flac"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(e.addr, ":")
	out, err := run(t, "lftp", "-c", fmt.Sprintf(`set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20;
set ftp:passive-mode off; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file %q;
open -u %s,%s -p %s ftp://localhost; lcd %q; cd musica; put a.flac`, ca, uploader, pw(uploader), port, dir))
	if err != nil {
		t.Fatalf("lftp active upload: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(e.media, "musica", "a.flac")); sum(b) != sum(data) {
		t.Fatal("active mode upload differs")
	}
}
