package gohlslib

import (
	"encoding/binary"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// thecure: a part's moof and mdat written directly, byte for byte what
// fmp4.Part.Marshal writes (muxer_part_marshal_test.go compares them), with
// its size known before writing: fmp4.Part.Marshal goes through go-mp4's
// reflection for every box and trun entry, copies every payload into an
// mdat buffer, marshals that into the writer (another copy) and seeks back
// to rewrite each trun. Here the boxes are made in one small buffer and
// every payload is written once, straight from the sample.

// fMP4 trun flags and sample flags, as mediacommon's fmp4 writes them.
const (
	partTrunDataOffset = 0x01
	partTrunDuration   = 0x100
	partTrunSize       = 0x200
	partTrunFlags      = 0x400
	partTrunCTO        = 0x800
	partSampleNonSync  = 1 << 16
	partTfhdBaseIsMoof = 0x020000
	partMfhdSize       = 16
	partTfhdSize       = 16
	partTfdtV1Size     = 20
	partTrunFixedSize  = 20 // header, version/flags, sample count, data offset
	partTrafHeader     = 8
	partMoofHeader     = 8
	partMdatHeader     = 8
)

func partTrunFlagsOf(tr *fmp4.PartTrack) uint32 {
	flags := uint32(partTrunDataOffset | partTrunDuration | partTrunSize)
	for _, s := range tr.Samples {
		if s.IsNonSyncSample {
			flags |= partTrunFlags
		}
		if s.PTSOffset != 0 {
			flags |= partTrunCTO
		}
	}
	return flags
}

func partTrunEntrySize(flags uint32) int {
	n := 8 // duration, size
	if flags&partTrunFlags != 0 {
		n += 4
	}
	if flags&partTrunCTO != 0 {
		n += 4
	}
	return n
}

// partSize is the size of a part's moof box and of its mdat payload.
func partSize(tracks []*fmp4.PartTrack) (moof, data int) {
	moof = partMoofHeader + partMfhdSize
	for _, tr := range tracks {
		moof += partTrafHeader + partTfhdSize + partTfdtV1Size + partTrunFixedSize +
			len(tr.Samples)*partTrunEntrySize(partTrunFlagsOf(tr))
		for _, s := range tr.Samples {
			data += len(s.Payload)
		}
	}
	return moof, data
}

func appendBoxHeader(b []byte, size int, typ string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	return append(b, typ...)
}

// marshalPart writes the part (moof with mfhd and a traf per track, then
// mdat) to w.
func marshalPart(w io.Writer, seq uint32, tracks []*fmp4.PartTrack) error {
	moofSize, dataSize := partSize(tracks)
	b := make([]byte, 0, moofSize+partMdatHeader)
	b = appendBoxHeader(b, moofSize, "moof")
	b = appendBoxHeader(b, partMfhdSize, "mfhd")
	b = binary.BigEndian.AppendUint32(b, 0) // version, flags
	b = binary.BigEndian.AppendUint32(b, seq)
	dataOffset := moofSize + partMdatHeader
	for _, tr := range tracks {
		flags := partTrunFlagsOf(tr)
		trunSize := partTrunFixedSize + len(tr.Samples)*partTrunEntrySize(flags)
		b = appendBoxHeader(b, partTrafHeader+partTfhdSize+partTfdtV1Size+trunSize, "traf")
		b = appendBoxHeader(b, partTfhdSize, "tfhd")
		b = binary.BigEndian.AppendUint32(b, partTfhdBaseIsMoof) // version 0, flags
		b = binary.BigEndian.AppendUint32(b, uint32(tr.ID))
		b = appendBoxHeader(b, partTfdtV1Size, "tfdt")
		b = binary.BigEndian.AppendUint32(b, 1<<24) // version 1, no flags
		b = binary.BigEndian.AppendUint64(b, tr.BaseTime)
		b = appendBoxHeader(b, trunSize, "trun")
		b = binary.BigEndian.AppendUint32(b, 1<<24|flags) // version 1
		b = binary.BigEndian.AppendUint32(b, uint32(len(tr.Samples)))
		b = binary.BigEndian.AppendUint32(b, uint32(int32(dataOffset)))
		for _, s := range tr.Samples {
			b = binary.BigEndian.AppendUint32(b, s.Duration)
			b = binary.BigEndian.AppendUint32(b, uint32(len(s.Payload)))
			if flags&partTrunFlags != 0 {
				var f uint32
				if s.IsNonSyncSample {
					f = partSampleNonSync
				}
				b = binary.BigEndian.AppendUint32(b, f)
			}
			if flags&partTrunCTO != 0 {
				b = binary.BigEndian.AppendUint32(b, uint32(s.PTSOffset))
			}
			dataOffset += len(s.Payload)
		}
	}
	b = appendBoxHeader(b, partMdatHeader+dataSize, "mdat")
	if _, err := w.Write(b); err != nil {
		return err
	}
	for _, tr := range tracks {
		for _, s := range tr.Samples {
			if _, err := w.Write(s.Payload); err != nil {
				return err
			}
		}
	}
	return nil
}
