package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The [ftp] keys beyond listen, passive_ports and folders (fields of FTP in
// config.go):
//
//   - implicit_listen: optional implicit FTPS (TLS from the first byte), e.g. ":990".
//   - require_tls: refuse login and data connections without TLS.
//   - tls_cert, tls_key: PEM files (relative to data_dir); empty: the
//     self-signed certificate kept in data_dir/tls/.
//   - active_mode: allow PORT/EPRT data connections (off: passive only).
//   - max_clients: logged-in sessions; max_per_ip: connections per address (0: no limit).
//   - idle_timeout: a control connection with no command for this long is closed.
//   - ban_after, ban_window, ban_time: ban_after failed logins from one
//     address within ban_window refuse that address for ban_time (ban_after 0: off).
//   - user_quota: storage each user's uploads may take ("50GiB"; "0":
//     unlimited), hidden parts of interrupted uploads included; a user's own
//     quota (thecure user quota) overrides it.
//   - login_timeout: a connection must log in within this (TLS handshake
//     included); at most 2m.
//   - max_startups: connections not logged in yet, all addresses together
//     (1..10000). When full, a new connection evicts the oldest one of the
//     address holding the most, so silent clients never lock out a user.
//   - tls_handshake_timeout: TLS handshakes of data connections; at most 1m.
//   - max_parts_per_user: hidden parts of interrupted uploads one user may
//     keep for a resume (1..10000).
//   - min_free_space: uploads stop (452) before the media file system has
//     less than this free; at most 1TiB.

// ftp checks the [ftp] keys added in this file.
func (v *validator) ftp(c *FTP) {
	v.listen(c.ImplicitListen, "ftp.implicit_listen", false)
	v.check(c.MaxClients >= 0, "ftp.max_clients", "must not be negative (0: no limit)")
	v.check(c.MaxPerIP >= 0, "ftp.max_per_ip", "must not be negative (0: no limit)")
	v.check(c.IdleTimeout >= Duration(1e9), "ftp.idle_timeout", "must be at least 1s")
	v.check(c.BanAfter >= 0, "ftp.ban_after", "must not be negative (0: no bans)")
	if c.BanAfter > 0 {
		v.check(c.BanWindow > 0, "ftp.ban_window", "must be positive")
		v.check(c.BanTime > 0, "ftp.ban_time", "must be positive")
	}
	v.check(c.UserQuota >= 0, "ftp.user_quota", "must not be negative")
	v.check(c.LoginTimeout >= Duration(time.Second) && c.LoginTimeout <= Duration(2*time.Minute), "ftp.login_timeout", "must be between 1s and 2m")
	v.check(c.MaxStartups >= 1 && c.MaxStartups <= 10000, "ftp.max_startups", "must be between 1 and 10000")
	v.check(c.TLSHandshakeTimeout >= Duration(time.Second) && c.TLSHandshakeTimeout <= Duration(time.Minute), "ftp.tls_handshake_timeout", "must be between 1s and 1m")
	v.check(c.MaxPartsPerUser >= 1 && c.MaxPartsPerUser <= 10000, "ftp.max_parts_per_user", "must be between 1 and 10000")
	v.check(c.MinFreeSpace >= 0 && c.MinFreeSpace <= ByteSize(1<<40), "ftp.min_free_space", "must be between 0 and 1TiB")
	v.check((c.TLSCert == "") == (c.TLSKey == ""), "ftp.tls_key", "tls_cert and tls_key go together: set both or neither")
}

// ByteSize is a number of bytes written as an integer or a string with a
// unit: "500MB", "50GiB", "2T" (K/M/G/T are powers of 1000, Ki/Mi/Gi/Ti of 1024).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1},
}

// ParseByteSize parses a size such as "0", "1048576", "500MB" or "50GiB".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || (n > 0 && n > (1<<62)/mult) {
		return 0, fmt.Errorf("invalid size %q (write e.g. \"0\", \"500MB\", \"50GiB\")", s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalText parses a size.
func (b *ByteSize) UnmarshalText(t []byte) error {
	v, err := ParseByteSize(string(t))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText writes the size in the largest binary unit that divides it.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
