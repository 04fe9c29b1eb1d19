package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"irm/account"
	"irm/store"
)

func tokenCmds() []*command {
	return []*command{
		{name: "create", summary: "create a REST API token with role groups; prints the token once", args: "", setup: tokenCreateCmd, remote: true},
		{name: "list", summary: "list the API tokens (names, roles, expiry, last use; never the secrets)", setup: tokenListCmd, remote: true},
		{name: "revoke", summary: "revoke an API token at once", args: "NAME", setup: tokenRevokeCmd, remote: true},
	}
}

func tokenCreateCmd(fs *flag.FlagSet) runFunc {
	name := fs.String("name", "", "the token's name, unique (letters, digits, . _ - @; at most 64)")
	role := fs.String("role", "", "role groups, comma-separated: "+strings.Join(account.Roles, ", ")+" (any case)")
	expires := fs.String("expires", "", "lifetime: days (90d), a duration (36h), a date (2027-01-31) or never (default never)")
	realNames := fs.Bool("real-names", false, "the token sees real user names when pseudonymisation is on (only for roles that may reveal names; audited)")
	return func(c *Ctx, args []string) error {
		if len(args) != 0 {
			return usageError("irm token create: takes no arguments; give the name with -name")
		}
		if *name == "" {
			return usageError("irm token create: -name is required")
		}
		roles, err := account.ParseRoles(strings.ToLower(*role))
		if err != nil {
			return usageError("irm token create: -role: %v", err)
		}
		now := time.Now()
		exp, err := account.ParseExpiry(*expires, now)
		if err != nil {
			return usageError("irm token create: -expires: %v", err)
		}
		db, err := c.Store()
		if err != nil {
			return err
		}
		secret, t, err := account.CreateToken(db, c.Actor, account.TokenSpec{Name: *name, Roles: roles, Expires: exp, RealNames: *realNames}, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stderr, "created token %s (%s, %s); it is shown once, store it now:\n", t.Name, strings.Join(t.Roles, ","), account.ExpiryWords(t.Expires))
		fmt.Fprintln(c.Stdout, secret)
		return nil
	}
}

func tokenListCmd(fs *flag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print a JSON array")
	return func(c *Ctx, args []string) error {
		if len(args) != 0 {
			return usageError("irm token list: takes no arguments")
		}
		db, err := c.Store()
		if err != nil {
			return err
		}
		toks, err := db.Tokens()
		if err != nil {
			return err
		}
		if *asJSON {
			if toks == nil {
				toks = []store.APIToken{}
			}
			enc := json.NewEncoder(utf8Writer{c.Stdout})
			enc.SetIndent("", "  ")
			return enc.Encode(toks)
		}
		if len(toks) == 0 {
			fmt.Fprintln(c.Stderr, "no API tokens; create one with: irm token create -name NAME -role ROLE")
			return nil
		}
		now := time.Now()
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPREFIX\tROLES\tCREATED\tBY\tEXPIRES\tLAST USED")
		for _, t := range toks {
			exp := "never"
			if !t.Expires.IsZero() {
				exp = t.Expires.UTC().Format("2006-01-02 15:04")
				if t.Expired(now) {
					exp += " (expired)"
				}
			}
			last := "never"
			if !t.LastUsed.IsZero() {
				last = t.LastUsed.UTC().Format("2006-01-02 15:04")
			}
			roles := strings.Join(t.Roles, ",")
			if t.RealNames {
				roles += " (real names)"
			}
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Prefix, roles, t.Created.UTC().Format("2006-01-02 15:04"), t.CreatedBy, exp, last)
		}
		return tw.Flush()
	}
}

func tokenRevokeCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 1 {
			return usageError("irm token revoke: need exactly one token NAME after the flags")
		}
		db, err := c.Store()
		if err != nil {
			return err
		}
		if err := account.RevokeToken(db, c.Actor, args[0]); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no token named %q (irm token list shows them)", args[0])
			}
			return err
		}
		fmt.Fprintf(c.Stdout, "revoked token %s\n", args[0])
		return nil
	}
}
