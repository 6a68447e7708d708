// Command benchlive measures one live server (thecure or nginx-rtmp) for
// .ci/bench-live: time from publish to the first playable playlist, the age
// of the newest media in the playlist, and the CPU and memory of the server
// while it fans one publisher out to RTMP players and HLS clients.
//
// It publishes CLIP (a prepared FLV, copied in real time by ffmpeg), plays
// RTMP with a minimal client that discards what it reads, and polls HLS like
// a plain (non-blocking) HLS player: media playlists every second, every new
// segment downloaded.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yutopp/go-rtmp/handshake"
)

var (
	name      = flag.String("name", "server", "label for the output")
	rtmpURL   = flag.String("rtmp", "", "rtmp://HOST:PORT/APP/STREAM")
	first     = flag.String("first", "", "playlist URL polled until playable")
	media     = flag.String("media", "", "comma-separated media playlist URLs")
	naming    = flag.String("naming", "pdt", "how to date the newest media: pdt (EXT-X-PROGRAM-DATE-TIME) or system (nginx-rtmp system-time fragment names)")
	clip      = flag.String("clip", "", "FLV to publish")
	pids      = flag.String("pids", "", "server process ids (space or comma separated); children are added")
	players   = flag.Int("players", 100, "RTMP players")
	hlsN      = flag.Int("hls", 200, "HLS clients")
	latFor    = flag.Duration("latency-for", 10*time.Second, "latency sampling time")
	fanoutFor = flag.Duration("fanout-for", 30*time.Second, "fan-out measuring time")
	rampUp    = flag.Duration("ramp-up", 5*time.Second, "time for the clients to settle before measuring, after the last has started")
	rate      = flag.Float64("rate", 0, "the clip's bit rate (b/s): players per core are counted at it")
	profSock  = flag.String("profile-sock", "", "after measuring, a CPU profile of the fan-out from thecure's control socket")
	profOut   = flag.String("profile-out", "", "where the profile goes")
	profFor   = flag.Duration("profile-for", 20*time.Second, "profile duration")
	endClip   = flag.String("end", "", "instead: publish this clip once and measure the server's CPU and RSS for that one stream (see -viewer)")
	viewer    = flag.String("viewer", "player", "with -end: player (one HLS viewer that behaves like a real player of the server's format: LL-HLS blocking reloads, or a plain reload per segment) or none (no HLS request while measuring)")
)

func main() {
	flag.Parse()
	do := run
	if *endClip != "" {
		do = func() error { return runEnd(*endClip) }
	}
	if err := do(); err != nil {
		fmt.Fprintf(os.Stderr, "benchlive %s: %v\n", *name, err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
		"-i", *clip, "-c", "copy", "-f", "flv", *rtmpURL)
	pub.Stderr = os.Stderr
	t0 := time.Now()
	if err := pub.Start(); err != nil {
		return err
	}
	defer func() { cancel(); _ = pub.Wait() }()

	// 1. time to the first playable playlist
	hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}}
	mediaURLs := strings.Split(*media, ",")
	var ttfp time.Duration
	for {
		if time.Since(t0) > 30*time.Second {
			return errors.New("no playable playlist after 30 s")
		}
		if body, err := fetch(hc, *first); err == nil && strings.HasPrefix(body, "#EXTM3U") {
			if pl, err := fetch(hc, mediaURLs[0]); err == nil && len(segments(pl)) > 0 {
				ttfp = time.Since(t0)
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("%-8s first playable playlist: %.2f s after the publisher started\n", *name, ttfp.Seconds())

	// 2. latency: age of the newest media in the playlist
	var ages []float64
	for end := time.Now().Add(*latFor); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		pl, err := fetch(hc, mediaURLs[0])
		if err != nil {
			continue
		}
		now := time.Now()
		newest, ok := newestMedia(pl, *naming)
		if ok {
			ages = append(ages, now.Sub(newest).Seconds())
		}
	}
	if len(ages) == 0 {
		fmt.Printf("%-8s latency: no dated media in the playlist\n", *name)
	} else {
		sort.Float64s(ages)
		fmt.Printf("%-8s latency (age of newest media in playlist): median %.2f s, min %.2f s, max %.2f s (%d samples)\n",
			*name, ages[len(ages)/2], ages[0], ages[len(ages)-1], len(ages))
	}

	// 3. fan-out
	var rtmpBytes, hlsBytes, hlsSegs, hlsErrs, rtmpErrs atomic.Int64
	fctx, fcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range *players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			if err := play(fctx, *rtmpURL, &rtmpBytes); err != nil && fctx.Err() == nil {
				rtmpErrs.Add(1)
			}
		}()
	}
	for i := range *hlsN {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 5 * time.Millisecond)
			poll(fctx, hc, mediaURLs, &hlsBytes, &hlsSegs, &hlsErrs)
		}()
	}
	// players start 10 ms apart, HLS clients 5 ms apart: all of them are
	// in before measuring
	time.Sleep(*rampUp + max(time.Duration(*players)*10*time.Millisecond, time.Duration(*hlsN)*5*time.Millisecond))
	procs := expand(*pids)
	cpu0, w0 := cpuTicks(procs), time.Now()
	b0, h0 := rtmpBytes.Load(), hlsBytes.Load()
	var maxRSS, maxAnon int64
	for end := time.Now().Add(*fanoutFor); time.Now().Before(end); time.Sleep(time.Second) {
		r, a := rss(expand(*pids))
		maxRSS, maxAnon = max(maxRSS, r), max(maxAnon, a)
	}
	cpu1, w1 := cpuTicks(procs), time.Now()
	b1, h1 := rtmpBytes.Load(), hlsBytes.Load()
	secs := w1.Sub(w0).Seconds()
	fmt.Printf("%-8s fan-out %d RTMP + %d HLS clients: server CPU %.1f%% of one core, RSS %.0f MB (private %.0f MB; max over %.0f s); "+
		"RTMP out %.0f Mb/s, HLS out %.0f Mb/s, %d segments, errors rtmp=%d hls=%d\n",
		*name, *players, *hlsN, 100*float64(cpu1-cpu0)/100/secs, float64(maxRSS)/(1<<20), float64(maxAnon)/(1<<20), secs,
		float64(b1-b0)*8/secs/1e6, float64(h1-h0)*8/secs/1e6, hlsSegs.Load(), rtmpErrs.Load(), hlsErrs.Load())
	if cpu := float64(cpu1-cpu0) / 100 / secs; *players > 0 && *hlsN == 0 && *rate > 0 && cpu > 0 {
		// players served at the clip's full rate per core of CPU: a server
		// that sends less than every player's full rate counts only what it sent
		full := float64(b1-b0) * 8 / secs / *rate
		fmt.Printf("%-8s RTMP: %.0f players' worth of the full stream sent (of %d), %.0f players per core\n",
			*name, full, *players, full/cpu)
	}
	var perr error
	if *profSock != "" {
		// after the measured window, so that profiling costs it nothing
		perr = profile(*profSock, *profFor, *profOut)
	}
	fcancel()
	wg.Wait()
	return perr
}

// profile saves a CPU profile of the next d from thecure's control socket.
func profile(sock string, d time.Duration, out string) error {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := hc.Get(fmt.Sprintf("http://thecure/debug/pprof/profile?seconds=%d", int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fetch(hc *http.Client, u string) (string, error) {
	return fetchContext(context.Background(), hc, u)
}

// fetchContext gets u's body; anything but 200 is an error.
func fetchContext(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: %s", u, resp.Status)
	}
	return string(b), err
}

// segments lists a media playlist's segment URIs, without EXT-X-GAP ones.
func segments(pl string) []string {
	var out []string
	gap := false
	for _, l := range strings.Split(pl, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#EXT-X-GAP"):
			gap = true
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			if !gap {
				out = append(out, l)
			}
			gap = false
		}
	}
	return out
}

// newestMedia is the wall-clock time of the end of the newest media in a
// playlist: from EXT-X-PROGRAM-DATE-TIME plus durations (segments, then the
// LL-HLS parts of the segment in progress), or from nginx-rtmp's system-time
// fragment names.
func newestMedia(pl, naming string) (time.Time, bool) {
	var segStart, newest time.Time
	var dur, parts float64
	for _, l := range strings.Split(pl, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#EXT-X-PROGRAM-DATE-TIME:"):
			if t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(l, "#EXT-X-PROGRAM-DATE-TIME:")); err == nil {
				segStart = t
			}
		case strings.HasPrefix(l, "#EXTINF:"):
			dur, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ","), 64)
		case strings.HasPrefix(l, "#EXT-X-PART:"):
			for _, kv := range strings.Split(strings.TrimPrefix(l, "#EXT-X-PART:"), ",") {
				if v, ok := strings.CutPrefix(kv, "DURATION="); ok {
					d, _ := strconv.ParseFloat(v, 64)
					parts += d
				}
			}
			if !segStart.IsZero() {
				if end := segStart.Add(time.Duration(parts * float64(time.Second))); end.After(newest) {
					newest = end
				}
			}
		case l == "" || strings.HasPrefix(l, "#"):
		default: // a segment URI
			if naming == "system" {
				base := strings.TrimSuffix(l[strings.LastIndexAny(l, "/-")+1:], ".ts")
				if ms, err := strconv.ParseInt(base, 10, 64); err == nil {
					segStart = time.UnixMilli(ms)
				}
			}
			if !segStart.IsZero() {
				segStart = segStart.Add(time.Duration(dur * float64(time.Second)))
				if segStart.After(newest) {
					newest = segStart
				}
			}
			parts = 0
		}
	}
	return newest, !newest.IsZero()
}

// poll is a plain HLS client: it reloads the media playlists every second
// and downloads every new segment.
func poll(ctx context.Context, hc *http.Client, urls []string, bytes, segs, errs *atomic.Int64) {
	seen := map[string]bool{}
	first := true
	for ctx.Err() == nil {
		for _, u := range urls {
			pl, err := fetch(hc, u)
			if err != nil {
				if ctx.Err() == nil {
					errs.Add(1)
				}
				continue
			}
			list := segments(pl)
			if first && len(list) > 1 {
				for _, s := range list[:len(list)-1] { // start at the live edge
					seen[u+s] = true
				}
			}
			for _, s := range list {
				if seen[u+s] {
					continue
				}
				seen[u+s] = true
				ref, _ := url.Parse(u)
				su, _ := ref.Parse(s)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, su.String(), nil)
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
					continue
				}
				bytes.Add(n)
				segs.Add(1)
			}
		}
		first = false
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// play is a minimal RTMP player: handshake, connect, createStream, play,
// then it reads and discards everything.
func play(ctx context.Context, rawURL string, n *atomic.Int64) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	app, stream, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.Close() }()
	br := bufio.NewReaderSize(c, 64<<10)
	if err := handshake.HandshakeWithServer(br, c, &handshake.Config{}); err != nil {
		return err
	}
	var msgs []byte
	msgs = append(msgs, chunked(3, 20, 0, cat(amfStr("connect"), amfNum(1), amfObj(
		"app", amfStr(app), "flashVer", amfStr("LNX 9,0,124,2"), "tcUrl", amfStr("rtmp://"+u.Host+"/"+app),
		"fpad", []byte{0x01, 0}, "capabilities", amfNum(15), "audioCodecs", amfNum(4071),
		"videoCodecs", amfNum(252), "videoFunction", amfNum(1))))...)
	msgs = append(msgs, chunked(3, 20, 0, cat(amfStr("createStream"), amfNum(2), []byte{0x05}))...)
	msgs = append(msgs, chunked(8, 20, 1, cat(amfStr("play"), amfNum(0), []byte{0x05}, amfStr(stream), amfNum(-2000)))...)
	if _, err := c.Write(msgs); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		k, err := br.Read(buf)
		n.Add(int64(k))
		if err != nil {
			return err
		}
	}
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func amfStr(s string) []byte {
	return append([]byte{0x02, byte(len(s) >> 8), byte(len(s))}, s...)
}

func amfNum(f float64) []byte {
	return binary.BigEndian.AppendUint64([]byte{0x00}, math.Float64bits(f))
}

func amfObj(kv ...any) []byte {
	out := []byte{0x03}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		out = append(out, byte(len(k)>>8), byte(len(k)))
		out = append(out, k...)
		out = append(out, kv[i+1].([]byte)...)
	}
	return append(out, 0, 0, 0x09)
}

// chunked frames one message on chunk stream csid in 128-byte chunks.
func chunked(csid byte, typ byte, streamID uint32, body []byte) []byte {
	b := []byte{csid, 0, 0, 0, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body)), typ}
	b = binary.LittleEndian.AppendUint32(b, streamID)
	for i := 0; i < len(body); i += 128 {
		if i > 0 {
			b = append(b, 0xc0|csid)
		}
		b = append(b, body[i:min(i+128, len(body))]...)
	}
	return b
}

// expand lists the processes and their children.
func expand(list string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ' ' || r == ',' }) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		out = append(out, pid)
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
			for _, c := range strings.Fields(string(b)) {
				if cp, err := strconv.Atoi(c); err == nil {
					out = append(out, cp)
				}
			}
		}
	}
	return out
}

// cpuTicks sums user and system CPU time (in 1/100 s) of processes.
func cpuTicks(procs []int) int64 {
	var total int64
	for _, p := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		total += ut + st
	}
	return total
}

// rss sums the resident memory (bytes) of processes, and its private
// part (RssAnon: without the pages of the executable and libraries, which
// are shared page cache).
func rss(procs []int) (total, anon int64) {
	for _, p := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || k != "VmRSS" && k != "RssAnon" {
				continue
			}
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if k == "VmRSS" {
				total += kb << 10
			} else {
				anon += kb << 10
			}
		}
	}
	return total, anon
}
