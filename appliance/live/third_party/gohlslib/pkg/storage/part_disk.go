package storage

import (
	"bytes"
	"io"
	"os"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// bufferSeeker is a part's bytes in memory while it is made.
type bufferSeeker = seekablebuffer.Buffer

// partDisk is a part of a fileDisk (thecure: rewritten, see fileDisk): in
// memory until its file is finalized, then a range of the file.
type partDisk struct {
	s       *fileDisk
	buffer  *bufferSeeker // nil once the file is finalized and on disk
	offset  uint64
	size    uint64 // known once written
	written bool
}

// Writer implements Part.
func (p *partDisk) Writer() io.WriteSeeker {
	return p.buffer
}

// Grow makes room for n more bytes at once, when the size is known before
// writing: exactly n on an empty part, as partRAM.Grow.
func (p *partDisk) Grow(n int) {
	if p.buffer.Cap() == 0 {
		p.buffer.Buffer = *bytes.NewBuffer(make([]byte, 0, n))
		return
	}
	p.buffer.Grow(n)
}

// Seal ends writing: the part goes to the file in one write.
func (p *partDisk) Seal() {
	p.s.write(p)
}

// Bytes returns the part's bytes while they are in memory, else nil. They
// must not be modified.
func (p *partDisk) Bytes() []byte {
	if p.buffer == nil {
		return nil
	}
	return p.buffer.Bytes()
}

// Reader implements Part. Once on disk, the reader can seek (for ranges).
func (p *partDisk) Reader() (io.ReadCloser, error) {
	if p.buffer != nil {
		return io.NopCloser(bytes.NewReader(p.buffer.Bytes())), nil
	}

	f, err := os.Open(p.s.fpath)
	if err != nil {
		return nil, err
	}
	return &sectionFile{SectionReader: io.NewSectionReader(f, int64(p.offset), int64(p.size)), f: f}, nil
}

// sectionFile is a range of an open file.
type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionFile) Close() error { return s.f.Close() }

// multiReader reads byte slices one after the other.
type multiReader struct {
	chunks [][]byte
}

func (r *multiReader) Read(b []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	return n, nil
}
