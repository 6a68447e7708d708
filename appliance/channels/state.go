package channels

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is what the channels need of the database.
type Store interface {
	Update(fn func(tx *bolt.Tx) error) error
	View(fn func(tx *bolt.Tx) error) error
}

// bucketChannels holds each channel's timeline state, by name: the
// package's own bucket, touched by nobody else.
var bucketChannels = []byte("channels")

// state is what a channel keeps across restarts: when it first went on air
// (the seed of its shuffles), the entry on air with the rotation's state,
// and the last entries for the guide.
type state struct {
	Epoch   time.Time `json:"epoch"`
	Cur     slot      `json:"cur"`
	History []Entry   `json:"history,omitempty"`
}

// maxHistory is how many past entries a channel keeps for the guide.
const maxHistory = 50

func loadState(st Store, name string) (state, bool, error) {
	var s state
	found := false
	err := st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChannels)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(name))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &s)
	})
	return s, found, err
}

func saveState(st Store, name string, s state) error {
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketChannels)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), v)
	})
}
