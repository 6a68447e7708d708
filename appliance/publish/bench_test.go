package publish_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"thecure/appliance/config"
	"thecure/appliance/live"
	"thecure/appliance/s3client"
)

// timingSink notes when each segment closed, then hands the update on.
type timingSink struct {
	next   live.Sink
	mu     sync.Mutex
	closed map[string]time.Time
}

func (s *timingSink) LiveUpdate(u live.Update) {
	s.mu.Lock()
	for _, f := range u.Files {
		s.closed[f.Name] = u.Closed
	}
	s.mu.Unlock()
	s.next.LiveUpdate(u)
}

// BenchmarkLiveDelay: the latency publishing adds to live, from a segment's
// close in the muxer to the bucket's playlist listing it (its segment
// uploaded before), as a reader polling the bucket every 2 ms sees it.
// The peer: one plain PUT of the same segment with minio-go (raw-put-ms).
// Each iteration is 20 one-second segments published at 4x real time.
func BenchmarkLiveDelay(b *testing.B) {
	s3 := newS3(b)
	bx := newBox(b, "", publishConfig(s3, "box1/"), func(c *config.HLS) {
		c.SegmentDuration = config.Duration(time.Second)
		c.SegmentCount = 30
	})
	ts := &timingSink{next: bx.svc, closed: map[string]time.Time{}}
	bx.hub.SetSink(ts)
	bx.run()
	tracks, aus := readClip(b, 4)
	var delays []time.Duration
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("cam%d", i)
		stop := bx.goLive(name, tracks, aus, 4)
		seen := map[string]bool{}
		deadline := time.Now().Add(20 * time.Second / 4)
		for time.Now().Before(deadline) {
			resp, err := http.Get(s3.url("box1/live/" + name + "/main_stream.m3u8"))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				now := time.Now()
				if resp.StatusCode == http.StatusOK {
					for _, line := range strings.Split(string(body), "\n") {
						if strings.HasSuffix(line, ".mp4") && !seen[line] {
							seen[line] = true
							ts.mu.Lock()
							c, ok := ts.closed[line]
							ts.mu.Unlock()
							if ok {
								delays = append(delays, now.Sub(c))
							}
						}
					}
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		stop()
	}
	b.StopTimer()
	if len(delays) < 5 {
		b.Fatalf("only %d segments seen", len(delays))
	}
	slices.Sort(delays)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(delays[len(delays)/2]), "p50-ms")
	b.ReportMetric(ms(delays[len(delays)*95/100]), "p95-ms")
	b.ReportMetric(ms(delays[len(delays)-1]), "max-ms")
	b.ReportMetric(float64(len(delays)), "segments")

	// the peer: a plain PUT of a segment-sized object
	cl, err := s3client.New(publishConfig(s3, "box1/").Client())
	if err != nil {
		b.Fatal(err)
	}
	seg := bytes.Repeat([]byte{0x42}, 30000) // ~ one 1 s segment at 200 kbit/s
	var puts []time.Duration
	for i := range 50 {
		start := time.Now()
		if _, err := cl.PutObject(context.Background(), bucket, fmt.Sprintf("raw/%d", i), bytes.NewReader(seg), int64(len(seg)),
			minio.PutObjectOptions{DisableContentSha256: true, SendContentMd5: true}); err != nil {
			b.Fatal(err)
		}
		puts = append(puts, time.Since(start))
	}
	slices.Sort(puts)
	b.ReportMetric(ms(puts[len(puts)/2]), "raw-put-p50-ms")
}

// BenchmarkVODPublish: VOD titles uploaded per second and MB/s (a packaged
// title of two renditions, 2 s fMP4 segments and a poster), against
// gofakes3 on loopback. Each iteration publishes one more title.
func BenchmarkVODPublish(b *testing.B) {
	s3 := newS3(b)
	bx := newBox(b, "", publishConfig(s3, "box1/"), nil)
	bx.run()
	size := treeSize(b, packaged(b))
	ids := make([]string, b.N)
	for i := range b.N {
		ids[i] = bx.addTitle(fmt.Sprintf("pelis/Film %d (2020).mkv", i))
	}
	b.SetBytes(size)
	b.ResetTimer()
	for _, id := range ids {
		bx.svc.TitleChanged(id)
	}
	for _, id := range ids {
		for bx.svc.URL(id, "index.m3u8") == "" {
			time.Sleep(time.Millisecond)
		}
	}
}

// BenchmarkVODRawPut is the peer of BenchmarkVODPublish: the same files
// PUT with minio-go at the same concurrency (4), nothing else.
func BenchmarkVODRawPut(b *testing.B) {
	s3 := newS3(b)
	dir := packaged(b)
	size := treeSize(b, dir)
	cl, err := s3client.New(publishConfig(s3, "box1/").Client())
	if err != nil {
		b.Fatal(err)
	}
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		g := errgroup.Group{}
		g.SetLimit(config.Default().Publish.S3.Concurrency)
		for _, f := range files {
			g.Go(func() error {
				fh, err := os.Open(f)
				if err != nil {
					return err
				}
				defer fh.Close()
				fi, err := fh.Stat()
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(dir, f)
				_, err = cl.PutObject(context.Background(), bucket, fmt.Sprintf("raw/%d/%s", i, rel), fh, fi.Size(),
					minio.PutObjectOptions{DisableContentSha256: true, SendContentMd5: true})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

func treeSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
