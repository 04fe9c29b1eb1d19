package account

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"irm/store"
)

// API tokens: the REST API's credentials for scripts and integrations. A token acts
// with its role groups exactly as a web session of an account with those roles would
// (the same permission matrix, the same pseudonyms), without CSRF, since it is sent by
// a program rather than a browser. The secret is printed once and only its SHA-256 is
// stored; creating and revoking one is audited like an account change.

// TokenPrefix starts every token, so that secret scanners and people recognise one.
const TokenPrefix = "irm_"

// tokenAudit is what the audit log records of a token: never the secret.
type tokenAudit struct {
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	Expires   time.Time `json:"expires,omitzero"`
	RealNames bool      `json:"real_names,omitempty"`
	Prefix    string    `json:"prefix"`
}

func tokenSnapshot(t store.APIToken) tokenAudit {
	return tokenAudit{Name: t.Name, Roles: t.Roles, Expires: t.Expires, RealNames: t.RealNames, Prefix: t.Prefix}
}

// NewTokenSecret returns a fresh token: the prefix and 32 random bytes, base64url.
func NewTokenSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("account: crypto/rand failed: " + err.Error())
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// TokenSpec is what a new token is made of.
type TokenSpec struct {
	Name  string
	Roles []string
	// Expires: zero for a token that does not expire.
	Expires time.Time
	// RealNames lets the token see UPNs when pseudonymisation is on; only role groups
	// that may reveal names (account.PermRealNames) may have it.
	RealNames bool
}

// CreateToken makes a token, stores its digest, audits it and returns the secret,
// which is shown once and never again.
func CreateToken(db *store.DB, actor string, spec TokenSpec, now time.Time) (string, store.APIToken, error) {
	roles := CanonicalRoles(spec.Roles)
	if len(roles) == 0 {
		return "", store.APIToken{}, fmt.Errorf("token %s: at least one role is needed (roles: %s)", spec.Name, strings.Join(Roles, ", "))
	}
	if !store.ValidAccountName(spec.Name) {
		return "", store.APIToken{}, fmt.Errorf("token name %q: use 1-64 letters, digits, . _ - @", spec.Name)
	}
	if !spec.Expires.IsZero() && !spec.Expires.After(now) {
		return "", store.APIToken{}, fmt.Errorf("token %s: expires %s, which is not in the future", spec.Name, spec.Expires.UTC().Format(time.RFC3339))
	}
	if spec.RealNames && !Can(roles, PermRealNames) {
		return "", store.APIToken{}, fmt.Errorf("token %s: real names need a role group that may reveal them (%s or %s)", spec.Name, RoleInvestigator, RoleIRM)
	}
	secret := NewTokenSecret()
	t := store.APIToken{Name: spec.Name, Roles: roles, Created: now.UTC(), CreatedBy: actor, RealNames: spec.RealNames,
		Prefix: secret[:len(TokenPrefix)+4]}
	if !spec.Expires.IsZero() {
		t.Expires = spec.Expires.UTC()
	}
	if err := db.CreateToken(secret, t); err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", store.APIToken{}, fmt.Errorf("token %s: a token of that name exists; revoke it first or choose another name", spec.Name)
		}
		return "", store.APIToken{}, err
	}
	details := "roles " + strings.Join(roles, ",") + ", " + ExpiryWords(t.Expires)
	if t.RealNames {
		details += ", sees real names"
	}
	if err := appendAudit(db, actor, "users", "Created API token", t.Name, nil, tokenSnapshot(t), details); err != nil {
		return "", store.APIToken{}, err
	}
	return secret, t, nil
}

// RevokeToken deletes the named token at once and audits it.
func RevokeToken(db *store.DB, actor, name string) error {
	t, err := db.DeleteToken(name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("token %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return appendAudit(db, actor, "users", "Revoked API token", name, tokenSnapshot(t), nil, "")
}

// Token refusal reasons, as the audit log records them.
const (
	TokenUnknown   = "unknown or revoked token"
	TokenExpired   = "expired token"
	TokenMalformed = "malformed token"
)

// CheckToken finds the token a request presented. A refusal returns the reason (one of
// the Token* constants) and, for an expired token, its name.
func CheckToken(db *store.DB, secret string, now time.Time) (store.APIToken, string, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 128 {
		return store.APIToken{}, TokenMalformed, nil
	}
	t, ok, err := db.Token(secret)
	if err != nil {
		return store.APIToken{}, "", err
	}
	if !ok {
		return store.APIToken{}, TokenUnknown, nil
	}
	if t.Expired(now) {
		return t, TokenExpired, nil
	}
	return t, "", nil
}

// ParseExpiry reads a token lifetime: a number of days ("90d"), a Go duration
// ("36h"), or a date ("2027-01-31", the end of that day UTC); "" or "never" is none.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	switch {
	case s == "" || s == "never":
		return time.Time{}, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n <= 0 || n > 3650 {
			return time.Time{}, fmt.Errorf("expiry %q: want a number of days from 1 to 3650, such as 90d", s)
		}
		return now.Add(time.Duration(n) * 24 * time.Hour).UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("expiry %q: must be positive", s)
		}
		return now.Add(d).UTC(), nil
	}
	if day, err := time.Parse("2006-01-02", s); err == nil {
		return day.Add(24*time.Hour - time.Second), nil
	}
	return time.Time{}, fmt.Errorf("expiry %q: want days (90d), a duration (36h), a date (2027-01-31) or never", s)
}

// ExpiryWords says when a token expires.
func ExpiryWords(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.UTC().Format("2006-01-02 15:04") + " UTC"
}
