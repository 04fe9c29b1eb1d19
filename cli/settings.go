package cli

import (
	"flag"
	"fmt"

	"irm/engine"
)

func settingsCmds() []*command {
	return []*command{
		{name: "import", summary: "replace the global detection settings with a file's", args: "FILE.toml", setup: settingsImportCmd, remote: true},
		{name: "export", summary: "print the global detection settings as an importable file", setup: settingsExportCmd, remote: true},
	}
}

func settingsImportCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 1 {
			return usageError("irm settings import: want exactly one FILE.toml")
		}
		data, err := c.ReadFile(args[0])
		if err != nil {
			return err
		}
		r, err := c.Rules()
		if err != nil {
			return err
		}
		s, err := engine.ParseSettings(args[0], data, r.Current())
		if err != nil {
			return err
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		if err := e.UpdateSettings(c.Actor, s); err != nil {
			return err
		}
		fmt.Fprintf(c.Stderr, "settings imported from %s\n", args[0])
		return nil
	}
}

func settingsExportCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 0 {
			return usageError("irm settings export: takes no arguments")
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		out, err := engine.FormatSettings(e.Settings())
		if err != nil {
			return err
		}
		_, err = c.Stdout.Write(out)
		return err
	}
}
