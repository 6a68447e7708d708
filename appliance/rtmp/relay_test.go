package rtmp_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/live"
	"thecure/appliance/rtmp"
)

// node is one in-process appliance's live side (RTMP server, its pull
// workers, the live hub over HTTP) on a fixed RTMP address, so that it can
// be stopped and started again where its peers expect it.
type node struct {
	t       *testing.T
	name    string
	addr    string
	cfg     config.RTMP
	logs    *apptest.SyncBuffer
	hub     *live.Hub
	srv     *rtmp.Server
	httpURL string
	stop    func()
}

func newNode(t *testing.T, name string) *node {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, name: name, addr: addr, cfg: config.Default().RTMP, logs: &apptest.SyncBuffer{}}
	n.cfg.Listen = addr
	t.Cleanup(func() {
		if n.stop != nil {
			n.stop()
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, n.logs.String())
		}
	})
	return n
}

func (n *node) url(stream string) string { return "rtmp://" + n.addr + "/live/" + stream }

// start runs the node (again).
func (n *node) start() {
	t := n.t
	cfg := config.Default()
	cfg.RTMP = n.cfg
	if probs := cfg.Validate(); len(probs) > 0 {
		t.Fatal(probs)
	}
	log := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", n.name)
	reg := prometheus.NewRegistry()
	n.hub = live.NewHub(cfg.HLS, log.With("svc", "live"), reg)
	srv, err := rtmp.New(cfg.RTMP, log.With("svc", "rtmp"), n.hub, reg)
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	var ln net.Listener
	apptest.WaitFor(t, 10*time.Second, "the address to be free", func() bool {
		ln, err = net.Listen("tcp", n.addr)
		return err == nil
	})
	mux := http.NewServeMux()
	for p, h := range n.hub.Routes() {
		mux.Handle(p, h)
	}
	hs := httptest.NewServer(mux)
	n.httpURL = hs.URL
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, ln); err != nil {
			t.Errorf("%s serve: %v", n.name, err)
		}
	}()
	for _, p := range srv.Pullers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("%s pull: %v", n.name, err)
			}
		}()
	}
	n.stop = func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", n.name)
		}
		hs.Close()
		n.stop = nil
	}
}

func (n *node) relay(kind string) rtmp.RelayStatus {
	for _, r := range n.srv.Relays() {
		if r.Kind == kind {
			return r
		}
	}
	return rtmp.RelayStatus{}
}

// probe is what ffprobe says of a URL's streams.
func probe(t *testing.T, url string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-rw_timeout", "15000000", "-show_entries", "stream=codec_name,width,height",
		"-of", "compact", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	return string(out)
}

func wantAV(t *testing.T, what, out string) {
	t.Helper()
	if !strings.Contains(out, "codec_name=h264|width=320|height=240") || !strings.Contains(out, "codec_name=aac") {
		t.Errorf("%s: want H.264 320x240 and AAC, got\n%s", what, out)
	}
}

// TestRelayPushPull: an origin pushes every stream to edge A ([[rtmp.push]]
// with "*"); edge B pulls the stream from the origin ([[rtmp.pull]]). Both
// edges serve it over RTMP and HLS; the origin restarted mid-stream and
// edge B plays it again; edge A restarted and the origin's push publishes
// there again.
func TestRelayPushPull(t *testing.T) {
	origin, edgeA, edgeB := newNode(t, "origin"), newNode(t, "edgeA"), newNode(t, "edgeB")
	origin.cfg.Push = []config.RTMPPush{{Stream: "*", URL: "rtmp://" + edgeA.addr + "/live"}}
	edgeB.cfg.Pull = []config.RTMPPull{{Name: "cam", URL: origin.url("cam")}}
	edgeA.start()
	edgeB.start()
	origin.start()

	publish(t, origin.url("cam"), 120)
	apptest.WaitFor(t, 30*time.Second, "the stream on the origin", func() bool { return origin.hub.Live("cam") })
	apptest.WaitFor(t, 30*time.Second, "the pushed stream on edge A", func() bool { return edgeA.hub.Live("cam") })
	apptest.WaitFor(t, 30*time.Second, "the pulled stream on edge B", func() bool { return edgeB.hub.Live("cam") })

	wantAV(t, "edge A RTMP", probe(t, edgeA.url("cam")))
	wantAV(t, "edge B RTMP", probe(t, edgeB.url("cam")))
	wantAV(t, "edge A HLS", probe(t, edgeA.httpURL+"/live/cam/index.m3u8"))
	wantAV(t, "edge B HLS", probe(t, edgeB.httpURL+"/live/cam/index.m3u8"))

	push, pull := origin.relay("push"), edgeB.relay("pull")
	if !push.Connected || push.State != rtmp.RelayUp || push.Target != "rtmp://"+edgeA.addr+"/live/****" || push.Reconnects != 0 ||
		push.Bytes == 0 || push.Stream != "cam" || push.URL != "rtmp://"+edgeA.addr+"/live/cam" {
		t.Errorf("origin push status: %+v", push)
	}
	if !pull.Connected || pull.State != rtmp.RelayUp || pull.Bytes == 0 || pull.Stream != "cam" {
		t.Errorf("edge B pull status: %+v", pull)
	}

	// nobody may publish the pulled name on edge B
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-f", "flv", edgeB.url("cam")).CombinedOutput()
	if err == nil {
		t.Errorf("publishing a pulled name on the edge was accepted:\n%s", out)
	}
	apptest.WaitFor(t, 10*time.Second, "the refusal in edge B's log", func() bool {
		return strings.Contains(edgeB.logs.String(), "relayed here from an origin")
	})

	// the origin restarts: the edges lose the stream, then get it back
	origin.stop()
	apptest.WaitFor(t, 30*time.Second, "edge B to notice", func() bool { return !edgeB.hub.Live("cam") })
	apptest.WaitFor(t, 30*time.Second, "edge B's pull to retry", func() bool {
		r := edgeB.relay("pull")
		return !r.Connected && r.LastError != "" && r.State == rtmp.RelayRetrying
	})
	// retrying since the origin went away, not since the latest attempt
	first := edgeB.relay("pull")
	apptest.WaitFor(t, 30*time.Second, "edge B's pull to try again", func() bool { return edgeB.relay("pull").Attempts > first.Attempts })
	if r := edgeB.relay("pull"); !r.Since.Equal(first.Since) || r.State != rtmp.RelayRetrying || r.Reconnects < 1 {
		t.Errorf("edge B pull while retrying: %+v, first seen %+v", r, first)
	}
	origin.start()
	publish(t, origin.url("cam"), 120)
	apptest.WaitFor(t, 60*time.Second, "the pulled stream on edge B again", func() bool { return edgeB.hub.Live("cam") })
	wantAV(t, "edge B RTMP after the origin's restart", probe(t, edgeB.url("cam")))
	wantAV(t, "edge B HLS after the origin's restart", probe(t, edgeB.httpURL+"/live/cam/index.m3u8"))
	apptest.WaitFor(t, 60*time.Second, "the pushed stream on edge A again", func() bool { return edgeA.hub.Live("cam") })
	if r := edgeB.relay("pull"); r.Attempts < 2 || !r.Connected || r.State != rtmp.RelayUp {
		t.Errorf("edge B pull after the restart: %+v", r)
	}

	// edge A restarts: the origin's push reconnects
	edgeA.stop()
	apptest.WaitFor(t, 30*time.Second, "the push to retry", func() bool {
		r := origin.relay("push")
		return !r.Connected && r.LastError != ""
	})
	edgeA.start()
	apptest.WaitFor(t, 60*time.Second, "the pushed stream on edge A after its restart", func() bool { return edgeA.hub.Live("cam") })
	wantAV(t, "edge A RTMP after its restart", probe(t, edgeA.url("cam")))
	if r := origin.relay("push"); r.Attempts < 2 || !r.Connected {
		t.Errorf("origin push after edge A's restart: %+v", r)
	}
	for n, want := range map[*node]string{edgeB: "rtmp pull: origin lost; retrying", origin: "rtmp push: target lost; retrying"} {
		if !strings.Contains(n.logs.String(), want) {
			t.Errorf("%s log lacks %q", n.name, want)
		}
	}
}
