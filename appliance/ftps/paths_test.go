package ftps

import (
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"/":                        "/",
		"":                         "/",
		"/pelis":                   "/pelis",
		"pelis/a b.mp4":            "/pelis/a b.mp4",
		"/pelis/../../etc/passwd":  "/etc/passwd", // climbs no higher than the root
		"/../../../":               "/",
		"//pelis///x//":            "/pelis/x",
		"/pelis/./" + utf8Name:     "/pelis/" + utf8Name,
		"/series/Show/../Other/e1": "/series/Other/e1",
	} {
		got, err := sanitize(in)
		if err != nil || got.String() != want {
			t.Errorf("sanitize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/pelis/.hidden", "/.thecure-part-x", `/pelis/a\b`, "/pelis/\x00", "/pelis/a\nb", "/pelis/\xff", "/pelis/" + strings.Repeat("x", 256)} {
		if got, err := sanitize(in); err == nil {
			t.Errorf("sanitize(%q) = %q, want an error", in, got)
		}
	}
	if p := partName("pelis/a/" + utf8Name); path.Dir(p) != "pelis/a" || !strings.HasPrefix(path.Base(p), partPrefix) {
		t.Errorf("partName = %q", p)
	}
}

// FuzzSanitize checks that whatever a client sends, the path we use stays
// inside the root: clean, relative, no "..", no hidden or control names.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"/", "../..", "/pelis/../../x", "pelis/" + utf8Name, `..\..`, "/a/./b/", "/.x", "\x00", "/pelis/\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := sanitize(in)
		if err != nil {
			return
		}
		rel := p.rel()
		if rel == "" {
			if p.folder != "" || p.rest != "" {
				t.Fatalf("root with parts: %+v", p)
			}
			return
		}
		if path.Clean(rel) != rel || path.IsAbs(rel) || strings.HasPrefix(rel, "../") || rel == ".." {
			t.Fatalf("sanitize(%q) = %q: not a clean relative path", in, rel)
		}
		if !utf8.ValidString(rel) || strings.ContainsAny(rel, "\\\x00\r\n") {
			t.Fatalf("sanitize(%q) = %q: bad characters", in, rel)
		}
		for _, part := range strings.Split(rel, "/") {
			if part == "" || part == "." || part == ".." || part[0] == '.' {
				t.Fatalf("sanitize(%q) = %q: bad component %q", in, rel, part)
			}
		}
		if p.folder != strings.Split(rel, "/")[0] {
			t.Fatalf("folder %q of %q", p.folder, rel)
		}
		// Sanitising is idempotent.
		again, err := sanitize(p.String())
		if err != nil || again != p {
			t.Fatalf("sanitize(sanitize(%q)) = %+v, %v; want %+v", in, again, err, p)
		}
	})
}
