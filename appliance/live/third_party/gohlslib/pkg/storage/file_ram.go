package storage

import (
	"fmt"
	"io"
)

type fileRAM struct {
	finalized bool
	parts     []*partRAM
	finalSize uint64
	joined    []byte // thecure: the parts' bytes in one slice, after Join
}

func newFileRAM() File {
	return &fileRAM{}
}

// Finalize implements File.
func (s *fileRAM) Finalize() {
	s.finalized = true

	for _, part := range s.parts {
		part.Seal()
		s.finalSize += uint64(len(part.Bytes()))
	}
}

// Remove implements File.
func (s *fileRAM) Remove() {
}

// NewPart implements File.
func (s *fileRAM) NewPart() Part {
	p := newPartRAM()
	s.parts = append(s.parts, p)
	return p
}

// Reader implements File.
func (s *fileRAM) Reader() (io.ReadCloser, error) {
	if !s.finalized {
		return nil, fmt.Errorf("file has not been finalized yet")
	}

	return io.NopCloser(&ramFileReader{
		parts: s.parts,
	}), nil
}

// Size implements File.
func (s *fileRAM) Size() uint64 {
	return s.finalSize
}

// Chunks returns the bytes of a finalized file, part after part (thecure),
// or nil before Finalize. They must not be modified.
func (s *fileRAM) Chunks() [][]byte {
	if !s.finalized {
		return nil
	}
	if s.joined != nil {
		return [][]byte{s.joined}
	}
	out := make([][]byte, len(s.parts))
	for i, part := range s.parts {
		out[i] = part.Bytes()
	}
	return out
}

// Join puts the bytes of a finalized file with several parts in one slice
// (thecure), which Chunks returns from then on, and makes each part's bytes
// a piece of it: a whole segment is then written to a client in one system
// call instead of one per part, and its bytes are not held twice.
func (s *fileRAM) Join() {
	if !s.finalized || s.joined != nil || len(s.parts) < 2 {
		return
	}
	b := make([]byte, 0, s.finalSize)
	for _, part := range s.parts {
		start := len(b)
		b = append(b, part.Bytes()...)
		part.sealed = b[start:len(b):len(b)]
	}
	s.joined = b
}
