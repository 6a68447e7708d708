package appliance

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"thecure/appliance/config"
	"thecure/appliance/tlscert"
)

// TestFTPSUploadReachesTheQueue: an upload through the running appliance's
// FTPS listener becomes a transcode job; deleting it removes the job.
func TestFTPSUploadReachesTheQueue(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen, cfg.FTP.Listen, cfg.RTMP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.FTP.PassivePorts = config.PortRange{First: 51740, Last: 51790}
	a, err := build(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if _, err := a.users.Add("staff", "staff-password", []string{"innovatech"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("appliance did not stop")
		}
	}()

	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, tlscert.SelfSignedCert))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: roots, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	c, err := ftp.Dial(a.bound["ftps"][0].Addr().String(), ftp.DialWithExplicitTLS(tc), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("staff", "staff-password"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("/pelis/Película (2024).mkv", bytes.NewReader([]byte("not really a film"))); err != nil {
		t.Fatal(err)
	}
	waitJobs := func(want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			jobs, err := a.queue.Jobs()
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) == want && (want == 0 || jobs[0].Source == "pelis/Película (2024).mkv") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("jobs %+v, want %d for pelis/Película (2024).mkv", jobs, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitJobs(1)
	if err := c.Delete("/pelis/Película (2024).mkv"); err != nil {
		t.Fatal(err)
	}
	waitJobs(0)
}
