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
// and follows it as an HLS viewer that starts with the stream: the time from
// the publisher's start to the first LL-HLS part (or, with no LL-HLS, the
// first segment) fetched, the media the viewer could get over the whole
// stream including after its end (distinct segments listed, their EXTINF
// summed), and the server's CPU time and maximum RSS meanwhile.
func runEnd(clip string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &http.Client{Timeout: 15 * time.Second}
	mediaURL := strings.Split(*media, ",")[0]
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

	var firstPart, firstSeg time.Duration
	seen := map[string]float64{} // segment URI -> EXTINF
	var ended time.Time
	mvOK := false
	for {
		if ended.IsZero() {
			select {
			case err := <-pubDone:
				if err != nil {
					return fmt.Errorf("publisher: %w", err)
				}
				ended = time.Now()
			default:
			}
		} else if time.Since(ended) > 3*time.Second {
			break
		}
		if time.Since(t0) > 60*time.Second {
			return errors.New("the clip did not end in 60 s")
		}
		if !mvOK { // a player starts with the multivariant playlist
			_, err := fetch(hc, *first)
			mvOK = err == nil
		}
		pl, err := fetch(hc, mediaURL)
		if mvOK && err == nil {
			segs, parts := listed(pl)
			for _, s := range segs {
				seen[s.uri] = s.dur
			}
			if firstPart == 0 && len(parts) > 0 {
				if _, err := fetch(hc, resolve(mediaURL, parts[0])); err == nil {
					firstPart = time.Since(t0)
				}
			}
			if firstSeg == 0 && len(segs) > 0 {
				if _, err := fetch(hc, resolve(mediaURL, segs[0].uri)); err == nil {
					firstSeg = time.Since(t0)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stopRSS)
	cpu1 := cpuTicks(procs)
	var total float64
	for _, d := range seen {
		total += d
	}
	part := "no LL-HLS parts"
	if firstPart > 0 {
		part = fmt.Sprintf("%.2f s", firstPart.Seconds())
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("%-8s one stream (%s, 2 s GOP): first LL-HLS part %s, first segment %.2f s after the publisher started; "+
		"HLS media of the stream (a viewer from the start, after the end) %.2f s in %d segments; "+
		"server CPU %.2f s, max RSS %.1f MB (private %.1f MB; one HLS viewer)\n",
		*name, clip[strings.LastIndexByte(clip, '/')+1:], part, firstSeg.Seconds(), total, len(seen),
		float64(cpu1-cpu0)/100, float64(maxRSS)/(1<<20), float64(maxAnon)/(1<<20))
	return nil
}

type listedSegment struct {
	uri string
	dur float64
}

// listed reads a media playlist's segments (with their EXTINF) and the
// URIs of its LL-HLS parts.
func listed(pl string) (segs []listedSegment, parts []string) {
	var dur float64
	for _, l := range strings.Split(pl, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(l, "#EXTINF:"), ",")
			dur, _ = strconv.ParseFloat(v, 64)
		case strings.HasPrefix(l, "#EXT-X-PART:"):
			if _, v, ok := strings.Cut(l, `URI="`); ok {
				parts = append(parts, v[:strings.IndexByte(v, '"')])
			}
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			segs = append(segs, listedSegment{l, dur})
		}
	}
	return segs, parts
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
