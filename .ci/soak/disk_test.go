//go:build soak

package soak

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallFS mounts a file system of size bytes at dir, for the media and HLS
// dirs, so that the full-disk fault fills a real file system: a tmpfs when
// mount is permitted, else ext4 in a loop file. Neither possible is a fatal
// error that says why (the soak does not fill the host's disk instead).
// It returns how it was made, for the table; the mount is undone at the
// end of the test.
func smallFS(t *testing.T, dir string, size int64) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	umount := func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			// still busy (a process left behind): detach it lazily
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				t.Errorf("umount %s: %v", dir, err)
			}
		}
	}
	tmpfsErr := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size))
	if tmpfsErr == nil {
		t.Cleanup(umount)
		return fmt.Sprintf("tmpfs of %d MiB", size>>20)
	}
	img := filepath.Join(filepath.Dir(dir), "media.ext4")
	f, err := os.Create(img)
	if err == nil {
		err = errors.Join(f.Truncate(size), f.Close())
	}
	if err == nil {
		var out []byte
		if out, err = exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
			err = fmt.Errorf("mkfs.ext4: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	if err == nil {
		var out []byte
		if out, err = exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
			err = fmt.Errorf("mount -o loop: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	if err != nil {
		t.Fatalf("the full-disk fault needs a small file system for the media: mount -t tmpfs refused (%v) and a loop ext4 failed (%v); "+
			"run the soak as root in a container that may mount (CAP_SYS_ADMIN)", tmpfsErr, err)
	}
	t.Cleanup(umount)
	return fmt.Sprintf("ext4 of %d MiB on a loop device (tmpfs refused: %v)", size>>20, tmpfsErr)
}

// fill writes zeros into path until the file system is full; it returns
// the bytes written. ENOSPC is the expected end.
func fill(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 4<<20)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			f.Close()
			return n, err
		}
	}
	// the last blocks, in smaller writes
	for _, sz := range []int{64 << 10, 4 << 10} {
		for {
			w, err := f.Write(buf[:sz])
			n += int64(w)
			if err != nil {
				break
			}
		}
	}
	return n, f.Close()
}

// freeBytes is the space available on the file system holding path.
func freeBytes(path string) int64 {
	var st syscall.Statfs_t
	if syscall.Statfs(path, &st) != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}
