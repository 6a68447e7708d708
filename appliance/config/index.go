package config

import (
	"sort"
	"strconv"
	"strings"
)

// lineIndex maps key paths ("ftp.listen", "ftp.folders[1].name") to the line
// where they are written. BurntSushi/toml keeps key positions private, so the
// loader scans the (already syntax-checked) file once more for them.
type lineIndex map[string]int

// lookup returns the line of path, or of its nearest written parent.
func (ix lineIndex) lookup(path string) int {
	for path != "" {
		if l, ok := ix[path]; ok {
			return l
		}
		cut := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if cut < 0 {
			return 0
		}
		path = path[:cut]
	}
	return 0
}

func buildIndex(src string) lineIndex {
	ix := lineIndex{}
	arrays := map[string]int{} // array-of-tables path -> elements seen
	prefix := ""
	closer := "" // the delimiter that ends the multi-line string we are in
	depth := 0   // open brackets/braces of a multi-line value
	for n, line := range strings.Split(src, "\n") {
		lineNo := n + 1
		if closer != "" {
			if strings.Contains(line, closer) {
				closer = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(line)
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t[0] == '#':
		case strings.HasPrefix(t, "[["):
			end := strings.Index(t, "]]")
			if end < 0 {
				continue
			}
			path := resolve(arrays, splitKey(t[2:end]))
			i := arrays[path]
			arrays[path] = i + 1
			if _, ok := ix[path]; !ok {
				ix[path] = lineNo
			}
			prefix = path + "[" + strconv.Itoa(i) + "]"
			ix[prefix] = lineNo
		case t[0] == '[':
			end := strings.IndexByte(t, ']')
			if end < 0 {
				continue
			}
			prefix = resolve(arrays, splitKey(t[1:end]))
			if _, ok := ix[prefix]; !ok {
				ix[prefix] = lineNo
			}
		default:
			eq := keyEnd(t)
			if eq < 0 {
				continue
			}
			path := strings.Join(splitKey(t[:eq]), ".")
			if prefix != "" {
				path = prefix + "." + path
			}
			ix[path] = lineNo
			value := strings.TrimSpace(t[eq+1:])
			for _, d := range []string{`"""`, `'''`} {
				if strings.HasPrefix(value, d) && strings.Count(value, d) == 1 {
					closer = d
				}
			}
			if closer == "" {
				depth = bracketDelta(value)
			}
		}
	}
	return ix
}

// resolve turns a table header's key into a path, adding the current element
// index where a part of it is an array of tables.
func resolve(arrays map[string]int, parts []string) string {
	path := ""
	for i, p := range parts {
		if i > 0 {
			path += "."
		}
		path += p
		if n, ok := arrays[path]; ok && i < len(parts)-1 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

// splitKey splits a dotted TOML key, honouring quoted parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

// keyEnd returns the index of the '=' that ends a key, outside quotes.
func keyEnd(s string) int {
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		}
	}
	return -1
}

// bracketDelta counts opening minus closing brackets and braces outside
// strings and comments.
func bracketDelta(s string) int {
	d := 0
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return d
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
