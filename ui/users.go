package ui

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"irm/account"
	"irm/store"
)

type usersView struct {
	Accounts []store.Account
	Roles    []string
	Self     string
	Error    string
	// API tokens (integrations.go): the list, and a token just made with its secret,
	// shown in this one answer.
	Tokens   []store.APIToken
	NewToken *store.APIToken
	Secret   string
}

func (s *server) showUsers(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.renderUsers(w, r, c, http.StatusOK, "")
}

func (s *server) renderUsers(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, msg string) {
	s.renderUsersWith(w, r, c, status, usersView{Error: msg})
}

func (s *server) renderUsersWith(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, v usersView) {
	accts, err := s.db.Accounts()
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	toks, err := s.db.Tokens()
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	v.Accounts, v.Tokens, v.Roles, v.Self = accts, toks, account.Roles, c.Account.Name
	s.render(w, r, status, usersPage(s.page(r, c, "Accounts"), v))
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	err := account.AddAccount(s.db, c.Account.Name, name, r.PostForm["role"], r.PostFormValue("password"))
	if err != nil {
		s.renderUsers(w, r, c, http.StatusBadRequest, err.Error())
		return
	}
	s.redirectFlash(w, r, c, "/admin/users", "Added account "+name)
}

// updateUser applies one action from a row of the accounts table.
func (s *server) updateUser(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("name")
	self := name == c.Account.Name
	var err error
	var done string
	switch r.PostFormValue("action") {
	case "roles":
		roles := account.CanonicalRoles(r.PostForm["role"])
		// Taking away one's own right to manage accounts could leave nobody able to.
		if self && !account.Can(roles, account.PermAccounts) {
			err = errors.New("you cannot remove your own right to manage accounts; ask another administrator")
		} else {
			err = account.SetRoles(s.db, c.Account.Name, name, roles)
		}
		done = "Saved role groups of " + name
	case "disable":
		if self {
			err = errors.New("you cannot disable your own account")
		} else {
			err = account.SetDisabled(s.db, c.Account.Name, name, true)
		}
		done = "Disabled " + name
	case "enable":
		err = account.SetDisabled(s.db, c.Account.Name, name, false)
		done = "Enabled " + name
	case "password":
		err = account.SetPassword(s.db, c.Account.Name, name, r.PostFormValue("password"))
		done = "Changed the password of " + name
	default:
		err = errors.New("unknown action")
	}
	if errors.Is(err, store.ErrNotFound) {
		s.renderUsers(w, r, c, http.StatusNotFound, "No account "+name)
		return
	}
	if err != nil {
		s.renderUsers(w, r, c, http.StatusBadRequest, err.Error())
		return
	}
	if self && r.PostFormValue("action") == "password" {
		// Changing one's own password signs every session out, this one included.
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.redirectFlash(w, r, c, "/admin/users", done)
}

func hasRole(roles []string, r string) bool { return slices.Contains(roles, r) }
