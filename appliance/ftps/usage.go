package ftps

import (
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

// Buckets of the storage accounting behind quotas: who uploaded each
// published file and how big it is, and each user's total.
var (
	bucketOwners = []byte("ftp_owners") // rel path -> owner JSON
	bucketUsage  = []byte("ftp_usage")  // user name -> total bytes (uint64)
)

type owner struct {
	User string `json:"user"`
	Size int64  `json:"size"`
}

// usage keeps per-user storage use in the store. A nil *usage does nothing.
type usage struct{ st *store.Store }

func addUsage(b *bolt.Bucket, user string, delta int64) error {
	var cur int64
	if v := b.Get([]byte(user)); len(v) == 8 {
		cur = int64(binary.BigEndian.Uint64(v))
	}
	cur = max(cur+delta, 0)
	return b.Put([]byte(user), binary.BigEndian.AppendUint64(nil, uint64(cur)))
}

func (u *usage) update(fn func(owners, totals *bolt.Bucket) error) {
	if u == nil {
		return
	}
	_ = u.st.Update(func(tx *bolt.Tx) error {
		o, err := tx.CreateBucketIfNotExists(bucketOwners)
		if err != nil {
			return err
		}
		t, err := tx.CreateBucketIfNotExists(bucketUsage)
		if err != nil {
			return err
		}
		return fn(o, t)
	})
}

func takeOwner(o, t *bolt.Bucket, rel string) (owner, bool, error) {
	v := o.Get([]byte(rel))
	if v == nil {
		return owner{}, false, nil
	}
	var ow owner
	if err := json.Unmarshal(v, &ow); err != nil {
		return owner{}, false, o.Delete([]byte(rel))
	}
	if err := addUsage(t, ow.User, -ow.Size); err != nil {
		return ow, false, err
	}
	return ow, true, o.Delete([]byte(rel))
}

func putOwner(o, t *bolt.Bucket, rel string, ow owner) error {
	data, _ := json.Marshal(ow)
	if err := o.Put([]byte(rel), data); err != nil {
		return err
	}
	return addUsage(t, ow.User, ow.Size)
}

// record makes user the owner of the file just published at rel.
func (u *usage) record(rel, user string, size int64) {
	u.update(func(o, t *bolt.Bucket) error {
		if _, _, err := takeOwner(o, t, rel); err != nil {
			return err
		}
		return putOwner(o, t, rel, owner{User: user, Size: size})
	})
}

// forget gives a deleted file's size back to its owner.
func (u *usage) forget(rel string) {
	u.update(func(o, t *bolt.Bucket) error {
		_, _, err := takeOwner(o, t, rel)
		return err
	})
}

// move follows a renamed file (a file replaced at to is forgotten).
func (u *usage) move(from, to string) {
	u.update(func(o, t *bolt.Bucket) error {
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

// used is the bytes user's published uploads take.
func (u *usage) used(user string) int64 {
	if u == nil {
		return 0
	}
	var n int64
	_ = u.st.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketUsage); b != nil {
			if v := b.Get([]byte(user)); len(v) == 8 {
				n = int64(binary.BigEndian.Uint64(v))
			}
		}
		return nil
	})
	return n
}
