//go:build linux

package ftpserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// kernelState reports how many bytes the kernel has received on conn since
// it was opened (TCP_INFO tcpi_bytes_received) or, when that is not
// available, how many wait unread (SIOCINQ, with absolute false); and
// whether the peer has shut its side down (patched for thecure).
func kernelState(conn net.Conn) (count int64, absolute, hangup bool) {
	for {
		sc, ok := conn.(syscall.Conn)
		if ok {
			return fdState(sc)
		}

		inner, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return 0, false, false
		}

		conn = inner.NetConn()
	}
}

func fdState(sc syscall.Conn) (int64, bool, bool) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, true
	}

	var (
		count    int64
		absolute bool
		hangup   bool
	)

	errCtl := rc.Control(func(fd uintptr) {
		if info, errInfo := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); errInfo == nil {
			count, absolute = int64(info.Bytes_received), true //nolint:gosec // a byte count
		} else if n, errIoctl := unix.IoctlGetInt(int(fd), unix.SIOCINQ); errIoctl == nil {
			count = int64(n)
		}

		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}} //nolint:gosec
		if n, errPoll := unix.Poll(fds, 0); errPoll == nil && n > 0 {
			hangup = fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
		}
	})
	if errCtl != nil {
		return 0, false, true
	}

	return count, absolute, hangup
}
