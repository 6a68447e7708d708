//
// Copyright (c) 2018- yutopp (yutopp@gmail.com)
//
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at  https://www.boost.org/LICENSE_1_0.txt)
//

package rtmp

import (
	"io"
	"sync"
)

type ChunkStreamerWriter struct {
	writer io.Writer
}

func (w *ChunkStreamerWriter) Write(buf []byte) (int, error) {
	return w.writer.Write(buf)
}

func (w *ChunkStreamerWriter) Flush() error {
	bufw, ok := w.writer.(interface{ Flush() error })
	if !ok {
		return nil
	}
	return bufw.Flush()
}

// chunkWriter gathers what the chunk writer writes (each chunk is flushed
// once written) in a buffer taken from a pool for each chunk and given
// back at its flush (thecure patch; upstream used a bufio.Writer of
// WriterBufferSize per connection): an idle connection holds no write
// buffer, and every chunk reaches the connection in one Write, whatever
// its size (a caller writing to the connection too can keep its own
// writes whole between go-rtmp's). Only the writer goroutine uses it.
type chunkWriter struct {
	w   io.Writer
	buf *[]byte
}

// chunkBufs holds chunk buffers between flushes; maxPooledChunk bounds
// what goes back to it.
var chunkBufs = sync.Pool{New: func() interface{} { b := make([]byte, 0, 4096); return &b }}

const maxPooledChunk = 128 << 10

func (c *chunkWriter) Write(p []byte) (int, error) {
	if c.buf == nil {
		c.buf = chunkBufs.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *chunkWriter) Flush() error {
	if c.buf == nil {
		return nil
	}
	b := c.buf
	c.buf = nil
	_, err := c.w.Write(*b)
	if cap(*b) <= maxPooledChunk {
		*b = (*b)[:0]
		chunkBufs.Put(b)
	}
	return err
}
