// Package audit is the admin audit log: every change an admin makes from the
// web pages (users, titles), with who, when, what and on what, kept in its
// own bucket in the store. The log is bounded: past MaxEntries the oldest
// entries are dropped.
package audit

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// MaxEntries bounds the log (about 200 bytes each: 2 MB at most).
const MaxEntries = 10000

var bucket = []byte("audit")

// Entry is one admin action.
type Entry struct {
	When   time.Time `json:"when"`
	Who    string    `json:"who"`    // the admin's user name
	Action string    `json:"action"` // user.add, user.groups, user.password, user.quota, user.delete, title.retry, title.remove
	Target string    `json:"target"` // the user or the title's source
	Detail string    `json:"detail,omitempty"`
	Error  string    `json:"error,omitempty"` // the action failed with this
}

// Log is the audit log in the store.
type Log struct {
	st  *store.Store
	max int
}

// New is the log kept in st.
func New(st *store.Store) *Log { return &Log{st: st, max: MaxEntries} }

// Record appends e (durably: it returns after the store's commit).
func (l *Log) Record(e Entry) error {
	if e.When.IsZero() {
		e.When = time.Now().UTC()
	}
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return l.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), val); err != nil {
			return err
		}
		c := b.Cursor()
		for n := b.Stats().KeyN + 1; n > l.max; n-- { // KeyN leaves out this transaction's Put
			if k, _ := c.First(); k != nil {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Recent returns at most n entries, newest first.
func (l *Log) Recent(n int) ([]Entry, error) {
	var out []Entry
	err := l.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
