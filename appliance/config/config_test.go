package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestExampleLoadsToDefaults(t *testing.T) {
	path := filepath.Join("..", "..", "config.toml.example")
	cfg, warnings, err := Load(path)
	if err != nil {
		t.Fatalf("load example: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("config.toml.example differs from Default():\n example %+v\n default %+v", cfg, Default())
	}
}

// TestExampleDocumentsEveryKey checks that every key of the struct tree
// appears in config.toml.example, uncommented or in a comment.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	// Keys may be shown commented out ("# token_file = ..."): index them too.
	uncommented := commentedKey.ReplaceAllString(string(data), "$1")
	ix := buildIndex(uncommented)
	for _, key := range allKeys(reflect.TypeFor[Config](), "") {
		if _, ok := ix[key]; !ok {
			t.Errorf("key %s is not documented in config.toml.example", key)
		}
	}
}

var commentedKey = regexp.MustCompile(`(?m)^#\s?(\[{1,2}[a-z0-9_.]+\]{1,2}\s*$|[a-z0-9_.]+\s*=\s*\S)`)

func allKeys(t reflect.Type, path string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := join(path, name)
		ft := f.Type
		switch {
		case reflect.PointerTo(ft).Implements(textUnmarshaler):
			keys = append(keys, p)
		case ft.Kind() == reflect.Struct:
			keys = append(keys, allKeys(ft, p)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, allKeys(ft.Elem(), p+"[0]")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, p)
		default:
			keys = append(keys, p)
		}
	}
	return keys
}
