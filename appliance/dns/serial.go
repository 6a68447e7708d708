package dns

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/store"
)

var bucketDNS = []byte("dns")

// serialState is what the store keeps per zone: the content last served,
// its serial and when it was last signed.
type serialState struct {
	Hash   string    `json:"hash"`
	Serial uint32    `json:"serial"`
	Signed time.Time `json:"signed,omitzero"`
}

// nextSerial returns the serial for content hash: the stored one when
// nothing changed (and, for a signed zone, its signatures are recent), else
// a new one, YYYYMMDDnn of today or the stored one plus one when that is
// larger. The store keeps it before it is served (durable first).
func nextSerial(st *store.Store, origin, hash string, signed bool, now time.Time) (serial uint32, changed bool, err error) {
	err = st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketDNS)
		if err != nil {
			return err
		}
		var s serialState
		if v := b.Get([]byte(origin)); v != nil {
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("dns serial of %s: %w", origin, err)
			}
		}
		stale := signed && now.Sub(s.Signed) >= resignAfter
		if s.Serial != 0 && s.Hash == hash && !stale && (signed == !s.Signed.IsZero()) {
			serial = s.Serial
			return nil
		}
		day, _ := strconv.ParseUint(now.UTC().Format("20060102"), 10, 32)
		serial = max(s.Serial+1, uint32(day)*100)
		if s.Serial != 0 && serial-s.Serial > 1<<31-1 { // RFC 1982: stay "greater"
			serial = s.Serial + 1
		}
		if serial == 0 {
			serial = 1
		}
		s = serialState{Hash: hash, Serial: serial}
		if signed {
			s.Signed = now.UTC()
		}
		changed = true
		v, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return b.Put([]byte(origin), v)
	})
	return serial, changed, err
}
