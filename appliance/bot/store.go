package bot

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/NicoNex/echotron/v3"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// The bot's buckets in the store.
var (
	bucketState   = []byte("bot_state")   // "offset" -> next update id to ask for
	bucketAccess  = []byte("bot_access")  // user id -> 1 allowed | 0 denied (overrides allowed_users)
	bucketRefused = []byte("bot_refused") // user id -> time of the one refusal
	bucketTickets = []byte("bot_tickets") // ticket id -> Ticket (JSON)
	bucketOpen    = []byte("bot_open")    // user id -> id of the user's open ticket
	bucketRelay   = []byte("bot_relay")   // chat id + message id -> ticket id
	bucketLog     = []byte("bot_log")     // time (ns) + sequence -> LogEntry (JSON)
	bucketInbox   = []byte("bot_inbox")   // update id -> update taken but not yet handled (JSON)

	keyOffset = []byte("offset")
)

func idKey(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func pairKey(a int64, b int) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(a)), uint64(int64(b)))
}

func keyID(k []byte) int64 {
	if len(k) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k))
}

// bucket returns the named bucket, creating it in a writable transaction.
// In a read-only transaction a missing bucket is nil.
func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	if !tx.Writable() {
		return tx.Bucket(name), nil
	}
	b, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", name, err)
	}
	return b, nil
}

func loadOffset(st *store.Store) (int, error) {
	var off int
	err := st.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketState); b != nil {
			off = int(keyID(b.Get(keyOffset)))
		}
		return nil
	})
	return off, err
}

// SetAccess allows (or, with allowed false, denies) a Telegram user in the
// store. The store's word overrides the config's allowed_users.
func SetAccess(st *store.Store, user int64, allowed bool) error {
	if user <= 0 {
		return fmt.Errorf("invalid user id %d", user)
	}
	v := []byte{0}
	if allowed {
		v[0] = 1
	}
	err := st.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketAccess)
		if err != nil {
			return err
		}
		if allowed {
			// a user allowed again may be refused again later
			if r, err := bucket(tx, bucketRefused); err != nil {
				return err
			} else if err := r.Delete(idKey(user)); err != nil {
				return err
			}
		}
		return b.Put(idKey(user), v)
	})
	if err != nil {
		return fmt.Errorf("set access of %d: %w", user, err)
	}
	return nil
}

// Access reports the store's word on a user: known is false when the store
// says nothing (then the config's allowed_users decides).
func Access(st *store.Store, user int64) (allowed, known bool, err error) {
	err = st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccess)
		if b == nil {
			return nil
		}
		if v := b.Get(idKey(user)); len(v) == 1 {
			allowed, known = v[0] == 1, true
		}
		return nil
	})
	return allowed, known, err
}

// markRefused records the one refusal a user gets; first is false when the
// user was refused before.
func markRefused(st *store.Store, user int64, now time.Time) (first bool, err error) {
	err = st.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketRefused); b != nil && b.Get(idKey(user)) != nil {
			err = errRefusedBefore
		}
		return err
	})
	if err == errRefusedBefore {
		return false, nil
	}
	err = st.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketRefused)
		if err != nil {
			return err
		}
		if b.Get(idKey(user)) != nil {
			return nil
		}
		first = true
		return b.Put(idKey(user), binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano())))
	})
	return first, err
}

// Ticket is one escalation to the technicians.
type Ticket struct {
	ID     uint64    `json:"id"`
	User   int64     `json:"user"`
	Chat   int64     `json:"chat"`
	Name   string    `json:"name"`
	Opened time.Time `json:"opened"`
	Closed time.Time `json:"closed,omitzero"`
}

// Open reports whether the ticket is still open.
func (t Ticket) Open() bool { return t.Closed.IsZero() }

// ticketBuckets returns the tickets and the open-ticket-per-user buckets.
func ticketBuckets(tx *bolt.Tx) (tickets, open *bolt.Bucket, err error) {
	if tickets, err = bucket(tx, bucketTickets); err != nil {
		return nil, nil, err
	}
	if open, err = bucket(tx, bucketOpen); err != nil {
		return nil, nil, err
	}
	return tickets, open, nil
}

func putTicket(b *bolt.Bucket, t Ticket) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return b.Put(idKey(int64(t.ID)), data)
}

// getTicket reads ticket id; ok is false when there is none. A record
// that does not decode is an error, not a missing ticket: a damaged store
// must not quietly open a second ticket for the same user.
func getTicket(b *bolt.Bucket, id uint64) (t Ticket, ok bool, err error) {
	data := b.Get(idKey(int64(id)))
	if data == nil {
		return t, false, nil
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return Ticket{}, false, fmt.Errorf("ticket %d: %w", id, err)
	}
	return t, true, nil
}

// openTicket returns the user's open ticket, creating one if there is none;
// created says which.
func openTicket(st *store.Store, user, chat int64, name string, now time.Time) (t Ticket, created bool, err error) {
	err = st.Update(func(tx *bolt.Tx) error {
		tb, ob, err := ticketBuckets(tx)
		if err != nil {
			return err
		}
		if id := ob.Get(idKey(user)); id != nil {
			old, ok, err := getTicket(tb, uint64(keyID(id)))
			if err != nil {
				return err
			}
			if ok && old.Open() {
				t = old
				return nil
			}
		}
		seq, err := tb.NextSequence()
		if err != nil {
			return err
		}
		t = Ticket{ID: seq, User: user, Chat: chat, Name: name, Opened: now.UTC()}
		created = true
		if err := putTicket(tb, t); err != nil {
			return err
		}
		return ob.Put(idKey(user), idKey(int64(seq)))
	})
	if err != nil {
		return Ticket{}, false, fmt.Errorf("open ticket: %w", err)
	}
	return t, created, nil
}

// userTicket returns the user's open ticket, if any.
func userTicket(st *store.Store, user int64) (t Ticket, ok bool, err error) {
	err = st.View(func(tx *bolt.Tx) error {
		ob, tb := tx.Bucket(bucketOpen), tx.Bucket(bucketTickets)
		if ob == nil || tb == nil {
			return nil
		}
		if id := ob.Get(idKey(user)); id != nil {
			var err error
			if t, ok, err = getTicket(tb, uint64(keyID(id))); err != nil {
				return err
			}
			ok = ok && t.Open()
		}
		return nil
	})
	return t, ok, err
}

var (
	errNoTicket      = errors.New("no such ticket")
	errRefusedBefore = errors.New("refused before")
)

// closeTicket closes ticket id; it returns the ticket and whether it was
// open until now.
func closeTicket(st *store.Store, id uint64, now time.Time) (t Ticket, was bool, err error) {
	err = st.Update(func(tx *bolt.Tx) error {
		tb, ob, err := ticketBuckets(tx)
		if err != nil {
			return err
		}
		var ok bool
		if t, ok, err = getTicket(tb, id); err != nil {
			return err
		} else if !ok {
			return errNoTicket
		}
		if !t.Open() {
			return nil
		}
		was = true
		t.Closed = now.UTC()
		if err := putTicket(tb, t); err != nil {
			return err
		}
		return ob.Delete(idKey(t.User))
	})
	return t, was, err
}

// OpenTickets lists the open tickets, oldest first.
func OpenTickets(st *store.Store) ([]Ticket, error) {
	var out []Ticket
	err := st.View(func(tx *bolt.Tx) error {
		ob, tb := tx.Bucket(bucketOpen), tx.Bucket(bucketTickets)
		if ob == nil || tb == nil {
			return nil
		}
		return ob.ForEach(func(_, id []byte) error {
			t, ok, err := getTicket(tb, uint64(keyID(id)))
			if err != nil {
				return err
			}
			if ok && t.Open() {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	sortTickets(out)
	return out, nil
}

func sortTickets(ts []Ticket) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].ID < ts[j-1].ID; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// relate remembers that message msg in chat belongs to ticket id, so that a
// reply to it reaches the ticket's user.
func relate(st *store.Store, chat int64, msg int, id uint64) error {
	return st.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketRelay)
		if err != nil {
			return err
		}
		return b.Put(pairKey(chat, msg), idKey(int64(id)))
	})
}

// related returns the ticket a message in chat belongs to.
func related(st *store.Store, chat int64, msg int) (t Ticket, ok bool, err error) {
	err = st.View(func(tx *bolt.Tx) error {
		rb, tb := tx.Bucket(bucketRelay), tx.Bucket(bucketTickets)
		if rb == nil || tb == nil {
			return nil
		}
		if id := rb.Get(pairKey(chat, msg)); id != nil {
			var err error
			t, ok, err = getTicket(tb, uint64(keyID(id)))
			return err
		}
		return nil
	})
	return t, ok, err
}

// LogEntry is one line of the conversation log: an update in or a message out.
type LogEntry struct {
	Time time.Time `json:"time"`
	User int64     `json:"user,omitempty"` // the Telegram user the line is about
	Chat int64     `json:"chat"`
	Dir  string    `json:"dir"` // "in" | "out"
	Text string    `json:"text"`
}

// writeLog appends entries in one transaction.
func writeLog(st *store.Store, entries []LogEntry) error {
	return st.Update(func(tx *bolt.Tx) error { return appendLog(tx, entries) })
}

// saveOffsetAndLog stores the next update offset, the updates before it
// (in the inbox until handled) and their log lines in one transaction: an
// update taken is in the log, and is handled after a restart, even if the
// appliance is killed while handling it.
func saveOffsetAndLog(st *store.Store, off int, ups []*echotron.Update, entries []LogEntry) error {
	return st.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketState)
		if err != nil {
			return err
		}
		if err := b.Put(keyOffset, idKey(int64(off))); err != nil {
			return err
		}
		in, err := bucket(tx, bucketInbox)
		if err != nil {
			return err
		}
		for _, u := range ups {
			raw, err := json.Marshal(u)
			if err != nil {
				return err
			}
			if err := in.Put(idKey(int64(u.ID)), raw); err != nil {
				return err
			}
		}
		return appendLog(tx, entries)
	})
}

// handled takes update id out of the inbox.
func handled(st *store.Store, id int) error {
	return st.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketInbox); b != nil {
			return b.Delete(idKey(int64(id)))
		}
		return nil
	})
}

// loadInbox is the updates taken but not handled when the appliance
// stopped, oldest first.
func loadInbox(st *store.Store) ([]*echotron.Update, error) {
	var out []*echotron.Update
	err := st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInbox)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var u echotron.Update
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("inbox update %d: %w", keyID(k), err)
			}
			out = append(out, &u)
			return nil
		})
	})
	return out, err
}

func appendLog(tx *bolt.Tx, entries []LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	b, err := bucket(tx, bucketLog)
	if err != nil {
		return err
	}
	b.FillPercent = 0.95 // keys are (nearly) always appended: pack the pages
	for _, e := range entries {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		k := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixNano())), seq)
		if err := b.Put(k, data); err != nil {
			return err
		}
	}
	return nil
}

// pruneLog deletes the log entries older than before and returns how many.
func pruneLog(st *store.Store, before time.Time) (int, error) {
	n := 0
	limit := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
	err := st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLog)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil && string(k[:8]) < string(limit); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// ReadLog returns the log entries since the given time, of one user (0: of
// everyone), oldest first.
func ReadLog(st *store.Store, user int64, since time.Time) ([]LogEntry, error) {
	var out []LogEntry
	start := binary.BigEndian.AppendUint64(nil, uint64(max(since.UnixNano(), 0)))
	err := st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLog)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(start); k != nil; k, v = c.Next() {
			var e LogEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("log entry %x: %w", k, err)
			}
			if user == 0 || e.User == user || e.Chat == user {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read bot log: %w", err)
	}
	return out, nil
}
