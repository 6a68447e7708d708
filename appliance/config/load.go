package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path, decodes it onto Default() and validates the
// result. The error, when not nil, is Problems (every problem found) or an I/O
// error. Warnings are things worth logging that do not stop the appliance.
func Load(path string) (cfg *Config, warnings []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data, st.Mode().Perm()&0o004 != 0)
}

// Parse is Load on bytes already read; file names the source in problems.
func Parse(file string, data []byte) (*Config, []string, error) {
	return parse(file, data, false)
}

// parse is Parse; worldReadable says that every user may read the file, so
// that a secret written in it is worth a warning.
func parse(file string, data []byte, worldReadable bool) (*Config, []string, error) {
	src := string(data)
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := pe.Position.Line
			if pe.Position.Start > 0 && pe.Position.Start <= len(src) {
				// The parser counts an offending newline on the next line.
				line = 1 + strings.Count(src[:pe.Position.Start], "\n")
			}
			return nil, nil, Problems{{File: file, Line: line, Key: pe.LastKey, Msg: "syntax error: " + pe.Message}}
		}
		return nil, nil, Problems{{File: file, Msg: "syntax error: " + err.Error()}}
	}
	d := &decoder{}
	cfg := Default()
	d.structure("", raw, reflect.ValueOf(cfg).Elem())
	var warnings []string
	if worldReadable {
		for _, s := range inlineSecrets(reflect.ValueOf(cfg).Elem(), "") {
			warnings = append(warnings, fmt.Sprintf("%s: written in %s, which every user can read: chmod o-r it, or move the secret to %s_file or %s",
				s[0], file, s[0], s[1]))
		}
	}
	warnings = append(warnings, d.secrets(cfg, reflect.ValueOf(cfg).Elem(), "")...)
	probs := d.probs
	vprobs := cfg.Validate()
	for _, p := range vprobs {
		if !d.failed(p.Key) {
			probs = append(probs, p)
		}
	}
	// the files named by keys that decoded and validated (a wrong data_dir
	// or certificate key is reported once, as itself)
	if cfg.DataDir != "" && !d.failed("data_dir") && !d.failed("ftp.tls_cert") && !d.failed("ftp.tls_key") &&
		!vprobs.has("ftp.tls_key") && !vprobs.has("ftp.tls_cert") {
		fprobs, fwarn := cfg.files(time.Now())
		probs = append(probs, fprobs...)
		warnings = append(warnings, fwarn...)
	}
	if len(probs) == 0 {
		return cfg, warnings, nil
	}
	ix := buildIndex(src)
	for i := range probs {
		probs[i].File = file
		probs[i].Line = ix.lookup(probs[i].Key)
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	if probs.onlyMissingSecrets() {
		return cfg, warnings, probs // see Problems.OnlyMissingSecrets
	}
	return nil, nil, probs
}

// has reports a problem at key.
func (ps Problems) has(key string) bool {
	for _, p := range ps {
		if p.Key == key {
			return true
		}
	}
	return false
}

// Checked returns the built-in defaults after the same environment and
// validation steps a file gets.
func Checked() (*Config, []string, error) {
	d := &decoder{}
	cfg := Default()
	warnings := d.secrets(cfg, reflect.ValueOf(cfg).Elem(), "")
	if probs := append(d.probs, cfg.Validate()...); len(probs) > 0 {
		return nil, nil, probs
	}
	probs, fwarn := cfg.files(time.Now())
	if len(probs) > 0 {
		return nil, nil, probs
	}
	return cfg, append(warnings, fwarn...), nil
}

// Path resolves p against the data directory unless it is absolute or empty.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.DataDir, p)
}

// decoder copies a generic TOML tree onto a struct, recording a problem for
// every unknown key and every value of the wrong type, and going on.
type decoder struct {
	probs Problems
}

func (d *decoder) fail(path, format string, args ...any) {
	d.probs = append(d.probs, Problem{Key: path, Msg: fmt.Sprintf(format, args...)})
}

// failed reports whether decoding already found a problem at key or below or
// above it: validation problems there would only repeat it.
func (d *decoder) failed(key string) bool {
	for _, p := range d.probs {
		if p.Key == key || strings.HasPrefix(key, p.Key+".") || strings.HasPrefix(key, p.Key+"[") ||
			strings.HasPrefix(p.Key, key+".") || strings.HasPrefix(p.Key, key+"[") {
			return true
		}
	}
	return false
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// tomlFields maps the toml names of a struct type to field indexes.
func tomlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

func (d *decoder) structure(path string, m map[string]any, rv reflect.Value) {
	fields := tomlFields(rv.Type())
	for _, k := range sortedKeys(m) {
		p := join(path, k)
		i, ok := fields[k]
		if !ok {
			if s := closest(k, fields); s != "" {
				d.fail(p, "unknown key (did you mean %q?)", s)
			} else {
				d.fail(p, "unknown key")
			}
			continue
		}
		d.value(p, m[k], rv.Field(i))
	}
}

func (d *decoder) value(path string, v any, fv reflect.Value) {
	if fv.CanAddr() && fv.Addr().Type().Implements(textUnmarshaler) {
		s, ok := v.(string)
		if !ok {
			d.fail(path, "expected a string, got %s", describe(v))
			return
		}
		tmp := reflect.New(fv.Type())
		if err := tmp.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(path, "%v", err)
			return
		}
		fv.Set(tmp.Elem())
		return
	}
	switch fv.Kind() {
	case reflect.String:
		if s, ok := v.(string); ok {
			fv.SetString(s)
			return
		}
		d.fail(path, "expected a string, got %s", describe(v))
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			fv.SetBool(b)
			return
		}
		d.fail(path, "expected true or false, got %s", describe(v))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			d.fail(path, "expected an integer, got %s", describe(v))
			return
		}
		if fv.OverflowInt(n) {
			d.fail(path, "integer %d is out of range", n)
			return
		}
		fv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(int64)
		if !ok {
			d.fail(path, "expected an integer, got %s", describe(v))
			return
		}
		if n < 0 || fv.OverflowUint(uint64(n)) {
			d.fail(path, "integer %d is out of range", n)
			return
		}
		fv.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch n := v.(type) {
		case float64:
			fv.SetFloat(n)
		case int64:
			fv.SetFloat(float64(n))
		default:
			d.fail(path, "expected a number, got %s", describe(v))
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.fail(path, "expected a table, got %s", describe(v))
			return
		}
		d.structure(path, m, fv)
	case reflect.Slice:
		items, ok := asSlice(v)
		if !ok {
			d.fail(path, "expected an array, got %s", describe(v))
			return
		}
		out := reflect.MakeSlice(fv.Type(), len(items), len(items))
		for i, item := range items {
			if e, ok := out.Index(i).Addr().Interface().(interface{ SetDefaults() }); ok {
				e.SetDefaults() // a list element's own defaults ([[channels]])
			}
			d.value(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i))
		}
		switch {
		case len(items) == 0:
			fv.SetZero() // "[]" is the same as absent: nil, as in Default()
		default:
			fv.Set(out)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			d.fail(path, "expected a table, got %s", describe(v))
			return
		}
		if fv.IsNil() {
			fv.Set(reflect.MakeMap(fv.Type()))
		}
		for _, k := range sortedKeys(m) {
			elem := reflect.New(fv.Type().Elem()).Elem()
			d.value(join(path, k), m[k], elem)
			fv.SetMapIndex(reflect.ValueOf(k), elem)
		}
	default:
		d.fail(path, "cannot decode into %s", fv.Type())
	}
}

func asSlice(v any) ([]any, bool) {
	switch s := v.(type) {
	case []any:
		return s, true
	case []map[string]any:
		out := make([]any, len(s))
		for i := range s {
			out[i] = s[i]
		}
		return out, true
	}
	return nil, false
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("number %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("%T", v)
}

// closest returns the known key within edit distance 2 of k, if any.
func closest(k string, fields map[string]int) string {
	best, bestD := "", 3
	for f := range fields {
		if dist := editDistance(k, f); dist < bestD || (dist == bestD && f < best) {
			best, bestD = f, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// inlineSecrets lists the secrets (fields tagged `secret`) written in the
// file itself: key and environment variable.
func inlineSecrets(rv reflect.Value, path string) [][2]string {
	var keys [][2]string
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case f.Tag.Get("secret") != "" && f.Type.Kind() == reflect.String:
			if rv.Field(i).String() != "" {
				keys = append(keys, [2]string{join(path, name), f.Tag.Get("secret")})
			}
		case f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler):
			keys = append(keys, inlineSecrets(rv.Field(i), join(path, name))...)
		}
	}
	return keys
}

// maxSecretFile bounds a file a *_file key names (a token is ~50 bytes).
const maxSecretFile = 64 << 10

// secrets fills every string field tagged `secret:"ENV"` from the environment
// variable ENV when it is set, else from the file named by its sibling
// "<key>_file" when that is set. It walks nested sections.
func (d *decoder) secrets(cfg *Config, rv reflect.Value, path string) []string {
	var warnings []string
	t := rv.Type()
	fields := tomlFields(t)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("secret") == "" {
			if !f.Type.Implements(textUnmarshaler) && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
				warnings = append(warnings, d.secrets(cfg, rv.Field(i), join(path, name))...)
			}
			continue
		}
		env := f.Tag.Get("secret")
		if env == "" || f.Type.Kind() != reflect.String {
			continue
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			rv.Field(i).SetString(v)
			continue
		}
		fi, ok := fields[name+"_file"]
		if !ok || rv.Field(fi).String() == "" {
			continue
		}
		file := cfg.Path(rv.Field(fi).String())
		key := join(path, name+"_file")
		st, err := os.Stat(file)
		if err != nil {
			d.fail(key, "cannot read secret: %v", err)
			continue
		}
		if !st.Mode().IsRegular() || st.Size() > maxSecretFile {
			d.fail(key, "%s must be a regular file of at most %d bytes", file, maxSecretFile)
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			d.fail(key, "cannot read secret: %v", err)
			continue
		}
		if st.Mode().Perm()&0o004 != 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %s is readable by every user; chmod o-r it", key, file))
		}
		rv.Field(i).SetString(strings.TrimRight(string(data), "\r\n"))
	}
	return warnings
}
