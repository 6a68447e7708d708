package webui

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"thecure/appliance/library"
	"thecure/appliance/transcode"
)

// healthStates reads every State constant declared in appliance/health, so
// a state added there without a translation fails this test.
func healthStates(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../health/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("health sources: %v", err)
	}
	var out []string
	fset := gotoken.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != gotoken.CONST {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "State" {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, s)
					}
				}
			}
		}
	}
	if len(out) < 3 {
		t.Fatalf("found only the health states %v", out)
	}
	return out
}

// Every service, job and title state has a text in every language, and the
// languages have the same keys.
func TestStatesTranslated(t *testing.T) {
	states := append(healthStates(t), StateUploading,
		transcode.Pending, transcode.Running, transcode.Done, transcode.Failed,
		library.StateQueued, library.StateProcessing, library.StateReady, library.StateFailed, library.StateMissing)
	for lang, msgs := range messages {
		for _, s := range states {
			if _, ok := msgs["state."+s]; !ok {
				t.Errorf("%s: state %q has no text (state.%s)", lang, s, s)
			}
		}
		for other, o := range messages {
			for k := range msgs {
				if _, ok := o[k]; !ok {
					t.Errorf("%s has %q, %s does not", lang, k, other)
				}
			}
		}
	}
	tr, err := newTranslator("es")
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.state("done"); got != "hecho" {
		t.Errorf("es state(done) = %q", got)
	}
}

// Every {{t "key"}} of the templates has a text in every language, and
// every relay state too.
func TestTemplateKeysTranslated(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v", err)
	}
	re := regexp.MustCompile(`\{\{-?\s*(?:[^}]*\()?t "([^"]+)"`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			n++
			for lang, msgs := range messages {
				if _, ok := msgs[string(m[1])]; !ok {
					t.Errorf("%s: %s uses %q, which has no text", lang, filepath.Base(f), m[1])
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("found only %d uses of t in the templates", n)
	}
	for lang, msgs := range messages {
		for _, s := range RelayStates {
			if _, ok := msgs["state."+s]; !ok {
				t.Errorf("%s: relay state %q has no text", lang, s)
			}
		}
	}
}

// Every page template parses, in every language (New leaves parsing to
// each page's first request).
func TestPagesParse(t *testing.T) {
	for _, lang := range []string{"es", "en"} {
		tr, err := newTranslator(lang)
		if err != nil {
			t.Fatal(err)
		}
		pages, err := parsePages(tr)
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != len(pageNames) {
			t.Fatalf("%s: %d pages, want %d", lang, len(pages), len(pageNames))
		}
		for _, name := range pageNames {
			tmpl, err := pages[name].get()
			if err != nil {
				t.Fatalf("%s: page %s: %v", lang, name, err)
			}
			for _, def := range []string{"layout", "content"} {
				if tmpl.Lookup(def) == nil {
					t.Errorf("%s: page %s defines no %q", lang, name, def)
				}
			}
		}
	}
}
