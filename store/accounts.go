package store

// Local accounts and web sessions of the admin UI (keys acct/ and sess/). Passwords are
// argon2id hashes in PHC string form; sessions are stored under a SHA-256 of the cookie
// token so that a copy of the database does not hand out live sessions.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/crypto/argon2"
)

const (
	acctUserPrefix = "acct/u/"
	acctKeyPrefix  = "acct/k/"
	sessPrefix     = "sess/"
)

// Account is one local sign-in of the admin UI.
type Account struct {
	Name     string    `json:"name"`
	Roles    []string  `json:"roles"`
	Hash     string    `json:"hash"` // argon2id PHC string
	Disabled bool      `json:"disabled,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// LastSignIn is the time of the last successful sign-in (zero: never).
	LastSignIn time.Time `json:"last_sign_in,omitzero"`
}

// HasRole reports whether the account holds role.
func (a *Account) HasRole(role string) bool {
	for _, r := range a.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// argon2id parameters: OWASP's second recommended profile (19 MiB, 2 passes) keeps a
// sign-in under ~50 ms on the 2-core appliance while making offline guessing costly.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the argon2id PHC string for pw with a fresh random salt.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("store: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the PHC string hash. The parameters are read
// from the hash, so raising them later keeps old hashes valid.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ValidAccountName reports whether name can be used as an account name: 1–64 characters
// of letters, digits and . _ - @ (so that a UPN works too).
func ValidAccountName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '@':
		default:
			return false
		}
	}
	return true
}

// ErrExists is returned when creating an account whose name is taken.
var ErrExists = errors.New("already exists")

// CreateAccount stores a new account; ErrExists if the name is taken.
func (db *DB) CreateAccount(a Account) error {
	if !ValidAccountName(a.Name) {
		return fmt.Errorf("store: account name %q: use 1-64 letters, digits, . _ - @", a.Name)
	}
	now := time.Now().UTC()
	if a.Created.IsZero() {
		a.Created = now
	}
	a.Updated = now
	return db.Badger().Update(func(txn *badger.Txn) error {
		key := []byte(acctUserPrefix + a.Name)
		if _, err := txn.Get(key); err == nil {
			return fmt.Errorf("store: account %q: %w", a.Name, ErrExists)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("store: account %q: %w", a.Name, err)
		}
		v, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return txn.Set(key, v)
	})
}

// UpdateAccount applies fn to the stored account in one transaction and returns the
// account before and after. ErrNotFound if there is no such account.
func (db *DB) UpdateAccount(name string, fn func(a *Account) error) (before, after Account, err error) {
	err = db.Badger().Update(func(txn *badger.Txn) error {
		key := []byte(acctUserPrefix + name)
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("store: account %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &before) }); err != nil {
			return fmt.Errorf("store: account %q: %w", name, err)
		}
		after = before
		after.Roles = append([]string(nil), before.Roles...)
		if err := fn(&after); err != nil {
			return err
		}
		after.Name = before.Name // the name is the key
		after.Updated = time.Now().UTC()
		v, err := json.Marshal(after)
		if err != nil {
			return err
		}
		return txn.Set(key, v)
	})
	return before, after, err
}

// Account returns the named account.
func (db *DB) Account(name string) (Account, bool, error) {
	var a Account
	err := db.Badger().View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(acctUserPrefix + name))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &a) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Account{}, false, nil
	}
	if err != nil {
		return Account{}, false, fmt.Errorf("store: account %q: %w", name, err)
	}
	return a, true, nil
}

// Accounts returns every account in name order.
func (db *DB) Accounts() ([]Account, error) {
	var out []Account
	err := db.Badger().View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = []byte(acctUserPrefix)
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var a Account
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &a) }); err != nil {
				return fmt.Errorf("store: account %s: %w", it.Item().Key(), err)
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// Session is one signed-in browser.
type Session struct {
	User     string    `json:"user"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	CSRF     string    `json:"csrf"`             // synchronizer token for state-changing requests
	IP       string    `json:"ip,omitempty"`     // where it signed in, for the users page
	Reveal   bool      `json:"reveal,omitempty"` // the user chose to see real names (audited)
	Flash    string    `json:"flash,omitempty"`  // message for the next page, shown once
}

func sessKey(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return []byte(sessPrefix + hex.EncodeToString(sum[:]))
}

// NewToken returns a random URL-safe token of 32 bytes.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("store: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// PutSession stores s under the cookie token. ttl bounds how long Badger keeps it even if
// nobody signs out (the UI also checks the timeouts itself).
func (db *DB) PutSession(token string, s Session, ttl time.Duration) error {
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return db.Badger().Update(func(txn *badger.Txn) error {
		e := badger.NewEntry(sessKey(token), v)
		if ttl > 0 {
			e = e.WithTTL(ttl)
		}
		return txn.SetEntry(e)
	})
}

// Session returns the session of a cookie token.
func (db *DB) Session(token string) (Session, bool, error) {
	var s Session
	err := db.Badger().View(func(txn *badger.Txn) error {
		item, err := txn.Get(sessKey(token))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &s) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("store: session: %w", err)
	}
	return s, true, nil
}

// DeleteSession signs a browser out.
func (db *DB) DeleteSession(token string) error {
	return db.Badger().Update(func(txn *badger.Txn) error { return txn.Delete(sessKey(token)) })
}

// DeleteUserSessions signs every browser of user out (after disabling or a role change)
// and returns how many sessions it removed.
func (db *DB) DeleteUserSessions(user string) (int, error) {
	var keys [][]byte
	err := db.Badger().View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = []byte(sessPrefix)
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var s Session
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &s) }); err != nil {
				continue
			}
			if s.User == user {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: sessions of %q: %w", user, err)
	}
	err = db.Badger().Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return len(keys), err
}

// SecretKey returns the named random 32-byte key, creating it on first use. The UI keeps
// its pseudonymization HMAC key here, so pseudonyms stay stable across restarts and
// backups but cannot be recomputed without the database.
func (db *DB) SecretKey(name string) ([]byte, error) {
	key := []byte(acctKeyPrefix + name)
	var out []byte
	err := db.Badger().Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err == nil {
			out, err = item.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		out = make([]byte, 32)
		if _, err := rand.Read(out); err != nil {
			return err
		}
		return txn.Set(key, out)
	})
	if err != nil {
		return nil, fmt.Errorf("store: secret key %q: %w", name, err)
	}
	return out, nil
}
