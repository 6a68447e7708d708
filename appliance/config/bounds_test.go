package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// maxRows are the documented maximums: each key at its maximum loads, one
// step above it is refused at that key, and config.toml.example states the
// maximum in the comment above the key. extra is written before the key's
// table (context that keeps other checks quiet).
var maxRows = []struct {
	section, key, max, above, extra string
}{
	{"", "shutdown_timeout", `"10m"`, `"601s"`, ""},
	{"http", "session_ttl", `"30d"`, `"721h"`, ""},
	{"http", "login_ban_after", "100", "101", ""},
	{"http", "login_ban_window", `"1d"`, `"1441m"`, ""},
	{"http", "login_ban_time", `"30d"`, `"721h"`, ""},
	{"ftp", "max_clients", "10000", "10001", ""},
	{"ftp", "max_per_ip", "1000", "1001", ""},
	{"ftp", "idle_timeout", `"2h"`, `"7201s"`, ""},
	{"ftp", "ban_after", "100", "101", ""},
	{"ftp", "ban_window", `"1d"`, `"1441m"`, ""},
	{"ftp", "ban_time", `"30d"`, `"721h"`, ""},
	{"ftp", "user_quota", `"1024TiB"`, `"1125899906842625"`, ""},
	{"rtmp", "max_connections", "10000", "10001", ""},
	{"rtmp", "max_players", "10000", "10001", ""},
	{"rtmp", "player_queue", "8192", "8193", ""},
	{"rtmp", "handshake_timeout", `"1m"`, `"61s"`, ""},
	{"rtmp", "read_timeout", `"10m"`, `"601s"`, ""},
	{"rtmp", "write_timeout", `"1m"`, `"61s"`, ""},
	{"hls", "segment_duration", `"30s"`, `"30001ms"`, ""},
	{"hls", "part_duration", `"5s"`, `"5001ms"`, "segment_duration = \"10s\"\n"},
	{"hls", "segment_count", "60", "61", ""},
	{"hls", "request_timeout", `"1m"`, `"61s"`, ""},
	{"transcode", "rescan", `"1d"`, `"1441m"`, ""},
	{"bot", "rate_limit", "600", "601", ""},
	{"bot", "log_retention", `"3650d"`, `"3651d"`, ""},
	{"bot", "alert_interval", `"7d"`, `"169h"`, ""},
	{"bot", "allowed_users", "[4503599627370495]", "[4503599627370496]", ""},
	{"bot", "admins", "[4503599627370495]", "[4503599627370496]", ""},
	{"bot", "operators_chat", "-4503599627370495", "-4503599627370496", ""},
	{"backup", "schedule", `"30d"`, `"721h"`, ""},
	{"backup.retention", "keep_last", "1000", "1001", ""},
	{"backup.retention", "keep_daily", "1000", "1001", ""},
	{"backup.retention", "keep_weekly", "1000", "1001", ""},
	{"publish.s3", "concurrency", "64", "65", ""},
	{"dns.rrl", "responses_per_second", "100000", "100001", ""},
	{"dns.rrl", "slip", "10", "11", ""},
	{"dns.rrl", "ipv4_prefix", "32", "33", ""},
	{"dns.rrl", "ipv6_prefix", "128", "129", ""},
	{"dns", "max_ttl", `"24855d"`, `"24856d"`, ""},
}

func TestMaxima(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "config.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range maxRows {
		key := join(r.section, r.key)
		t.Run(key, func(t *testing.T) {
			doc := func(v string) []byte {
				if r.section == "" {
					return []byte(r.key + " = " + v + "\n")
				}
				return []byte("[" + r.section + "]\n" + r.extra + r.key + " = " + v + "\n")
			}
			if _, _, err := Parse("max.toml", doc(r.max)); err != nil {
				t.Errorf("%s = %s (the maximum) refused: %v", key, r.max, err)
			}
			_, _, err := Parse("above.toml", doc(r.above))
			if err == nil || !strings.Contains(err.Error(), " "+key) {
				t.Errorf("%s = %s (above the maximum) gave %v, want a problem at %s", key, r.above, err, key)
			}
			// The example says the maximum in the comment block above the key.
			if c := commentAbove(string(example), r.section, r.key); !strings.Contains(strings.ToLower(c), strings.ToLower("at most "+strings.Trim(r.max, `"[]-`))) {
				t.Errorf("config.toml.example does not say \"at most %s\" above %s; its comment:\n%s", strings.Trim(r.max, `"[]-`), key, c)
			}
		})
	}
}

// commentAbove returns the comment lines right above key in its section of
// the example (or the ones above the previous keys of the same block).
func commentAbove(src, section, key string) string {
	lines := strings.Split(src, "\n")
	in := section == ""
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "[[") {
			in = t == "["+section+"]"
			continue
		}
		if !in || !strings.HasPrefix(t, key+" =") {
			continue
		}
		// walk up past the keys that share the comment, then through it
		var c []string
		for j := i - 1; j >= 0; j-- {
			u := strings.TrimSpace(lines[j])
			if u == "" || strings.HasPrefix(u, "[") || (!strings.HasPrefix(u, "#") && len(c) > 0) {
				break
			}
			if strings.HasPrefix(u, "#") {
				c = append([]string{strings.TrimSpace(strings.TrimPrefix(u, "#"))}, c...)
			}
		}
		return strings.Join(c, " ")
	}
	return ""
}

func TestWindowBound(t *testing.T) {
	ok := "[hls]\nvariant = \"mpegts\"\nsegment_duration = \"30s\"\nsegment_count = 10\n"
	if _, _, err := Parse("w.toml", []byte(ok)); err != nil {
		t.Errorf("a 5m window refused: %v", err)
	}
	_, _, err := Parse("w.toml", []byte("[hls]\nvariant = \"mpegts\"\nsegment_duration = \"30s\"\nsegment_count = 11\n"))
	if err == nil || !strings.Contains(err.Error(), "hls.segment_count: the live window") {
		t.Errorf("a 5m30s window: %v", err)
	}
}

func TestRenditionsBound(t *testing.T) {
	var b strings.Builder
	for i, h := range []int{144, 240, 360, 480, 576, 720, 1080, 1440, 2160} {
		fmt.Fprintf(&b, "[[transcode.renditions]]\nheight = %d\nvideo_kbps = 1000\n", h)
		_, _, err := Parse("r.toml", []byte(b.String()))
		if i < maxRungs && err != nil {
			t.Errorf("%d rungs refused: %v", i+1, err)
		}
		if i >= maxRungs && (err == nil || !strings.Contains(err.Error(), "transcode.renditions: 9 rungs")) {
			t.Errorf("%d rungs: %v", i+1, err)
		}
	}
}

// TestEveryNumberIsBounded sets every number of the struct tree (found by
// reflection, so a key added later is covered too) to the largest and the
// smallest int64, and wants a problem at that key each time: no number is
// left without a maximum and a minimum.
func TestEveryNumberIsBounded(t *testing.T) {
	paths := numberPaths(reflect.TypeFor[Config](), "")
	if len(paths) < 40 {
		t.Fatalf("only %d numbers found: %v", len(paths), paths)
	}
	for _, path := range paths {
		for _, extreme := range []int64{math.MaxInt64, math.MinInt64} {
			cfg := Default()
			setNumber(reflect.ValueOf(cfg).Elem(), path, extreme)
			key := strings.ReplaceAll(path, "[]", "[0]")
			if i := strings.LastIndexByte(key, '.'); i >= 0 && key[i+1] >= 'A' && key[i+1] <= 'Z' {
				key = key[:i] // a number inside one value (PortRange, Schedule)
			}
			found := false
			for _, p := range cfg.Validate() {
				found = found || p.Key == key
			}
			if !found {
				t.Errorf("%s = %d is not refused", key, extreme)
			}
		}
	}
}

// numberPaths lists the key paths of every integer-like leaf ("[]" marks
// the first element of a list).
func numberPaths(t reflect.Type, path string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := join(path, name)
		ft := f.Type
		switch {
		case isInt(ft.Kind()):
			out = append(out, p)
		case ft.Kind() == reflect.Struct && reflect.PointerTo(ft).Implements(textUnmarshaler):
			// PortRange, Schedule: numbers inside one value
			for j := range ft.NumField() {
				if isInt(ft.Field(j).Type.Kind()) {
					out = append(out, p+"."+ft.Field(j).Name)
				}
			}
		case ft.Kind() == reflect.Struct:
			out = append(out, numberPaths(ft, p)...)
		case ft.Kind() == reflect.Slice && isInt(ft.Elem().Kind()):
			out = append(out, p+"[]")
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, numberPaths(ft.Elem(), p+"[]")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct && len(numberPaths(ft.Elem(), "")) > 0:
			panic("numbers inside a map of tables: extend numberPaths for " + p)
		}
	}
	return out
}

func isInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Int64
}

// setNumber sets the leaf at path (as numberPaths writes it) to n, making a
// one-element list where the path goes through an empty list.
func setNumber(rv reflect.Value, path string, n int64) {
	for _, part := range strings.Split(path, ".") {
		name, list := strings.CutSuffix(part, "[]")
		var fv reflect.Value
		if i, ok := tomlFields(rv.Type())[name]; ok {
			fv = rv.Field(i)
		} else {
			fv = rv.FieldByName(name) // inside PortRange, Schedule
		}
		if list {
			if fv.Len() == 0 {
				fv.Set(reflect.MakeSlice(fv.Type(), 1, 1))
				if fv.Type().Elem() == reflect.TypeFor[Rendition]() {
					// keep the other fields of a new element valid
					fv.Index(0).Set(reflect.ValueOf(Default().Transcode.Renditions[0]))
				}
			}
			fv = fv.Index(0)
		}
		rv = fv
	}
	rv.SetInt(n)
}

func TestDurationOverflow(t *testing.T) {
	for _, s := range []string{"4294967295d", "106752d", "15251w"} {
		if d, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error (overflow)", s, d)
		}
	}
	if d, err := ParseDuration("106751d"); err != nil || d != 106751*24*time.Hour {
		t.Errorf("ParseDuration(106751d) = %v, %v", d, err)
	}
}
