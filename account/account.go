// Package account is the local accounts of the admin UI, shared by the web UI and the
// `irm user` command so that both validate and audit alike: adding and changing accounts,
// the role groups and their permissions, the password rules, and the pseudonyms that
// hide user names from reviewers.
//
// actor, in every function that changes something, is who made the change: the account
// name for the web UI, "cli:<os user>" for the command line (CLIActor).
package account

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"irm/store"
)

// accountAudit is what the audit log records of an account: never the hash.
type accountAudit struct {
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	Disabled bool     `json:"disabled"`
}

func accountSnapshot(a store.Account) accountAudit {
	return accountAudit{Name: a.Name, Roles: a.Roles, Disabled: a.Disabled}
}

func appendAudit(db *store.DB, actor, category, activity, target string, before, after any, details string) error {
	_, err := db.Audit(actor, category, activity, target, before, after, details)
	return err
}

// CLIActor names the person at the terminal in the audit log: "cli:" and the operating
// system account running the command, or, when that is root through sudo, the account
// that ran sudo (SUDO_USER is trusted only from root, who could write anything anyway).
func CLIActor() string { return CLIActorFor(os.Getuid(), os.Getenv("SUDO_USER")) }

// CLIActorFor is CLIActor for the process with this uid and SUDO_USER: a command run
// inside `irm serve` through its control socket is recorded as its caller, the uid
// taken from the socket's peer credentials.
func CLIActorFor(uid int, sudoUser string) string {
	name := ""
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	}
	if uid == 0 && sudoUser != "" {
		name = sudoUser
	}
	if name == "" {
		name = "uid" + strconv.Itoa(uid)
	}
	return "cli:" + name
}

// AddAccount creates an account with roles and password, and audits it.
func AddAccount(db *store.DB, actor, name string, roles []string, password string) error {
	roles = CanonicalRoles(roles)
	if len(roles) == 0 {
		return fmt.Errorf("account %s: at least one role is needed (roles: %s)", name, strings.Join(Roles, ", "))
	}
	if !store.ValidAccountName(name) {
		return fmt.Errorf("account name %q: use 1-64 letters, digits, . _ - @", name)
	}
	if err := CheckPassword(name, password); err != nil {
		return fmt.Errorf("account %s: %w", name, err)
	}
	hash, err := store.HashPassword(password)
	if err != nil {
		return err
	}
	a := store.Account{Name: name, Roles: roles, Hash: hash}
	if err := db.CreateAccount(a); err != nil {
		return err
	}
	return appendAudit(db, actor, "users", "Added account", name, nil, accountSnapshot(a), "roles "+strings.Join(roles, ","))
}

// SetRoles replaces the role groups of an account and audits before and after. Open
// sessions keep going with the new roles: the UI reads the account on every request.
func SetRoles(db *store.DB, actor, name string, roles []string) error {
	roles = CanonicalRoles(roles)
	if len(roles) == 0 {
		return fmt.Errorf("account %s: at least one role is needed", name)
	}
	before, after, err := db.UpdateAccount(name, func(a *store.Account) error { a.Roles = roles; return nil })
	if err != nil {
		return err
	}
	if slices.Equal(before.Roles, after.Roles) {
		return nil
	}
	return appendAudit(db, actor, "users", "Changed role groups", name, accountSnapshot(before), accountSnapshot(after),
		strings.Join(before.Roles, ",")+" → "+strings.Join(after.Roles, ","))
}

// SetDisabled disables (signing every session out) or re-enables an account.
func SetDisabled(db *store.DB, actor, name string, disabled bool) error {
	before, after, err := db.UpdateAccount(name, func(a *store.Account) error { a.Disabled = disabled; return nil })
	if err != nil {
		return err
	}
	if disabled {
		if _, err := db.DeleteUserSessions(name); err != nil {
			return err
		}
	}
	if before.Disabled == after.Disabled {
		return nil
	}
	activity := "Enabled account"
	if disabled {
		activity = "Disabled account"
	}
	return appendAudit(db, actor, "users", activity, name, accountSnapshot(before), accountSnapshot(after), "")
}

// SetPassword replaces an account's password and signs its sessions out.
func SetPassword(db *store.DB, actor, name, password string) error {
	if err := CheckPassword(name, password); err != nil {
		return fmt.Errorf("account %s: %w", name, err)
	}
	hash, err := store.HashPassword(password)
	if err != nil {
		return err
	}
	if _, _, err := db.UpdateAccount(name, func(a *store.Account) error { a.Hash = hash; return nil }); err != nil {
		return err
	}
	if _, err := db.DeleteUserSessions(name); err != nil {
		return err
	}
	return appendAudit(db, actor, "users", "Changed password", name, nil, nil, "")
}

// EnsureAdmin creates the first account when there is none: "admin" in the
// insider_risk_management role group with a random password, which it prints to out
// once. Nothing is printed when accounts exist. serve calls it before listening.
func EnsureAdmin(db *store.DB, out io.Writer) error {
	accts, err := db.Accounts()
	if err != nil {
		return err
	}
	if len(accts) > 0 {
		return nil
	}
	pw := RandomPassword()
	if err := AddAccount(db, "system", "admin", []string{RoleIRM}, pw); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return fmt.Errorf("first admin account: %w", err)
	}
	_, err = fmt.Fprintf(out, "irm: created the first account. Sign in as \"admin\" with the one-time password\n\n    %s\n\nIt is not stored anywhere readable and will not be shown again; change it or add your own accounts (irm user add).\n", pw)
	return err
}

// RandomPassword returns 20 characters from an alphabet without look-alikes (~114 bits).
func RandomPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic("account: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
