//
// Copyright (c) 2018- yutopp (yutopp@gmail.com)
//
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at  https://www.boost.org/LICENSE_1_0.txt)
//

package rtmp

import (
	"bytes"
	"io"
)

type ChunkStreamReader struct {
	basicHeader   chunkBasicHeader
	messageHeader chunkMessageHeader

	timestamp       uint32
	timestampDelta  uint32
	messageLength   uint32 // max, 24bits
	messageTypeID   byte
	messageStreamID uint32

	// thecure patch: a reader's message is held in data (grown only as its
	// bytes arrive) and read from off; accounted is the capacity counted in
	// ChunkStreamer.buffered. buf is only used by ChunkStreamWriter.
	data      []byte
	off       int
	accounted int

	buf       bytes.Buffer
	completed bool
}

func (r *ChunkStreamReader) Read(b []byte) (int, error) {
	if r.off >= len(r.data) {
		if len(b) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(b, r.data[r.off:])
	r.off += n
	return n, nil
}

// TakeBytes returns the unread bytes of the completed message in a slice
// of their own, of their exact size, for the caller to keep. The reader
// keeps its buffer for the next message on its chunk stream (up to
// retainedReaderBuffer): one allocation of the message's size per message,
// instead of a buffer grown from the first chunk's size by doubling for
// each (with ffmpeg's 128-byte chunks, 3.3 bytes allocated per byte of
// media). (thecure patch)
func (r *ChunkStreamReader) TakeBytes() []byte {
	b := make([]byte, len(r.data)-r.off)
	copy(b, r.data[r.off:])
	r.off = len(r.data)
	return b
}
