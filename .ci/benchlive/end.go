package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runEnd publishes the clip once (-end CLIP, a 10 s clip with a 2 s GOP)
// and measures the server's CPU time (user + system, from the publisher's
// start to 3 s after its end, the same window for every server) and maximum
// RSS meanwhile. With -viewer player, one HLS viewer starts with the stream
// and behaves like a real player of the server's format: an LL-HLS player
// (the server announces CAN-BLOCK-RELOAD) fetches the multivariant playlist
// once, then each media playlist with blocking reloads (_HLS_msn and
// _HLS_part of the next part) and every part once; a plain HLS player
// reloads each media playlist once per segment duration (half the target
// duration when it has not changed, as hls.js does) and fetches every
// segment once. It reports the time from the publisher's start to the first
// part (or, with no LL-HLS, the first segment) fetched and the media it
// could get over the whole stream including after its end (distinct
// segments listed, their EXTINF summed). With -viewer none nothing is
// requested during the window (the CPU is the ingest's alone, and HLS
// writing's); the playlist is read once after it.
func runEnd(clip string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &http.Client{Timeout: 15 * time.Second}
	mediaURLs := strings.Split(*media, ",")
	procs := expand(*pids)
	cpu0 := cpuTicks(procs)

	pub := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-i", clip, "-c", "copy", "-f", "flv", *rtmpURL)
	pub.Stderr = os.Stderr
	t0 := time.Now()
	if err := pub.Start(); err != nil {
		return err
	}
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Wait() }()

	var mu sync.Mutex
	var maxRSS, maxAnon int64
	stopRSS := make(chan struct{})
	go func() {
		for {
			r, a := rss(expand(*pids))
			mu.Lock()
			maxRSS, maxAnon = max(maxRSS, r), max(maxAnon, a)
			mu.Unlock()
			select {
			case <-stopRSS:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	vctx, vcancel := context.WithCancel(ctx)
	defer vcancel()
	var wg sync.WaitGroup
	followers := make([]*follower, len(mediaURLs))
	for i, u := range mediaURLs {
		followers[i] = &follower{hc: hc, url: u, t0: t0, seen: map[string]float64{}, fetched: map[string]bool{}}
	}
	if *viewer == "player" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// a player starts with the multivariant playlist, retried
			// until the stream is live
			for vctx.Err() == nil {
				if _, err := followers[0].get(vctx, *first); err == nil {
					break
				}
				sleep(vctx, 20*time.Millisecond)
			}
			for _, f := range followers {
				wg.Add(1)
				go func() { defer wg.Done(); f.follow(vctx) }()
			}
		}()
	}

	var ended time.Time
	select {
	case err := <-pubDone:
		if err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
		ended = time.Now()
	case <-time.After(60 * time.Second):
		return errors.New("the clip did not end in 60 s")
	}
	time.Sleep(3*time.Second - time.Since(ended))
	cpu1 := cpuTicks(procs)
	vcancel()
	wg.Wait()
	close(stopRSS)

	f0 := followers[0]
	requests := 0
	for _, f := range followers {
		requests += f.requests
	}
	kind := "no HLS viewer"
	switch {
	case *viewer != "player":
		// what a viewer could get, read once after the window
		if pl, err := fetch(hc, f0.url); err == nil {
			for _, s := range parsePlaylist(pl).segs {
				f0.seen[s.uri] = s.dur
			}
		}
	case f0.ll:
		kind = fmt.Sprintf("one LL-HLS player: blocking reloads, %d requests", requests)
	default:
		kind = fmt.Sprintf("one HLS player: a reload per segment, %d requests", requests)
	}
	var total float64
	for _, d := range f0.seen {
		total += d
	}
	part, seg := "-", "-"
	if f0.firstPart > 0 {
		part = fmt.Sprintf("%.2f s", f0.firstPart.Seconds())
	} else if *viewer == "player" {
		part = "no LL-HLS parts"
	}
	if f0.firstSeg > 0 {
		seg = fmt.Sprintf("%.2f s", f0.firstSeg.Seconds())
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("%-8s one stream (%s, 2 s GOP): first LL-HLS part %s, first segment %s after the publisher started; "+
		"HLS media of the stream (after the end) %.2f s in %d segments; "+
		"server CPU %.2f s, max RSS %.1f MB (private %.1f MB; %s)\n",
		*name, clip[strings.LastIndexByte(clip, '/')+1:], part, seg, total, len(f0.seen),
		float64(cpu1-cpu0)/100, float64(maxRSS)/(1<<20), float64(maxAnon)/(1<<20), kind)
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// follower plays one media playlist like a real player of its format.
type follower struct {
	hc       *http.Client
	url      string
	t0       time.Time
	ll       bool // the server blocks playlist reloads (LL-HLS)
	requests int

	firstPart, firstSeg time.Duration
	seen                map[string]float64 // segment URI -> EXTINF
	fetched             map[string]bool    // parts, segments and init files fetched
}

func (f *follower) get(ctx context.Context, u string) (string, error) {
	f.requests++
	return fetchContext(ctx, f.hc, u)
}

// once fetches u unless it was fetched already.
func (f *follower) once(ctx context.Context, u string) bool {
	if f.fetched[u] {
		return false
	}
	if _, err := f.get(ctx, resolve(f.url, u)); err != nil {
		return false
	}
	f.fetched[u] = true
	return true
}

func (f *follower) follow(ctx context.Context) {
	next := "" // the blocking reload's query
	for ctx.Err() == nil {
		u := f.url
		if next != "" {
			u += "?" + next
		}
		body, err := f.get(ctx, u)
		if err != nil {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		pl := parsePlaylist(body)
		f.ll = pl.canBlock
		for _, s := range pl.segs {
			f.seen[s.uri] = s.dur
		}
		if pl.init != "" {
			f.once(ctx, pl.init)
		}
		newSeg := false
		if f.ll {
			// at the live edge an LL-HLS player loads parts, each once
			for _, p := range pl.parts {
				if f.once(ctx, p) && f.firstPart == 0 {
					f.firstPart = time.Since(f.t0)
				}
			}
			if len(pl.segs) > 0 && f.firstSeg == 0 {
				f.firstSeg = time.Since(f.t0) // listed complete (its parts are fetched)
			}
		} else {
			for _, s := range pl.segs {
				if f.once(ctx, s.uri) {
					newSeg = true
					if f.firstSeg == 0 {
						f.firstSeg = time.Since(f.t0)
					}
				}
			}
		}
		if pl.endlist {
			return
		}
		switch {
		case f.ll:
			next = fmt.Sprintf("_HLS_msn=%d&_HLS_part=%d", pl.seq+len(pl.segs), pl.edgeParts)
		case newSeg && len(pl.segs) > 0:
			sleep(ctx, time.Duration(pl.segs[len(pl.segs)-1].dur*float64(time.Second)))
		case pl.target > 0:
			sleep(ctx, time.Duration(pl.target*float64(time.Second))/2)
		default:
			sleep(ctx, 500*time.Millisecond)
		}
	}
}

type listedSegment struct {
	uri string
	dur float64
}

type mediaPlaylist struct {
	seq       int // EXT-X-MEDIA-SEQUENCE
	target    float64
	canBlock  bool
	endlist   bool
	init      string
	segs      []listedSegment
	parts     []string // URIs of every listed part, in order
	edgeParts int      // parts listed after the last complete segment
}

// parsePlaylist reads what a player needs from a media playlist.
func parsePlaylist(text string) mediaPlaylist {
	var pl mediaPlaylist
	var dur float64
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(l, "#EXTINF:"), ",")
			dur, _ = strconv.ParseFloat(v, 64)
		case strings.HasPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"):
			pl.seq, _ = strconv.Atoi(strings.TrimPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"))
		case strings.HasPrefix(l, "#EXT-X-TARGETDURATION:"):
			pl.target, _ = strconv.ParseFloat(strings.TrimPrefix(l, "#EXT-X-TARGETDURATION:"), 64)
		case strings.HasPrefix(l, "#EXT-X-SERVER-CONTROL:"):
			pl.canBlock = strings.Contains(l, "CAN-BLOCK-RELOAD=YES")
		case l == "#EXT-X-ENDLIST":
			pl.endlist = true
		case strings.HasPrefix(l, "#EXT-X-MAP:"):
			pl.init = attr(l, "URI")
		case strings.HasPrefix(l, "#EXT-X-PART:"):
			if u := attr(l, "URI"); u != "" {
				pl.parts = append(pl.parts, u)
				pl.edgeParts++
			}
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			pl.segs = append(pl.segs, listedSegment{l, dur})
			pl.edgeParts = 0
		}
	}
	return pl
}

// attr is the quoted attribute key of a tag line.
func attr(l, key string) string {
	_, v, ok := strings.Cut(l, key+`="`)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, `"`)
	return v
}

func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := b.Parse(ref)
	if err != nil {
		return ref
	}
	return r.String()
}
