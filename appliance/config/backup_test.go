package config

import (
	"strings"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	loc := time.FixedZone("box", 3600)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, loc)
	for _, c := range []struct {
		in   string
		last time.Time
		next time.Time // zero: never
	}{
		{"", time.Time{}, time.Time{}},
		{"daily 03:30", time.Time{}, time.Date(2026, 11, 29, 3, 30, 0, 0, loc)},
		{"daily 23:05", time.Time{}, time.Date(2026, 11, 28, 23, 5, 0, 0, loc)},
		{"6h", time.Time{}, now.Add(6 * time.Hour)},
		{"6h", now.Add(-time.Hour), now.Add(5 * time.Hour)},
		{"6h", now.Add(-7 * time.Hour), now}, // overdue: at once
		{"1d", now.Add(-time.Hour), now.Add(23 * time.Hour)},
	} {
		s, err := ParseSchedule(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := s.Next(now, c.last); !got.Equal(c.next) {
			t.Errorf("%q after %v: next %v, want %v", c.in, c.last, got, c.next)
		}
		if back, err := ParseSchedule(s.String()); err != nil || back != s {
			t.Errorf("%q prints as %q, which reads back as %+v, %v", c.in, s.String(), back, err)
		}
	}
	for _, bad := range []string{"daily", "daily 24:00", "daily 3:5", "weekly", "10s", "-1h"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBackupValidation(t *testing.T) {
	_, _, err := Parse("t.toml", []byte("[backup]\ndir = \"\"\nschedule = \"hourly\"\n[backup.retention]\nkeep_last = -1\n[backup.s3]\nenabled = true\nendpoint = \"https://s3.example.com\"\n"))
	if err == nil {
		t.Fatal("bad [backup] accepted")
	}
	for _, want := range []string{"backup.schedule", "backup.retention.keep_last", "backup.s3.endpoint", "backup.s3.bucket", "backup.s3.secret_key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem for %s in:\n%v", want, err)
		}
	}
	t.Setenv("THECURE_BACKUP_S3_SECRET_KEY", "from-env")
	cfg, _, err := Parse("t.toml", []byte("[backup.s3]\nenabled = true\nendpoint = \"s3.example.com\"\nbucket = \"b\"\naccess_key = \"a\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Backup.S3.SecretKey != "from-env" {
		t.Errorf("secret_key = %q", cfg.Backup.S3.SecretKey)
	}
}
