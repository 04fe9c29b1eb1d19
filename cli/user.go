package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"irm/account"
)

func userCmds() []*command {
	roles := "role groups, comma-separated: " + strings.Join(account.Roles, ", ") + " (any case)"
	return []*command{
		{name: "add", summary: "add an account", args: "NAME", setup: userChangeCmd("add", roles), remote: true},
		{name: "list", summary: "list the accounts", setup: userListCmd, remote: true},
		{name: "disable", summary: "disable an account (its sessions end)", args: "NAME", setup: userChangeCmd("disable", ""), remote: true},
		{name: "enable", summary: "enable a disabled account", args: "NAME", setup: userChangeCmd("enable", ""), remote: true},
		{name: "roles", summary: "set an account's role groups", args: "NAME", setup: userChangeCmd("roles", roles), remote: true},
		{name: "passwd", summary: "set an account's password", args: "NAME", setup: userChangeCmd("passwd", ""), remote: true},
	}
}

func userListCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 0 {
			return usageError("irm user list: takes no arguments")
		}
		db, err := c.Store()
		if err != nil {
			return orAccountsPage(err)
		}
		accts, err := db.Accounts()
		if err != nil {
			return err
		}
		if len(accts) == 0 {
			fmt.Fprintln(c.Stderr, "no accounts; add one with: irm user add -role admin NAME")
			return nil
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLES\tSTATUS\tCREATED\tLAST SIGN-IN")
		for _, a := range accts {
			status := "active"
			if a.Disabled {
				status = "disabled"
			}
			last := "never"
			if !a.LastSignIn.IsZero() {
				last = a.LastSignIn.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, strings.Join(a.Roles, ","), status, a.Created.UTC().Format("2006-01-02 15:04"), last)
		}
		return tw.Flush()
	}
}

// userChangeCmd is one of the sub-commands that change an account; rolesUsage != ""
// gives it a -role flag.
func userChangeCmd(sub, rolesUsage string) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		role := ""
		if rolesUsage != "" {
			fs.StringVar(&role, "role", "", rolesUsage)
		}
		pwStdin := false
		if sub == "add" || sub == "passwd" {
			fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input (else a random one is printed)")
		}
		return func(c *Ctx, args []string) error {
			if len(args) != 1 {
				return usageError("irm user %s: need exactly one account NAME after the flags", sub)
			}
			name := args[0]
			var roles []string
			if rolesUsage != "" {
				var err error
				if roles, err = account.ParseRoles(strings.ToLower(role)); err != nil {
					return usageError("irm user %s: -role: %v", sub, err)
				}
			}
			// The store first: stdin is read once, here or inside serve.
			db, err := c.Store()
			if err != nil {
				return orAccountsPage(err)
			}
			password := ""
			if sub == "add" || sub == "passwd" {
				if pwStdin {
					line, err := bufio.NewReader(c.Stdin).ReadString('\n')
					if err != nil && !errors.Is(err, io.EOF) {
						return fmt.Errorf("read password: %w", err)
					}
					password = strings.TrimRight(line, "\r\n")
				} else {
					password = account.RandomPassword()
				}
			}
			switch sub {
			case "add":
				if err := account.AddAccount(db, c.Actor, name, roles, password); err != nil {
					return err
				}
				fmt.Fprintf(c.Stdout, "added %s (%s)\n", name, strings.Join(roles, ","))
			case "disable", "enable":
				if err := account.SetDisabled(db, c.Actor, name, sub == "disable"); err != nil {
					return err
				}
				fmt.Fprintf(c.Stdout, "%sd %s\n", sub, name)
			case "roles":
				if err := account.SetRoles(db, c.Actor, name, roles); err != nil {
					return err
				}
				fmt.Fprintf(c.Stdout, "%s now has %s\n", name, strings.Join(roles, ","))
			case "passwd":
				if err := account.SetPassword(db, c.Actor, name, password); err != nil {
					return err
				}
				fmt.Fprintf(c.Stdout, "changed the password of %s\n", name)
			}
			if !pwStdin && (sub == "add" || sub == "passwd") {
				fmt.Fprintf(c.Stdout, "password (shown once): %s\n", password)
			}
			return nil
		}
	}
}

// orAccountsPage points to the web UI when the store cannot be opened at all.
func orAccountsPage(err error) error {
	var held *serveHolds
	if errors.As(err, &held) {
		return err
	}
	return fmt.Errorf("%w (or use the Accounts page)", err)
}
