package packaging

import (
	"fmt"
	"os"
	"testing"
)

// sharedDir holds what the tests of one run share: the .deb both
// TestDebianPackage and TestUnderSystemd install is built once.
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "thecure-pkgtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
