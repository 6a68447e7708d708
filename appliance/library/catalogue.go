package library

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Item states.
const (
	StateQueued     = "queued"
	StateProcessing = "processing"
	StateReady      = "ready"
	StateFailed     = "failed"
	// StateMissing: the title's source or HLS output is not on disk (a
	// restore without media, a copy gone wrong). Admins see what is
	// missing (Missing) and how to bring it back; viewers do not see the
	// title. It returns to ready when the files are back.
	StateMissing = "missing"
)

// PackagingVersion is the packaging that Ready records for a title. A ready
// title with an older one was packaged by an older release and is made
// again at start (transcode re-packages it):
//
//	0 (absent): 0.1.0; media time started at 2 s, durations 2 s too long
//	1: media time starts at 0 (0.2.0)
const PackagingVersion = 1

// Item is one title of the catalogue: what /api/library lists.
type Item struct {
	ID       string  `json:"id"`
	Kind     string  `json:"kind"` // movie | episode | track
	Title    string  `json:"title"`
	State    string  `json:"state"` // queued | processing | ready | failed | missing
	HLS      string  `json:"hls,omitempty"`
	Duration float64 `json:"duration"` // seconds
	Year     int     `json:"year,omitempty"`
	Show     string  `json:"show,omitempty"`
	Season   int     `json:"season,omitempty"`
	Episode  int     `json:"episode,omitempty"`
	Track    int     `json:"track,omitempty"` // a track's number on its album (tags, else the name)
	Artist   string  `json:"artist,omitempty"`
	Album    string  `json:"album,omitempty"`
	Poster   string  `json:"poster,omitempty"`
	Error    string  `json:"error,omitempty"`
	// Missing says what a missing title lacks and how to bring it back.
	Missing string `json:"missing,omitempty"`
	// Quarantined is where a failed title's source was moved (relative to
	// media_dir); deleting that file removes the title.
	Quarantined string `json:"quarantined,omitempty"`

	// Source is the file's path relative to library.media_dir.
	Source        string        `json:"source"`
	SourceSize    int64         `json:"source_size,omitempty"`
	SourceModTime time.Time     `json:"source_mtime,omitzero"`
	Method        string        `json:"method,omitempty"` // remux | encode
	Variants      []VariantInfo `json:"variants,omitempty"`
	// Packaging is the PackagingVersion its HLS was made with (0: 0.1.0).
	Packaging int       `json:"packaging,omitempty"`
	Updated   time.Time `json:"updated"`
}

// SetMeta copies what a name or tags say into the item.
func (it *Item) SetMeta(m Meta) {
	it.Kind, it.Title, it.Year = m.Kind, m.Title, m.Year
	it.Show, it.Season, it.Episode = m.Show, m.Season, m.Episode
	it.Artist, it.Album, it.Track = m.Artist, m.Album, m.Track
}

// ItemID is the stable id of the title made from a source path (relative to
// media_dir): the same path always gives the same id, so a replaced source
// replaces its title.
func ItemID(source string) string {
	sum := sha256.Sum256([]byte(source))
	return hex.EncodeToString(sum[:6])
}

// ValidID reports whether s has the shape of an item id.
func ValidID(s string) bool {
	if len(s) != 12 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// Store is what the catalogue needs of the database.
type Store interface {
	Update(fn func(tx *bolt.Tx) error) error
	View(fn func(tx *bolt.Tx) error) error
}

var bucketItems = []byte("library_items")

// Catalogue is the catalogue in the store plus the HLS tree on disk.
type Catalogue struct {
	st     Store
	hlsDir string
	remote func(id, file string) string // remote.go
}

// New returns the catalogue kept in st, with HLS output under hlsDir.
func New(st Store, hlsDir string) *Catalogue {
	return &Catalogue{st: st, hlsDir: hlsDir}
}

// HLSDir is the root of the HLS tree.
func (c *Catalogue) HLSDir() string { return c.hlsDir }

// Dir is where the HLS of item id lives.
func (c *Catalogue) Dir(id string) string { return filepath.Join(c.hlsDir, id) }

// StagingDir is where one run (attempt) of item id writes its HLS before it
// is published; each run has its own, so a cancelled run never touches the
// next one's files.
func (c *Catalogue) StagingDir(id string, run uint64) string {
	return filepath.Join(c.hlsDir, ".staging", fmt.Sprintf("%s.%d", id, run))
}

// Publish replaces the HLS of item id with what was written in staging. A
// title already published is swapped with the new tree in one step
// (renameat2 RENAME_EXCHANGE), so that players never find it absent; on a
// file system without that, the old tree is moved aside first.
func (c *Catalogue) Publish(id, staging string) error {
	dst := c.Dir(id)
	err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		// the old tree is now at staging; what cannot be deleted of it
		// goes with the staging dir at the next start (CleanStaging)
		_ = os.RemoveAll(staging)
		return nil
	case errors.Is(err, unix.ENOENT):
		// the first publication: nothing to swap with
		if err := os.Rename(staging, dst); err != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
		return nil
	case !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EXDEV):
		return fmt.Errorf("publish %s: %w", id, err)
	}
	old := filepath.Join(c.hlsDir, ".staging", id+".old")
	_ = os.RemoveAll(old)
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("publish %s: %w", id, err)
	}
	if err := os.Rename(staging, dst); err != nil {
		return fmt.Errorf("publish %s: %w", id, err)
	}
	_ = os.RemoveAll(old)
	return nil
}

// getTx reads one item inside a transaction.
func getTx(tx *bolt.Tx, id string) (Item, bool, error) {
	var it Item
	b := tx.Bucket(bucketItems)
	if b == nil {
		return it, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return it, false, nil
	}
	if err := json.Unmarshal(v, &it); err != nil {
		return it, false, fmt.Errorf("catalogue item %s: %w", id, err)
	}
	return it, true, nil
}

// putTx writes one item inside a transaction.
func putTx(tx *bolt.Tx, it Item) error {
	b, err := tx.CreateBucketIfNotExists(bucketItems)
	if err != nil {
		return fmt.Errorf("catalogue: %w", err)
	}
	it.Updated = time.Now().UTC()
	v, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("catalogue: %w", err)
	}
	return b.Put([]byte(it.ID), v)
}

// deleteTx removes one item's record inside a transaction.
func deleteTx(tx *bolt.Tx, id string) error {
	if b := tx.Bucket(bucketItems); b != nil {
		return b.Delete([]byte(id))
	}
	return nil
}

// Get returns one item.
func (c *Catalogue) Get(id string) (it Item, ok bool, err error) {
	err = c.st.View(func(tx *bolt.Tx) error {
		it, ok, err = getTx(tx, id)
		return err
	})
	return it, ok, err
}

// Update applies fn to item id (when it exists) in one transaction.
func (c *Catalogue) Update(id string, fn func(*Item)) error {
	return c.st.Update(func(tx *bolt.Tx) error {
		it, ok, err := getTx(tx, id)
		if err != nil || !ok {
			return err
		}
		fn(&it)
		return putTx(tx, it)
	})
}

// Queued records that the source at path source (relative to media_dir;
// size and mtime as found) waits to be processed as title id, described by
// m. A title of the same id (a replaced source) keeps what m does not say;
// it is no longer missing nor quarantined.
func (c *Catalogue) Queued(id, source string, size int64, mtime time.Time, m Meta) error {
	return c.st.Update(func(tx *bolt.Tx) error {
		it, _, err := getTx(tx, id)
		if err != nil {
			return err
		}
		it.ID, it.Source, it.State, it.Error, it.Missing, it.Quarantined = id, source, StateQueued, "", "", ""
		it.SourceSize, it.SourceModTime = size, mtime.UTC()
		it.SetMeta(m)
		return putTx(tx, it)
	})
}

// SetState moves title id to state (StateQueued or StateProcessing). A
// title that does not exist (removed meanwhile) is left alone.
func (c *Catalogue) SetState(id, state string) error {
	if state != StateQueued && state != StateProcessing {
		return fmt.Errorf("catalogue: SetState(%s, %q): use Ready or Failed", id, state)
	}
	return c.Update(id, func(it *Item) { it.State = state })
}

// Failed marks title id failed with reason; it has no HLS any more.
// quarantined is where its source was moved (relative to media_dir), or ""
// when it stays in place.
func (c *Catalogue) Failed(id, reason, quarantined string) error {
	return c.Update(id, func(it *Item) {
		it.State, it.Error, it.HLS, it.Quarantined = StateFailed, reason, "", quarantined
	})
}

// Missing marks title id missing, why saying what it lacks and how to bring
// it back; with why "" a missing title is ready again. A title that does
// not exist is left alone.
func (c *Catalogue) Missing(id, why string) error {
	return c.Update(id, func(it *Item) {
		if why == "" {
			it.State, it.Missing = StateReady, ""
			return
		}
		it.State, it.Missing = StateMissing, why
	})
}

// Published is what processing a source made of it.
type Published struct {
	Source   string        // relative to media_dir
	Meta     Meta          // from the name, and for tracks their tags
	Method   string        // remux | encode
	Duration time.Duration // of the packaged media
	Variants []VariantInfo
	Poster   bool // poster.jpg was written next to the master playlist
}

// Ready records title id as ready to play, its HLS published (Publish).
func (c *Catalogue) Ready(id string, p Published) error {
	return c.st.Update(func(tx *bolt.Tx) error {
		it, _, err := getTx(tx, id)
		if err != nil {
			return err
		}
		it.ID, it.Source = id, p.Source
		it.SetMeta(p.Meta)
		it.State, it.Error, it.Method, it.Missing, it.Quarantined = StateReady, "", p.Method, "", ""
		it.HLS = "/vod/" + id + "/" + MasterPlaylist
		it.Duration = p.Duration.Seconds()
		it.Variants = p.Variants
		it.Packaging = PackagingVersion
		it.Poster = ""
		if p.Poster {
			it.Poster = "/vod/" + id + "/poster.jpg"
		}
		return putTx(tx, it)
	})
}

// Forget deletes title id's record (not its files: RemoveFiles) and
// reports whether there was one.
func (c *Catalogue) Forget(id string) (found bool, err error) {
	err = c.st.Update(func(tx *bolt.Tx) error {
		_, found, err = getTx(tx, id)
		if err != nil {
			return err
		}
		return deleteTx(tx, id)
	})
	return found, err
}

// List returns every item: films by title, episodes by show, season and
// episode, tracks by artist, album and title.
func (c *Catalogue) List() ([]Item, error) {
	var out []Item
	err := c.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("catalogue item %s: %w", k, err)
			}
			out = append(out, it)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Item) int {
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind)
		}
		for _, c := range [][2]string{{a.Show, b.Show}, {a.Artist, b.Artist}, {a.Album, b.Album}} {
			if c[0] != c[1] {
				return strings.Compare(strings.ToLower(c[0]), strings.ToLower(c[1]))
			}
		}
		if a.Season != b.Season {
			return a.Season - b.Season
		}
		if a.Episode != b.Episode {
			return a.Episode - b.Episode
		}
		return strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title))
	})
	return out, err
}

// Remove deletes item id and its HLS tree.
func (c *Catalogue) Remove(id string) error {
	if err := c.st.Update(func(tx *bolt.Tx) error { return deleteTx(tx, id) }); err != nil {
		return err
	}
	return c.RemoveFiles(id)
}

// HasHLS reports whether item id's published HLS (its master playlist) is on disk.
func (c *Catalogue) HasHLS(id string) bool {
	fi, err := os.Stat(filepath.Join(c.Dir(id), MasterPlaylist))
	return err == nil && fi.Mode().IsRegular()
}

// RemoveFiles deletes item id's published HLS tree.
func (c *Catalogue) RemoveFiles(id string) error {
	if err := os.RemoveAll(c.Dir(id)); err != nil {
		return fmt.Errorf("remove hls %s: %w", id, err)
	}
	return nil
}

// CleanStaging removes every staging dir: at start, what is there is left
// from runs that did not finish.
func (c *Catalogue) CleanStaging() error {
	return os.RemoveAll(filepath.Join(c.hlsDir, ".staging"))
}
