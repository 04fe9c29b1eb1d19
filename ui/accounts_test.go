package ui

import (
	"bytes"
	"encoding/json"
	"errors"
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
	if err := AddAccount(db, "t", "ann", []string{RoleAnalyst}, "short"); err == nil {
		t.Error("short password accepted")
	}
	if err := AddAccount(db, "t", "ann", nil, "long enough password"); err == nil {
		t.Error("account without roles accepted")
	}
	if err := AddAccount(db, "t", "a<b", []string{RoleAnalyst}, "long enough password"); err == nil {
		t.Error("name with markup accepted")
	}
	if err := AddAccount(db, "t", "ann", []string{RoleAnalyst, "root"}, "long enough password"); err != nil {
		t.Fatal(err) // unknown roles are dropped by CanonicalRoles; ParseRoles (CLI) rejects them
	}
	if err := AddAccount(db, "t", "ann", []string{RoleAnalyst}, "long enough password"); !errors.Is(err, store.ErrExists) {
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
	if err := SetPassword(db, "t", "nobody", "long enough password"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPassword on a missing account: %v", err)
	}
}
