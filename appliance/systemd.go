package appliance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"thecure/appliance/health"
	"thecure/appliance/transcode"
)

// statusInterval is how often the STATUS= line systemd shows is refreshed.
const statusInterval = 5 * time.Second

// notify tells systemd (Type=notify, NOTIFY_SOCKET) one state line:
// READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1, STATUS=... Without systemd
// (no NOTIFY_SOCKET) it does nothing.
func (a *app) notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		a.log.Warn("cannot notify systemd", "state", strings.SplitN(state, "\n", 2)[0], "err", err)
	}
}

// superviseSystemd runs until ctx ends: it refreshes the STATUS= line and,
// when the unit has WatchdogSec (WATCHDOG_USEC for this process), sends
// WATCHDOG=1 every half interval while the appliance is alive (alive). A
// service down for a cause outside the process (a full disk, ffmpeg missing,
// the Bot API unreachable) does not stop the pings: a restart would not mend
// it. A hung HTTP server or a stuck registry does: systemd then kills and
// restarts the process.
func (a *app) superviseSystemd(ctx context.Context) {
	wd, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		a.log.Warn("systemd watchdog settings", "err", err)
	}
	every := statusInterval
	if wd > 0 {
		every = min(every, wd/2)
		a.log.Info("systemd watchdog on", "interval", wd, "ping_every", every)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last string
	for {
		if wd > 0 {
			if err := a.alive(ctx, wd/2); err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Error("not alive; no watchdog ping (systemd restarts thecure when this lasts)", "err", err)
			} else {
				a.notify(daemon.SdNotifyWatchdog)
			}
		}
		if s := a.statusLine(); s != last {
			a.notify("STATUS=" + s)
			last = s
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// alive checks what the watchdog vouches for: no service has stopped, and the
// HTTP server answers its own /healthz within timeout.
func (a *app) alive(ctx context.Context, timeout time.Duration) error {
	for _, s := range a.health.Snapshot() {
		if s.State == health.Failed || s.State == health.Stopped {
			return fmt.Errorf("service %s is %s", s.Name, s.State)
		}
	}
	lns := a.bound["http"]
	if len(lns) == 0 || lns[0] == nil {
		return nil
	}
	url := "http://" + loopbackAddr(lns[0].Addr()) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := a.probe.Do(req)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http: /healthz answered %s", resp.Status)
	}
	return nil
}

// loopbackAddr is how this process reaches a listener of its own: a wildcard
// address becomes loopback.
func loopbackAddr(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := ta.IP
	switch {
	case ip == nil || ip.Equal(net.IPv4zero):
		ip = net.IPv4(127, 0, 0, 1)
	case ip.Equal(net.IPv6unspecified):
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(ta.Port))
}

// statusLine is what `systemctl status thecure` shows: the box's health,
// live streams and their viewers, uploads in progress and the transcode queue.
func (a *app) statusLine() string {
	var b strings.Builder
	b.WriteString(string(a.health.Status()))
	if a.live != nil {
		players, viewers := 0, 0
		ss := a.live.Streams()
		for _, s := range ss {
			players += s.Players
			viewers += s.HLSViewers
		}
		fmt.Fprintf(&b, "; streams %d (RTMP players %d, HLS viewers %d)", len(ss), players, viewers)
	}
	if a.ftps != nil {
		fmt.Fprintf(&b, "; uploads %d", len(a.ftps.Uploads()))
	}
	if a.queue != nil {
		if jobs, err := a.queue.Jobs(); err == nil {
			pending, running := 0, 0
			for _, j := range jobs {
				switch j.State {
				case transcode.Pending:
					pending++
				case transcode.Running:
					running++
				}
			}
			fmt.Fprintf(&b, "; queue %d waiting, %d encoding", pending, running)
		}
	}
	var notUp []string
	for _, s := range a.health.Snapshot() {
		if s.State != health.Up {
			notUp = append(notUp, s.Name+" "+string(s.State))
		}
	}
	if len(notUp) > 0 {
		b.WriteString("; " + strings.Join(notUp, ", "))
	}
	return b.String()
}
