package rtmp_test

import (
	"bufio"
	"errors"
	"hash/fnv"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
)

// keyframe is one video keyframe as a player got it.
type keyframe struct {
	ts   uint32
	hash uint64
}

// goPlayer plays name from addr and returns the keyframes it received,
// in order, until the server closes the connection.
func goPlayer(t *testing.T, c net.Conn, name string) ([]keyframe, error) {
	if err := clientHandshake(c); err != nil {
		return nil, err
	}
	if _, err := c.Write(append(connectMsg("live"), playMsgs(name)...)); err != nil {
		return nil, err
	}
	cs := gortmp.NewChunkStreamer(bufio.NewReaderSize(c, 64<<10), io.Discard, &gortmp.StreamControlStateConfig{
		DefaultChunkSize: 128, MaxChunkSize: 0xffffff, MaxChunkStreams: 16, MaxMessageSize: 16 << 20,
		MaxBufferedBytes: 64 << 20, MaxMessageStreams: 16,
		DefaultAckWindowSize: 1 << 30, MaxAckWindowSize: 1 << 30,
		DefaultBandwidthWindowSize: 1 << 30, MaxBandwidthWindowSize: 1 << 30,
	})
	defer cs.Close()
	var got []keyframe
	for {
		var cm gortmp.ChunkMessage
		_, ts, err := cs.Read(&cm)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return got, nil // the stream ended (the server closed the connection)
		}
		if err != nil {
			return got, err
		}
		switch m := cm.Message.(type) {
		case *rtmpmsg.SetChunkSize:
			if err := cs.PeerState().SetChunkSize(m.ChunkSize); err != nil {
				return got, err
			}
		case *rtmpmsg.VideoMessage:
			b, _ := io.ReadAll(m.Payload)
			if len(b) > 5 && b[0]>>4 == 1 && b[1] == 1 { // keyframe, AVC NALU
				h := fnv.New64a()
				h.Write(b)
				got = append(got, keyframe{ts, h.Sum64()})
			}
		}
	}
}

// Issue 16: 200 RTMP players of one stream each get every keyframe from
// the one they join on to the end, in order, while a player that stops
// reading is dropped without slowing them.
func TestFanOut200Players(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.RTMP.MaxConnections = 400
		c.RTMP.MaxPlayers = 300
		c.RTMP.MaxConnectionsPerAddress = 400
		// room for 200 players parsing in this process on a loaded machine
		c.RTMP.WriteTimeout = config.Duration(5 * time.Second)
		c.RTMP.HandshakeTimeout = config.Duration(60 * time.Second)
	})
	pub := publish(t, e.url("fan"), 30, "-b:v", "1M", "-minrate", "1M", "-maxrate", "1M", "-bufsize", "1M")
	apptest.WaitFor(t, 30*time.Second, "the stream to be live", func() bool { return e.hub.Live("fan") })

	// first, one that never reads, with a small receive buffer
	stalled := dialFrom(t, "127.0.0.2", e.rtmpAddr, 4096)
	defer stalled.Close()
	if err := clientHandshake(stalled); err != nil {
		t.Fatal(err)
	}
	if _, err := stalled.Write(append(connectMsg("live"), playMsgs("fan")...)); err != nil {
		t.Fatal(err)
	}
	const n = 200
	results := make([][]keyframe, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c := dialFrom(t, "127.0.0.1", e.rtmpAddr, 0)
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = goPlayer(t, c, "fan")
		}()
	}
	apptest.WaitFor(t, 30*time.Second, "the stalled player to be dropped", func() bool {
		return counterValue(t, e, "thecure_rtmp_dropped_players_total", "") == 1
	})
	apptest.WaitFor(t, 20*time.Second, "all players to play", func() bool {
		ss := e.streams(t)
		return len(ss) == 1 && ss[0].Players == n
	})
	if err := pub.wait(t, 60*time.Second); err != nil {
		t.Fatalf("publisher: %v\n%s", err, pub.stderr)
	}
	wg.Wait()

	// the reference: the longest sequence; every player's keyframes are a
	// run of it that ends with its last keyframe, none missing, in order
	ref := results[0]
	for _, r := range results {
		if len(r) > len(ref) {
			ref = r
		}
	}
	if len(ref) < 8 {
		t.Fatalf("the best player got %d keyframes of a 30 s stream with one a second", len(ref))
	}
	index := map[uint64]int{}
	for i, k := range ref {
		index[k.hash] = i
	}
	shortest := len(ref)
	for p, r := range results {
		if errs[p] != nil {
			t.Errorf("player %d: %v", p, errs[p])
			continue
		}
		if len(r) == 0 {
			t.Errorf("player %d: no keyframe", p)
			continue
		}
		shortest = min(shortest, len(r))
		first, ok := index[r[0].hash]
		if !ok || first+len(r) != len(ref) {
			t.Errorf("player %d: %d keyframes starting at the reference's %d (found %v) of %d: some missing or extra",
				p, len(r), first, ok, len(ref))
			continue
		}
		for i, k := range r {
			if k.hash != ref[first+i].hash {
				t.Errorf("player %d: keyframe %d is not the reference's %d", p, i, first+i)
				break
			}
			if i > 0 && k.ts <= r[i-1].ts {
				t.Errorf("player %d: keyframe timestamps not increasing: %d after %d", p, k.ts, r[i-1].ts)
				break
			}
		}
	}
	t.Logf("%d players: %d to %d keyframes each, all in order and none missing; the stalled player was dropped",
		n, shortest, len(ref))
	if got := counterValue(t, e, "thecure_rtmp_dropped_players_total", ""); got != 1 {
		t.Errorf("dropped players = %v, want 1 (only the stalled one)", got)
	}
}
