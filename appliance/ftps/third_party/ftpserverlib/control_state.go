package ftpserver

// Patched for thecure: what the server knows about its control connection's
// reader, so that an upload is only finished once everything the client sent
// on the control connection before the data connection ended has been read
// and handled (an ABOR or QUIT then wins over the data EOF), and data
// connections with TLS handshake and idle deadlines.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// ErrDataConnection is mapped to the FTP 425 reply code: the data
// connection could not be used (its TLS handshake failed or timed out).
var ErrDataConnection = errors.New("cannot open the data connection (TLS handshake failed or timed out)")

var (
	errAbortedBeforeEnd = errors.New("transfer aborted by the client")
	errQuitBeforeEnd    = errors.New("client quit before the transfer was finished")
	errControlGone      = errors.New("control connection closed before the transfer was finished")
	errControlTimeout   = errors.New("control connection not read in time; transfer not finished")
)

// ctlConn is the raw control connection (beneath TLS). It counts the bytes
// the command reader consumed and whether a read is waiting for more.
type ctlConn struct {
	net.Conn
	read   atomic.Int64
	inRead atomic.Bool
}

func (c *ctlConn) Read(b []byte) (int, error) {
	c.inRead.Store(true)
	n, err := c.Conn.Read(b)
	// inRead is cleared before the count grows: whoever sees the new count
	// and then inRead set knows a later read started, after these bytes
	// were handled.
	c.inRead.Store(false)
	c.read.Add(int64(n))

	return n, err
}

// NetConn is the connection beneath.
func (c *ctlConn) NetConn() net.Conn { return c.Conn }

// awaitControl waits until the control connection has been read up to what
// the kernel had received when it was called, and every complete command in
// it handled (the reader is back waiting for bytes, or a command waits for
// this transfer to end). It reports an ABOR, a QUIT or a closed control
// connection seen meanwhile.
func (c *clientHandler) awaitControl() error {
	raw := c.ctl
	if raw == nil {
		return nil
	}

	// The target is every byte the kernel has received on the control
	// connection so far: counted from its start (TCP_INFO), it does not
	// depend on a read that may be taking bytes from the socket right now.
	count, absolute, hangup := kernelState(raw.Conn)

	target := count
	if !absolute {
		target = raw.read.Load() + count
	}
	deadline := time.Now().Add(c.handshakeTimeout() + time.Duration(c.server.settings.ConnectionTimeout)*time.Second)

	for sleep := 50 * time.Microsecond; ; sleep = min(sleep*2, 5*time.Millisecond) {
		switch {
		case c.isCommandAborted():
			return errAbortedBeforeEnd
		case c.quitting.Load():
			return errQuitBeforeEnd
		case hangup || c.ctlDone.Load():
			return errControlGone
		}

		if r := raw.read.Load(); r >= target && (raw.inRead.Load() || c.waitingTransfer.Load()) {
			if c.isCommandAborted() {
				return errAbortedBeforeEnd
			}

			if c.quitting.Load() {
				return errQuitBeforeEnd
			}

			return nil
		}

		if time.Now().After(deadline) {
			return errControlTimeout
		}

		time.Sleep(sleep)
		_, _, hangup = kernelState(raw.Conn)
	}
}

func (c *clientHandler) handshakeTimeout() time.Duration {
	if t := c.server.settings.TLSHandshakeTimeout; t > 0 {
		return t
	}

	return time.Duration(c.server.settings.ConnectionTimeout) * time.Second
}

// guardDataConn gives a data connection's TLS handshake (done on its first
// use, once the 150 reply let the client start it) the handshake timeout
// and every later read and write the idle timeout, so that a data
// connection that sends nothing cannot hold its session.
func (c *clientHandler) guardDataConn(conn net.Conn) (net.Conn, error) {
	idle := time.Duration(c.server.settings.IdleTimeout) * time.Second
	if idle <= 0 {
		idle = time.Duration(c.server.settings.ConnectionTimeout) * time.Second
	}

	tc, _ := conn.(*tls.Conn)

	return &idleConn{Conn: conn, idle: idle, tls: tc, handshake: c.handshakeTimeout()}, nil
}

// idleConn gives each read and write its own deadline, after a TLS
// handshake with its own.
type idleConn struct {
	net.Conn
	idle      time.Duration
	tls       *tls.Conn
	handshake time.Duration
	done      bool
}

func (c *idleConn) ready() error {
	if c.tls != nil && !c.done {
		ctx, cancel := context.WithTimeout(context.Background(), c.handshake)
		err := c.tls.HandshakeContext(ctx)

		cancel()

		if err != nil {
			return fmt.Errorf("%w: %w", ErrDataConnection, err)
		}
	}

	c.done = true

	return c.Conn.SetDeadline(time.Now().Add(c.idle)) //nolint:wrapcheck
}

func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.ready(); err != nil {
		return 0, err
	}

	return c.Conn.Read(b) //nolint:wrapcheck
}

func (c *idleConn) Write(b []byte) (int, error) {
	if err := c.ready(); err != nil {
		return 0, err
	}

	return c.Conn.Write(b) //nolint:wrapcheck
}
