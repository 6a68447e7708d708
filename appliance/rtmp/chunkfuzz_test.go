package rtmp

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	gortmp "github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"
)

// countingReader counts the bytes the chunk reader has taken.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

// FuzzChunkReader feeds arbitrary bytes to the patched go-rtmp chunk reader
// with thecure's limits (the first byte picks the command or the media
// limits): nothing panics, no message is over the size limit, and the
// bytes buffered never pass the limit nor grow faster than the input
// (twice what was read, plus one 64 KiB step).
func FuzzChunkReader(f *testing.F) {
	hdr := func(csid byte, length int, typ byte) []byte {
		return []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typ, 0, 0, 0, 0}
	}
	setChunk := append(hdr(2, 4, 1), binary.BigEndian.AppendUint32(nil, 0xffffff)...)
	// 16 MiB announced on every chunk stream, some bytes of each
	var flood []byte
	flood = append(flood, setChunk...)
	for csid := byte(3); csid < 64; csid++ {
		flood = append(flood, hdr(csid, 0xffffff, 9)...)
		flood = append(flood, make([]byte, 3000)...)
	}
	f.Add(append([]byte{0}, flood...))
	f.Add(append([]byte{1}, flood...))
	// a video message in 128-byte chunks, a zero-length one, a header
	// changing an unfinished message's length
	video := hdr(6, 300, 9)
	video = append(video, bytes.Repeat([]byte{0x17}, 128)...)
	video = append(video, 0xc6)
	video = append(video, bytes.Repeat([]byte{1}, 128)...)
	video = append(video, 0xc6)
	video = append(video, bytes.Repeat([]byte{2}, 44)...)
	f.Add(append([]byte{1}, video...))
	f.Add([]byte{0, 4, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0xc4, 0xc4})
	f.Add(append(append([]byte{0}, hdr(5, 1000, 8)...), append(make([]byte, 128), 0x45, 0, 0, 0, 0, 0, 10, 8)...))
	f.Add(append([]byte{0}, hdr(3, 100000, 20)...))

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		maxMsg, maxBuf := uint32(maxCommandMessage), maxCommandBuffered
		if in[0]&1 == 1 {
			maxMsg, maxBuf = maxMediaMessage, maxMediaBuffered
		}
		r := &countingReader{r: bytes.NewReader(in[1:])}
		cs := gortmp.NewChunkStreamer(r, io.Discard, &gortmp.StreamControlStateConfig{
			DefaultChunkSize: 128, MaxChunkSize: 0xffffff, MaxChunkStreams: maxChunkStreams,
			MaxMessageSize: maxCommandMessage, MaxBufferedBytes: maxCommandBuffered, MaxMessageStreams: 16,
			DefaultAckWindowSize: 1 << 30, MaxAckWindowSize: 1 << 30,
			DefaultBandwidthWindowSize: 1 << 30, MaxBandwidthWindowSize: 1 << 30,
		})
		defer cs.Close()
		cs.SetReadLimits(maxMsg, uint32(maxBuf))
		for {
			var cm gortmp.ChunkMessage
			_, _, err := cs.Read(&cm)
			if b := cs.BufferedBytes(); b > maxBuf || b > 2*r.n+64<<10 {
				t.Fatalf("%d bytes buffered after reading %d (limit %d)", b, r.n, maxBuf)
			}
			if err != nil {
				return
			}
			switch m := cm.Message.(type) {
			case *rtmpmsg.SetChunkSize:
				if cs.PeerState().SetChunkSize(m.ChunkSize) != nil {
					return
				}
			case *rtmpmsg.VideoMessage:
				if b := m.Payload.(interface{ TakeBytes() []byte }).TakeBytes(); uint32(len(b)) > maxMsg {
					t.Fatalf("a message of %d bytes passed the limit of %d", len(b), maxMsg)
				}
			case *rtmpmsg.AudioMessage:
				if b, _ := io.ReadAll(m.Payload); uint32(len(b)) > maxMsg {
					t.Fatalf("a message of %d bytes passed the limit of %d", len(b), maxMsg)
				}
			}
		}
	})
}
