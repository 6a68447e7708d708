package rtmp

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	flvtag "github.com/yutopp/go-flv/tag"

	"thecure/appliance/live"
)

// Hub is where published streams go for HLS (live.Hub).
type Hub interface {
	Publish(name string, t live.Tracks) (*live.Stream, error)
	Live(name string) bool
}

// How long the ingest waits for the sequence headers of the tracks it
// expects before starting HLS with the tracks it has.
const (
	maxWaitMedia = 3 * time.Second
	maxWaitMsgs  = 2000
)

// ingest turns a publisher's FLV messages into access units for the hub.
// It buffers the first messages until the tracks are known (the HLS muxer
// needs every track up front). One goroutine (the publisher's) calls it.
type ingest struct {
	name string
	hub  Hub
	log  *slog.Logger

	expectVideo, expectAudio, sawMeta bool
	avc                               *avcConfig
	aac                               *mpeg4audio.AudioSpecificConfig
	waiting                           []*message // media before the tracks are known
	out                               *live.Stream
	noVideo, noAudio                  bool // track absent from the HLS output
	errs                              int
	onStart                           func(*live.Stream)
	knownDTS                          bool // a local feed (feed.go): its FLV times are the decode times
}

// errRefuse is an error that ends a publication: the stream is not usable.
type errRefuse struct{ error }

func refuse(format string, args ...any) error { return errRefuse{fmt.Errorf(format, args...)} }

// metadata reads onMetaData for the codecs the publisher announces. A
// malformed one is ignored (go-amf0 panics on some input).
func (in *ingest) metadata(payload []byte) {
	defer func() { _ = recover() }()
	var sd flvtag.ScriptData
	if err := flvtag.DecodeScriptData(bytes.NewReader(payload), &sd); err != nil {
		return
	}
	md, ok := sd.Objects["onMetaData"]
	if !ok {
		return
	}
	in.sawMeta = true
	in.expectVideo = present(md["videocodecid"])
	in.expectAudio = present(md["audiocodecid"])
}

func present(v any) bool {
	switch x := v.(type) {
	case float64:
		return x != 0
	case string:
		return x != ""
	case nil:
		return false
	}
	return true
}

// handle takes one media message (audio or video) from the publisher.
func (in *ingest) handle(m *message) error {
	switch m.typ {
	case typeVideo:
		v, err := parseVideo(m.data)
		if err != nil {
			return refuse("%w", err)
		}
		if v.packetType == avcSeqHeader {
			c, err := parseAVCConfig(v.data)
			if err != nil {
				return refuse("invalid H.264 sequence header: %w", err)
			}
			var sps h264.SPS
			if err := sps.Unmarshal(c.sps); err != nil {
				return refuse("invalid H.264 SPS: %w", err)
			}
			if err := browserPlayable(&sps); err != nil {
				return refuse("%w", err)
			}
			in.avc = &c
			return in.maybeStart(nil)
		}
	case typeAudio:
		a, err := parseAudio(m.data)
		if err != nil {
			return refuse("%w", err)
		}
		if a.packetType == aacSeqHeader {
			var c mpeg4audio.AudioSpecificConfig
			if err := c.Unmarshal(a.data); err != nil {
				return refuse("invalid AAC sequence header: %w", err)
			}
			if in.aac != nil && in.out != nil && (c.SampleRate != in.aac.SampleRate || c.ChannelConfig != in.aac.ChannelConfig) {
				return refuse("AAC configuration changed mid-stream (%d Hz -> %d Hz); republish", in.aac.SampleRate, c.SampleRate)
			}
			in.aac = &c
			return in.maybeStart(nil)
		}
	default:
		return nil
	}
	if in.out == nil {
		return in.maybeStart(m)
	}
	return in.write(m)
}

// maybeStart buffers media message m (nil after a sequence header) until
// the tracks are known, then starts the stream.
func (in *ingest) maybeStart(m *message) error {
	if in.out != nil {
		return nil
	}
	if m != nil {
		in.waiting = append(in.waiting, m)
	}
	ready := false
	switch {
	case in.sawMeta:
		ready = (!in.expectVideo || in.avc != nil) && (!in.expectAudio || in.aac != nil) && (in.avc != nil || in.aac != nil)
	default:
		ready = in.avc != nil && in.aac != nil
	}
	if !ready && len(in.waiting) > 0 {
		span := time.Duration(in.waiting[len(in.waiting)-1].ts-in.waiting[0].ts) * time.Millisecond
		if (span >= maxWaitMedia || len(in.waiting) >= maxWaitMsgs) && (in.avc != nil || in.aac != nil) {
			ready = true
		}
		if len(in.waiting) >= maxWaitMsgs && in.avc == nil && in.aac == nil {
			return refuse("no H.264 or AAC sequence header in the first %d messages", maxWaitMsgs)
		}
	}
	if !ready {
		return nil
	}
	t := live.Tracks{}
	if in.avc != nil {
		t.H264 = &live.H264{SPS: in.avc.sps, PPS: in.avc.pps}
	} else {
		in.noVideo = true
	}
	if in.aac != nil {
		t.AAC = in.aac
	} else {
		in.noAudio = true
	}
	if in.noVideo && in.expectVideo || in.noAudio && in.expectAudio {
		in.log.Warn("publisher announced a track but sent no sequence header for it; HLS goes without it",
			"stream", in.name, "video", !in.noVideo, "audio", !in.noAudio)
	}
	out, err := in.hub.Publish(in.name, t)
	if errors.Is(err, live.ErrLive) {
		return refuse("stream %s is already live", in.name)
	}
	if err != nil {
		return refuse("%w", err)
	}
	in.out = out
	if in.onStart != nil {
		in.onStart(out)
	}
	waiting := in.waiting
	in.waiting = nil
	for _, w := range waiting {
		if err := in.write(w); err != nil {
			return err
		}
	}
	return nil
}

// write sends one media message to the hub.
func (in *ingest) write(m *message) error {
	var err error
	switch m.typ {
	case typeVideo:
		if in.noVideo {
			return nil
		}
		v, _ := parseVideo(m.data)
		if v.packetType != avcNALU || in.avc == nil {
			return nil
		}
		var au [][]byte
		au, err = splitNALUs(v.data, in.avc.lengthSize)
		if err != nil {
			err = fmt.Errorf("bad H.264 frame: %w", err)
			break
		}
		if len(au) == 0 {
			return nil
		}
		// the frame's bytes are the muxer's sample as they are when they
		// hold exactly au with 4-byte lengths (no copy)
		avcc := v.data
		if in.avc.lengthSize != 4 || len(v.data) != naluBytes(au)+4*len(au) {
			avcc = nil
		}
		if h264.IsRandomAccess(au) && !hasParams(au) {
			au = append([][]byte{in.avc.sps, in.avc.pps}, au...)
			avcc = nil
		}
		pts := time.Duration(int64(m.ts)+int64(v.cts)) * time.Millisecond
		switch {
		case in.knownDTS: // a local feed's decode times are exact
			err = in.out.WriteH264DTS(time.Duration(m.ts)*time.Millisecond, pts, au)
		case avcc != nil:
			err = in.out.WriteH264AVCC(pts, au, avcc)
		default:
			err = in.out.WriteH264(pts, au)
		}
	case typeAudio:
		if in.noAudio {
			return nil
		}
		a, _ := parseAudio(m.data)
		if a.packetType != aacRaw || len(a.data) == 0 {
			return nil
		}
		err = in.out.WriteAAC(time.Duration(m.ts)*time.Millisecond, a.data)
	}
	if err != nil {
		in.errs++
		if in.errs <= 5 || in.errs%1000 == 0 {
			in.log.Warn("cannot mux a frame for HLS", "stream", in.name, "err", err, "errors", in.errs)
		}
	}
	return nil
}

// browserPlayable refuses H.264 that browsers do not decode: they play the
// Baseline, Main, Extended and High profiles in 8-bit 4:2:0, not High 10,
// High 4:2:2, High 4:4:4 (Predictive or Intra), CAVLC 4:4:4 or the
// scalable and multiview profiles.
func browserPlayable(sps *h264.SPS) error {
	name := ""
	switch sps.ProfileIdc {
	case 66, 77, 88, 100:
	case 110:
		name = "High 10"
	case 122:
		name = "High 4:2:2"
	case 244:
		name = "High 4:4:4 Predictive"
	case 44:
		name = "CAVLC 4:4:4 Intra"
	case 83, 86:
		name = "Scalable"
	case 118, 128, 134, 135, 138, 139:
		name = "Multiview"
	default:
		name = fmt.Sprintf("profile_idc %d", sps.ProfileIdc)
	}
	if name != "" {
		return fmt.Errorf("H.264 %s profile is not supported (browsers cannot play it); send Baseline, Main or High (8-bit 4:2:0, e.g. -pix_fmt yuv420p)", name)
	}
	if sps.ChromaFormatIdc != 1 || sps.BitDepthLumaMinus8 != 0 || sps.BitDepthChromaMinus8 != 0 {
		return fmt.Errorf("H.264 with chroma format %d and %d-bit samples is not supported (browsers cannot play it); send 8-bit 4:2:0 (e.g. -pix_fmt yuv420p)",
			sps.ChromaFormatIdc, sps.BitDepthLumaMinus8+8)
	}
	return nil
}

func naluBytes(au [][]byte) int {
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	return n
}

func hasParams(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			return true
		}
	}
	return false
}

// close ends the HLS stream.
func (in *ingest) close() {
	if in.out != nil {
		in.out.Close()
		in.out = nil
	}
}

// ingest classifies one FLV audio or video message from the publisher,
// feeds HLS, and returns the message to fan out to players.
func (in *ingest) ingest(typ uint8, ts uint32, data []byte) (*message, error) {
	m := &message{typ: typ, ts: ts, data: data}
	switch typ {
	case typeVideo:
		v, err := parseVideo(data)
		if err != nil {
			return nil, refuse("%w", err)
		}
		m.seq = v.packetType == avcSeqHeader
		m.key = v.key && v.packetType == avcNALU
	case typeAudio:
		a, err := parseAudio(data)
		if err != nil {
			return nil, refuse("%w", err)
		}
		m.seq = a.packetType == aacSeqHeader
	default:
		return nil, nil
	}
	if err := in.handle(m); err != nil {
		return nil, err
	}
	return m, nil
}
