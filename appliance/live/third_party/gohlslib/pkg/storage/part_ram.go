package storage

import (
	"bytes"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

type partRAM struct {
	buffer seekablebuffer.Buffer
	sealed []byte // thecure: the bytes, exactly sized, once written
}

func newPartRAM() *partRAM {
	return &partRAM{}
}

// Writer implements Part.
func (p *partRAM) Writer() io.WriteSeeker {
	return &p.buffer
}

// Reader implements Part.
func (p *partRAM) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(p.Bytes())), nil
}

// Seal ends writing (thecure): the bytes are copied once into a slice of
// their exact size and the growable buffer (up to twice as large) is freed.
func (p *partRAM) Seal() {
	if p.sealed != nil {
		return
	}
	p.sealed = bytes.Clone(p.buffer.Bytes())
	if p.sealed == nil {
		p.sealed = []byte{}
	}
	p.buffer = seekablebuffer.Buffer{}
}

// Bytes returns the part's bytes (thecure). They must not be modified.
func (p *partRAM) Bytes() []byte {
	if p.sealed != nil {
		return p.sealed
	}
	return p.buffer.Bytes()
}
