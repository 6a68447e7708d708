//go:build linux

package ftpserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// kernelState reports the bytes received on conn that nobody has read yet,
// and whether the peer has shut its side down (patched for thecure).
func kernelState(conn net.Conn) (int, bool) {
	for {
		sc, ok := conn.(syscall.Conn)
		if ok {
			return fdState(sc)
		}

		inner, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return 0, false
		}

		conn = inner.NetConn()
	}
}

func fdState(sc syscall.Conn) (int, bool) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, true
	}

	var (
		pending int
		hangup  bool
	)

	errCtl := rc.Control(func(fd uintptr) {
		if n, errIoctl := unix.IoctlGetInt(int(fd), unix.SIOCINQ); errIoctl == nil {
			pending = n
		}

		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}} //nolint:gosec
		if n, errPoll := unix.Poll(fds, 0); errPoll == nil && n > 0 {
			hangup = fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
		}
	})
	if errCtl != nil {
		return 0, true
	}

	return pending, hangup
}
