package config

import (
	"fmt"
	"time"
)

// Every number of the configuration has a documented maximum (in
// config.toml.example, next to the key): a value above it is refused by
// check-config and run alike, so a typo such as player_queue = 1000000000
// cannot take the memory of the box. The minimums are checked next to each
// section's other rules; the maximums of the keys of earlier releases are
// here, in one place. A new key calls atMost from its own section's check.

// Maximums of the keys checked in maxima; config.toml.example states each
// one next to its key, and bounds_test.go tries each one and one above it.
const (
	maxShutdownTimeout = Duration(10 * time.Minute) // TimeoutStopSec of the unit must exceed it

	maxSessionTTL = Duration(30 * 24 * time.Hour)
	maxBanAfter   = 100                             // failed logins before a ban (web and FTP)
	maxBanWindow  = Duration(24 * time.Hour)        // window the failures are counted in
	maxBanTime    = Duration(30 * 24 * time.Hour)   // length of a ban
	maxFTPClients = 10000                           // FTPS connections (two sockets each with a transfer)
	maxFTPPerIP   = 1000                            // FTPS connections from one address
	maxFTPIdle    = Duration(2 * time.Hour)         // idle control connection
	maxUserQuota  = ByteSize(1 << 50)               // 1024TiB
	maxRTMPConns  = 10000                           // RTMP connections (LimitNOFILE is 65536)
	maxPlayers    = 10000                           // RTMP players of one stream
	maxQueue      = 8192                            // media messages waiting for one player (~2 min of 30 fps video + audio)
	maxHandshake  = Duration(time.Minute)           // RTMP handshake + connect
	maxRTMPRead   = Duration(10 * time.Minute)      // silent publisher
	maxRTMPWrite  = Duration(time.Minute)           // one message to a player
	maxRelays     = 64                              // [[rtmp.push]] targets, [[rtmp.pull]] streams
	maxSegment    = Duration(30 * time.Second)      // live HLS segment
	maxPart       = Duration(5 * time.Second)       // LL-HLS part
	maxSegments   = 60                              // live HLS window, in segments
	maxWindow     = Duration(5 * time.Minute)       // live HLS window, in time (held in memory)
	maxHLSWait    = Duration(time.Minute)           // blocking playlist request
	maxRescan     = Duration(24 * time.Hour)        // transcode.rescan
	maxRungs      = 8                               // transcode.renditions
	maxRateLimit  = 600                             // bot updates per user per minute
	maxLogKeep    = Duration(3650 * 24 * time.Hour) // bot.log_retention: ten years
	maxAlertEvery = Duration(7 * 24 * time.Hour)    // bot.alert_interval
	maxKeep       = 1000                            // backup.retention.keep_*
	maxSchedule   = 30 * 24 * time.Hour             // backup.schedule interval
	// maxTelegramID: Telegram says user and chat ids have at most 52
	// significant bits.
	maxTelegramID = 1<<52 - 1
)

// number is what atMost compares.
type number interface {
	~int | ~int64
}

// atMost records a problem at key when n is above max.
func atMost[T number](v *validator, key string, n, max T) {
	if n > max {
		v.fail(key, "%s is above the maximum %s", show(n), show(max))
	}
}

// show writes a number as it is written in the file: durations and sizes
// quoted ("10m", "50GiB"), plain numbers bare.
func show(n any) string {
	if s, ok := n.(fmt.Stringer); ok {
		return fmt.Sprintf("%q", s.String())
	}
	return fmt.Sprint(n)
}

// maxima checks the maximum of every number of the keys of earlier releases.
func (v *validator) maxima(c *Config) {
	atMost(v, "shutdown_timeout", c.ShutdownTimeout, maxShutdownTimeout)

	atMost(v, "http.session_ttl", c.HTTP.SessionTTL, maxSessionTTL)
	atMost(v, "http.login_ban_after", c.HTTP.LoginBanAfter, maxBanAfter)
	atMost(v, "http.login_ban_window", c.HTTP.LoginBanWindow, maxBanWindow)
	atMost(v, "http.login_ban_time", c.HTTP.LoginBanTime, maxBanTime)

	atMost(v, "ftp.max_clients", c.FTP.MaxClients, maxFTPClients)
	atMost(v, "ftp.max_per_ip", c.FTP.MaxPerIP, maxFTPPerIP)
	atMost(v, "ftp.idle_timeout", c.FTP.IdleTimeout, maxFTPIdle)
	atMost(v, "ftp.ban_after", c.FTP.BanAfter, maxBanAfter)
	atMost(v, "ftp.ban_window", c.FTP.BanWindow, maxBanWindow)
	atMost(v, "ftp.ban_time", c.FTP.BanTime, maxBanTime)
	atMost(v, "ftp.user_quota", c.FTP.UserQuota, maxUserQuota)

	atMost(v, "rtmp.max_connections", c.RTMP.MaxConnections, maxRTMPConns)
	atMost(v, "rtmp.max_players", c.RTMP.MaxPlayers, maxPlayers)
	atMost(v, "rtmp.player_queue", c.RTMP.PlayerQueue, maxQueue)
	atMost(v, "rtmp.handshake_timeout", c.RTMP.HandshakeTimeout, maxHandshake)
	atMost(v, "rtmp.read_timeout", c.RTMP.ReadTimeout, maxRTMPRead)
	atMost(v, "rtmp.write_timeout", c.RTMP.WriteTimeout, maxRTMPWrite)

	atMost(v, "hls.segment_duration", c.HLS.SegmentDuration, maxSegment)
	atMost(v, "hls.part_duration", c.HLS.PartDuration, maxPart)
	atMost(v, "hls.segment_count", c.HLS.SegmentCount, maxSegments)
	atMost(v, "hls.request_timeout", c.HLS.RequestTimeout, maxHLSWait)
	if c.HLS.SegmentCount <= maxSegments && c.HLS.SegmentDuration <= maxSegment && c.HLS.SegmentCount > 0 {
		if w := Duration(c.HLS.SegmentCount) * c.HLS.SegmentDuration; w > maxWindow {
			v.fail("hls.segment_count", "the live window of %d segments of %s is %s, above the maximum %s (it is held in memory)",
				c.HLS.SegmentCount, c.HLS.SegmentDuration, w, maxWindow)
		}
	}

	atMost(v, "transcode.rescan", c.Transcode.Rescan, maxRescan)
	if n := len(c.Transcode.Renditions); n > maxRungs {
		v.fail("transcode.renditions", "%d rungs are above the maximum %d (each one is encoded)", n, maxRungs)
	}

	atMost(v, "bot.rate_limit", c.Bot.RateLimit, maxRateLimit)
	atMost(v, "bot.log_retention", c.Bot.LogRetention, maxLogKeep)
	atMost(v, "bot.alert_interval", c.Bot.AlertInterval, maxAlertEvery)
	for i, id := range c.Bot.AllowedUsers {
		atMost(v, fmt.Sprintf("bot.allowed_users[%d]", i), id, maxTelegramID)
	}
	for i, id := range c.Bot.Admins {
		atMost(v, fmt.Sprintf("bot.admins[%d]", i), id, maxTelegramID)
	}
	if id := c.Bot.OperatorsChat; id > maxTelegramID || id < -maxTelegramID {
		v.fail("bot.operators_chat", "%d is not a Telegram chat id (at most 52 bits, either sign)", id)
	}

	atMost(v, "backup.retention.keep_last", c.Backup.Retention.KeepLast, maxKeep)
	atMost(v, "backup.retention.keep_daily", c.Backup.Retention.KeepDaily, maxKeep)
	atMost(v, "backup.retention.keep_weekly", c.Backup.Retention.KeepWeekly, maxKeep)
	if s := c.Backup.Schedule; s.Every < 0 || s.Minute < 0 || s.Minute >= 24*60 {
		v.fail("backup.schedule", "%q is not a schedule", s)
	} else {
		atMost(v, "backup.schedule", Duration(s.Every), Duration(maxSchedule))
	}
}
