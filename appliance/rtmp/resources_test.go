package rtmp_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutopp/go-rtmp/handshake"

	"thecure/appliance/apptest"
)

// BenchmarkHostileRTMP measures the release binary (THECURE_BIN, else one
// built here) under the attacks of issue 13 and prints the figures (make
// bench runs it; nothing here is asserted against the clock):
//   - resident memory under 2 unauthenticated chunk floods for 10 s
//     (61 chunk streams announcing 16 MiB messages, reconnecting when
//     dropped), and 10 s after they stop;
//   - 1000 idle sessions (connect, then a Window Ack every 20 s,
//     reconnecting when closed) from 63 addresses that may only play, and a
//     publisher starting among them: whether and when it goes live.
func BenchmarkHostileRTMP(b *testing.B) {
	for range b.N {
		hostileRTMP(b)
	}
}

func hostileRTMP(b *testing.B) {
	bin := os.Getenv("THECURE_BIN")
	dir := b.TempDir()
	if bin == "" {
		bin = filepath.Join(dir, "thecure")
		build := exec.Command("go", "build", "-trimpath", "-o", bin, "../..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build: %v\n%s", err, out)
		}
	}
	httpAddr, rtmpAddr := freeAddr(b), freeAddr(b)
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `data_dir = %q
[log]
level = "warn"
[http]
listen = %q
[ftp]
listen = "127.0.0.1:0"
[rtmp]
listen = %q
allow_publish = ["127.0.0.1/32"]
allow_play = ["0.0.0.0/0"]
`, filepath.Join(dir, "data"), httpAddr, rtmpAddr), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-c", cfg)
	logs := &strings.Builder{}
	var logMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	client := &http.Client{Timeout: 2 * time.Second}
	apptest.WaitFor(b, 20*time.Second, "/healthz", func() bool {
		resp, err := client.Get("http://" + httpAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	pid := cmd.Process.Pid
	time.Sleep(time.Second)
	base := rssKB(b, pid)

	// two chunk floods for 10 s
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	var floods, floodBytes atomic.Int64
	var wg sync.WaitGroup
	for _, src := range []string{"127.0.0.2", "127.0.0.3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				floodOnce(ctx, src, rtmpAddr, &floodBytes)
				floods.Add(1)
			}
		}()
	}
	peak := sampleMax(ctx, pid)
	wg.Wait()
	cancel()
	time.Sleep(10 * time.Second)
	after := rssKB(b, pid)
	fmt.Printf("rtmp-hostile: 2 chunk floods for 10 s (%d connections, %d MiB written): RSS %.1f MiB before, peak %.1f MiB (+%.1f), %.1f MiB 10 s after\n",
		floods.Load(), floodBytes.Load()>>20, mb(base), mb(peak), mb(peak-base), mb(after))
	b.ReportMetric(mb(peak-base), "flood-RSS-growth-MB")
	b.ReportMetric(mb(after-base), "flood-RSS-after-MB")

	// 1000 idle sessions, and a publisher among them
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var open, refused atomic.Int64
	for i := range 1000 {
		src := fmt.Sprintf("127.0.2.%d", 1+i%63)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				idleOnce(ctx, src, rtmpAddr, &open, &refused)
			}
		}()
	}
	time.Sleep(8 * time.Second)
	idleRSS := rssKB(b, pid)
	openNow := open.Load()
	pubStart := time.Now()
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=15", "-f", "lavfi", "-i", "sine=duration=15",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
		"-f", "flv", "rtmp://"+rtmpAddr+"/live/real")
	if err := pub.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = pub.Process.Kill(); _ = pub.Wait() }()
	live := time.Duration(-1)
	for time.Since(pubStart) < 15*time.Second {
		if isLive(client, httpAddr, "real") {
			live = time.Since(pubStart)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	status := "never went live"
	if live >= 0 {
		status = fmt.Sprintf("live %s after it started", live.Round(10*time.Millisecond))
	}
	fmt.Printf("rtmp-hostile: 1000 idle sessions from 63 play-only addresses: %d open at once (%d refused at accept), RSS %.1f MiB; a publisher among them: %s\n",
		openNow, refused.Load(), mb(idleRSS), status)
	b.ReportMetric(mb(idleRSS), "idle-1000-RSS-MB")
	if live < 0 {
		logMu.Lock()
		b.Errorf("the publisher was locked out; server log:\n%.4000s", logs.String())
		logMu.Unlock()
	}
}

// floodOnce connects from src and announces a 16 MiB message on each of 61
// chunk streams, sending 1 MiB of each, until the server drops it.
func floodOnce(ctx context.Context, src, addr string, sent *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		time.Sleep(10 * time.Millisecond)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if handshake.HandshakeWithServer(bufio.NewReader(c), c, &handshake.Config{}) != nil {
		return
	}
	msg := chunked(2, 1, 0, binary.BigEndian.AppendUint32(nil, 0xffffff))
	data := make([]byte, 1<<20)
	for csid := byte(3); csid < 64; csid++ {
		msg = append(msg, csid, 0, 0, 0, 0xff, 0xff, 0xff, 9, 0, 0, 0, 0)
		msg = append(msg, data...)
		n, err := c.Write(msg)
		sent.Add(int64(n))
		if err != nil {
			return
		}
		msg = msg[:0]
	}
}

// idleOnce holds one session: handshake, connect, then a Window Ack every
// 20 s until the server closes it.
func idleOnce(ctx context.Context, src, addr string, open, refused *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		time.Sleep(100 * time.Millisecond)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if handshake.HandshakeWithServer(bufio.NewReader(c), c, &handshake.Config{}) != nil {
		refused.Add(1)
		time.Sleep(100 * time.Millisecond)
		return
	}
	open.Add(1)
	defer open.Add(-1)
	if _, err := c.Write(append(connectMsg("live"), winAck()...)); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	t := time.NewTicker(20 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if _, err := c.Write(winAck()); err != nil {
				return
			}
		}
	}
}

func isLive(c *http.Client, httpAddr, name string) bool {
	resp, err := c.Get("http://" + httpAddr + "/api/live")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var v struct {
		Streams []struct {
			Name string `json:"name"`
		} `json:"streams"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return false
	}
	for _, s := range v.Streams {
		if s.Name == name {
			return true
		}
	}
	return false
}

// sampleMax samples the RSS of pid every 100 ms until ctx is done and
// returns the peak.
func sampleMax(ctx context.Context, pid int) int64 {
	var peak int64
	for ctx.Err() == nil {
		if kb, err := readRSS(pid); err == nil && kb > peak {
			peak = kb
		}
		time.Sleep(100 * time.Millisecond)
	}
	return peak
}

func rssKB(b *testing.B, pid int) int64 {
	kb, err := readRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	return kb
}

func readRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
