package appliance

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"thecure/appliance/bot"
	"thecure/appliance/library"
	"thecure/appliance/store"
	"thecure/appliance/users"
)

// storeState is what a test compares of a store: users, bot access
// decisions and catalogue titles.
type storeState struct {
	users, allowed, titles []string
}

func readState(t *testing.T, dataDir string, botIDs int) storeState {
	t.Helper()
	st, err := store.Open(dataDir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var s storeState
	us, err := users.New(st).List()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		s.users = append(s.users, u.Name)
	}
	for id := range botIDs {
		if ok, known, err := bot.Access(st, int64(1000+id)); err != nil {
			t.Fatal(err)
		} else if ok && known {
			s.allowed = append(s.allowed, fmt.Sprint(1000+id))
		}
	}
	items, err := library.New(st, filepath.Join(dataDir, "hls")).List()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		s.titles = append(s.titles, it.Source)
	}
	return s
}

// contains reports whether every element of sub is in all.
func contains(all, sub []string) bool {
	for _, x := range sub {
		if !slices.Contains(all, x) {
			return false
		}
	}
	return true
}

// TestBackupWhileServing takes backups while FTPS uploads, user changes and
// bot access changes write to the store through the running appliance, then
// restores the last one into a fresh data dir: it holds everything written
// before that backup began, and nothing the appliance never had.
func TestBackupWhileServing(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	cfg := writeConfig(t, tmp, "[backup.retention]\nkeep_last = 10\n")
	p := start(t, tmp, "run", "-c", cfg)
	password := readFirstPassword(t, p.waitLine(t, firstPasswordLog)[1])
	ftpAddr := p.waitLine(t, `msg=listening svc=ftps key=ftp.listen addr=(\S+)`)[1]
	p.waitLine(t, `thecure is running`)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	uploads, userAdds, botIDs := 0, 0, 0
	wg.Go(func() { // FTPS uploads into a movies folder: jobs and titles
		c, err := ftp.Dial(ftpAddr, ftp.DialWithExplicitTLS(&tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)}),
			ftp.DialWithTimeout(30*time.Second))
		if err != nil {
			fail("ftp dial: %v", err)
			return
		}
		defer c.Quit()
		if err := c.Login("admin", password); err != nil {
			fail("ftp login: %v", err)
			return
		}
		for i := 0; ctx.Err() == nil; i++ {
			if err := c.Stor(fmt.Sprintf("/pelis/upload-%03d.mkv", i), bytes.NewReader(bytes.Repeat([]byte("x"), 4096))); err != nil {
				fail("STOR %d: %v", i, err)
				return
			}
			mu.Lock()
			uploads++
			mu.Unlock()
		}
	})
	wg.Go(func() { // users, through the control socket
		for i := 0; ctx.Err() == nil; i++ {
			if out, code := thecure(t, "password-"+fmt.Sprint(i)+"\n", "user", "-c", cfg, "add", fmt.Sprintf("user%03d", i), "-group", "innovatech", "-password-stdin"); code != 0 {
				fail("user add %d: %s", i, out)
				return
			}
			mu.Lock()
			userAdds++
			mu.Unlock()
		}
	})
	wg.Go(func() { // bot access decisions, through the control socket
		for i := 0; ctx.Err() == nil; i++ {
			if out, code := thecure(t, "", "bot", "-c", cfg, "allow", fmt.Sprint(1000+i)); code != 0 {
				fail("bot allow %d: %s", i, out)
				return
			}
			mu.Lock()
			botIDs++
			mu.Unlock()
		}
	})

	// Let the writers get going, then back up three times while they write.
	time.Sleep(time.Second)
	var before storeState
	for range 3 {
		mu.Lock()
		before = storeState{}
		for i := range userAdds {
			before.users = append(before.users, fmt.Sprintf("user%03d", i))
		}
		for i := range botIDs {
			before.allowed = append(before.allowed, fmt.Sprint(1000+i))
		}
		mu.Unlock()
		if out, errOut, code := runCmd(t, tmp, "backup", "run", "-c", cfg); code != 0 {
			t.Fatalf("backup run: %d\n%s%s", code, out, errOut)
		}
	}
	time.Sleep(500 * time.Millisecond) // writes after the last backup
	stop()
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("writers failed: %s", strings.Join(errs, "; "))
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("appliance exit %d", code)
	}
	t.Logf("while backing up: %d uploads, %d users added, %d bot decisions", uploads, userAdds, botIDs)
	if len(before.users) == 0 || len(before.allowed) == 0 || uploads == 0 {
		t.Fatalf("the writers did not write before the last backup (users %d, bot %d, uploads %d)", len(before.users), len(before.allowed), uploads)
	}

	fresh := filepath.Join(tmp, "fresh")
	if out, errOut, code := runCmd(t, tmp, "restore", "-c", cfg, "latest", "-to", fresh); code != 0 {
		t.Fatalf("restore: %d\n%s%s", code, out, errOut)
	}
	final := readState(t, data, botIDs)
	got := readState(t, fresh, botIDs)
	switch {
	case !contains(got.users, before.users):
		t.Errorf("restored users %v lack some of %v, added before the last backup", got.users, before.users)
	case !contains(got.allowed, before.allowed):
		t.Errorf("restored bot access %v lacks some of %v", got.allowed, before.allowed)
	case !contains(final.users, got.users) || !contains(final.allowed, got.allowed) || !contains(final.titles, got.titles):
		t.Errorf("the restored store has records the appliance never had:\nrestored %+v\nfinal %+v", got, final)
	case len(got.titles) == 0:
		t.Error("no catalogue titles restored, although uploads ran before the backups")
	case !slices.Contains(got.users, "admin"):
		t.Error("the first admin is missing from the restored store")
	}
}
