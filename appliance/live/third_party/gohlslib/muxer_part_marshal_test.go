package gohlslib

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// thecure: marshalPart writes what fmp4.Part.Marshal writes, byte for byte.
func TestMarshalPartMatchesMediacommon(t *testing.T) {
	video := func(n int, nonSync bool, cto int32) *fmp4.Sample {
		return &fmp4.Sample{Duration: 3000, PTSOffset: cto, IsNonSyncSample: nonSync, Payload: bytes.Repeat([]byte{byte(n)}, 100+n*37)}
	}
	audio := func(n int) *fmp4.Sample {
		return &fmp4.Sample{Duration: 1024, Payload: bytes.Repeat([]byte{0xa0 | byte(n)}, 300+n)}
	}
	cases := map[string]fmp4.Part{
		"video and audio": {SequenceNumber: 7, Tracks: []*fmp4.PartTrack{
			{ID: 1, BaseTime: 900000, Samples: []*fmp4.Sample{video(0, false, 6000), video(1, true, 0), video(2, true, -3000)}},
			{ID: 2, BaseTime: 480000, Samples: []*fmp4.Sample{audio(0), audio(1), audio(2), audio(3)}},
		}},
		"keyframe only, no offsets": {SequenceNumber: 1, Tracks: []*fmp4.PartTrack{
			{ID: 1, BaseTime: 1 << 40, Samples: []*fmp4.Sample{video(3, false, 0)}},
		}},
		"audio only": {SequenceNumber: 1 << 31, Tracks: []*fmp4.PartTrack{
			{ID: 2, Samples: []*fmp4.Sample{audio(5)}},
		}},
		"empty payload": {SequenceNumber: 3, Tracks: []*fmp4.PartTrack{
			{ID: 1, Samples: []*fmp4.Sample{{Duration: 1}}},
		}},
	}
	for name, part := range cases {
		var want seekablebuffer.Buffer
		if err := part.Marshal(&want); err != nil {
			t.Fatalf("%s: fmp4: %v", name, err)
		}
		var got bytes.Buffer
		if err := marshalPart(&got, part.SequenceNumber, part.Tracks); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: got %d bytes\n%x\nwant %d bytes\n%x", name, got.Len(), got.Bytes(), len(want.Bytes()), want.Bytes())
		}
		moof, data := partSize(part.Tracks)
		if moof+partMdatHeader+data != got.Len() {
			t.Errorf("%s: partSize says %d+%d+%d, wrote %d", name, moof, partMdatHeader, data, got.Len())
		}
	}
}
