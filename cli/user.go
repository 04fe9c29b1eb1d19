package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"irm/account"
)

func init() {
	register(&command{
		name:    "user",
		summary: "manage web UI accounts: add, list, disable, enable, roles, passwd",
		usage: "add -role ROLE[,ROLE] [-password-stdin] NAME | list | disable NAME | enable NAME |\n" +
			"         roles -role ROLE[,ROLE] NAME | passwd [-password-stdin] NAME\n" +
			"  roles: " + strings.Join(account.Roles, ", "),
		run: func(args []string) error { return runUser(args, os.Stdin, os.Stdout) },
	})
}

func runUser(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, "irm user: missing sub-command (add, list, disable, enable, roles, passwd); see irm help user"}
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "list", "disable", "enable", "roles", "passwd":
	default:
		return &exitError{2, fmt.Sprintf("irm user: unknown sub-command %q (add, list, disable, enable, roles, passwd)", sub)}
	}
	fs, cfgPath := newFlags("user " + sub)
	role := ""
	pwStdin := false
	switch sub {
	case "add", "roles":
		fs.StringVar(&role, "role", "", "role groups, comma-separated: "+strings.Join(account.Roles, ", "))
	}
	switch sub {
	case "add", "passwd":
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input (else a random one is printed)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	if fs.NArg() != wantArgs {
		if wantArgs == 0 {
			return &exitError{2, "irm user list: takes no arguments"}
		}
		return &exitError{2, fmt.Sprintf("irm user %s: need exactly one account NAME after the flags", sub)}
	}
	name := fs.Arg(0)
	var roles []string
	if sub == "add" || sub == "roles" {
		var err error
		if roles, err = account.ParseRoles(role); err != nil {
			return &exitError{2, "irm user " + sub + ": -role: " + err.Error()}
		}
	}
	password := ""
	if sub == "add" || sub == "passwd" {
		if pwStdin {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read password: %w", err)
			}
			password = strings.TrimRight(line, "\r\n")
		} else {
			password = account.RandomPassword()
		}
	}

	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	db, err := openStoreFor(cfg, quietLogger())
	if err != nil {
		return fmt.Errorf("%w (or use the Accounts page)", err)
	}
	defer db.Close()
	actor := account.CLIActor()

	switch sub {
	case "add":
		if err := account.AddAccount(db, actor, name, roles, password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", name, strings.Join(roles, ","))
	case "list":
		accts, err := db.Accounts()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
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
	case "disable", "enable":
		if err := account.SetDisabled(db, actor, name, sub == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%sd %s\n", sub, name)
		return nil
	case "roles":
		if err := account.SetRoles(db, actor, name, roles); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s now has %s\n", name, strings.Join(roles, ","))
		return nil
	case "passwd":
		if err := account.SetPassword(db, actor, name, password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "changed the password of %s\n", name)
	}
	if !pwStdin && (sub == "add" || sub == "passwd") {
		fmt.Fprintf(stdout, "password (shown once): %s\n", password)
	}
	return nil
}
