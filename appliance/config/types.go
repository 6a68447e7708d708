package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in the TOML file as a string such as
// "10s", "1m30s", "12h", "90d" or "2w" (days and weeks are accepted on top of
// Go's units, for retention periods).
type Duration time.Duration

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration in the form UnmarshalText reads.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Duration) String() string {
	v := time.Duration(d)
	if v != 0 && v%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"
	}
	// as written in the file: "10m", "2h", "1h30m" rather than "10m0s"
	s := v.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// ParseDuration is time.ParseDuration plus whole days ("90d") and weeks ("2w").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration (write e.g. \"10s\", \"5m\", \"12h\", \"7d\")")
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseUint(n, 10, 32)
			if err != nil || v > uint64(math.MaxInt64/unit) {
				return 0, fmt.Errorf("invalid duration %q (write e.g. \"10s\", \"5m\", \"12h\", \"7d\")", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (write e.g. \"10s\", \"5m\", \"12h\", \"7d\")", s)
	}
	return v, nil
}

// PortRange is an inclusive range of TCP ports written as "50000-50100" (or a
// single port "50000").
type PortRange struct {
	First, Last int
}

// UnmarshalText parses "FIRST-LAST". The order and bounds are checked by Validate,
// so that an inverted range is reported with the rest of the problems.
func (r *PortRange) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	first, last, found := strings.Cut(s, "-")
	if !found {
		last = first
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(first))
	z, err2 := strconv.Atoi(strings.TrimSpace(last))
	if err1 != nil || err2 != nil {
		return fmt.Errorf("invalid port range %q (write e.g. \"50000-50100\")", s)
	}
	r.First, r.Last = a, z
	return nil
}

// MarshalText writes the range as "FIRST-LAST".
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Len is the number of ports in the range.
func (r PortRange) Len() int { return r.Last - r.First + 1 }

// Problem is one thing wrong with a configuration, located by file, line and key path.
type Problem struct {
	File string // the config file, or "" for built-in defaults
	Line int    // 1-based line number, 0 when unknown
	Key  string // dotted key path such as "ftp.passive_ports" or "ftp.folders[1].name"
	Msg  string
	// MissingSecret marks a secret (a token, a key) that is required but
	// not given. The service's environment may hold it where a management
	// command's does not: those commands may go on without it.
	MissingSecret bool
	// Replaceable marks a broken file thecure makes itself in data_dir
	// (the self-signed certificate): management commands go on without
	// it, `thecure restore` first, which is how it is mended.
	Replaceable bool
}

func (p Problem) String() string {
	var b strings.Builder
	file := p.File
	if file == "" {
		file = "(defaults)"
	}
	b.WriteString(file)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one configuration. It is an error.
// When every problem is a missing secret, Load and Parse return the
// configuration too, for commands that do not need the secret.
type Problems []Problem

func (ps Problems) onlyMissingSecrets() bool {
	for _, p := range ps {
		if !p.MissingSecret && !p.Replaceable {
			return false
		}
	}
	return len(ps) > 0
}

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
