package rtmp

import (
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"thecure/appliance/config"
	"thecure/appliance/live"
)

// flvTags reads the tags of an FLV file: type, timestamp and body.
func flvTags(t testing.TB, path string) []message {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []message
	p := 9 + 4 // header and the first PreviousTagSize
	for p+11 <= len(b) {
		typ := b[p]
		size := int(b[p+1])<<16 | int(b[p+2])<<8 | int(b[p+3])
		ts := uint32(b[p+4])<<16 | uint32(b[p+5])<<8 | uint32(b[p+6]) | uint32(b[p+7])<<24
		if p+11+size > len(b) {
			break
		}
		out = append(out, message{typ: typ, ts: ts, data: b[p+11 : p+11+size]})
		p += 11 + size + 4
	}
	return out
}

// encodeProgram packs messages as the fuzz input: type, timestamp (4),
// length (2), body.
func encodeProgram(ms []message) []byte {
	var out []byte
	for _, m := range ms {
		out = append(out, m.typ)
		out = binary.BigEndian.AppendUint32(out, m.ts)
		out = binary.BigEndian.AppendUint16(out, uint16(min(len(m.data), 0xffff)))
		out = append(out, m.data[:min(len(m.data), 0xffff)]...)
	}
	return out
}

func decodeProgram(b []byte) []message {
	var out []message
	for len(b) >= 7 {
		m := message{typ: b[0], ts: binary.BigEndian.Uint32(b[1:])}
		n := int(binary.BigEndian.Uint16(b[5:]))
		b = b[7:]
		n = min(n, len(b))
		m.data = b[:n]
		b = b[n:]
		out = append(out, m)
	}
	return out
}

// FuzzIngest feeds arbitrary FLV audio, video and metadata messages through
// the publisher path: FLV/AVC/AAC parsing, the HLS muxer and the fan-out to
// a player. Nothing may panic.
func FuzzIngest(f *testing.F) {
	tags := flvTags(f, "testdata/seed.flv")
	if len(tags) < 5 {
		f.Fatalf("seed.flv has %d tags", len(tags))
	}
	f.Add(encodeProgram(tags))
	for _, m := range tags[:6] {
		f.Add(encodeProgram([]message{m}))
	}
	cfg := config.Default()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		hub := live.NewHub(cfg.HLS, log, prometheus.NewRegistry())
		srv := &Server{cfg: cfg.RTMP, log: log, hub: hub, streams: map[string]*stream{}}
		srv.m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "x", Help: "x"})
		st := &stream{name: "fuzz", s: srv, log: log, players: map[*player]struct{}{}}
		in := &ingest{name: "fuzz", hub: hub, log: log, onStart: st.started}
		p := newPlayer(nil, 1, 1<<16, log)
		st.players[p] = struct{}{}
		defer in.close()
		for _, m := range decodeProgram(b) {
			switch m.typ {
			case typeData:
				in.metadata(m.data)
				_ = metadataBody(m.data)
				st.publish(&message{typ: typeData, data: m.data})
			case typeAudio, typeVideo:
				data := append([]byte(nil), m.data...)
				out, err := in.ingest(m.typ, m.ts, data)
				if err != nil {
					return // the publisher is refused
				}
				if out != nil {
					st.publish(out)
				}
			}
			if v, err := parseVideo(m.data); err == nil {
				if c, err := parseAVCConfig(v.data); err == nil {
					_, _ = splitNALUs(v.data, c.lengthSize)
				}
			}
		}
	})
}

// TestSeedIngest checks the seed file goes all the way to an HLS stream.
func TestSeedIngest(t *testing.T) {
	cfg := config.Default()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := live.NewHub(cfg.HLS, log, prometheus.NewRegistry())
	in := &ingest{name: "seed", hub: hub, log: log}
	for _, m := range flvTags(t, "testdata/seed.flv") {
		if m.typ == typeData {
			in.metadata(m.data)
			continue
		}
		if _, err := in.ingest(m.typ, m.ts, append([]byte(nil), m.data...)); err != nil {
			t.Fatal(err)
		}
	}
	if !hub.Live("seed") || in.errs != 0 {
		t.Fatalf("live=%v errors=%d", hub.Live("seed"), in.errs)
	}
	ss := hub.Streams()
	if len(ss) != 1 || ss[0].Width != 64 || ss[0].Height != 48 || ss[0].AudioCodec != "mp4a.40.2" {
		t.Errorf("streams: %+v", ss)
	}
	in.close()
	if hub.Live("seed") {
		t.Error("still live after close")
	}
}
