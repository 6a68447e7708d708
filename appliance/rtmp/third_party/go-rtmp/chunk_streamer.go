//
// Copyright (c) 2018- yutopp (yutopp@gmail.com)
//
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at  https://www.boost.org/LICENSE_1_0.txt)
//

package rtmp

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/pkg/errors"
	"github.com/sirupsen/logrus"

	"github.com/yutopp/go-rtmp/message"
)

const ctrlMsgChunkStreamID = 2

const maxWriterQueueSize = 64

type ChunkMessage struct {
	StreamID uint32
	Message  message.Message
}

type ChunkStreamer struct {
	r *ChunkStreamerReader
	w *ChunkStreamerWriter

	readers map[int]*ChunkStreamReader
	writers map[int]*ChunkStreamWriter
	mu      sync.Mutex

	writerSched *chunkStreamerWriterSched

	msgDec *message.Decoder
	msgEnc *message.Encoder

	selfState *StreamControlState
	peerState *StreamControlState

	err  error
	done chan struct{}

	controlStreamWriter func(chunkStreamID int, timestamp uint32, msg message.Message) error

	cacheBuffer []byte
	config      *StreamControlStateConfig

	// thecure patch: read limits and the bytes held by unfinished messages
	maxMessageSize uint32
	maxBuffered    uint32
	buffered       int

	sizeMu      sync.Mutex
	sizeWaiters []sizeWaiter
	logger      logrus.FieldLogger
}

func NewChunkStreamer(r io.Reader, w io.Writer, config *StreamControlStateConfig) *ChunkStreamer {
	if config == nil {
		config = defaultStreamControlStateConfig
	}

	cs := &ChunkStreamer{
		r: &ChunkStreamerReader{
			reader: r,
		},
		w: &ChunkStreamerWriter{
			writer: w,
		},

		readers: make(map[int]*ChunkStreamReader),
		writers: make(map[int]*ChunkStreamWriter),

		writerSched: &chunkStreamerWriterSched{
			writers: make(chan *ChunkStreamWriter, maxWriterQueueSize),
			stopCh:  make(chan struct{}),
		},

		msgDec: message.NewDecoder(nil),
		msgEnc: message.NewEncoder(nil),

		selfState: NewStreamControlState(config),
		peerState: NewStreamControlState(config),

		done: make(chan struct{}),

		cacheBuffer: make([]byte, 64), // thecure patch: only chunk headers use it now (was 64 KiB per connection)
		config:      config,
		logger:      logrus.StandardLogger(),

		maxMessageSize: config.MaxMessageSize,
		maxBuffered:    config.MaxBufferedBytes,
	}
	cs.writerSched.streamer = cs
	// thecure patch: a config that was not normalized gets the defaults
	if cs.maxMessageSize == 0 {
		cs.maxMessageSize = MaxChunkSize
	}
	if cs.maxBuffered == 0 {
		cs.maxBuffered = 4 * MaxChunkSize
	}
	// thecure patch: the writer goroutine starts with the first write
	// (chunkStreamerWriterSched.Sched), not here

	return cs
}

func (cs *ChunkStreamer) Read(cmsg *ChunkMessage) (int, uint32, error) {
	reader, err := cs.NewChunkReader()
	if err != nil {
		return 0, 0, err
	}

	cs.msgDec.Reset(reader)
	if err := cs.msgDec.Decode(message.TypeID(reader.messageTypeID), &cmsg.Message); err != nil {
		return 0, 0, err
	}

	cmsg.StreamID = reader.messageStreamID

	return reader.basicHeader.chunkStreamID, uint32(reader.timestamp), nil
}

func (cs *ChunkStreamer) Write(
	ctx context.Context, // NOTE: Retire writing when a current chunk is busy
	chunkStreamID int,
	timestamp uint32,
	cmsg *ChunkMessage,
) error {
	writer, err := cs.NewChunkWriter(ctx, chunkStreamID)
	if err != nil {
		return err
	}
	//defer writer.Close()

	cs.msgEnc.Reset(writer)
	if err := cs.msgEnc.Encode(cmsg.Message); err != nil {
		return err
	}
	writer.timestamp = timestamp
	writer.messageLength = uint32(writer.buf.Len())
	writer.messageTypeID = byte(cmsg.Message.TypeID())
	writer.messageStreamID = cmsg.StreamID

	return cs.Sched(writer)
}

func (cs *ChunkStreamer) NewChunkReader() (*ChunkStreamReader, error) {
again:
	reader, err := cs.readChunk()
	if err != nil {
		return nil, err
	}
	if cs.r.FragmentReadBytes() >= uint32(cs.peerState.ackWindowSize/2) { // TODO: fix size
		if err := cs.sendAck(cs.r.TotalReadBytes()); err != nil {
			return nil, err
		}
		cs.r.ResetFragmentReadBytes()
	}

	if !reader.completed {
		goto again
	}
	return reader, nil
}

// NewChunkWriter Returns a writer for a chunkStreamID.
// Wait until writing have been finished if the writer is running.
func (cs *ChunkStreamer) NewChunkWriter(ctx context.Context, chunkStreamID int) (*ChunkStreamWriter, error) {
	writer, err := cs.prepareChunkWriter(chunkStreamID)
	if err != nil {
		return nil, errors.Wrapf(err, "Failed to prepare chunk writer")
	}
	if err := writer.Wait(ctx); err != nil {
		return nil, errors.Wrapf(err, "Failed to wait chunk writer")
	}

	return writer, nil
}

func (cs *ChunkStreamer) Sched(writer *ChunkStreamWriter) error {
	writer.newChunk = true
	return cs.writerSched.Sched(writer)
}

func (cs *ChunkStreamer) SelfState() *StreamControlState {
	return cs.selfState
}

func (cs *ChunkStreamer) PeerState() *StreamControlState {
	return cs.peerState
}

func (cs *ChunkStreamer) Done() <-chan struct{} {
	return cs.done
}

func (cs *ChunkStreamer) Err() error {
	return cs.err
}

func (cs *ChunkStreamer) Close() error {
	return cs.writerSched.Close()
}

// returns nil reader when chunk is fragmented.
func (cs *ChunkStreamer) readChunk() (*ChunkStreamReader, error) {
	var bh chunkBasicHeader
	if err := decodeChunkBasicHeader(cs.r, cs.cacheBuffer, &bh); err != nil {
		return nil, err
	}
	//cs.logger.Debugf("(READ) BasicHeader = %+v", bh)

	var mh chunkMessageHeader
	if err := decodeChunkMessageHeader(cs.r, bh.fmt, cs.cacheBuffer, &mh); err != nil {
		return nil, err
	}
	//cs.logger.Debugf("(READ) MessageHeader = %+v", mh)

	reader, err := cs.prepareChunkReader(bh.chunkStreamID)
	if err != nil {
		return nil, errors.Wrapf(err, "Failed to prepare chunk reader")
	}
	if reader.completed {
		cs.releaseReader(reader)
		reader.completed = false
	}
	unfinished := len(reader.data) > 0

	reader.basicHeader = bh
	reader.messageHeader = mh

	switch bh.fmt {
	case 0:
		if unfinished && mh.messageLength != reader.messageLength {
			return nil, errUnfinished(bh.chunkStreamID)
		}
		reader.timestamp = mh.timestamp
		reader.timestampDelta = 0 // reset
		reader.messageLength = mh.messageLength
		reader.messageTypeID = mh.messageTypeID
		reader.messageStreamID = mh.messageStreamID

	case 1:
		if unfinished && mh.messageLength != reader.messageLength {
			return nil, errUnfinished(bh.chunkStreamID)
		}
		reader.timestampDelta = mh.timestampDelta
		reader.messageLength = mh.messageLength
		reader.messageTypeID = mh.messageTypeID

	case 2:
		reader.timestampDelta = mh.timestampDelta

	case 3:
		// DO NOTHING

	default:
		return nil, errors.Errorf("unsupported chunk header format %d", bh.fmt)
	}

	// thecure patch: the message size limit, enforced before any byte of
	// the message is buffered
	if reader.messageLength > cs.maxMessageSize {
		return nil, &LimitError{Reason: "message", Limit: cs.maxMessageSize, Value: reader.messageLength}
	}

	expectLen := int(reader.messageLength) - len(reader.data)
	if size := cs.peerState.ChunkSize(); uint32(expectLen) > size {
		expectLen = int(size)
	}
	if err := cs.readInto(reader, expectLen); err != nil {
		return nil, err
	}

	if int(reader.messageLength)-len(reader.data) != 0 {
		// fragmented
		return reader, nil
	}

	// read completed, update timestamp
	reader.timestamp += reader.timestampDelta
	reader.completed = true

	return reader, nil
}

// readStep is the most a buffer is grown ahead of the bytes received.
const readStep = 64 << 10

// retainedReaderBuffer is the largest buffer a chunk stream keeps for its
// next message (thecure patch); a larger one is released once its message
// has been read.
const retainedReaderBuffer = 64 << 10

// LimitError is returned when a peer goes over a limit of the reader: the
// size of one message, the bytes buffered in unfinished messages of all
// chunk streams, or the number of chunk streams (thecure patch).
type LimitError struct {
	Reason       string // "message", "buffered" or "chunk streams"
	Limit, Value uint32
}

func (e *LimitError) Error() string {
	switch e.Reason {
	case "message":
		return fmt.Sprintf("message of %d bytes is over the limit of %d", e.Value, e.Limit)
	case "buffered":
		return fmt.Sprintf("%d bytes of unfinished messages is over the limit of %d", e.Value, e.Limit)
	}
	return fmt.Sprintf("chunk stream %d is over the limit of %d chunk streams", e.Value, e.Limit)
}

func errUnfinished(csid int) error {
	return errors.Errorf("chunk stream %d: a new message header changes the length of an unfinished message", csid)
}

// SetReadLimits sets the largest message the peer may send and the most
// bytes that the unfinished messages of all its chunk streams may hold. It
// must be called from the goroutine that reads (a Handler callback); the
// initial values are the config's MaxMessageSize and MaxBufferedBytes
// (thecure patch).
func (cs *ChunkStreamer) SetReadLimits(maxMessageSize, maxBufferedBytes uint32) {
	cs.maxMessageSize = maxMessageSize
	cs.maxBuffered = maxBufferedBytes
}

// SelfChunkSizeApplied returns a channel closed once this side has written
// a Set Chunk Size message of size and chunks what it writes next with it
// (at once if that is the size already). A Set Chunk Size written with
// Write takes effect right after it is written, in order with the other
// messages (thecure patch: upstream left the size to be set by the caller,
// from any goroutine, racing with the writer).
func (cs *ChunkStreamer) SelfChunkSizeApplied(size uint32) <-chan struct{} {
	ch := make(chan struct{})
	cs.sizeMu.Lock()
	defer cs.sizeMu.Unlock()
	if cs.selfState.ChunkSize() == size {
		close(ch)
		return ch
	}
	cs.sizeWaiters = append(cs.sizeWaiters, sizeWaiter{size, ch})
	return ch
}

type sizeWaiter struct {
	size uint32
	ch   chan struct{}
}

func (cs *ChunkStreamer) applySelfChunkSize(size uint32) {
	if cs.selfState.SetChunkSize(size) != nil {
		return
	}
	cs.sizeMu.Lock()
	defer cs.sizeMu.Unlock()
	kept := cs.sizeWaiters[:0]
	for _, w := range cs.sizeWaiters {
		if w.size == size {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	cs.sizeWaiters = kept
}

// BufferedBytes is what the chunk streams' buffers hold now: the capacity
// counted against the limit set by SetReadLimits (thecure patch).
func (cs *ChunkStreamer) BufferedBytes() int {
	return cs.buffered
}

// releaseReader makes a reader whose message has been consumed ready for
// the next one, keeping only a small buffer.
func (cs *ChunkStreamer) releaseReader(r *ChunkStreamReader) {
	if cap(r.data) > retainedReaderBuffer {
		r.data = nil
	}
	r.data, r.off = r.data[:0], 0
	cs.buffered += cap(r.data) - r.accounted
	r.accounted = cap(r.data)
}

// readInto reads n bytes of a chunk into r's message. The buffer grows only
// as bytes arrive (at most twice what was received, never over the
// announced length), so an announced length costs nothing by itself, and
// the growth is checked against the limit on buffered bytes first.
func (cs *ChunkStreamer) readInto(r *ChunkStreamReader, n int) error {
	for n > 0 {
		step := n
		if step > readStep {
			step = readStep
		}
		l := len(r.data)
		if cap(r.data)-l < step {
			newCap := 2 * cap(r.data)
			if newCap > int(r.messageLength) {
				newCap = int(r.messageLength)
			}
			if newCap < l+step {
				newCap = l + step
			}
			total := cs.buffered - r.accounted + newCap
			if total > int(cs.maxBuffered) {
				return &LimitError{Reason: "buffered", Limit: cs.maxBuffered, Value: uint32(total)}
			}
			d := make([]byte, l, newCap)
			copy(d, r.data)
			r.data = d
			cs.buffered = total
			r.accounted = newCap
		}
		if _, err := io.ReadFull(cs.r, r.data[l:l+step]); err != nil {
			return err
		}
		r.data = r.data[:l+step]
		n -= step
	}
	return nil
}

func (cs *ChunkStreamer) writeChunk(writer *ChunkStreamWriter) (bool, error) {
	cs.updateWriterHeader(writer)

	//cs.logger.Debugf("(WRITE) Headers: Basic = %+v / Message = %+v", writer.basicHeader, writer.messageHeader)
	//cs.logger.Debugf("(WRITE) Buffer: %+v", writer.buf.Bytes())

	expectLen := writer.buf.Len()
	if size := cs.selfState.ChunkSize(); uint32(expectLen) > size {
		expectLen = int(size)
	}
	// thecure patch: a Set Chunk Size message applies to what this writer
	// writes after it, in order (see SelfChunkSizeApplied)
	var newSize uint32
	if writer.messageTypeID == byte(message.TypeIDSetChunkSize) && expectLen == 4 && writer.buf.Len() == 4 {
		newSize = binary.BigEndian.Uint32(writer.buf.Bytes()) & 0x7fffffff
	}

	if err := encodeChunkBasicHeader(cs.w, &writer.basicHeader); err != nil {
		return false, err
	}
	if err := encodeChunkMessageHeader(cs.w, writer.basicHeader.fmt, &writer.messageHeader); err != nil {
		return false, err
	}

	if _, err := io.CopyN(cs.w, writer, int64(expectLen)); err != nil {
		return false, err
	}
	if err := cs.w.Flush(); err != nil {
		return false, err
	}
	if newSize != 0 {
		cs.applySelfChunkSize(newSize)
	}

	if writer.buf.Len() != 0 {
		// fragmented
		return false, nil
	}

	return true, nil
}

func (cs *ChunkStreamer) updateWriterHeader(writer *ChunkStreamWriter) {
	fmt := byte(2) // default: only timestamp delta
	if writer.messageHeader.messageLength != writer.messageLength ||
		writer.messageTypeID != writer.messageHeader.messageTypeID {
		// header or type id is updated, change fmt to 1 to notify difference and update state
		writer.messageHeader.messageLength = writer.messageLength
		writer.messageHeader.messageTypeID = writer.messageTypeID
		fmt = 1
	}
	if writer.timestamp != writer.messageHeader.timestamp || writer.newChunk {
		if writer.timestamp >= writer.messageHeader.timestamp {
			writer.timestampDelta = writer.timestamp - writer.messageHeader.timestamp
		} else {
			// timestamp is reversed, clear timestamp data
			fmt = 0
			writer.timestampDelta = 0
		}
	}
	writer.newChunk = false
	if writer.timestampDelta == writer.messageHeader.timestampDelta && fmt == 2 {
		fmt = 3
	}
	writer.messageHeader.timestampDelta = writer.timestampDelta
	writer.messageHeader.timestamp = writer.timestamp

	if writer.messageHeader.messageStreamID != writer.messageStreamID {
		fmt = 0
		writer.messageHeader.messageStreamID = writer.messageStreamID
	}
	writer.basicHeader.fmt = fmt
}

func (cs *ChunkStreamer) waitWriters() {
	cs.mu.Lock()
	defer cs.mu.Unlock()

	// Wait until that writers are finished for 3 seconds. (NOTE: 3s is addhoc value...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	for k, writer := range cs.writers {
		if err := writer.Wait(ctx); err != nil {
			cs.logger.Warnf("Failed to wait writer: ID = %d", k)
		}
	}
}

func (cs *ChunkStreamer) forceCloseWriters() {
	cs.mu.Lock()
	defer cs.mu.Unlock()

	for _, writer := range cs.writers {
		//writer.lastErr = cs.err
		close(writer.closeCh)
	}
}

func (cs *ChunkStreamer) schedWriteLoop() {
	err := cs.writerSched.Run()
	if err == errWriterIdle {
		return // thecure patch: started again by the next write
	}
	cs.writerSched.mu.Lock()
	cs.writerSched.ended = true
	cs.writerSched.mu.Unlock()
	cs.err = err

	if cs.err != nil {
		cs.forceCloseWriters()
	}
	close(cs.done)
}

func (cs *ChunkStreamer) prepareChunkReader(chunkStreamID int) (*ChunkStreamReader, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()

	reader, ok := cs.readers[chunkStreamID]
	if !ok {
		if len(cs.readers) >= cs.config.MaxChunkStreams {
			return nil, &LimitError{Reason: "chunk streams", Limit: uint32(cs.config.MaxChunkStreams), Value: uint32(chunkStreamID)}
		}

		reader = &ChunkStreamReader{}
		cs.readers[chunkStreamID] = reader
	}

	return reader, nil
}

func (cs *ChunkStreamer) prepareChunkWriter(chunkStreamID int) (*ChunkStreamWriter, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()

	writer, ok := cs.writers[chunkStreamID]
	if !ok {
		if len(cs.writers) >= cs.config.MaxChunkStreams {
			return nil, errors.Errorf(
				"Creating chunk streams limit exceeded(Writer): Limit = %d",
				cs.config.MaxChunkStreams,
			)
		}

		writer = &ChunkStreamWriter{
			ChunkStreamReader: ChunkStreamReader{
				basicHeader: chunkBasicHeader{
					chunkStreamID: chunkStreamID,
				},
				messageHeader: chunkMessageHeader{
					timestamp: math.MaxUint32, // initial state will be updated by writer.timestamp
				},
			},
			doneCh:   make(chan struct{}),
			closeCh:  make(chan struct{}),
			newChunk: true,
		}
		close(writer.doneCh)
		cs.writers[chunkStreamID] = writer
	}

	return writer, nil
}

func (cs *ChunkStreamer) sendAck(readBytes uint32) error {
	cs.logger.Debugf("Sending Ack...: Bytes = %d", readBytes)
	// TODO: fix timestamp
	return cs.controlStreamWriter(ctrlMsgChunkStreamID, 0, &message.Ack{
		SequenceNumber: readBytes,
	})
}

// thecure patch: the writer goroutine runs only while there is something
// to write (upstream kept one per connection for its whole life, idle
// between replies: thousands of RTMP players held one each). Sched starts
// it when it is not running; it returns errWriterIdle once the queue is
// empty, deciding under mu so that a write queued meanwhile either finds it
// running or starts it again. Once it has ended for good (an error, or
// Close), nothing starts it, and done is closed (by it, or by Close when
// it was not running).
type chunkStreamerWriterSched struct {
	streamer *ChunkStreamer
	writers  chan *ChunkStreamWriter
	stopCh   chan struct{}

	mu      sync.Mutex
	running bool
	ended   bool
	stopped bool // Close has run
}

var errWriterIdle = errors.New("writer idle")

func (sched *chunkStreamerWriterSched) Sched(writer *ChunkStreamWriter) error {
	sched.writers <- writer

	sched.mu.Lock()
	if !sched.running && !sched.ended {
		sched.running = true
		go sched.streamer.schedWriteLoop()
	}
	sched.mu.Unlock()
	return nil
}

func (sched *chunkStreamerWriterSched) Run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			errTmp, ok := r.(error)
			if !ok {
				errTmp = errors.Errorf("Panic: %+v", r)
			}
			err = errors.WithStack(errTmp)
		}
	}()

	for {
		select {
		case writer := <-sched.writers:
			isCompleted, err := sched.streamer.writeChunk(writer)
			if err != nil {
				writer.lastErr = err
				close(writer.doneCh)
				return err
			}
			if isCompleted {
				close(writer.doneCh)
				continue
			}

			// Enqueue writer
			sched.writers <- writer

		case <-sched.stopCh:
			return nil

		default:
			// thecure patch: nothing to write: stop until the next write
			sched.mu.Lock()
			if sched.ended {
				sched.mu.Unlock()
				return nil // closed meanwhile
			}
			if len(sched.writers) == 0 {
				sched.running = false
				sched.mu.Unlock()
				return errWriterIdle
			}
			sched.mu.Unlock()
		}
	}
}

func (sched *chunkStreamerWriterSched) Close() error {
	sched.mu.Lock()
	running, ended, stopped := sched.running, sched.ended, sched.stopped
	sched.ended, sched.stopped = true, true
	sched.mu.Unlock()
	if stopped {
		return nil
	}
	close(sched.stopCh)
	if !running && !ended {
		close(sched.streamer.done) // thecure patch: no writer goroutine to close it
	}

	return nil
}
