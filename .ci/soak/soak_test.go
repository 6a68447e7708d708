//go:build soak

package soak

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/jlaffaye/ftp"
)

// recoveryGrace is how long after a restart errors still count as the
// fault's: publishers reconnect, then players and viewers find their streams.
const recoveryGrace = 10 * time.Second

// knobs, from the environment (defaults: the figures).
func knob(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func duration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// class counts one kind of request: served, errors, latencies.
type class struct {
	name   string
	mu     sync.Mutex
	ok     int
	errs   int
	faults int // errors while a fault was being injected or recovered from (expected)
	lat    []time.Duration
	first  []string // the first errors outside faults, for the table's notes
}

func (c *class) done(start time.Time, err error, inFault bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.ok++
		c.lat = append(c.lat, time.Since(start))
	case inFault:
		c.faults++
	default:
		c.errs++
		if len(c.first) < 3 {
			c.first = append(c.first, err.Error())
		}
	}
}

func (c *class) pct(p float64) time.Duration {
	if len(c.lat) == 0 {
		return 0
	}
	s := slices.Clone(c.lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// appliance is the thecure process under test; restartable.
type appliance struct {
	bin, dir, cfg string
	mu            sync.Mutex
	cmd           *exec.Cmd
	done          chan struct{}
	log           *os.File
	ready         atomic.Bool
	fault         atomic.Int32 // >0 while a fault is being injected or recovered from
	kills         atomic.Int32 // kill -9s so far
	httpAddr      string
}

func (a *appliance) start(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	cmd := exec.Command(a.bin, "run", "-c", a.cfg)
	cmd.Dir = a.dir
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	a.cmd, a.done = cmd, done
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + a.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("thecure not ready after 60 s (see %s)", a.log.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.ready.Store(true)
}

func (a *appliance) kill9() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ready.Store(false)
	a.kills.Add(1)
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
}

func (a *appliance) stop(t *testing.T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		t.Errorf("thecure did not stop within 60 s of SIGTERM")
		a.cmd.Process.Kill()
		<-a.done
	}
}

func (a *appliance) pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd.Process.Pid
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// attempt is one upload: where, what checksum, whether the server said done.
type attempt struct {
	path, sum string
	size      int
	completed bool
	deleted   bool // verified, then removed with DELE (all but every keepEvery-th)
	delTried  bool // DELE sent; without an answer (a kill) it may or may not have happened
}

// keepEvery: one upload in keepEvery stays; the others are deleted once
// verified, so that a long soak does not fill the disk.
const keepEvery = 10

// TestSoak runs the release binary (THECURE_BIN) for SOAK_DURATION under
// SOAK_UPLOADERS FTPS uploaders (each upload downloaded back and its SHA-256
// checked), SOAK_PUBLISHERS RTMP publishers, SOAK_PLAYERS RTMP players and
// SOAK_VIEWERS HLS viewers, SOAK_BOT_USERS Telegram users of the support bot
// (through a fake Bot API), an HEVC film every SOAK_FILM_EVERY and a backup
// every SOAK_BACKUP_EVERY, with the media and HLS dirs on a file system of
// SOAK_DISK_MIB, and these faults: kill -9 mid-upload, mid-transcode and
// mid-backup (each followed by a restart), kill -9 of ffmpeg mid-transcode
// (twice), the media file system full, garbage and slowloris connections on
// every port. It prints a table and fails on any loss: a completed upload
// missing or changed, a half file published, a film not published, a bot
// update without its answer or missing from the conversation log, a store
// that does not open, a complete backup that does not verify.
func TestSoak(t *testing.T) {
	bin := os.Getenv("THECURE_BIN")
	if bin == "" {
		t.Fatal("THECURE_BIN must name the thecure binary (make soak sets it)")
	}
	dur := duration("SOAK_DURATION", 10*time.Minute)
	nUp, nPub, nPlay, nView := knob("SOAK_UPLOADERS", 50), knob("SOAK_PUBLISHERS", 5), knob("SOAK_PLAYERS", 100), knob("SOAK_VIEWERS", 500)
	backupEvery := duration("SOAK_BACKUP_EVERY", 2*time.Minute)
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "thecure.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	a := &appliance{bin: bin, dir: dir, cfg: filepath.Join(dir, "config.toml"), log: logf, httpAddr: freePort(t)}
	ftpAddr, rtmpAddr := freePort(t), freePort(t)
	pasv := 40000 + mrand.IntN(15000)
	// The media and HLS dirs on a file system of their own, which the
	// full-disk fault fills; the store and backups stay on the host's. It
	// must hold what the run keeps (one upload in keepEvery, the films'
	// HLS): about 2 GiB in 10 minutes on a 2-core box, so 6 GiB by default.
	vol := filepath.Join(dir, "vol")
	volHow := smallFS(t, vol, int64(knob("SOAK_DISK_MIB", 6144))<<20)
	media := filepath.Join(vol, "media")
	t.Cleanup(func() { // a soak that stopped early leaves no appliance behind (nor a busy mount)
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.cmd == nil {
			return
		}
		select {
		case <-a.done:
		default:
			a.cmd.Process.Kill()
			<-a.done
		}
	})
	// The support bot talks to a fake Bot API.
	nBot := knob("SOAK_BOT_USERS", 20)
	botAPI := newFakeBotAPI()
	defer botAPI.srv.Close()
	if err := os.WriteFile(filepath.Join(dir, "bot.token"), []byte(botToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var botUsers []string
	for u := range nBot {
		botUsers = append(botUsers, strconv.FormatInt(botUser0+int64(u), 10))
	}
	conf := fmt.Sprintf(`data_dir = %q
shutdown_timeout = "10s"
[http]
listen = %q
[ftp]
listen = %q
passive_ports = "%d-%d"
max_clients = %d
max_per_ip = %d
max_startups = %d
min_free_space = "8MiB"
[library]
media_dir = %q
hls_dir = %q
[rtmp]
listen = %q
max_connections_per_address = %d
[backup]
schedule = %q
include_media = true
[bot]
enabled = true
language = "en"
token_file = %q
api_url = %q
allowed_users = [%s]
admins = [%d]
operators_chat = %d
# each soak user sends a conversation every few seconds
rate_limit = 120
poll_timeout = "10s"
%s`, filepath.Join(dir, "data"), a.httpAddr, ftpAddr, pasv, pasv+3*nUp+50, 3*nUp+200, 3*nUp+200, nUp+32, media, filepath.Join(vol, "hls"),
		rtmpAddr, nPub+nPlay+32, // every client is 127.0.0.1
		fmt.Sprintf("%dm", max(1, int(backupEvery.Minutes()))),
		filepath.Join(dir, "bot.token"), botAPI.srv.URL, strings.Join(botUsers, ", "), botAdmin, botOpsChat, botMenu)
	if err := os.WriteFile(a.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	a.start(t)
	pwb, err := os.ReadFile(filepath.Join(dir, "data", "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(pwb))
	// One account per uploader, as staff have: per-user limits (hidden
	// parts kept for a resume, quotas) apply to each alone.
	for u := range nUp {
		cmd := exec.Command(bin, "user", "add", uploaderName(u), "-group", "admin,innovatech", "-password-stdin", "-c", a.cfg)
		cmd.Dir, cmd.Stdin = dir, strings.NewReader(uploaderName(u)+"-password\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("user add: %v\n%s", err, out)
		}
	}

	clip := filepath.Join(dir, "clip.flv")
	if out, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=10",
		"-f", "lavfi", "-i", "sine=duration=10", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-f", "flv", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg clip: %v\n%s", err, out)
	}

	hevc := filepath.Join(dir, "hevc.mkv")
	if out, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=8",
		"-f", "lavfi", "-i", "sine=duration=8", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-c:a", "aac", hevc).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg HEVC clip: %v\n%s", err, out)
	}
	hevcData, err := os.ReadFile(hevc)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	cUp, cDown, cRTMP, cHLS, cBackup := &class{name: "FTPS upload"}, &class{name: "FTPS download+verify"}, &class{name: "RTMP play session"}, &class{name: "HLS request"}, &class{name: "backup"}
	cDel := &class{name: "FTPS delete"}
	var verified atomic.Int64
	var attMu sync.Mutex
	var attempts []*attempt

	// FTPS uploaders.
	tlsConf := &tls.Config{InsecureSkipVerify: true} // the appliance's self-signed certificate
	for u := range nUp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *ftp.ServerConn
			defer func() {
				if c != nil {
					c.Quit()
				}
			}()
			folder := fmt.Sprintf("/admin/soak-%02d", u)
			for i := 0; ctx.Err() == nil; i++ {
				inFault := a.fault.Load() > 0 || !a.ready.Load()
				if c == nil {
					var err error
					c, err = ftp.Dial(ftpAddr, ftp.DialWithExplicitTLS(tlsConf), ftp.DialWithTimeout(30*time.Second), ftp.DialWithContext(ctx))
					if err == nil {
						if err = c.Login(uploaderName(u), uploaderName(u)+"-password"); err == nil {
							c.MakeDir(folder) // exists after the first time: the error cannot matter
						}
					}
					if err != nil {
						if c != nil {
							c.Quit()
							c = nil
						}
						cUp.done(time.Now(), err, inFault || ctx.Err() != nil)
						time.Sleep(500 * time.Millisecond)
						continue
					}
				}
				data := make([]byte, 16<<10+mrand.IntN(1<<20))
				rand.Read(data)
				sum := sha256.Sum256(data)
				at := &attempt{path: fmt.Sprintf("%s/f%05d.bin", folder, i), sum: hex.EncodeToString(sum[:]), size: len(data)}
				attMu.Lock()
				attempts = append(attempts, at)
				attMu.Unlock()
				start := time.Now()
				err := c.Stor(at.path, bytes.NewReader(data))
				if err == nil {
					attMu.Lock()
					at.completed = true
					attMu.Unlock()
				}
				cUp.done(start, err, inFault || a.fault.Load() > 0 || ctx.Err() != nil)
				if err != nil {
					c.Quit()
					c = nil
					continue
				}
				start = time.Now()
				r, err := c.Retr(at.path)
				if err == nil {
					h := sha256.New()
					n, cerr := io.Copy(h, r)
					err = r.Close()
					if cerr != nil {
						err = cerr
					}
					if err == nil && hex.EncodeToString(h.Sum(nil)) != at.sum {
						err = fmt.Errorf("%s: checksum differs", at.path)
						t.Errorf("download of %s: checksum differs from the upload", at.path)
					} else if err == nil {
						verified.Add(n)
					}
				}
				cDown.done(start, err, inFault || a.fault.Load() > 0 || ctx.Err() != nil)
				if err == nil && i%keepEvery != 0 {
					start = time.Now()
					attMu.Lock()
					at.delTried = true
					attMu.Unlock()
					if err = c.Delete(at.path); err == nil {
						attMu.Lock()
						at.deleted = true
						attMu.Unlock()
					}
					cDel.done(start, err, inFault || a.fault.Load() > 0 || ctx.Err() != nil)
				}
				if err != nil {
					c.Quit()
					c = nil
				}
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
	}

	// RTMP publishers, restarted when they end (the appliance restarted).
	loop := func(args ...string) func() {
		return func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cmd := exec.CommandContext(ctx, "ffmpeg", args...)
				cmd.Run() // ends with the appliance or the soak: restarted below
				time.Sleep(time.Second)
			}
		}
	}
	for p := range nPub {
		wg.Add(1)
		go loop("-nostdin", "-loglevel", "quiet", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv", fmt.Sprintf("rtmp://%s/live/s%d", rtmpAddr, p))()
	}
	// Films: an HEVC clip every SOAK_FILM_EVERY into /pelis, encoded by
	// ffmpeg (killed now and then: see the plan).
	var filmMu sync.Mutex
	var films []string // sources (relative to media) uploaded completely
	cFilm := &class{name: "film upload (HEVC)"}
	wg.Add(1)
	go func() {
		defer wg.Done()
		every := duration("SOAK_FILM_EVERY", 10*time.Second)
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
			inFault := a.fault.Load() > 0 || !a.ready.Load()
			start := time.Now()
			name := fmt.Sprintf("pelis/Soak Film %03d (2026).mkv", i)
			c, err := ftp.Dial(ftpAddr, ftp.DialWithExplicitTLS(tlsConf), ftp.DialWithTimeout(30*time.Second))
			if err == nil {
				if err = c.Login("admin", pw); err == nil {
					if err = c.Stor("/"+name, bytes.NewReader(hevcData)); err == nil {
						filmMu.Lock()
						films = append(films, name)
						filmMu.Unlock()
					}
				}
				c.Quit()
			}
			cFilm.done(start, err, inFault || a.fault.Load() > 0 || ctx.Err() != nil)
		}
	}()
	// Support bot users: conversations through the fake Bot API.
	cBot := &class{name: "bot update answered"}
	botSt := &botStats{inLines: map[int64][]string{}}
	for u := range nBot {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(mrand.IntN(3000)) * time.Millisecond)
			botUser(ctx, botAPI, botUser0+int64(u), a, cBot, botSt)
		}()
	}
	// RTMP players: a session is good when it plays 5 s or more.
	for p := range nPlay {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(5 * time.Second)
			for ctx.Err() == nil {
				inFault := a.fault.Load() > 0 || !a.ready.Load()
				start := time.Now()
				cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-loglevel", "quiet", "-i", fmt.Sprintf("rtmp://%s/live/s%d", rtmpAddr, p%max(1, nPub)), "-c", "copy", "-f", "null", "-")
				cmd.Run()
				var err error
				if time.Since(start) < 5*time.Second {
					err = fmt.Errorf("played %s", time.Since(start))
				}
				cRTMP.done(start, err, inFault || a.fault.Load() > 0 || ctx.Err() != nil)
				time.Sleep(time.Second)
			}
		}()
	}
	// HLS viewers: the playlist, then its newest segment or part, every second.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: nView + 10}}
	get := func(url string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		return b, err
	}
	for v := range nView {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(10*time.Second + time.Duration(mrand.IntN(1000))*time.Millisecond)
			base := fmt.Sprintf("http://%s/live/s%d/", a.httpAddr, v%max(1, nPub))
			for ctx.Err() == nil {
				inFault := a.fault.Load() > 0 || !a.ready.Load()
				start := time.Now()
				pl, err := get(base + "index.m3u8")
				if err == nil {
					var last string
					sc := bufio.NewScanner(bytes.NewReader(pl))
					for sc.Scan() {
						if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
							last = l
						}
					}
					if last != "" && !strings.Contains(last, "://") {
						_, err = get(base + last)
					}
				}
				cHLS.done(start, err, inFault || a.fault.Load() > 0 || ctx.Err() != nil)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}

	// Faults, at fixed points of the run.
	type sample struct {
		at       time.Duration
		rssKiB   int64
		cpuSecs  float64
		note     string
		restarts int
		load     string // the machine's load average (1 min), shared with other work
	}
	var samples []sample
	var events []string
	var lost []string
	began := time.Now()
	event := func(s string) {
		events = append(events, fmt.Sprintf("%6.1fs %s", time.Since(began).Seconds(), s))
	}
	restarts := 0
	killedBackups := 0
	recoverAfter := func(what string) {
		start := time.Now()
		a.start(t)
		restarts++
		event(fmt.Sprintf("%s: back (ready) in %s", what, time.Since(start).Round(time.Millisecond)))
		// Publishers reconnect within a few seconds: until then players and
		// viewers of their streams fail as expected.
		time.Sleep(recoveryGrace)
	}
	garbage := func() {
		a.fault.Add(1)
		defer a.fault.Add(-1)
		var gw sync.WaitGroup
		for _, addr := range []string{ftpAddr, rtmpAddr, a.httpAddr} {
			for range 20 {
				gw.Add(2)
				go func() { // garbage: random bytes, then close
					defer gw.Done()
					if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
						b := make([]byte, 64<<10)
						rand.Read(b)
						c.SetDeadline(time.Now().Add(5 * time.Second))
						c.Write(b)
						c.Close()
					}
				}()
				go func() { // slowloris: a byte a second for 20 s
					defer gw.Done()
					c, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						return
					}
					defer c.Close()
					for range 20 {
						c.SetWriteDeadline(time.Now().Add(2 * time.Second))
						if _, err := c.Write([]byte{'G'}); err != nil {
							return
						}
						time.Sleep(time.Second)
					}
				}()
			}
		}
		gw.Wait()
	}
	var ffKilled []string // films whose ffmpeg was killed mid-transcode
	killFF := func() {
		src, err := killFFmpeg(a.pid(), media, 90*time.Second)
		switch {
		case err != nil:
			event(fmt.Sprintf("kill -9 of ffmpeg: %v", err))
		case src == "":
			event("kill -9 of ffmpeg: no transcode ran within 90 s")
		default:
			ffKilled = append(ffKilled, src)
			event(fmt.Sprintf("kill -9 of ffmpeg mid-transcode of %q", src))
		}
	}
	var diskNotes []string
	diskFull := func() {
		a.fault.Add(1)
		defer a.fault.Add(-1)
		base := "http://" + a.httpAddr
		filler := filepath.Join(vol, "filler")
		n, err := fill(filler)
		if err != nil {
			t.Errorf("filling the media file system: %v", err)
			return
		}
		event(fmt.Sprintf("media file system full: %d MiB of filler, %d bytes left", n>>20, freeBytes(vol)))
		took, err := waitReadyz(base, "degraded", 60*time.Second)
		if err != nil {
			lost = append(lost, "full disk: the box did not say degraded: "+err.Error())
		} else {
			event(fmt.Sprintf("full disk: /readyz 200 degraded after %s", took.Round(time.Millisecond)))
		}
		// An upload now fails cleanly and leaves nothing behind.
		upErr, _ := ftpProbe(ftpAddr, "admin", pw, "/admin/diskfull-probe.bin", 2<<20)
		if upErr == nil {
			lost = append(lost, "full disk: an upload of 2 MiB succeeded on a full file system")
		} else {
			diskNotes = append(diskNotes, "upload while full: "+upErr.Error())
		}
		if ents, err := os.ReadDir(filepath.Join(media, "admin")); err == nil {
			for _, e := range ents {
				if strings.Contains(e.Name(), "diskfull-probe") {
					lost = append(lost, "full disk: the failed upload left "+e.Name())
				}
			}
		}
		time.Sleep(20 * time.Second) // uploads, films and HLS keep hitting it
		if err := os.Remove(filler); err != nil {
			t.Errorf("freeing the media file system: %v", err)
			return
		}
		event(fmt.Sprintf("space freed: %d MiB available", freeBytes(vol)>>20))
		took, err = waitReadyz(base, "ok", 120*time.Second)
		if err != nil {
			lost = append(lost, "full disk: the box did not recover after space was freed: "+err.Error())
		} else {
			event(fmt.Sprintf("full disk: /readyz ok again %s after space was freed", took.Round(time.Millisecond)))
		}
		if upErr, chkErr := ftpProbe(ftpAddr, "admin", pw, "/admin/diskfree-probe.bin", 2<<20); upErr != nil || chkErr != nil {
			lost = append(lost, fmt.Sprintf("full disk: an upload after space was freed: %v %v", upErr, chkErr))
		}
		time.Sleep(recoveryGrace)
	}
	plan := []struct {
		at   float64
		what string
		do   func()
	}{
		{0.15, "kill -9 of ffmpeg mid-transcode", killFF},
		{0.35, "full media disk", diskFull},
		{0.25, "kill -9 mid-upload", func() {
			a.fault.Add(1)
			defer a.fault.Add(-1)
			a.kill9()
			event("kill -9 while uploads run")
			time.Sleep(time.Second)
			recoverAfter("kill -9 mid-upload")
		}},
		{0.45, "garbage and slowloris on every port", func() {
			event("garbage and slowloris on FTP, RTMP, HTTP (20 s)")
			garbage()
			event("garbage over")
		}},
		{0.55, "kill -9 mid-transcode", func() {
			a.fault.Add(1)
			defer a.fault.Add(-1)
			running := waitJobRunning(client, "http://"+a.httpAddr+"/api/jobs", 60*time.Second)
			a.kill9()
			event(fmt.Sprintf("kill -9 during a transcode (seen running: %v)", running))
			time.Sleep(time.Second)
			recoverAfter("kill -9 mid-transcode")
		}},

		{0.65, "kill -9 mid-backup", func() {
			a.fault.Add(1)
			defer a.fault.Add(-1)
			cmd := exec.Command(bin, "backup", "run", "-c", a.cfg)
			cmd.Dir = dir
			cmd.Start()
			running := waitBackupRunning(filepath.Join(dir, "data", "control.sock"), 20*time.Second)
			if running {
				killedBackups++
			}
			a.kill9()
			cmd.Wait()
			event(fmt.Sprintf("kill -9 during a backup (seen running: %v)", running))
			time.Sleep(time.Second)
			recoverAfter("kill -9 mid-backup")
		}},
		{0.8, "kill -9 of ffmpeg mid-transcode", killFF},
	}
	slices.SortStableFunc(plan, func(x, y struct {
		at   float64
		what string
		do   func()
	}) int {
		return cmp.Compare(x.at, y.at)
	})
	tick := time.NewTicker(max(dur/20, 5*time.Second))
	defer tick.Stop()
	var lastCPU float64
	var lastAt time.Duration
	lastPID := a.pid()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			el := time.Since(began)
			for len(plan) > 0 && el >= time.Duration(plan[0].at*float64(dur)) {
				plan[0].do()
				plan = plan[1:]
			}
			pid := a.pid()
			rss, cpu := procStats(pid)
			s := sample{at: el, rssKiB: rss, restarts: restarts, load: loadAvg()}
			if pid != lastPID {
				lastCPU = 0 // a new process since the last sample
			}
			if el > lastAt {
				s.cpuSecs = (cpu - lastCPU) / (el - lastAt).Seconds()
			}
			lastCPU, lastAt, lastPID = cpu, el, pid
			samples = append(samples, s)
		}
	}
	cancel()
	wg.Wait()
	// The films: every completed upload becomes a title; wait for the queue
	// (jobs interrupted by kill -9 run again), then every ready title's
	// playlists and segments must all be served (no half title published).
	var titles []struct {
		ID, State, Source, HLS, Error string
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		titles = titles[:0]
		b, err := httpGet(http.DefaultClient, "http://"+a.httpAddr+"/api/library")
		if err == nil {
			err = json.Unmarshal(b, &titles)
		}
		busy := err != nil
		for _, ti := range titles {
			busy = busy || ti.State == "queued" || ti.State == "processing"
		}
		if !busy || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	byState := map[string]int{}
	bySource := map[string]string{}
	for _, ti := range titles {
		byState[ti.State]++
		bySource[ti.Source] = ti.State
		if ti.State == "ready" {
			if err := checkHLS("http://"+a.httpAddr, ti.HLS); err != nil {
				lost = append(lost, fmt.Sprintf("title %s (%s) is ready but not whole: %v", ti.ID, ti.Source, err))
			}
		}
	}
	for _, f := range films {
		if st := bySource[f]; st != "ready" {
			lost = append(lost, fmt.Sprintf("film %s uploaded, title state %q (want ready: every film is a sound HEVC file)", f, st))
		}
	}
	// The films whose ffmpeg was killed ran again and were published.
	var jobs []struct {
		Source   string
		State    string
		Attempts int
	}
	if b, err := httpGet(http.DefaultClient, "http://"+a.httpAddr+"/api/jobs"); err != nil || json.Unmarshal(b, &jobs) != nil {
		lost = append(lost, fmt.Sprintf("/api/jobs: %v", err))
	}
	var ffRetried []string
	for _, src := range ffKilled {
		i := slices.IndexFunc(jobs, func(j struct {
			Source   string
			State    string
			Attempts int
		}) bool {
			return j.Source == src
		})
		switch {
		case i < 0:
			lost = append(lost, "no job for the film whose ffmpeg was killed: "+src)
		case jobs[i].State != "done" || jobs[i].Attempts < 2 || bySource[src] != "ready":
			lost = append(lost, fmt.Sprintf("film %s: ffmpeg killed, then job %s after %d attempts, title %q", src, jobs[i].State, jobs[i].Attempts, bySource[src]))
		default:
			ffRetried = append(ffRetried, fmt.Sprintf("%s (attempts %d)", src, jobs[i].Attempts))
		}
	}
	// Every bot update got its answer, and its line is in the log.
	botSt.mu.Lock()
	for _, u := range botSt.unanswered {
		lost = append(lost, "bot: "+u)
	}
	var botLines, botMissing int
	for user, want := range botSt.inLines {
		got, err := botLogLines(filepath.Join(dir, "data", "control.sock"), user)
		if err != nil {
			lost = append(lost, fmt.Sprintf("bot log of %d: %v", user, err))
			continue
		}
		botLines += len(want)
		for _, l := range missingLines(want, got) {
			botMissing++
			lost = append(lost, fmt.Sprintf("bot: user %d's line %q is not in the conversation log", user, l))
		}
	}
	botSt.mu.Unlock()
	botAlerts := botAPI.count("sendMessage", func(c botCall) bool { return c.p["chat_id"] == strconv.Itoa(botAdmin) })
	diskAlerts := botAPI.count("sendMessage", func(c botCall) bool {
		return c.p["chat_id"] == strconv.Itoa(botAdmin) && strings.Contains(c.p["text"], "disk nearly full") && strings.Contains(c.p["text"], vol)
	})
	bstart := time.Now()
	out, err := exec.Command(bin, "backup", "run", "-c", a.cfg).CombinedOutput()
	cBackup.done(bstart, err, false)
	if err != nil {
		t.Errorf("backup run at the end: %v\n%s", err, out)
	}
	a.stop(t)

	// What was lost: every completed upload present and intact; no other
	// visible file but whole ones; the store opens; complete backups verify.
	intended := map[string]*attempt{}
	for _, at := range attempts {
		intended[at.path] = at
		switch got := fileSum(filepath.Join(media, at.path)); {
		case at.deleted && got != "":
			lost = append(lost, "deleted upload "+at.path+" came back")
		case at.delTried && !at.deleted && (got == "" || got == at.sum):
			// a DELE whose answer was lost: gone or intact are both right
		case at.completed && !at.deleted && got != at.sum:
			lost = append(lost, "completed upload "+at.path+" missing or changed")
		}
	}
	filepath.Walk(filepath.Join(media, "admin"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || strings.HasPrefix(fi.Name(), ".") {
			return nil
		}
		if fi.IsDir() {
			if p != filepath.Join(media, "admin") && !strings.HasPrefix(fi.Name(), "soak-") {
				return filepath.SkipDir // the quarantine of failed films, say: not the uploaders'
			}
			return nil
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, media), "/")
		at := intended[rel]
		if at == nil || fileSum(p) != at.sum {
			lost = append(lost, "half or foreign file published: "+rel)
		}
		return nil
	})
	if out, err := exec.Command(bin, "user", "list", "-c", a.cfg).CombinedOutput(); err != nil {
		lost = append(lost, fmt.Sprintf("the store does not open: %v %s", err, out))
	}
	blist, err := exec.Command(bin, "backup", "list", "-c", a.cfg).CombinedOutput()
	if err != nil {
		lost = append(lost, fmt.Sprintf("backup list: %v %s", err, blist))
	}
	var complete, incomplete int
	for _, l := range strings.Split(string(blist), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] == "ID" {
			continue
		}
		switch {
		case strings.Contains(l, "incomplete"):
			incomplete++
		case strings.Contains(l, "complete"):
			complete++
			bstart := time.Now()
			out, err := exec.Command(bin, "backup", "verify", "-c", a.cfg, f[0]).CombinedOutput()
			cBackup.done(bstart, err, false)
			if err != nil {
				lost = append(lost, fmt.Sprintf("backup %s does not verify: %v %s", f[0], err, out))
			}
		default:
			lost = append(lost, "backup "+l)
		}
	}

	// The table.
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak: %s, %d FTPS uploaders, %d RTMP publishers, %d RTMP players, %d HLS viewers, backup every %s\n\n",
		dur, nUp, nPub, nPlay, nView, backupEvery)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what\tserved\terrors\terrors in faults\tp50\tp99\t")
	for _, c := range []*class{cUp, cDown, cDel, cFilm, cRTMP, cHLS, cBot, cBackup} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t\n", c.name, c.ok, c.errs, c.faults, c.pct(0.5).Round(time.Millisecond), c.pct(0.99).Round(time.Millisecond))
	}
	tw.Flush()
	for _, c := range []*class{cUp, cDown, cDel, cFilm, cRTMP, cHLS, cBot, cBackup} {
		for _, e := range c.first {
			fmt.Fprintf(&b, "  %s error: %s\n", c.name, e)
		}
	}
	fmt.Fprintf(&b, "\nbytes verified (downloaded back, SHA-256 equal): %d (%.1f MiB); uploads completed %d of %d attempted; %d kept and checked on disk at the end\n",
		verified.Load(), float64(verified.Load())/(1<<20), countCompleted(attempts), len(attempts), countKept(attempts))
	fmt.Fprintf(&b, "films: %d uploaded; titles %v; ffmpeg killed mid-transcode and the film published on a retry: %s\n", len(films), byState, strings.Join(ffRetried, ", "))
	fmt.Fprintf(&b, "bot: %d users, %d updates, %d escalations (tickets opened to the operators), %d operator replies passed on, %d unanswered (%d of them taken at a kill -9); %d log lines checked, %d missing; %d alerts to the admin (%d: the media disk nearly full)\n",
		nBot, botSt.updates, botSt.escalations, botSt.replies, len(botSt.unanswered), len(botSt.killed), botLines, botMissing, botAlerts, diskAlerts)
	for _, k := range botSt.killed {
		fmt.Fprintf(&b, "  taken at a kill -9, not answered: %s\n", k)
	}
	fmt.Fprintf(&b, "media file system: %s\n", volHow)
	for _, n := range diskNotes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	fmt.Fprintf(&b, "backups: %d complete (each verified), %d listed incomplete; %d interrupted by kill -9 (README: listed as incomplete)\n\n", complete, incomplete, killedBackups)
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "time\tRSS MiB\tCPU (cores)\trestarts\tload (1 min, %d cores)\t\n", runtime.NumCPU())
	for _, s := range samples {
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%d\t%s\t\n", s.at.Round(time.Second), float64(s.rssKiB)/1024, s.cpuSecs, s.restarts, s.load)
	}
	tw.Flush()
	b.WriteString("\nevents:\n  " + strings.Join(events, "\n  ") + "\n")
	if len(lost) == 0 {
		b.WriteString("\nlost: nothing\n")
	} else {
		b.WriteString("\nLOST:\n  " + strings.Join(lost, "\n  ") + "\n")
	}
	t.Log(b.String())
	fmt.Println(b.String())
	if keep := os.Getenv("SOAK_LOG"); keep != "" { // the appliance's log outlives the temporary dir
		if raw, err := os.ReadFile(logf.Name()); err == nil {
			if err := os.WriteFile(keep, raw, 0o644); err != nil {
				t.Errorf("SOAK_LOG: %v", err)
			}
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d losses", len(lost))
	}
	if cUp.errs+cDown.errs > 0 {
		t.Errorf("FTPS errors outside the faults: %d uploads, %d downloads (log: %s)", cUp.errs, cDown.errs, logf.Name())
	}
	if countCompleted(attempts) == 0 || verified.Load() == 0 {
		t.Error("no upload completed: the soak measured nothing")
	}
	if len(plan) > 0 {
		t.Errorf("not every fault ran: %d left, the first %q", len(plan), plan[0].what)
	}
	if len(ffKilled) == 0 {
		t.Error("ffmpeg was never killed mid-transcode: the fault did not run")
	}
	if diskAlerts == 0 {
		t.Error("the full media disk alerted no admin through the bot")
	}
	if cBot.ok == 0 {
		t.Error("no bot update was answered: the soak measured nothing there")
	}
}

// waitBackupRunning polls the control socket's /backup/status until a
// backup runs; false when none did within d.
func waitBackupRunning(sock string, d time.Duration) bool {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := c.Get("http://thecure/backup/status")
		if err != nil {
			continue
		}
		var st struct {
			Running bool   `json:"running"`
			Phase   string `json:"phase"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err == nil && st.Running {
			return true
		}
	}
	return false
}

// waitJobRunning polls /api/jobs until a job runs; false when none did in d.
func waitJobRunning(c *http.Client, url string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := httpGet(c, url)
		if err != nil {
			continue
		}
		var jobs []struct{ State string }
		if json.Unmarshal(b, &jobs) == nil && slices.ContainsFunc(jobs, func(j struct{ State string }) bool { return j.State == "running" }) {
			return true
		}
	}
	return false
}

func httpGet(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// checkHLS fetches a VOD master playlist, each media playlist and every
// file they name (init section, segments).
func checkHLS(base, master string) error {
	get := func(u string) ([]byte, error) { return httpGet(http.DefaultClient, base+u) }
	uris := func(pl []byte) []string {
		var out []string
		for _, l := range strings.Split(string(pl), "\n") {
			l = strings.TrimSpace(l)
			switch {
			case l == "":
			case strings.HasPrefix(l, "#EXT-X-MAP:"):
				if i := strings.Index(l, `URI="`); i >= 0 {
					out = append(out, strings.SplitN(l[i+5:], `"`, 2)[0])
				}
			case !strings.HasPrefix(l, "#"):
				out = append(out, l)
			}
		}
		return out
	}
	m, err := get(master)
	if err != nil {
		return err
	}
	dirOf := func(u string) string { return u[:strings.LastIndexByte(u, '/')+1] }
	n := 0
	for _, v := range uris(m) {
		vu := dirOf(master) + v
		pl, err := get(vu)
		if err != nil {
			return err
		}
		for _, f := range uris(pl) {
			if _, err := get(dirOf(vu) + f); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%s names no segment", master)
	}
	return nil
}

func uploaderName(u int) string { return fmt.Sprintf("soak%02d", u) }

func countCompleted(as []*attempt) int {
	n := 0
	for _, a := range as {
		if a.completed {
			n++
		}
	}
	return n
}

func countKept(as []*attempt) int {
	n := 0
	for _, a := range as {
		if a.completed && !a.deleted {
			n++
		}
	}
	return n
}

func fileSum(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loadAvg is the machine's 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// procStats reads a process's resident memory (KiB) and CPU time (s).
func procStats(pid int) (rssKiB int64, cpu float64) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				rssKiB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+2:])
			if len(f) > 13 {
				ut, _ := strconv.ParseFloat(f[11], 64)
				st, _ := strconv.ParseFloat(f[12], 64)
				cpu = (ut + st) / 100 // USER_HZ
			}
		}
	}
	return rssKiB, cpu
}
