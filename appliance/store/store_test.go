package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenMigratesOnce(t *testing.T) {
	dir := t.TempDir()
	var applied []int
	migs := []Migration{
		{Version: 1, Name: "meta", Apply: func(tx *bolt.Tx) error { applied = append(applied, 1); return nil }},
		{Version: 2, Name: "things", Apply: func(tx *bolt.Tx) error {
			applied = append(applied, 2)
			_, err := tx.CreateBucket([]byte("things"))
			return err
		}},
	}
	s, err := open(dir, time.Second, migs)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(); v != 2 {
		t.Errorf("schema version %d, want 2", v)
	}
	s.Close()
	s, err = open(dir, time.Second, migs)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
	if len(applied) != 2 || applied[0] != 1 || applied[1] != 2 {
		t.Errorf("migrations applied %v, want [1 2] once", applied)
	}
	// A database from a newer thecure is refused, not damaged.
	_, err = open(dir, time.Second, migs[:1])
	if err == nil || !strings.Contains(err.Error(), "newer than this thecure knows") {
		t.Errorf("older binary on a newer schema: %v", err)
	}
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	dir := t.TempDir()
	migs := []Migration{{Version: 1, Name: "broken", Apply: func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half")); err != nil {
			return err
		}
		return errors.New("boom")
	}}}
	if _, err := open(dir, time.Second, migs); err == nil || !strings.Contains(err.Error(), "migration 1 (broken): boom") {
		t.Fatalf("open = %v", err)
	}
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("half")) != nil {
			t.Error("a failed migration left a bucket behind")
		}
		return nil
	})
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(dir, 100*time.Millisecond)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open = %v, want ErrLocked", err)
	}
}

func TestBackupIsAConsistentDatabase(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("users"))
		if err != nil {
			return err
		}
		return b.Put([]byte("ana"), []byte("x"))
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := s.Backup(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("backup: %d bytes, %v", n, err)
	}
	restored := t.TempDir()
	if err := os.WriteFile(filepath.Join(restored, FileName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(restored, time.Second)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer r.Close()
	r.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("users")).Get([]byte("ana")); string(v) != "x" {
			t.Errorf("restored value %q", v)
		}
		return nil
	})
}

// A database made by root in a data dir another user owns belongs to that user.
func TestNewStoreBelongsToTheDataDirsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test gives files away: run it as root (`sudo make test`, as make test is meant to run)")
	}
	dir := t.TempDir()
	if err := os.Chown(dir, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 || fi.Mode().Perm() != 0o600 {
		t.Errorf("new store: %d:%d %o, want 4242:4343 0600", st.Uid, st.Gid, fi.Mode().Perm())
	}
}
