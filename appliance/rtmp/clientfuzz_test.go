package rtmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/handshake"
	rtmpmsg "github.com/yutopp/go-rtmp/message"

	"thecure/appliance/config"
	"thecure/appliance/live"
)

// rawMsg frames one RTMP message in one chunk (type-0 header).
func rawMsg(csid byte, typ byte, streamID uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{csid, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n), typ}
	b = binary.LittleEndian.AppendUint32(b, streamID)
	return append(b, payload...)
}

func amf0(t testing.TB, vs ...any) []byte {
	var buf bytes.Buffer
	enc := rtmpmsg.NewAMFEncoder(&buf, rtmpmsg.EncodingTypeAMF0)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// relayReplies is what an origin answers a pull: to connect, to
// createStream, to play (status, metadata, media).
func relayReplies(t testing.TB) [3][]byte {
	connect := rawMsg(2, 1, 0, binary.BigEndian.AppendUint32(nil, 65536))
	connect = append(connect, rawMsg(3, 20, 0, amf0(t, "_result", 1.0, map[string]any{"fmsVer": "FMS/3,0,1,123"},
		map[string]any{"level": "status", "code": "NetConnection.Connect.Success", "description": "ok"}))...)
	create := rawMsg(3, 20, 0, amf0(t, "_result", 2.0, nil, 1.0))
	play := rawMsg(5, 20, 1, amf0(t, "onStatus", 0.0, nil,
		map[string]any{"level": "status", "code": "NetStream.Play.Start", "description": "go"}))
	play = append(play, rawMsg(5, 18, 1, amf0(t, "|RtmpSampleAccess", true, true))...)
	play = append(play, rawMsg(5, 18, 1, amf0(t, "onMetaData", map[string]any{"videocodecid": 7.0, "audiocodecid": 10.0}))...)
	play = append(play, rawMsg(4, 8, 1, []byte{0xaf, 0, 0x12, 0x10})...)
	play = append(play, rawMsg(6, 9, 1, []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x42, 0xc0, 0x1e, 1, 0, 1, 0x68})...)
	play = append(play, rawMsg(6, 9, 1, []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88})...)
	return [3][]byte{connect, create, play}
}

// FuzzPullClient plays a stream ([[rtmp.pull]]) from a hostile origin that
// answers connect, createStream and play with arbitrary bytes: the relay
// never panics and its session always ends (the origin closes).
func FuzzPullClient(f *testing.F) {
	r := relayReplies(f)
	f.Add(r[0], r[1], r[2])
	f.Add(r[0], r[1], rawMsg(5, 20, 1, amf0(f, "onStatus", 0.0, nil, map[string]any{"level": "error", "code": "NetStream.Play.Failed"})))
	f.Add(r[0], r[1], rawMsg(5, 20, 1, amf0(f, "onStatus", 0.0, nil, "not an object", 3.0)))
	f.Add(r[0], []byte{}, []byte{})
	f.Add(r[0], rawMsg(3, 20, 0, amf0(f, "_error", 2.0, nil, map[string]any{"code": "x"})), []byte{})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	cfg := config.Default()
	cfg.RTMP.HandshakeTimeout = config.Duration(2 * time.Second)
	cfg.RTMP.ReadTimeout = config.Duration(2 * time.Second)
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	s, err := New(cfg.RTMP, log, live.NewHub(cfg.HLS, log, reg), reg)
	if err != nil {
		f.Fatal(err)
	}
	target, err := parseTarget("rtmp://" + ln.Addr().String() + "/live/cam")
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, onConnect, onCreate, onPlay []byte) {
		served := make(chan struct{})
		go func() {
			defer close(served)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			fakeOrigin(c, [3][]byte{onConnect, onCreate, onPlay})
		}()
		p := &Puller{s: s, name: "cam", url: "rtmp://x/live/cam", log: log}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- p.session(ctx, target) }()
		select {
		case err := <-done:
			if err == nil {
				t.Error("a session ended without an error")
			}
		case <-time.After(15 * time.Second):
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatal(buf.String(), "the pull session did not end when the origin closed")
		}
		<-served
		if s.hub.Live("cam") {
			t.Error("the local stream is still live after the session")
		}
	})
}

// fakeOrigin handshakes, then answers the client's connect, createStream
// and play commands with replies[0..2], then closes.
func fakeOrigin(c net.Conn, replies [3][]byte) {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return
	}
	br := bufio.NewReader(c)
	if err := handshake.HandshakeWithClient(br, c, &handshake.Config{SkipHandshakeVerification: true}); err != nil {
		return
	}
	cs := gortmp.NewChunkStreamer(br, io.Discard, &gortmp.StreamControlStateConfig{
		DefaultChunkSize: 128, MaxChunkSize: 0xffffff, MaxChunkStreams: 16, MaxMessageSize: 1 << 20,
		MaxBufferedBytes: 4 << 20, MaxMessageStreams: 16,
		DefaultAckWindowSize: 1 << 30, MaxAckWindowSize: 1 << 30,
		DefaultBandwidthWindowSize: 1 << 30, MaxBandwidthWindowSize: 1 << 30,
	})
	defer cs.Close()
	for {
		var cm gortmp.ChunkMessage
		if _, _, err := cs.Read(&cm); err != nil {
			return
		}
		switch m := cm.Message.(type) {
		case *rtmpmsg.SetChunkSize:
			if cs.PeerState().SetChunkSize(m.ChunkSize) != nil {
				return
			}
		case *rtmpmsg.CommandMessage:
			i := map[string]int{"connect": 0, "createStream": 1, "play": 2}
			k, ok := i[m.CommandName]
			if !ok {
				continue
			}
			if _, err := c.Write(replies[k]); err != nil || k == 2 {
				return
			}
		}
	}
}
