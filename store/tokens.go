package store

// API bearer tokens (keys tok/<sha256 of the token>). Like sessions, only a digest of
// the secret is stored: a copy of the database does not hand out working tokens. A
// token has a unique name, by which it is listed and revoked.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const tokenPrefix = "tok/"

// APIToken is one bearer token of the REST API: it acts with its role groups, as a
// session of an account with those roles would.
type APIToken struct {
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	// Expires is when the token stops working (zero: never).
	Expires time.Time `json:"expires,omitzero"`
	// RealNames: the token sees UPNs rather than pseudonyms, decided (and audited) when
	// it was created; only roles that may reveal names can hold it.
	RealNames bool      `json:"real_names,omitempty"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	// Prefix is the token's first characters, shown in lists so that a person can tell
	// which token a file or a script holds; far too short to guess the rest.
	Prefix string `json:"prefix"`
}

// Expired reports whether the token no longer works at now.
func (t *APIToken) Expired(now time.Time) bool { return !t.Expires.IsZero() && !now.Before(t.Expires) }

func tokenKey(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return []byte(tokenPrefix + hex.EncodeToString(sum[:]))
}

// CreateToken stores a token under the digest of secret; ErrExists if another token
// has the same name.
func (db *DB) CreateToken(secret string, t APIToken) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return db.Badger().Update(func(txn *badger.Txn) error {
		taken := false
		if err := eachToken(txn, func(_ []byte, o APIToken) error {
			if o.Name == t.Name {
				taken = true
				return ErrStop
			}
			return nil
		}); err != nil && !errors.Is(err, ErrStop) {
			return err
		}
		if taken {
			return fmt.Errorf("store: token %q: %w", t.Name, ErrExists)
		}
		return txn.Set(tokenKey(secret), v)
	})
}

func eachToken(txn *badger.Txn, fn func(key []byte, t APIToken) error) error {
	opt := badger.DefaultIteratorOptions
	opt.Prefix = []byte(tokenPrefix)
	it := txn.NewIterator(opt)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var t APIToken
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &t) }); err != nil {
			return fmt.Errorf("store: token %s: %w", it.Item().Key(), err)
		}
		if err := fn(it.Item().KeyCopy(nil), t); err != nil {
			return err
		}
	}
	return nil
}

// Token returns the token whose secret this is.
func (db *DB) Token(secret string) (APIToken, bool, error) {
	var t APIToken
	err := db.Badger().View(func(txn *badger.Txn) error {
		item, err := txn.Get(tokenKey(secret))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &t) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return APIToken{}, false, nil
	}
	if err != nil {
		return APIToken{}, false, fmt.Errorf("store: token: %w", err)
	}
	return t, true, nil
}

// TouchToken records that the token with this secret was used at t.
func (db *DB) TouchToken(secret string, t time.Time) error {
	return db.Badger().Update(func(txn *badger.Txn) error {
		item, err := txn.Get(tokenKey(secret))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil // revoked meanwhile
		}
		if err != nil {
			return err
		}
		var tok APIToken
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &tok) }); err != nil {
			return err
		}
		tok.LastUsed = t.UTC()
		v, err := json.Marshal(tok)
		if err != nil {
			return err
		}
		return txn.Set(tokenKey(secret), v)
	})
}

// Tokens returns every token, by name.
func (db *DB) Tokens() ([]APIToken, error) {
	var out []APIToken
	err := db.Badger().View(func(txn *badger.Txn) error {
		return eachToken(txn, func(_ []byte, t APIToken) error { out = append(out, t); return nil })
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DeleteToken removes the named token and returns it; ErrNotFound if there is none.
func (db *DB) DeleteToken(name string) (APIToken, error) {
	var gone APIToken
	err := db.Badger().Update(func(txn *badger.Txn) error {
		var key []byte
		if err := eachToken(txn, func(k []byte, t APIToken) error {
			if t.Name == name {
				key, gone = k, t
				return ErrStop
			}
			return nil
		}); err != nil && !errors.Is(err, ErrStop) {
			return err
		}
		if key == nil {
			return fmt.Errorf("store: token %q: %w", name, ErrNotFound)
		}
		return txn.Delete(key)
	})
	return gone, err
}
