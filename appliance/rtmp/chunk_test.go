package rtmp

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	gortmp "github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"
)

func appendSetChunkSize(b []byte, size uint32) []byte {
	b = append(b, csidControl, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0) // fmt 0, length 4, type 1, stream 0
	return binary.BigEndian.AppendUint32(b, size)
}

// The chunks written to players parse back with go-rtmp's reader: sizes
// around the chunk size, extended timestamps, metadata.
func TestAppendMessageRoundTrip(t *testing.T) {
	var b []byte
	b = appendSetChunkSize(b, playerChunkSize)
	big := bytes.Repeat([]byte{0x17, 1, 0, 0, 0, 0xab}, playerChunkSize/3+5) // > 2 chunks
	msgs := []*message{
		{typ: typeData, ts: 0, data: []byte{0x08, 0, 0, 0, 0, 0, 0, 9}},
		{typ: typeVideo, ts: 40, data: big},
		{typ: typeAudio, ts: 0xfffffe, data: []byte{0xaf, 1, 2, 3}},
		{typ: typeVideo, ts: 0x1234567, data: big[:playerChunkSize]},
	}
	for _, m := range msgs {
		b = appendMessage(b, m, 1, 0)
	}
	cs := gortmp.NewChunkStreamer(bytes.NewReader(b), io.Discard, &gortmp.StreamControlStateConfig{
		DefaultChunkSize: 128, MaxChunkSize: 0xffffff, MaxChunkStreams: 16, MaxMessageSize: 16 << 20, MaxMessageStreams: 16,
		DefaultAckWindowSize: 1 << 30, MaxAckWindowSize: 1 << 30, DefaultBandwidthWindowSize: 1 << 30, MaxBandwidthWindowSize: 1 << 30,
	})
	defer cs.Close()
	var cm gortmp.ChunkMessage
	if _, _, err := cs.Read(&cm); err != nil {
		t.Fatal(err)
	}
	scs, ok := cm.Message.(*rtmpmsg.SetChunkSize)
	if !ok || scs.ChunkSize != playerChunkSize {
		t.Fatalf("first message: %#v", cm.Message)
	}
	_ = cs.PeerState().SetChunkSize(scs.ChunkSize)
	for i, want := range msgs {
		_, ts, err := cs.Read(&cm)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if ts != want.ts || cm.StreamID != 1 {
			t.Errorf("message %d: ts %d stream %d, want %d 1", i, ts, cm.StreamID, want.ts)
		}
		var got []byte
		switch m := cm.Message.(type) {
		case *rtmpmsg.VideoMessage:
			got, _ = io.ReadAll(m.Payload)
		case *rtmpmsg.AudioMessage:
			got, _ = io.ReadAll(m.Payload)
		case *rtmpmsg.DataMessage:
			if m.Name != "onMetaData" {
				t.Errorf("data message %q", m.Name)
			}
			got, _ = io.ReadAll(m.Body)
		default:
			t.Fatalf("message %d: %T", i, m)
		}
		if !bytes.Equal(got, want.data) {
			t.Errorf("message %d: %d bytes back, want %d", i, len(got), len(want.data))
		}
	}

	// With an extended timestamp, continuation chunks repeat it, as ffmpeg,
	// librtmp and nginx-rtmp write and read them (go-rtmp's reader does not).
	b = appendMessage(nil, &message{typ: typeVideo, ts: 0x1234568, data: big}, 1, 0)
	want := []byte{0xc0 | csidVideo, 0x01, 0x23, 0x45, 0x68}
	if at := 12 + 4 + playerChunkSize; !bytes.Equal(b[at:at+5], want) {
		t.Errorf("continuation header % x, want % x", b[at:at+5], want)
	}
	if len(b) != 12+4+len(big)+2*5 {
		t.Errorf("%d bytes for %d of payload in 3 chunks", len(b), len(big))
	}
}
