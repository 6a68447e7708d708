package rtmp

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gortmp "github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"

	"thecure/appliance/config"
	"thecure/appliance/live"
)

// sinkHandler is an RTMP server's publisher side that counts what arrives.
type sinkHandler struct {
	gortmp.DefaultHandler
	got chan<- struct{}
}

func (h *sinkHandler) OnPublish(*gortmp.StreamContext, uint32, *rtmpmsg.NetStreamPublish) error {
	return nil
}

func (h *sinkHandler) OnSetDataFrame(uint32, *rtmpmsg.NetStreamSetDataFrame) error {
	h.got <- struct{}{}
	return nil
}

func (h *sinkHandler) OnAudio(_ uint32, p io.Reader) error { return h.media(p) }
func (h *sinkHandler) OnVideo(_ uint32, p io.Reader) error { return h.media(p) }

func (h *sinkHandler) media(p io.Reader) error {
	if _, err := io.Copy(io.Discard, p); err != nil {
		return err
	}
	h.got <- struct{}{}
	return nil
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPush measures the CPU of one [[rtmp.push]] target: one op is one
// 40 ms frame period of a 3 Mbit/s, 25 fps stream (a 15 kB video frame and
// two 400 B AAC frames) queued by the stream, written by the pusher over
// loopback and read by a go-rtmp server (its reading is counted too, so the
// figure is an upper bound). cpu-%/stream is the CPU of one core that one
// pushed stream of that rate takes.
func BenchmarkPush(b *testing.B) {
	got := make(chan struct{}, 1024)
	sink := gortmp.NewServer(&gortmp.ServerConfig{OnConnect: func(c net.Conn) (io.ReadWriteCloser, *gortmp.ConnConfig) {
		return c, &gortmp.ConnConfig{Handler: &sinkHandler{got: got}, ControlState: gortmp.StreamControlStateConfig{
			MaxChunkStreams: 16, MaxMessageStreams: 16, MaxMessageSize: maxMediaMessage, MaxBufferedBytes: maxMediaBuffered}}
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = sink.Serve(ln) }() // ends with Close below
	defer func() { _ = sink.Close() }()

	cfg := config.Default()
	cfg.RTMP.Push = []config.RTMPPush{{Stream: "cam", URL: "rtmp://" + ln.Addr().String() + "/live/cam"}}
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	s, err := New(cfg.RTMP, log, live.NewHub(cfg.HLS, log, reg), reg)
	if err != nil {
		b.Fatal(err)
	}
	st := &stream{name: "cam", s: s, players: map[*player]struct{}{}, log: log}
	st.publish(&message{typ: typeData, data: []byte{0x08, 0, 0, 0, 0, 0, 0, 9}})
	st.publish(&message{typ: typeVideo, data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}, seq: true})
	st.publish(&message{typ: typeAudio, data: []byte{0xaf, 0, 0x12, 0x10}, seq: true})
	s.startPushes(st)
	defer func() {
		st.end()
		s.relayWG.Wait()
	}()
	for range 3 { // the pusher connected and sent the cached headers
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			b.Fatal("the push did not connect")
		}
	}
	video := make([]byte, 15000)
	video[0], video[1] = 0x27, 1 // inter frame, AVC NALU
	audio := make([]byte, 400)
	audio[0], audio[1] = 0xaf, 1
	b.SetBytes(int64(len(video) + 2*len(audio)))
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := range b.N {
		ts := uint32(i * 40)
		st.publish(&message{typ: typeVideo, ts: ts, data: video, key: i%25 == 0})
		st.publish(&message{typ: typeAudio, ts: ts, data: audio})
		st.publish(&message{typ: typeAudio, ts: ts + 23, data: audio})
		for range 3 {
			<-got
		}
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	perOp := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	b.ReportMetric(perOp*25/1e9*100, "cpu-%/stream")
}

// stallHandler accepts a publish and then stops reading (a target that
// cannot keep up), until release is closed.
type stallHandler struct {
	gortmp.DefaultHandler
	release <-chan struct{}
}

func (h *stallHandler) OnPublish(*gortmp.StreamContext, uint32, *rtmpmsg.NetStreamPublish) error {
	return nil
}

func (h *stallHandler) OnVideo(uint32, io.Reader) error {
	<-h.release
	return nil
}

// TestPushSlowTargetDropped: a target that stops reading never slows the
// stream: its queue overflows, it is disconnected and connected again.
func TestPushSlowTargetDropped(t *testing.T) {
	release := make(chan struct{})
	sink := gortmp.NewServer(&gortmp.ServerConfig{OnConnect: func(c net.Conn) (io.ReadWriteCloser, *gortmp.ConnConfig) {
		return c, &gortmp.ConnConfig{Handler: &stallHandler{release: release}, ControlState: gortmp.StreamControlStateConfig{
			MaxChunkStreams: 16, MaxMessageStreams: 16, MaxMessageSize: maxMediaMessage, MaxBufferedBytes: maxMediaBuffered}}
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = sink.Serve(ln) }() // ends with Close below
	defer func() {
		close(release)
		_ = sink.Close()
	}()
	cfg := config.Default()
	cfg.RTMP.PlayerQueue = 64
	cfg.RTMP.Push = []config.RTMPPush{{Stream: "cam", URL: "rtmp://" + ln.Addr().String() + "/live/cam"}}
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	s, err := New(cfg.RTMP, log, live.NewHub(cfg.HLS, log, reg), reg)
	if err != nil {
		t.Fatal(err)
	}
	st := &stream{name: "cam", s: s, players: map[*player]struct{}{}, log: log}
	s.startPushes(st)
	defer func() {
		st.end()
		s.relayWG.Wait()
	}()
	pu := st.pushers[0]
	deadline := time.Now().Add(60 * time.Second)
	for pu.status().Attempts < 3 || !strings.Contains(pu.status().LastError, "fell behind") {
		if time.Now().After(deadline) {
			t.Fatalf("the slow target was not dropped and reconnected: %+v", pu.status())
		}
		// the stream publishes as fast as it can: never blocked by the target
		frame := make([]byte, 64<<10)
		frame[0], frame[1] = 0x17, 1
		for i := range 200 {
			st.publish(&message{typ: typeVideo, ts: uint32(i * 40), data: frame, key: true})
		}
		time.Sleep(50 * time.Millisecond)
	}
}
