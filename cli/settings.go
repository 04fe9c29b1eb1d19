package main

import (
	"fmt"
	"os"

	"irm/account"
	"irm/engine"
)

func init() {
	register(&command{
		name:    "settings",
		summary: "global detection settings: import FILE.toml | export",
		usage:   "import FILE.toml | export",
		run:     runSettings,
	})
}

func runSettings(args []string) error {
	fs, cfgPath := newFlags("settings")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sub, rest, err := subcommand(fs, "settings", "import FILE.toml | export")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	switch sub {
	case "import":
		if len(rest) != 1 {
			return &exitError{2, "irm settings import: want exactly one FILE.toml"}
		}
		data, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		log := quietLogger()
		r, err := engineRules(cfg, log)
		if err != nil {
			return err
		}
		s, err := engine.ParseSettings(rest[0], data, r.Current())
		if err != nil {
			return err
		}
		db, err := openStoreFor(cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		e, _, err := openEngine(db, cfg, log)
		if err != nil {
			return err
		}
		if err := e.UpdateSettings(account.CLIActor(), s); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "settings imported from %s\n", rest[0])
		return nil
	case "export":
		if len(rest) != 0 {
			return &exitError{2, "irm settings export: takes no arguments"}
		}
		log := quietLogger()
		db, err := openStoreFor(cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		e, _, err := openEngine(db, cfg, log)
		if err != nil {
			return err
		}
		out, err := engine.FormatSettings(e.Settings())
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(out)
		return err
	}
	return &exitError{2, fmt.Sprintf("irm settings: unknown sub-command %q (import, export)", sub)}
}
