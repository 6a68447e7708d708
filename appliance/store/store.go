// Package store is thecure's one embedded database: a bbolt file in the data
// directory, opened with a lock timeout so that a second appliance on the same
// data directory fails at once, with a schema version and ordered migrations.
//
// Subsystems own their buckets: they create them with CreateBucketIfNotExists
// inside their own transactions, or through a migration when existing records
// must change shape.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file's name inside the data directory.
const FileName = "thecure.db"

// ErrLocked means another process holds the database open.
var ErrLocked = errors.New("the database is locked by another process")

// Migration upgrades the schema from version Version-1 to Version.
type Migration struct {
	Version int
	Name    string
	Apply   func(tx *bolt.Tx) error
}

// migrations is the ordered list of schema changes. Append only: a released
// migration never changes.
var migrations = []Migration{
	{Version: 1, Name: "meta bucket", Apply: func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	}},
}

var (
	bucketMeta       = []byte("meta")
	keySchemaVersion = []byte("schema_version")
)

// Store is the open database.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the database in dir and brings its schema up
// to date. It waits at most lockTimeout for another process's lock.
func Open(dir string, lockTimeout time.Duration) (*Store, error) {
	return open(dir, lockTimeout, migrations)
}

func open(dir string, lockTimeout time.Duration, migs []Migration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// Made just now: it belongs to the data dir's owner (the service
		// user), also when root runs the command that made it.
		if err := giveToDirOwner(path, dir); err != nil {
			db.Close()
			return nil, err
		}
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(migs); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(migs []Migration) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		cur := 0
		if v := meta.Get(keySchemaVersion); len(v) == 8 {
			cur = int(binary.BigEndian.Uint64(v))
		}
		latest := 0
		if len(migs) > 0 {
			latest = migs[len(migs)-1].Version
		}
		if cur > latest {
			return fmt.Errorf("database schema version %d is newer than this thecure knows (%d): run a newer thecure or restore a backup", cur, latest)
		}
		for _, m := range migs {
			if m.Version <= cur {
				continue
			}
			if err := m.Apply(tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
			cur = m.Version
		}
		return meta.Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, uint64(cur)))
	})
}

// SchemaVersion is the schema version recorded in the database.
func (s *Store) SchemaVersion() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(keySchemaVersion); len(b) == 8 {
			v = int(binary.BigEndian.Uint64(b))
		}
		return nil
	})
	return v, err
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Update runs fn in a read-write transaction.
func (s *Store) Update(fn func(tx *bolt.Tx) error) error { return s.db.Update(fn) }

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *bolt.Tx) error) error { return s.db.View(fn) }

// Backup writes a consistent copy of the whole database to w while the
// appliance keeps serving, and returns the number of bytes written.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup store: %w", err)
	}
	return n, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// giveToDirOwner gives a file the owner of its folder when running as root
// (only root can give files away; anyone else already owns what they make).
func giveToDirOwner(path, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give %s to the data dir's owner: %w", path, err)
	}
	return nil
}
