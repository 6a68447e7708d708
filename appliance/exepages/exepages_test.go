package exepages

import (
	"bufio"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// smapsEntry is one mapping as /proc/self/smaps shows it, with anon kB of
// anonymous pages.
func smapsEntry(line string, anon int) string {
	return line + "\nSize:                 40 kB\nRss:                  40 kB\nAnonymous:            " +
		strconv.Itoa(anon) + " kB\nVmFlags: rd mr mw me\n"
}

func TestParseSmaps(t *testing.T) {
	dev := unix.Mkdev(0xfe, 0x01)
	smaps := smapsEntry("00400000-00e9c000 r-xp 00000000 fe:01 4242                       /usr/bin/thecure", 0) +
		smapsEntry("00e9c000-01a93000 r--p 00a9c000 fe:01 4242                       /usr/bin/thecure", 0) +
		// written before made read-only (RELRO): left alone
		smapsEntry("01a90000-01a93000 r--p 01690000 fe:01 4242                       /usr/bin/thecure", 8) +
		smapsEntry("01a93000-01b10000 rw-p 01693000 fe:01 4242                       /usr/bin/thecure", 0) +
		smapsEntry("01b10000-01c00000 rw-p 00000000 00:00 0", 12) +
		smapsEntry("02000000-02001000 r--s 00000000 fe:01 4242                       /usr/bin/thecure", 0) +
		smapsEntry("03000000-03001000 r--p 00000000 fe:02 4242                       /other/disk/same/inode", 0) +
		smapsEntry("04000000-04001000 r--p 00000000 fe:01 4243                       /usr/bin/other", 0) +
		smapsEntry("05000000-05002000 r-xp 00000000 fe:01 4242                       /usr/bin/thecure (deleted)", 0) +
		smapsEntry("7f12d0008000-7f12d0010000 r--s 00000000 fe:01 99                 /var/lib/thecure/thecure.db", 0) +
		"garbage line\n" +
		smapsEntry("06000000-05000000 r--p 00000000 fe:01 4242                       /usr/bin/thecure", 0) +
		// no Anonymous line (a truncated read): left alone
		"07000000-07001000 r--p 00000000 fe:01 4242                       /usr/bin/thecure\nRss: 4 kB\n"
	got, err := parseSmaps(strings.NewReader(smaps), dev, 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x400000, 0xe9c000}, {0xe9c000, 0x1a93000}, {0x5000000, 0x5002000}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#x, want %#x", got, want)
	}
}

// exeRSS is the resident size of the test binary's read-only mappings, from
// /proc/self/smaps, in kB.
func exeRSS(t *testing.T) int {
	t.Helper()
	maps, err := readOnlyExecutableMappings()
	if err != nil || len(maps) == 0 {
		t.Fatalf("mappings: %v, %v", maps, err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, in := 0, false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		f := strings.Fields(line)
		if lo, _, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 && len(f[1]) == 4 { // a mapping's first line
			start, err := strconv.ParseUint(lo, 16, 64)
			in = false
			for _, m := range maps {
				in = in || (err == nil && uintptr(start) == m.Start)
			}
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(line)
			}
			total += kb
		}
	}
	return total
}

// Release gives back the pages the test binary mapped while starting, and
// the process goes on running the code it dropped (it is mapped back from
// the page cache).
func TestRelease(t *testing.T) {
	before := exeRSS(t)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := exeRSS(t)
	t.Logf("advised %d bytes; the executable's read-only pages went from %d kB to %d kB", n, before, after)
	if n == 0 || after >= before {
		t.Fatalf("released %d bytes, resident %d kB before and %d kB after", n, before, after)
	}
	// The dropped code and data still run and read as before.
	if got := strconv.Quote("añ"); got != `"añ"` {
		t.Fatalf("Quote after Release: %s", got)
	}
}
