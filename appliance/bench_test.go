package appliance

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkColdStart measures process start to the first 200 from /healthz,
// and reports the idle RSS a second later and the binary's size. Set
// THECURE_BIN to measure a release binary (make bench does).
func BenchmarkColdStart(b *testing.B) {
	bin := thecureBin
	if env := os.Getenv("THECURE_BIN"); env != "" {
		bin, _ = filepath.Abs(env)
	}
	dir := b.TempDir()
	var rssKB int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := filepath.Join(dir, "config.toml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\n[http]\nlisten = %q\n[ftp]\nlisten = \"127.0.0.1:0\"\n[rtmp]\nlisten = \"127.0.0.1:0\"\n", filepath.Join(dir, "data"), addr)), 0o644)
		cmd := exec.Command(bin, "run", "-c", cfg)
		client := &http.Client{Timeout: time.Second}
		b.StartTimer()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := client.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				b.Fatal("no /healthz 200 within 10s")
			}
			time.Sleep(200 * time.Microsecond)
		}
		b.StopTimer()
		if i == b.N-1 {
			time.Sleep(time.Second)
			rssKB = vmRSS(b, cmd.Process.Pid)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(rssKB)/1024, "idle-RSS-MB")
	if fi, err := os.Stat(bin); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	}
}

func vmRSS(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
