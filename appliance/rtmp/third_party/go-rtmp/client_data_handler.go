//
// thecure patch: a stream a client created (to play or publish), which gets
// media, metadata and status messages from the server.
//

package rtmp

import (
	"bytes"
	"io"

	"github.com/yutopp/go-rtmp/internal"
	"github.com/yutopp/go-rtmp/message"
)

var _ stateHandler = (*clientDataHandler)(nil)

// StatusHandler is what a client's Handler may implement to be told the
// server's onStatus replies (NetStream.Play.Start, NetStream.Publish.BadName...).
type StatusHandler interface {
	OnStatus(level, code, description string)
}

type clientDataHandler struct {
	sh *streamHandler
}

func (h *clientDataHandler) onMessage(chunkStreamID int, timestamp uint32, msg message.Message) error {
	switch msg := msg.(type) {
	case *message.AudioMessage:
		return h.sh.stream.userHandler().OnAudio(timestamp, msg.Payload)
	case *message.VideoMessage:
		return h.sh.stream.userHandler().OnVideo(timestamp, msg.Payload)
	default:
		return internal.ErrPassThroughMsg
	}
}

func (h *clientDataHandler) onData(chunkStreamID int, timestamp uint32, dataMsg *message.DataMessage, body interface{}) error {
	return internal.ErrPassThroughMsg
}

func (h *clientDataHandler) onCommand(chunkStreamID int, timestamp uint32, cmdMsg *message.CommandMessage, body interface{}) error {
	return internal.ErrPassThroughMsg
}

// amf0OnMetaData is the AMF0 string "onMetaData".
var amf0OnMetaData = []byte{0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}

// clientData hands onMetaData to OnSetDataFrame (its payload as a
// publisher's @setDataFrame carries it: "onMetaData" then the object) and
// ignores other data messages (|RtmpSampleAccess and the like).
func (h *streamHandler) clientData(timestamp uint32, dataMsg *message.DataMessage) error {
	if dataMsg.Name != "onMetaData" {
		return nil
	}
	var buf bytes.Buffer
	buf.Write(amf0OnMetaData)
	if _, err := io.Copy(&buf, dataMsg.Body); err != nil {
		return err
	}
	return h.stream.userHandler().OnSetDataFrame(timestamp, &message.NetStreamSetDataFrame{Payload: buf.Bytes()})
}

// clientCommand tells an onStatus to the handler, when it is a
// StatusHandler, and ignores other commands it does not know.
func (h *streamHandler) clientCommand(cmd *message.UnknownCommandBodyDecodeError) error {
	sh, ok := h.stream.userHandler().(StatusHandler)
	if cmd.Name != "onStatus" || !ok {
		return nil
	}
	for _, o := range cmd.Objs {
		info, ok := o.(map[string]interface{})
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := info[k].(string); return s }
		sh.OnStatus(str("level"), str("code"), str("description"))
	}
	return nil
}
