package main

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"thecure/appliance/config"
)

// override is one production value: a dotted key path and its value as
// BurntSushi/toml decodes it.
type override struct {
	key   string
	value any
}

// parseOverrides flattens a TOML document into dotted keys, sorted.
func parseOverrides(data []byte) ([]override, error) {
	var tree map[string]any
	if _, err := toml.Decode(string(data), &tree); err != nil {
		return nil, err
	}
	var ovs []override
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		for k, v := range m {
			p := join(prefix, k)
			switch v := v.(type) {
			case map[string]any:
				if err := walk(p, v); err != nil {
					return err
				}
			case []map[string]any:
				return fmt.Errorf("%s: arrays of tables cannot be overridden", p)
			default:
				ovs = append(ovs, override{p, v})
			}
		}
		return nil
	}
	if err := walk("", tree); err != nil {
		return nil, err
	}
	sort.Slice(ovs, func(i, j int) bool { return ovs[i].key < ovs[j].key })
	return ovs, nil
}

// result is a generated config file.
type result struct {
	text    []byte
	applied []string // keys set to their production value
	skipped []string // keys whose section is not in the example yet
}

// line is one line of the example, as far as genconfig understands it.
type line struct {
	text      string
	commented bool   // "# ..." (a commented-out key or header)
	header    string // table name, for a [table] or [[table]] line
	key       string // full dotted key path, for a key = value line
	array     bool   // the key belongs to an array of tables
	valStart  int    // the value's byte offsets in text
	valEnd    int
	headerIdx int // the line index of the key's table header, -1 for the root
}

var (
	headerRe = regexp.MustCompile(`^\s*(#\s?)?\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*(\]\]?)\s*(#.*)?$`)
	keyRe    = regexp.MustCompile(`^(\s*)(#\s?)?\s*([A-Za-z0-9_-]+)\s*=\s*(\S)`)
)

// scan reads the example line by line, tracking which table each key is in.
// A commented-out header ("# [backup.s3]") opens a table for the commented-out
// keys after it, not for real ones.
func scan(text string) []line {
	raw := strings.SplitAfter(text, "\n")
	if raw[len(raw)-1] == "" {
		raw = raw[:len(raw)-1]
	}
	lines := make([]line, len(raw))
	realTable, docTable := "", ""
	realArray, docArray := false, false
	realHeader, docHeader := -1, -1
	for i, t := range raw {
		l := line{text: t, headerIdx: -1}
		body := strings.TrimRight(t, "\r\n")
		if m := headerRe.FindStringSubmatch(body); m != nil && (m[2] == "[") == (m[4] == "]") {
			l.commented = m[1] != ""
			l.header = m[3]
			array := m[2] == "[["
			docTable, docArray, docHeader = m[3], array, i
			if !l.commented {
				realTable, realArray, realHeader = m[3], array, i
			}
		} else if m := keyRe.FindStringSubmatchIndex(body); m != nil {
			l.commented = m[4] >= 0
			name := body[m[6]:m[7]]
			l.valStart = m[8]
			l.valEnd = valueEnd(body, l.valStart)
			if l.commented {
				l.key, l.array, l.headerIdx = join(docTable, name), docArray, docHeader
			} else {
				l.key, l.array, l.headerIdx = join(realTable, name), realArray, realHeader
			}
		}
		lines[i] = l
	}
	return lines
}

// valueEnd is where a one-line TOML value starting at start ends: before a
// comment outside strings, with trailing blanks trimmed.
func valueEnd(s string, start int) int {
	var quote byte
	end := len(s)
scan:
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			end = i
			break scan
		}
	}
	return len(strings.TrimRight(s[:end], " \t"))
}

// generate sets each override in the example (see the package comment) and
// checks the result with load, the appliance's loader (config.Parse) but in
// tests of the mechanics.
func generate(example []byte, ovs []override, load func(text []byte) error) (*result, error) {
	lines := scan(string(example))
	res := &result{}
	var errs []error
	for _, ov := range ovs {
		applied, err := apply(lines, ov)
		switch {
		case err != nil:
			errs = append(errs, err)
		case applied:
			res.applied = append(res.applied, ov.key)
		case sectionExists(lines, parent(ov.key)):
			sec := "the top level"
			if p := parent(ov.key); p != "" {
				sec = "section [" + p + "]"
			}
			errs = append(errs, fmt.Errorf("%s: %s exists but has no key %q: was it renamed? fix packaging/production.toml",
				ov.key, sec, leaf(ov.key)))
		default:
			res.skipped = append(res.skipped, ov.key)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var b bytes.Buffer
	b.WriteString(header(res.applied))
	for _, l := range lines {
		b.WriteString(l.text)
	}
	res.text = b.Bytes()
	if err := load(res.text); err != nil {
		return nil, fmt.Errorf("the generated config does not load:\n%w", err)
	}
	if err := verify(example, res.text, ovs, res.applied); err != nil {
		return nil, err
	}
	return res, nil
}

// apply sets ov on its line: the uncommented key if there is one, else the
// first commented-out one, which it uncomments (with its table header).
func apply(lines []line, ov override) (bool, error) {
	var set, commented []int
	for i, l := range lines {
		if l.key != ov.key {
			continue
		}
		if l.array {
			return false, fmt.Errorf("%s: keys in arrays of tables ([[...]]) cannot be overridden", ov.key)
		}
		if l.commented {
			commented = append(commented, i)
		} else {
			set = append(set, i)
		}
	}
	if len(set) > 1 {
		return false, fmt.Errorf("%s: set %d times in the example", ov.key, len(set))
	}
	val, err := tomlValue(ov.value)
	if err != nil {
		return false, fmt.Errorf("%s: %w", ov.key, err)
	}
	if len(set) == 1 {
		l := &lines[set[0]]
		old := strings.TrimRight(l.text[l.valStart:l.valEnd], "\r\n")
		if err := oneLineValue(old); err != nil {
			return false, fmt.Errorf("%s: %w", ov.key, err)
		}
		rest := l.text[l.valEnd:]
		if val == old {
			return true, nil
		}
		if strings.TrimSpace(rest) == "" {
			rest = "  # built-in default: " + old + "\n"
		}
		l.text = l.text[:l.valStart] + val + rest
		return true, nil
	}
	if len(commented) == 0 {
		return false, nil
	}
	l := &lines[commented[0]]
	if err := oneLineValue(strings.TrimRight(l.text[l.valStart:l.valEnd], "\r\n")); err != nil {
		return false, fmt.Errorf("%s: %w", ov.key, err)
	}
	indent := l.text[:len(l.text)-len(strings.TrimLeft(l.text, " \t"))]
	l.text = indent + leaf(ov.key) + " = " + val + "  # commented out in the example\n"
	l.commented = false
	if h := l.headerIdx; h >= 0 && lines[h].commented {
		hl := &lines[h]
		hl.text = strings.Replace(hl.text, "#", "", 1)
		hl.text = strings.TrimLeft(hl.text, " ")
		hl.commented = false
	}
	return true, nil
}

// oneLineValue fails for a value genconfig cannot replace safely (one that
// goes on over several lines).
func oneLineValue(v string) error {
	var m map[string]any
	if _, err := toml.Decode("v = "+v, &m); err != nil {
		return fmt.Errorf("its value %s is not a one-line TOML value; genconfig cannot replace it", v)
	}
	return nil
}

// sectionExists tells whether the example shows table name at all: a header
// or a key inside it, set or commented out. The root always exists.
func sectionExists(lines []line, name string) bool {
	if name == "" {
		return true
	}
	for _, l := range lines {
		for _, p := range []string{l.header, l.key} {
			if p == name || strings.HasPrefix(p, name+".") {
				return true
			}
		}
	}
	return false
}

// loadConfig is the appliance's own loader, validation included.
func loadConfig(text []byte) error {
	_, _, err := config.Parse("generated config.toml", text)
	return err
}

// verify checks that the result differs from the example only at the
// applied keys, and that each reads back with its production value.
func verify(example, text []byte, ovs []override, applied []string) error {
	var got, want map[string]any
	if _, err := toml.Decode(string(text), &got); err != nil {
		return fmt.Errorf("the generated config: %w", err)
	}
	if _, err := toml.Decode(string(example), &want); err != nil {
		return err
	}
	for _, ov := range ovs {
		if !contains(applied, ov.key) {
			continue
		}
		if v, ok := lookup(got, ov.key); !ok || !reflect.DeepEqual(v, ov.value) {
			return fmt.Errorf("%s reads back as %v, want %v", ov.key, v, ov.value)
		}
		setPath(want, ov.key, ov.value)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("the generated config differs from the example at more than the production keys:\n got %v\nwant %v", got, want)
	}
	return nil
}

func setPath(m map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}

func lookup(m map[string]any, key string) (any, bool) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			return nil, false
		}
		m = sub
	}
	v, ok := m[parts[len(parts)-1]]
	return v, ok
}

// tomlValue writes v as a TOML value, the way BurntSushi/toml does.
func tomlValue(v any) (string, error) {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(map[string]any{"v": v}); err != nil {
		return "", err
	}
	s := strings.TrimSpace(b.String())
	if !strings.HasPrefix(s, "v = ") || strings.Contains(s, "\n") {
		return "", fmt.Errorf("value %v does not fit on one line", v)
	}
	return strings.TrimPrefix(s, "v = "), nil
}

// header is the comment put above the example's own.
func header(applied []string) string {
	text := "/etc/thecure/config.toml: thecure's configuration, installed by its Debian " +
		"package. It is config.toml.example with production values for " + strings.Join(applied, ", ") +
		" (each marked with its built-in default where it differs); every other key is at its default. " +
		"After an edit: thecure check-config && systemctl restart thecure. " +
		"Upgrades keep your edits: this file is a dpkg conffile."
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		if n > 0 && n+1+len(w) > 78 {
			b.WriteString("\n")
			n = 0
		}
		if n == 0 {
			b.WriteString("#")
			n = 1
		}
		b.WriteString(" " + w)
		n += 1 + len(w)
	}
	return b.String() + "\n#\n"
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func parent(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return ""
}

func leaf(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
