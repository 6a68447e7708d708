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

// TakeBytes returns the unread bytes of the completed message and hands
// their ownership to the caller: the reader never writes to them again (the
// next message gets a new buffer). It saves a copy of every media message.
// (thecure patch)
func (r *ChunkStreamReader) TakeBytes() []byte {
	b := r.data[r.off:]
	r.data, r.off = nil, 0
	return b
}
