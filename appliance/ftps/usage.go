package ftps

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// Buckets of the storage accounting behind quotas: who uploaded each
// published file and how big it is, each user's total, and the hidden parts
// of unfinished uploads with their owner (they count against the quota too).
var (
	bucketOwners = []byte("ftp_owners") // rel path -> owner JSON
	bucketUsage  = []byte("ftp_usage")  // user name -> total bytes (uint64)
	bucketParts  = []byte("ftp_parts")  // part rel path -> owner JSON
)

type owner struct {
	User string `json:"user"`
	Size int64  `json:"size"`
}

// usage keeps per-user storage use in the store. A nil *usage does nothing.
// Every method reports a failure: callers refuse what they cannot account
// for (quotas fail closed).
type usage struct{ st *store.Store }

func addUsage(b *bolt.Bucket, user string, delta int64) error {
	var cur int64
	if v := b.Get([]byte(user)); len(v) == 8 {
		cur = int64(binary.BigEndian.Uint64(v))
	}
	cur = max(cur+delta, 0)
	return b.Put([]byte(user), binary.BigEndian.AppendUint64(nil, uint64(cur)))
}

func (u *usage) update(fn func(owners, totals, parts *bolt.Bucket) error) error {
	if u == nil {
		return nil
	}
	err := u.st.Update(func(tx *bolt.Tx) error {
		var bs [3]*bolt.Bucket
		for i, name := range [][]byte{bucketOwners, bucketUsage, bucketParts} {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			bs[i] = b
		}
		return fn(bs[0], bs[1], bs[2])
	})
	if err != nil {
		return fmt.Errorf("storage accounting: %w", err)
	}
	return nil
}

func getOwner(b *bolt.Bucket, key string) (owner, bool) {
	v := b.Get([]byte(key))
	if v == nil {
		return owner{}, false
	}
	var ow owner
	if json.Unmarshal(v, &ow) != nil {
		return owner{}, false
	}
	return ow, true
}

func putJSON(b *bolt.Bucket, key string, ow owner) error {
	data, err := json.Marshal(ow)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func takeOwner(o, t *bolt.Bucket, rel string) (owner, bool, error) {
	ow, ok := getOwner(o, rel)
	if !ok {
		return owner{}, false, o.Delete([]byte(rel))
	}
	if err := addUsage(t, ow.User, -ow.Size); err != nil {
		return ow, false, err
	}
	return ow, true, o.Delete([]byte(rel))
}

func putOwner(o, t *bolt.Bucket, rel string, ow owner) error {
	if err := putJSON(o, rel, ow); err != nil {
		return err
	}
	return addUsage(t, ow.User, ow.Size)
}

// publish records that user's part became the published file rel.
func (u *usage) publish(part, rel, user string, size int64) error {
	return u.update(func(o, t, p *bolt.Bucket) error {
		if err := p.Delete([]byte(part)); err != nil {
			return err
		}
		if _, _, err := takeOwner(o, t, rel); err != nil {
			return err
		}
		return putOwner(o, t, rel, owner{User: user, Size: size})
	})
}

// setPart records the hidden part of an unfinished upload of user's.
func (u *usage) setPart(part, user string, size int64) error {
	return u.update(func(_, _, p *bolt.Bucket) error { return putJSON(p, part, owner{User: user, Size: size}) })
}

// dropPart forgets a removed part.
func (u *usage) dropPart(part string) error {
	return u.update(func(_, _, p *bolt.Bucket) error { return p.Delete([]byte(part)) })
}

// forget gives a deleted file's size back to its owner.
func (u *usage) forget(rel string) error {
	return u.update(func(o, t, _ *bolt.Bucket) error {
		_, _, err := takeOwner(o, t, rel)
		return err
	})
}

// move follows a renamed file (a file replaced at to is forgotten).
func (u *usage) move(from, to string) error {
	return u.update(func(o, t, _ *bolt.Bucket) error {
		if _, _, err := takeOwner(o, t, to); err != nil {
			return err
		}
		ow, ok, err := takeOwner(o, t, from)
		if err != nil || !ok {
			return err
		}
		return putOwner(o, t, to, ow)
	})
}

// movePart follows a part moved with its directory.
func (u *usage) movePart(from, to string) error {
	return u.update(func(_, _, p *bolt.Bucket) error {
		ow, ok := getOwner(p, from)
		if !ok {
			return nil
		}
		if err := p.Delete([]byte(from)); err != nil {
			return err
		}
		return putJSON(p, to, ow)
	})
}

// account is a user's storage: published bytes, and their parts (how many
// and how big), leaving out the part named except.
type account struct {
	used      int64
	parts     int
	partBytes int64
}

func (u *usage) account(user, except string) (account, error) {
	var a account
	if u == nil {
		return a, nil
	}
	err := u.st.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketUsage); b != nil {
			if v := b.Get([]byte(user)); len(v) == 8 {
				a.used = int64(binary.BigEndian.Uint64(v))
			}
		}
		b := tx.Bucket(bucketParts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var ow owner
			if err := json.Unmarshal(v, &ow); err != nil {
				return fmt.Errorf("part record %q: %w", k, err)
			}
			if ow.User == user && string(k) != except {
				a.parts++
				a.partBytes += ow.Size
			}
			return nil
		})
	})
	if err != nil {
		return a, fmt.Errorf("storage accounting: %w", err)
	}
	return a, nil
}
