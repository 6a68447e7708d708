// Package exepages gives back the executable's start-up pages once start-up
// is done.
//
// A Go binary's code and read-only data are mapped from the executable file.
// Start-up runs every package's init, parses the command line and the
// config, opens the store and builds every service: code spread across the
// whole binary, and the kernel maps each fault's neighbourhood too (64 KB
// "fault-around"), so by the time the services run about 18 of the binary's
// 24 MB are mapped into the process, most of it code that never runs again.
// Release unmaps those pages from this process; they stay in the kernel's
// page cache (nothing is read from disk again), and what the running
// services use is mapped back by the next minor fault. The process's RSS
// then counts what it uses, and the kernel can reclaim the start-up code
// under memory pressure like any unmapped file page, which it is reluctant
// to do for mapped code.
//
// Only private, read-only mappings of the executable's own file (text,
// rodata, pclntab) are touched: their pages are never written, so dropping
// them loses nothing (MADV_DONTNEED on such a mapping refaults the file's
// bytes). Writable mappings (data, bss, heap) are never touched.
package exepages

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Mapping is one address range of /proc/self/maps.
type Mapping struct {
	Start, End uintptr
}

// Release drops the executable's read-only mappings from the page tables of
// this process and returns how many bytes of address space it advised.
func Release() (int, error) {
	maps, err := readOnlyExecutableMappings()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range maps {
		// The range is not Go memory, so no slice is made of it.
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, m.Start, m.End-m.Start, unix.MADV_DONTNEED); e != 0 {
			return n, fmt.Errorf("madvise %#x-%#x: %w", m.Start, m.End, e)
		}
		n += int(m.End - m.Start)
	}
	return n, nil
}

func readOnlyExecutableMappings() ([]Mapping, error) {
	fi, err := os.Stat("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, errors.New("no inode for /proc/self/exe")
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMaps(f, st.Dev, st.Ino)
}

// parseMaps returns the private mappings that are neither writable nor
// shared of the file with device dev and inode ino, in the format of
// proc_pid_maps(5): "start-end perms offset major:minor inode path".
func parseMaps(r io.Reader, dev, ino uint64) ([]Mapping, error) {
	var out []Mapping
	s := bufio.NewScanner(r)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 5 {
			continue
		}
		perms := f[1]
		if len(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
			continue
		}
		if n, err := strconv.ParseUint(f[4], 10, 64); err != nil || n != ino {
			continue
		}
		major, minor, ok := strings.Cut(f[3], ":")
		if !ok {
			continue
		}
		ma, err1 := strconv.ParseUint(major, 16, 32)
		mi, err2 := strconv.ParseUint(minor, 16, 32)
		if err1 != nil || err2 != nil || unix.Mkdev(uint32(ma), uint32(mi)) != dev {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, Mapping{Start: uintptr(start), End: uintptr(end)})
	}
	return out, s.Err()
}
