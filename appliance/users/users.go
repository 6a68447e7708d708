// Package users keeps the appliance's user accounts in the store: names,
// bcrypt password hashes, groups and an optional storage quota. FTPS logins
// and (later) the web admin check passwords through Authenticate.
package users

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/singleflight"

	"thecure/appliance/store"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound       = errors.New("no such user")
	ErrExists         = errors.New("user already exists")
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrInvalid        = errors.New("invalid value")
	// ErrUnknownUser is the ErrBadCredentials of a name that is no account,
	// so that a log can say so without writing what was typed.
	ErrUnknownUser = fmt.Errorf("%w (unknown user)", ErrBadCredentials)
)

// Group names with a meaning of their own.
const (
	GroupAdmin      = "admin"      // manages the appliance, writes the admin folder
	GroupInnovatech = "innovatech" // uploads to the library folders
)

// AdminName is the account made on a first start with no users.
const AdminName = "admin"

var bucketUsers = []byte("users")

// User is one account as the store keeps it (the hash never leaves this package).
type User struct {
	Name    string    `json:"name"`
	Groups  []string  `json:"groups"`
	Quota   int64     `json:"quota,omitempty"` // bytes; 0: the configured default
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// InGroup reports whether the user belongs to any of groups.
func (u User) InGroup(groups ...string) bool {
	for _, g := range groups {
		if slices.Contains(u.Groups, g) {
			return true
		}
	}
	return false
}

type record struct {
	User
	Hash []byte `json:"hash"`
}

// Users is the account database. It is safe for concurrent use.
type Users struct {
	st   *store.Store
	cost int
	now  func() time.Time
	// dummy is compared against when the user does not exist, so that a
	// wrong name costs as much time as a wrong password. Made on first use:
	// a bcrypt hash costs ~50 ms, not to be paid at every start.
	dummy     []byte
	dummyOnce sync.Once

	// Recently verified passwords, so that a client opening many sessions
	// (20 parallel uploads) pays for bcrypt once: HMAC(key, stored hash,
	// password) -> expiry. The stored hash is part of the key, so a
	// password change or a deleted user invalidates the entry. Failures are
	// never cached. Memory only.
	key      [32]byte
	mu       sync.Mutex
	verified map[[32]byte]time.Time
	flight   singleflight.Group
}

// verifiedTTL is how long a verified password is remembered.
const verifiedTTL = 5 * time.Minute

// New returns the accounts kept in st.
func New(st *store.Store) *Users {
	return NewWithCost(st, bcrypt.DefaultCost)
}

// NewWithCost is New with a bcrypt cost (tests use bcrypt.MinCost).
func NewWithCost(st *store.Store, cost int) *Users {
	u := &Users{st: st, cost: cost, now: time.Now, verified: map[[32]byte]time.Time{}}
	_, _ = rand.Read(u.key[:])
	return u
}

// ValidName checks a user or group name: 1 to 64 characters, letters of
// any script (josé, Łukasz, 山田), digits, '.', '_' and '-', starting with a
// letter or digit. Combining marks may follow a letter (é written as e and
// U+0301).
func ValidName(n string) error {
	if n == "" || utf8.RuneCountInString(n) > 64 || !utf8.ValidString(n) {
		return fmt.Errorf("%w: name %q must be 1 to 64 characters", ErrInvalid, n)
	}
	for i, r := range n {
		ok := unicode.IsLetter(r) || unicode.IsDigit(r) ||
			(i > 0 && (r == '.' || r == '_' || r == '-' || unicode.Is(unicode.Mn, r)))
		if !ok {
			return fmt.Errorf("%w: name %q may only hold letters, digits, '.', '_' and '-' (not first)", ErrInvalid, n)
		}
	}
	return nil
}

func validPassword(p string) error {
	switch {
	case len(p) < 8:
		return fmt.Errorf("%w: password must have at least 8 characters", ErrInvalid)
	case len(p) > 72:
		return fmt.Errorf("%w: password must have at most 72 bytes (bcrypt)", ErrInvalid)
	case strings.ContainsAny(p, "\r\n\x00"):
		return fmt.Errorf("%w: password must not contain line breaks or NUL", ErrInvalid)
	}
	return nil
}

func cleanGroups(groups []string) ([]string, error) {
	var out []string
	for _, g := range groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if err := ValidName(g); err != nil {
			return nil, fmt.Errorf("group: %w", err)
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Add creates a user.
func (u *Users) Add(name, password string, groups []string) (User, error) {
	if err := ValidName(name); err != nil {
		return User{}, err
	}
	if err := validPassword(password); err != nil {
		return User{}, err
	}
	gs, err := cleanGroups(groups)
	if err != nil {
		return User{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), u.cost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	now := u.now().UTC()
	rec := record{User: User{Name: name, Groups: gs, Created: now, Updated: now}, Hash: hash}
	err = u.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketUsers)
		if err != nil {
			return err
		}
		if b.Get([]byte(name)) != nil {
			return fmt.Errorf("%w: %s", ErrExists, name)
		}
		return put(b, rec)
	})
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	return rec.User, nil
}

func put(b *bolt.Bucket, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put([]byte(rec.Name), data)
}

// load reads one user's record from b (nil when there are no users yet).
func load(b *bolt.Bucket, name string) (record, error) {
	var rec record
	if b == nil {
		return rec, ErrNotFound
	}
	data := b.Get([]byte(name))
	if data == nil {
		return rec, ErrNotFound
	}
	err := json.Unmarshal(data, &rec)
	return rec, err
}

func (u *Users) get(name string) (record, error) {
	var rec record
	err := u.st.View(func(tx *bolt.Tx) (err error) {
		rec, err = load(tx.Bucket(bucketUsers), name)
		return err
	})
	return rec, err
}

// Get returns one user.
func (u *Users) Get(name string) (User, error) {
	rec, err := u.get(name)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	return rec.User, nil
}

// List returns every user, sorted by name.
func (u *Users) List() ([]User, error) {
	out := []User{}
	err := u.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, rec.User)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// modify loads, changes and stores one user in one transaction.
func (u *Users) modify(name string, fn func(*record) error) (User, error) {
	var out User
	err := u.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		rec, err := load(b, name)
		if err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
		rec.Updated = u.now().UTC()
		out = rec.User
		return put(b, rec)
	})
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	return out, nil
}

// SetPassword replaces a user's password.
func (u *Users) SetPassword(name, password string) error {
	if err := validPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), u.cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	if _, err = u.modify(name, func(r *record) error { r.Hash = hash; return nil }); err != nil {
		return err
	}
	if name == AdminName { // the first password is no longer the password
		return u.removeInitialPassword()
	}
	return nil
}

// SetGroups replaces a user's groups.
func (u *Users) SetGroups(name string, groups []string) (User, error) {
	gs, err := cleanGroups(groups)
	if err != nil {
		return User{}, err
	}
	return u.modify(name, func(r *record) error { r.Groups = gs; return nil })
}

// SetQuota sets a user's own storage quota in bytes (0: the configured default).
func (u *Users) SetQuota(name string, quota int64) (User, error) {
	if quota < 0 {
		return User{}, fmt.Errorf("%w: quota must not be negative", ErrInvalid)
	}
	return u.modify(name, func(r *record) error { r.Quota = quota; return nil })
}

// Delete removes a user.
func (u *Users) Delete(name string) error {
	err := u.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b == nil || b.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	if name == AdminName {
		return u.removeInitialPassword()
	}
	return nil
}

// Authenticate checks a name and password and returns the user. Every failure
// is ErrBadCredentials (an unknown name and a wrong password look the same,
// and take the same time).
func (u *Users) Authenticate(name, password string) (User, error) {
	rec, err := u.get(name)
	if err != nil {
		u.dummyOnce.Do(func() { u.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a password"), u.cost) })
		_ = bcrypt.CompareHashAndPassword(u.dummy, []byte(password))
		if errors.Is(err, ErrNotFound) {
			return User{}, ErrUnknownUser
		}
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	if !u.check(rec.Hash, password) {
		return User{}, ErrBadCredentials
	}
	return rec.User, nil
}

// check compares password with hash through the cache of verified ones;
// concurrent checks of the same pair share one bcrypt comparison.
func (u *Users) check(hash []byte, password string) bool {
	m := hmac.New(sha256.New, u.key[:])
	m.Write(hash)
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	now := u.now()
	u.mu.Lock()
	exp, ok := u.verified[k]
	u.mu.Unlock()
	if ok && now.Before(exp) {
		return true
	}
	v, _, _ := u.flight.Do(string(k[:]), func() (any, error) {
		return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil, nil
	})
	good := v.(bool)
	if good {
		u.mu.Lock()
		if len(u.verified) >= 1024 {
			for kk, e := range u.verified {
				if now.After(e) {
					delete(u.verified, kk)
				}
			}
			if len(u.verified) >= 1024 {
				clear(u.verified)
			}
		}
		u.verified[k] = now.Add(verifiedTTL)
		u.mu.Unlock()
	}
	return good
}

// EnsureAdmin creates the admin account (groups admin and innovatech) with a
// random password when there are no users at all, and writes that password
// to data_dir/initial-admin-password (InitialPasswordFile), which the first
// change of admin's password removes. The log names the file; it holds the
// password only when the file cannot be written. It returns the password it
// made, or "" when users existed.
func (u *Users) EnsureAdmin(log *slog.Logger) (string, error) {
	list, err := u.List()
	if err != nil {
		return "", err
	}
	if len(list) > 0 {
		return "", nil
	}
	pw := RandomPassword()
	if _, err := u.Add(AdminName, pw, []string{GroupAdmin, GroupInnovatech}); err != nil {
		return "", err
	}
	file := u.initialPasswordPath()
	if err := writeInitialPassword(file, pw); err != nil {
		log.Warn("created the first user; write the password down, it is not shown again (change it with: thecure user passwd admin)",
			"user", AdminName, "password", pw, "groups", GroupAdmin+","+GroupInnovatech, "err", err)
		return pw, nil
	}
	log.Warn("created the first user; its password is in the file (thecure status shows it to root) until it is changed with: thecure user passwd admin",
		"user", AdminName, "password_file", file, "groups", GroupAdmin+","+GroupInnovatech)
	return pw, nil
}

// RandomPassword returns 26 random base32 characters (130 bits).
func RandomPassword() string { return rand.Text() }
