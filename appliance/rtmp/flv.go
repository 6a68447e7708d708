package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FLV tag bodies as RTMP carries them (audio and video messages), parsed
// without copying: every slice points into the message payload.

const (
	codecAVC      = 7  // FLV video codec id of H.264
	soundAAC      = 10 // FLV sound format of AAC
	frameKey      = 1  // FLV video frame type of a keyframe
	avcSeqHeader  = 0  // AVCPacketType
	avcNALU       = 1
	avcEndOfSeq   = 2
	aacSeqHeader  = 0 // AACPacketType
	aacRaw        = 1
	exHeaderFlag  = 0x80 // enhanced RTMP: the video tag carries a FourCC
	maxNALUsPerAU = 1024
)

var errShort = errors.New("truncated")

// videoTag is a parsed FLV video tag body.
type videoTag struct {
	key        bool
	codec      uint8 // FLV codec id
	packetType uint8 // AVCPacketType
	cts        int32 // composition time offset, milliseconds
	data       []byte
}

func parseVideo(b []byte) (videoTag, error) {
	if len(b) < 1 {
		return videoTag{}, errShort
	}
	if b[0]&exHeaderFlag != 0 {
		fourcc := "?"
		if len(b) >= 5 {
			fourcc = string(b[1:5])
		}
		return videoTag{}, fmt.Errorf("enhanced-RTMP video (%q) is not supported; send H.264", fourcc)
	}
	v := videoTag{key: b[0]>>4 == frameKey, codec: b[0] & 0x0f}
	if v.codec != codecAVC {
		return v, fmt.Errorf("video codec %s is not supported; send H.264", videoCodecName(v.codec))
	}
	if len(b) < 5 {
		return v, errShort
	}
	v.packetType = b[1]
	v.cts = int32(uint32(b[2])<<16|uint32(b[3])<<8|uint32(b[4])) << 8 >> 8 // signed 24 bits
	v.data = b[5:]
	return v, nil
}

func videoCodecName(id uint8) string {
	switch id {
	case 2:
		return "Sorenson H.263"
	case 3, 6:
		return "Screen Video"
	case 4, 5:
		return "On2 VP6"
	case 12:
		return "HEVC"
	}
	return fmt.Sprintf("id %d", id)
}

// audioTag is a parsed FLV audio tag body.
type audioTag struct {
	format     uint8 // FLV sound format
	packetType uint8 // AACPacketType
	data       []byte
}

func parseAudio(b []byte) (audioTag, error) {
	if len(b) < 1 {
		return audioTag{}, errShort
	}
	a := audioTag{format: b[0] >> 4}
	if a.format != soundAAC {
		return a, fmt.Errorf("audio format %s is not supported; send AAC", soundFormatName(a.format))
	}
	if len(b) < 2 {
		return a, errShort
	}
	a.packetType = b[1]
	a.data = b[2:]
	return a, nil
}

func soundFormatName(f uint8) string {
	switch f {
	case 0, 3:
		return "PCM"
	case 1:
		return "ADPCM"
	case 2, 14:
		return "MP3"
	case 4, 5, 6:
		return "Nellymoser"
	case 7, 8:
		return "G.711"
	case 11:
		return "Speex"
	case 13:
		return "Opus"
	}
	return fmt.Sprintf("id %d", f)
}

// avcConfig is the content of an AVCDecoderConfigurationRecord (avcC).
type avcConfig struct {
	lengthSize int // bytes of each NAL unit length prefix: 1, 2 or 4
	sps, pps   []byte
}

func parseAVCConfig(b []byte) (avcConfig, error) {
	if len(b) < 7 {
		return avcConfig{}, errShort
	}
	if b[0] != 1 {
		return avcConfig{}, fmt.Errorf("avcC version %d", b[0])
	}
	c := avcConfig{lengthSize: int(b[4]&3) + 1}
	if c.lengthSize == 3 {
		return c, errors.New("avcC: NAL unit length size 3")
	}
	sps, p, err := firstParamSet(b, 6, int(b[5]&0x1f))
	if err != nil {
		return c, err
	}
	if len(b) < p+1 {
		return c, errShort
	}
	pps, _, err := firstParamSet(b, p+1, int(b[p]))
	if err != nil {
		return c, err
	}
	c.sps, c.pps = sps, pps
	if len(c.sps) < 4 || len(c.pps) < 1 {
		return c, errors.New("avcC without SPS or PPS")
	}
	return c, nil
}

// firstParamSet reads n length-prefixed parameter sets from b at p and
// returns the first one and the offset after the last.
func firstParamSet(b []byte, p, n int) (first []byte, next int, err error) {
	for i := range n {
		if len(b) < p+2 {
			return nil, p, errShort
		}
		l := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if len(b) < p+l {
			return nil, p, errShort
		}
		if i == 0 {
			first = b[p : p+l]
		}
		p += l
	}
	return first, p, nil
}

// splitNALUs splits length-prefixed NAL units.
func splitNALUs(b []byte, lengthSize int) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < lengthSize {
			return nil, errShort
		}
		var l int
		for i := range lengthSize {
			l = l<<8 | int(b[i])
		}
		b = b[lengthSize:]
		if l > len(b) {
			return nil, fmt.Errorf("NAL unit of %d bytes in %d", l, len(b))
		}
		if l > 0 {
			out = append(out, b[:l])
		}
		b = b[l:]
		if len(out) > maxNALUsPerAU {
			return nil, errors.New("too many NAL units in one access unit")
		}
	}
	return out, nil
}

// metadataBody strips the "onMetaData" name that @setDataFrame carries in
// front of the metadata object, leaving what follows a data message's name.
func metadataBody(payload []byte) []byte {
	if len(payload) >= 3 && payload[0] == 0x02 { // AMF0 string
		l := int(binary.BigEndian.Uint16(payload[1:]))
		if len(payload) >= 3+l {
			return payload[3+l:]
		}
	}
	return payload
}
