package live_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"thecure/appliance/live/livetest"
)

// BenchmarkHLSServe measures the server's cost of HLS requests from many
// clients (100 goroutines per CPU) while a stream is fed
// in real time: each operation is one media playlist request and one
// request for the newest part (LL-HLS), as a LL-HLS player following the
// live edge makes. .ci/bench-live runs it with -cpuprofile and prints
// `go tool pprof -top`.
func BenchmarkHLSServe(b *testing.B) {
	tracks, aus := readClip(b, 10, 50)
	hub, base := newHub(b, nil)
	s, err := hub.Publish("bench", tracks)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() { // the clip in a loop, in real time
		defer close(fed)
		start, span := time.Now(), aus[len(aus)-1].PTS-aus[0].PTS+40*time.Millisecond
		for loop := time.Duration(0); ; loop += span {
			for _, a := range aus {
				pts := loop + a.PTS - aus[0].PTS
				if d := pts - time.Since(start); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				}
				if err := a.PutAt(s, pts); err != nil {
					return
				}
			}
		}
	}()
	defer func() { cancel(); <-fed; s.Close() }()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	pl := base + "/live/bench/main_stream.m3u8"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := hc.Get(pl); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("no playlist")
		}
	}
	var bytesOut, errs atomic.Int64
	b.SetParallelism(100) // 200 clients on 2 CPUs
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		buf := make([]byte, 64<<10)
		for p.Next() {
			body, err := fetchInto(hc, pl, buf)
			if err != nil {
				errs.Add(1)
				continue
			}
			// the newest part: the last URI="..." before the preload hint
			i := bytes.LastIndex(body, []byte("#EXT-X-PART:"))
			if i < 0 {
				continue
			}
			u := body[i:]
			u = u[bytes.Index(u, []byte(`URI="`))+5:]
			u = u[:bytes.IndexByte(u, '"')]
			part, err := fetchInto(hc, base+"/live/bench/"+string(u), buf)
			if err != nil {
				errs.Add(1)
				continue
			}
			bytesOut.Add(int64(len(part)))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(bytesOut.Load())/float64(b.N), "part-bytes/op")
	if n := errs.Load(); n > int64(b.N)/100 {
		b.Errorf("%d failed requests of %d", n, 2*b.N)
	}
}

// fetchInto GETs u into buf (grown as needed).
func fetchInto(hc *http.Client, u string, buf []byte) ([]byte, error) {
	resp, err := hc.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		k, err := resp.Body.Read(buf[n:])
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if resp.StatusCode != 200 {
		return nil, io.ErrUnexpectedEOF
	}
	return buf[:n], nil
}

// BenchmarkMux measures the muxing cost of one live stream (720p, 3 Mb/s,
// 2 s GOP, LL-HLS): each operation publishes 10 s of media as fast as it
// goes and ends the stream; the time is per 10 s of media.
func BenchmarkMux(b *testing.B) {
	tracks, aus := livetest.Clip(b, 10, 50, "1280x720", "3M")
	hub, _ := newHub(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := hub.Publish("mux", tracks)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range aus {
			if err := a.Put(s); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
}
