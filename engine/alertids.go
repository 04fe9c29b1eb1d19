package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// idKeyName is the store secret that keys alert and case ids. Created at the first
// start and kept in the data directory with everything else, so ids stay stable across
// restarts and backups, but differ between installations: nobody with the staff list
// and another installation can recompute which id belongs to which user.
const idKeyName = "alert-ids"

// keyedID is a prefix and 12 upper-case hex digits of HMAC-SHA256(key, parts...).
func keyedID(key []byte, prefix string, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return prefix + strings.ToUpper(hex.EncodeToString(m.Sum(nil)[:6]))
}

// alertID is the id of the pair's n-th alert (n counts from 0).
func (e *Engine) alertID(user, policy string, n int) string {
	return keyedID(e.idKey, "A", user, policy, strconv.Itoa(n))
}

// caseID is the id of a new case; seq makes two cases opened in the same nanosecond
// for the same user differ.
func (e *Engine) caseID(user, name string, nanos int64, seq int) string {
	return keyedID(e.idKey, "C", user, name, strconv.FormatInt(nanos, 10), strconv.Itoa(seq))
}
