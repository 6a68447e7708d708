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

// Grow makes room for n more bytes at once (thecure), when the size is
// known before writing: no doubling, no copy at Seal.
func (p *partRAM) Grow(n int) {
	if p.buffer.Cap() == 0 {
		// exactly n (Buffer.Grow rounds up, up to a page, which Seal
		// then copied away)
		p.buffer.Buffer = *bytes.NewBuffer(make([]byte, 0, n))
		return
	}
	p.buffer.Grow(n)
}

// Seal ends writing (thecure): unless the buffer has little room to spare,
// the bytes are copied once into a slice of their exact size and the
// growable buffer (up to twice as large) is freed.
func (p *partRAM) Seal() {
	if p.sealed != nil {
		return
	}
	b := p.buffer.Bytes()
	if cap(b)-len(b) <= sealSlack {
		p.sealed = b[:len(b):len(b)]
	} else {
		p.sealed = bytes.Clone(b)
	}
	if p.sealed == nil {
		p.sealed = []byte{}
	}
	p.buffer = seekablebuffer.Buffer{}
}

// sealSlack is the unused room Seal leaves in a buffer rather than copy it.
const sealSlack = 4096

// Bytes returns the part's bytes (thecure). They must not be modified.
func (p *partRAM) Bytes() []byte {
	if p.sealed != nil {
		return p.sealed
	}
	return p.buffer.Bytes()
}
