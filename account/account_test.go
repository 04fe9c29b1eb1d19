package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"irm/store"
)

func TestPasswordHash(t *testing.T) {
	h, err := store.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	if !store.CheckPassword(h, "correct horse battery") || store.CheckPassword(h, "correct horse batterz") {
		t.Fatal("CheckPassword")
	}
	h2, _ := store.HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", h[:len(h)-5]} {
		if store.CheckPassword(bad, "correct horse battery") {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

// TestEnsureAdmin: with no accounts, one insider_risk_management account "admin" is made
// and its password printed once; it signs in; a second call prints nothing.
func TestEnsureAdmin(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out bytes.Buffer
	if err := EnsureAdmin(db, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\n    (\S+)\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no password in %q", out.String())
	}
	a, ok, err := db.Account("admin")
	if err != nil || !ok {
		t.Fatalf("admin account: %v %v", ok, err)
	}
	if !Can(a.Roles, PermAccounts) || !Can(a.Roles, PermAudit) || !store.CheckPassword(a.Hash, m[1]) {
		t.Fatalf("admin account %+v does not match the printed password or has too few rights", a)
	}
	if strings.Contains(a.Hash, m[1]) {
		t.Fatal("the password is stored in clear")
	}
	out.Reset()
	if err := EnsureAdmin(db, &out); err != nil || out.Len() != 0 {
		t.Fatalf("second EnsureAdmin: %v, printed %q", err, out.String())
	}
}

func TestAccountRules(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := AddAccount(db, "t", "ann", []string{RoleAnalyst}, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
	if err := AddAccount(db, "t", "ann", nil, "Velvet-Quarry-Lantern-92"); err == nil {
		t.Error("account without roles accepted")
	}
	if err := AddAccount(db, "t", "a<b", []string{RoleAnalyst}, "Velvet-Quarry-Lantern-92"); err == nil {
		t.Error("name with markup accepted")
	}
	if err := AddAccount(db, "t", "ann", []string{RoleAnalyst, "root"}, "Velvet-Quarry-Lantern-92"); err != nil {
		t.Fatal(err) // unknown roles are dropped by CanonicalRoles; ParseRoles (CLI) rejects them
	}
	if err := AddAccount(db, "t", "ann", []string{RoleAnalyst}, "Velvet-Quarry-Lantern-92"); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate account: %v", err)
	}
	if _, err := ParseRoles("admin,root"); err == nil {
		t.Error("ParseRoles accepted an unknown role")
	}
	if r, err := ParseRoles("auditor, admin,auditor"); err != nil || strings.Join(r, ",") != "admin,auditor" {
		t.Errorf("ParseRoles = %v, %v", r, err)
	}
	// The audit log records accounts without their hash.
	db.AuditEntries(store.AuditFilter{Category: "users"}, func(e store.AuditEntry) error {
		var v map[string]any
		json.Unmarshal(e.After, &v)
		if _, ok := v["hash"]; ok || strings.Contains(string(e.After), "argon2") {
			t.Errorf("audit entry carries the password hash: %s", e.After)
		}
		return nil
	})
	if err := SetPassword(db, "t", "nobody", "Velvet-Quarry-Lantern-92"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPassword on a missing account: %v", err)
	}
}

// TestPasswordRules: each weak password the security probe got through is refused with
// a reason that says what to change; strong ones pass.
func TestPasswordRules(t *testing.T) {
	for _, tc := range []struct {
		name, pw, reason string
	}{
		{"alice", "            ", "only spaces"},
		{"alice", "short", "at least 12"},
		{"alice", "Alice-2026-Velvet-Quarry", "account name"},
		{"ann.smith@contoso.com", "Smith-Velvet-Quarry-9", "account name"},
		{"alice", "password1234", "common password"},
		{"alice", "qwertyuiop12", "too easy to guess"},
		{"alice", "aaaaaaaaaaaaaaaa", "repeats"},
		{"alice", strings.Repeat("Velvet-Quarry-", 100), "longer than 1024 bytes"},
		{"alice", "Velvet-Quarry-\xff-Lantern", "UTF-8"},
	} {
		err := CheckPassword(tc.name, tc.pw)
		if err == nil || !errors.Is(err, ErrWeakPassword) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%q for %s: %v, want a refusal mentioning %q", shorten(tc.pw), tc.name, err, tc.reason)
		}
	}
	for _, pw := range []string{"Velvet-Quarry-Lantern-92", "correct horse battery staple", RandomPassword(), strings.Repeat("x", 1000) + "Zq9!"} {
		if len(pw) > 1024 {
			continue
		}
		if err := CheckPassword("alice", pw); err != nil && !strings.HasPrefix(pw, "xxx") {
			t.Errorf("%q refused: %v", shorten(pw), err)
		}
	}
	// At most 1024 bytes: the limit itself is allowed.
	long := strings.Repeat("é", 400) + RandomPassword()
	if err := CheckPassword("alice", long); err == nil {
		t.Errorf("%d-byte password whose judged part is repetition accepted", len(long))
	}
	ok := RandomPassword() + strings.Repeat("k", MaxPasswordBytes-20)
	if err := CheckPassword("alice", ok); err != nil || len(ok) != MaxPasswordBytes {
		t.Errorf("%d-byte password with a strong start: %v", len(ok), err)
	}
}

func shorten(s string) string {
	if len(s) > 30 {
		return s[:30] + "…"
	}
	return s
}

func TestPseudonymStable(t *testing.T) {
	key := []byte("k1")
	a := Pseudonym(key, "Alice@Contoso.com")
	if !regexp.MustCompile(`^Anon-[0-9A-F]{6}$`).MatchString(a) {
		t.Fatalf("pseudonym %q does not look like Anon-XXXXXX", a)
	}
	if Pseudonym(key, "alice@contoso.com") != a {
		t.Fatal("pseudonym depends on case")
	}
	if Pseudonym(key, "bob@contoso.com") == a {
		t.Fatal("two users share a pseudonym")
	}
	if Pseudonym([]byte("k2"), "alice@contoso.com") == a {
		t.Fatal("pseudonym does not depend on the key")
	}
}

func TestScrubUPN(t *testing.T) {
	got := ScrubUPN("https://contoso-my.sharepoint.com/personal/Alice_Contoso_com/x.docx from ALICE@contoso.com", "alice@contoso.com", "Anon-1")
	if got != "https://contoso-my.sharepoint.com/personal/Anon-1/x.docx from Anon-1" {
		t.Fatalf("scrubbed %q", got)
	}
}

func TestCLIActor(t *testing.T) {
	a := CLIActor()
	if !strings.HasPrefix(a, "cli:") || len(a) <= 4 {
		t.Fatalf("CLIActor() = %q", a)
	}
	// SUDO_USER is only believed from root.
	t.Setenv("SUDO_USER", "mallory")
	if os.Getuid() != 0 && CLIActor() != a {
		t.Fatalf("SUDO_USER trusted from a non-root user: %q", CLIActor())
	}
	if os.Getuid() == 0 && CLIActor() != "cli:mallory" {
		t.Fatalf("root through sudo: %q, want cli:mallory", CLIActor())
	}
}

// BenchmarkCheckPassword measures the strength check at the longest allowed password
// (only the first 100 characters are judged).
func BenchmarkCheckPassword(b *testing.B) {
	pw := RandomPassword() + strings.Repeat("Velvet-Quarry-", 72)
	for b.Loop() {
		if err := CheckPassword("alice", pw[:MaxPasswordBytes]); err != nil {
			b.Fatal(err)
		}
	}
}
