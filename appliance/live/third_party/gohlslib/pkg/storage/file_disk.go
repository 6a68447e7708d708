package storage

import (
	"fmt"
	"io"
	"os"
)

// fileDisk is a file of the muxer kept on disk (thecure: rewritten). Its
// parts are made in memory, each written to the file in one write when it
// is complete (Seal, or Finalize for what was not sealed), and served from
// memory until Finalize; from then on the file is read instead and the
// memory is freed. The page cache holds what is read often, and a whole
// file is served with sendfile.
type fileDisk struct {
	fpath     string
	f         *os.File // nil once finalized
	parts     []*partDisk
	finalSize uint64
	err       error // the first write error: the parts then stay in memory
}

func newFileDisk(fpath string) (File, error) {
	f, err := os.OpenFile(fpath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}

	return &fileDisk{
		fpath: fpath,
		f:     f,
	}, nil
}

// write puts a complete part in the file, once.
func (s *fileDisk) write(p *partDisk) {
	if p.written || s.f == nil {
		return
	}
	p.written = true
	p.size = uint64(len(p.buffer.Bytes()))
	if s.err != nil {
		return
	}
	if _, err := s.f.WriteAt(p.buffer.Bytes(), int64(p.offset)); err != nil {
		s.err = err
	}
}

// Finalize implements File.
func (s *fileDisk) Finalize() {
	if s.f == nil {
		return
	}
	for _, p := range s.parts {
		s.write(p)
	}
	if len(s.parts) > 0 {
		last := s.parts[len(s.parts)-1]
		s.finalSize = last.offset + last.size
	}
	if err := s.f.Close(); err != nil && s.err == nil {
		s.err = err
	}
	s.f = nil
	if s.err != nil {
		return // served from memory (Chunks)
	}
	for _, p := range s.parts {
		p.buffer = nil
	}
}

// Remove implements File.
func (s *fileDisk) Remove() {
	if s.f != nil {
		s.f.Close() //nolint:errcheck // removed anyway
		s.f = nil
	}
	os.Remove(s.fpath) //nolint:errcheck // gone already, or its folder is removed with the stream
}

// NewPart implements File.
func (s *fileDisk) NewPart() Part {
	offset := uint64(0)
	if len(s.parts) > 0 {
		last := s.parts[len(s.parts)-1]
		s.write(last) // complete: the next one starts
		offset = last.offset + last.size
	}

	p := &partDisk{s: s, buffer: &bufferSeeker{}, offset: offset}
	s.parts = append(s.parts, p)
	return p
}

// Reader implements File.
func (s *fileDisk) Reader() (io.ReadCloser, error) {
	if s.f != nil {
		return nil, fmt.Errorf("file has not been finalized yet")
	}
	if s.err != nil {
		return io.NopCloser(&multiReader{chunks: s.Chunks()}), nil
	}

	return os.Open(s.fpath)
}

// Size implements File.
func (s *fileDisk) Size() uint64 {
	return s.finalSize
}

// Chunks returns the bytes of a finalized file that could not be written
// to disk (thecure): they stay in memory. Nil otherwise: read the file.
func (s *fileDisk) Chunks() [][]byte {
	if s.f != nil || s.err == nil {
		return nil
	}
	out := make([][]byte, len(s.parts))
	for i, p := range s.parts {
		out[i] = p.buffer.Bytes()
	}
	return out
}
