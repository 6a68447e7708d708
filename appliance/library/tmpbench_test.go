package library

import (
	"os"
	"testing"
	"time"
)

func BenchmarkTmpPackage(b *testing.B) {
	for i := 0; i < b.N; i++ {
		f, _ := os.Open("/tmp/thecure-bench/remux.ts")
		out := b.TempDir()
		if _, err := Package(f, out, PackageOptions{SegmentDuration: 4 * time.Second}); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
