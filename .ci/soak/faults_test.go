//go:build soak

package soak

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jlaffaye/ftp"
)

// killFFmpeg waits up to d for a transcoding ffmpeg child of pid (the one
// reporting progress on pipe:3, not a poster's) and kills it with SIGKILL,
// as a crash or the OOM killer would. It returns the source it was reading
// (relative to media), "" when none ran within d.
func killFFmpeg(pid int, media string, d time.Duration) (string, error) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return "", err
		}
		for _, e := range ents {
			child, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, err1 := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
			cmdline, err2 := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
			if err1 != nil || err2 != nil {
				continue
			}
			i := bytes.LastIndexByte(stat, ')')
			if i < 0 || i+2 > len(stat) {
				continue
			}
			f := strings.Fields(string(stat[i+2:]))
			if len(f) < 2 || f[1] != strconv.Itoa(pid) {
				continue
			}
			args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
			in := slices.Index(args, "-i")
			if filepath.Base(args[0]) != "ffmpeg" || !slices.Contains(args, "pipe:3") || in < 0 || in+1 >= len(args) {
				continue
			}
			if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
				continue // it ended meanwhile
			}
			src := strings.TrimPrefix(args[in+1], "file:")
			return strings.TrimPrefix(strings.TrimPrefix(src, media), "/"), nil
		}
	}
	return "", nil
}

// readyz is /readyz's code and body.
func readyz(base string) (int, string) {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

// waitReadyz polls /readyz until its status is want; it returns how long
// that took, or an error with the last answer after d.
func waitReadyz(base, want string, d time.Duration) (time.Duration, error) {
	start := time.Now()
	var code int
	var body string
	for time.Since(start) < d {
		code, body = readyz(base)
		if code == http.StatusOK && strings.Contains(body, `"status":"`+want+`"`) {
			return time.Since(start), nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return 0, fmt.Errorf("/readyz is not %s after %s: %d %s", want, d, code, strings.TrimSpace(body))
}

// ftpProbe uploads size random bytes to path as user; it returns the
// upload's error, and for a completed one whether it downloads back equal.
func ftpProbe(addr, user, password, path string, size int) (upErr, checkErr error) {
	c, err := ftp.Dial(addr, ftp.DialWithExplicitTLS(&tls.Config{InsecureSkipVerify: true}), ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		return err, nil
	}
	defer c.Quit()
	if err := c.Login(user, password); err != nil {
		return err, nil
	}
	data := make([]byte, size)
	rand.Read(data)
	if err := c.Stor(path, bytes.NewReader(data)); err != nil {
		return err, nil
	}
	r, err := c.Retr(path)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err == nil && !bytes.Equal(got, data) {
		err = fmt.Errorf("%s: downloaded %d bytes, not the %d uploaded", path, len(got), len(data))
	}
	if err == nil {
		err = c.Delete(path)
	}
	return nil, err
}
