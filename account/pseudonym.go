package account

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"irm/store"
)

// PseudonymKeyName is the store secret that keys pseudonyms (store.DB.SecretKey).
const PseudonymKeyName = "pseudonym"

// PseudonymKey returns the installation's pseudonym key, creating it on first use. It
// lives in the database, so pseudonyms survive restarts and backups.
func PseudonymKey(db *store.DB) ([]byte, error) { return db.SecretKey(PseudonymKeyName) }

// Pseudonym returns the stable pseudonym of a UPN under key: "Anon-" and six upper-case
// hex digits of HMAC-SHA256(key, lower-cased UPN). Keyed, so nobody without the database
// can map a pseudonym back by hashing guessed UPNs.
func Pseudonym(key []byte, upn string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(upn)))
	return "Anon-" + strings.ToUpper(hex.EncodeToString(m.Sum(nil)[:3]))
}

// ScrubUPN replaces the UPN inside free text (an object path, a URL, a recipient, the
// raw record) with repl, case-insensitively, including OneDrive's spelling of it with
// underscores (alice_contoso_com). Other people's names in the text are not recognised;
// docs/ui.md says so.
func ScrubUPN(text, upn, repl string) string {
	if upn == "" || text == "" {
		return text
	}
	under := strings.NewReplacer("@", "_", ".", "_").Replace(upn)
	for _, v := range []string{upn, under} {
		text = replaceFold(text, v, repl)
	}
	return text
}

// replaceFold replaces every case-insensitive occurrence of old (ASCII) in s.
func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	lower, lold := strings.ToLower(s), strings.ToLower(old)
	if len(lower) != len(s) { // non-ASCII case folding changed lengths: exact match only
		return strings.ReplaceAll(s, old, repl)
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, lold)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, lower = s[i+len(old):], lower[i+len(old):]
	}
}
