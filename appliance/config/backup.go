package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Backup configures thecure's self-backups: what, where and when.
type Backup struct {
	// Dir is the local backup repository (relative to data_dir). Empty: no
	// local copy (then [backup.s3] must be enabled).
	Dir string `toml:"dir"`
	// Schedule is "daily HH:MM" (local time) or an interval such as "6h";
	// empty: backups run only with `thecure backup run`.
	Schedule Schedule `toml:"schedule"`
	// IncludeMedia adds the library sources and the HLS output, copied
	// incrementally by content hash.
	IncludeMedia bool `toml:"include_media"`
	// VerifyEvery is how often the appliance re-reads the latest backup of
	// each repository and checks every checksum (alerting on damage); 0: never.
	VerifyEvery Duration `toml:"verify_every"`
	// Retention is how many backups pruning keeps.
	Retention Retention `toml:"retention"`
	// S3 is an optional S3-compatible repository, written next to Dir.
	S3 BackupS3 `toml:"s3"`
}

// Retention is a restic-like keep policy. A backup kept by any rule stays.
// All zero keeps every backup.
type Retention struct {
	KeepLast   int `toml:"keep_last"`   // the newest N backups
	KeepDaily  int `toml:"keep_daily"`  // the newest backup of each of the last N days that have one
	KeepWeekly int `toml:"keep_weekly"` // the newest backup of each of the last N ISO weeks that have one
}

// BackupS3 is an S3-compatible backup repository.
type BackupS3 struct {
	Enabled       bool   `toml:"enabled"`
	Endpoint      string `toml:"endpoint"` // host[:port], no scheme
	Bucket        string `toml:"bucket"`
	Prefix        string `toml:"prefix"` // key prefix inside the bucket
	Region        string `toml:"region"`
	AccessKey     string `toml:"access_key"`
	SecretKey     string `toml:"secret_key" secret:"THECURE_BACKUP_S3_SECRET_KEY"`
	SecretKeyFile string `toml:"secret_key_file"`
	PathStyle     bool   `toml:"path_style"` // bucket in the path, not the host name (MinIO, Garage)
	UseTLS        bool   `toml:"use_tls"`
}

func defaultBackup() Backup {
	return Backup{
		Dir:         "backups",
		VerifyEvery: Duration(7 * 24 * time.Hour),
		Retention:   Retention{KeepLast: 3, KeepDaily: 7, KeepWeekly: 4},
		S3:          BackupS3{Prefix: "thecure/", Region: "us-east-1", UseTLS: true},
	}
}

func (v *validator) backup(c *Backup) {
	v.check(c.Dir != "" || c.S3.Enabled, "backup.dir", "must not be empty unless [backup.s3] is enabled")
	v.check(c.VerifyEvery >= 0, "backup.verify_every", "must not be negative")
	v.check(c.Retention.KeepLast >= 0, "backup.retention.keep_last", "must not be negative")
	v.check(c.Retention.KeepDaily >= 0, "backup.retention.keep_daily", "must not be negative")
	v.check(c.Retention.KeepWeekly >= 0, "backup.retention.keep_weekly", "must not be negative")
	if s := c.S3; s.Enabled {
		v.check(s.Endpoint != "" && !strings.Contains(s.Endpoint, "://"), "backup.s3.endpoint", "must be host[:port] without a scheme (use_tls picks https)")
		v.check(s.Bucket != "", "backup.s3.bucket", "must not be empty")
		v.check(s.AccessKey != "", "backup.s3.access_key", "must not be empty")
		v.secret(s.SecretKey != "", "backup.s3.secret_key", "must be set (secret_key_file or THECURE_BACKUP_S3_SECRET_KEY)")
	}
}

// Schedule is when scheduled backups run: "daily HH:MM" in local time, or an
// interval such as "6h" or "1d". The zero value means no schedule.
type Schedule struct {
	Every  time.Duration // interval; 0 for a daily schedule
	Daily  bool
	Minute int // minutes after local midnight for Daily
}

// UnmarshalText parses "", "daily HH:MM" or a duration.
func (s *Schedule) UnmarshalText(b []byte) error {
	v, err := ParseSchedule(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText writes the schedule in the form UnmarshalText reads.
func (s Schedule) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Schedule) String() string {
	switch {
	case s.Daily:
		return fmt.Sprintf("daily %02d:%02d", s.Minute/60, s.Minute%60)
	case s.Every > 0:
		return Duration(s.Every).String()
	}
	return ""
}

// IsZero reports no schedule.
func (s Schedule) IsZero() bool { return !s.Daily && s.Every == 0 }

// ParseSchedule parses "", "daily HH:MM" or an interval of at least a minute.
func ParseSchedule(text string) (Schedule, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return Schedule{}, nil
	}
	if hm, ok := strings.CutPrefix(t, "daily"); ok {
		hs, ms, found := strings.Cut(strings.TrimSpace(hm), ":")
		h, err1 := strconv.Atoi(hs)
		m, err2 := strconv.Atoi(ms)
		if !found || err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(ms) != 2 {
			return Schedule{}, fmt.Errorf("invalid schedule %q (write \"daily HH:MM\" or an interval such as \"6h\")", text)
		}
		return Schedule{Daily: true, Minute: h*60 + m}, nil
	}
	d, err := ParseDuration(t)
	if err != nil || d < time.Minute {
		return Schedule{}, fmt.Errorf("invalid schedule %q (write \"daily HH:MM\" or an interval of at least \"1m\" such as \"6h\")", text)
	}
	return Schedule{Every: d}, nil
}

// Next is the first time the schedule fires strictly after last (for an
// interval) or after now (for a daily time). last is the previous run, zero
// when there was none. The zero time means never.
func (s Schedule) Next(now, last time.Time) time.Time {
	switch {
	case s.Daily:
		y, mo, d := now.Date()
		t := time.Date(y, mo, d, s.Minute/60, s.Minute%60, 0, 0, now.Location())
		if !t.After(now) {
			t = time.Date(y, mo, d+1, s.Minute/60, s.Minute%60, 0, 0, now.Location())
		}
		return t
	case s.Every > 0:
		if last.IsZero() {
			return now.Add(s.Every)
		}
		t := last.Add(s.Every)
		if t.Before(now) {
			return now
		}
		return t
	}
	return time.Time{}
}
