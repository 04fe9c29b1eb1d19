// Package cli is irm's command line: the command table, flag parsing, help, exit codes,
// and the one path by which a command reaches the database — its own, or, while
// `irm serve` holds it, the running serve's over the control socket (control.go).
//
// A command is written once against a Ctx (its standard streams, the user's files, the
// actor, the store and engine); run directly or inside serve, it prints the same thing
// and exits with the same code.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Version is the irm version, set by main (from -ldflags "-X main.version=...").
var Version = "0.1.0-dev"

// command is one entry of the command table: a leaf with flags and a run function, or a
// group of sub-commands ("irm policy import ..."): irm COMMAND [SUB] [flags] [args].
type command struct {
	name    string
	summary string // one line for `irm help`
	args    string // synopsis of the arguments after the flags, e.g. "FILE"
	// setup defines the command's flags (besides -config) and returns its run function,
	// so that `irm help` can list the flags without running anything.
	setup func(fs *flag.FlagSet) runFunc
	subs  []*command
	// remote: the command may run inside a running serve, through the control socket,
	// when serve holds the database.
	remote bool
}

type runFunc func(c *Ctx, args []string) error

// commands is the command table, in the order `irm help` lists it.
func commands() []*command {
	return []*command{
		{name: "serve", summary: "run the appliance: watch the drop directories, ingest, evaluate, serve the web UI and the control socket", setup: serveCmd},
		{name: "ingest", summary: "ingest the drop directories: -once ingests what is there and exits; without it, watches (no web UI)", setup: ingestCmd},
		{name: "events", summary: "list stored events in time order (filter by -user, -since, -until, -feed; -json for a JSON array)", setup: eventsCmd, remote: true},
		{name: "alerts", summary: "list alerts (filter by -status, -severity, -policy; -json for a JSON array)", setup: alertsCmd, remote: true},
		{name: "policy", summary: "detection policies", subs: policyCmds()},
		{name: "settings", summary: "global detection settings", subs: settingsCmds()},
		{name: "rules", summary: "lint, test or list the rules (built-in catalog plus your rules directory)", subs: rulesCmds()},
		{name: "user", summary: "web UI accounts", subs: userCmds()},
		{name: "token", summary: "REST API tokens: create (printed once), list, revoke", subs: tokenCmds()},
		{name: "analytics", summary: "what each policy template would look at in the last 10 days, before any policy: counts of users only (-json)", setup: analyticsCmd, remote: true},
		{name: "audit", summary: "the insider risk audit log: verify the chain, list entries", subs: auditCmds()},
		{name: "backup", summary: "write a full backup of the database to FILE (- for stdout), also while serve runs", args: "FILE", setup: backupCmd, remote: true},
		{name: "restore", summary: "restore a backup FILE into an empty data dir (-force replaces a non-empty one); serve must be stopped", args: "FILE", setup: restoreCmd},
		{name: "demo", summary: "generate a synthetic organisation with planted insider cases; without -out, load it and run serve", setup: demoCmd},
		{name: "version", summary: "print the version", setup: versionCmd},
	}
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

// exitError ends a command with a process exit code other than 1 (2: usage, 3: an audit
// log that verifies with entries gone), printing msg (if any) as it is.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageError(format string, args ...any) error {
	return &exitError{2, fmt.Sprintf(format, args...)}
}

// Main runs the command line args (without the program name) and returns the exit code.
func Main(args []string) int {
	c := localCtx()
	defer c.close()
	code, fwd := execute(c, args)
	if fwd == nil {
		return code
	}
	// serve holds the database: the command runs inside it, with this process's
	// streams and files.
	return forward(fwd, args, os.Stdin, os.Stdout, os.Stderr)
}

// execute runs args on c. It returns the exit code, or a non-nil *serveHolds when the
// command must be forwarded to a running serve (c has then printed and read nothing).
func execute(c *Ctx, args []string) (int, *serveHolds) {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		if len(args) > 1 {
			return help(c.Stdout, c.Stderr, args[1:]), nil
		}
		printHelp(c.Stdout)
		return 0, nil
	}
	path := []string{args[0]}
	cmd := find(commands(), args[0])
	if cmd == nil {
		fmt.Fprintf(c.Stderr, "irm: unknown command %q; see irm help\n", args[0])
		return 2, nil
	}
	args = args[1:]
	if cmd.subs != nil {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
			fmt.Fprintf(c.Stderr, "irm %s: want a sub-command first: %s; see irm help %s\n", cmd.name, subNames(cmd), cmd.name)
			return 2, nil
		}
		if isHelp(args[0]) || args[0] == "help" {
			return help(c.Stdout, c.Stderr, []string{cmd.name}), nil
		}
		sub := find(cmd.subs, args[0])
		if sub == nil {
			fmt.Fprintf(c.Stderr, "irm %s: unknown sub-command %q (%s); see irm help %s\n", cmd.name, args[0], subNames(cmd), cmd.name)
			return 2, nil
		}
		path = append(path, sub.name)
		cmd, args = sub, args[1:]
	}
	name := strings.Join(path, " ")
	if c.server != nil && !cmd.remote {
		// Only a caller that is not this irm sends such a command: ours forward remote
		// commands only.
		fmt.Fprintf(c.Stderr, "irm %s: does not run inside irm serve; stop serve to run it\n", name)
		return 2, nil
	}
	c.command = name
	c.remoteOK = cmd.remote
	fs := newFlagSet(name, c.Stderr)
	c.cfgPath = fs.String("config", "", "config file (default $IRM_CONFIG, else the embedded default)")
	run := cmd.setup(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return help(c.Stdout, c.Stderr, path), nil
		}
		fmt.Fprintf(c.Stderr, "irm %s: %v; see irm help %s\n", name, err, path[0])
		return 2, nil
	}
	err := run(c, fs.Args())
	var held *serveHolds
	if errors.As(err, &held) && cmd.remote && c.server == nil {
		if c.used() {
			// A command must reach for the store before it prints or reads anything;
			// forwarding now would print or read twice.
			fmt.Fprintf(c.Stderr, "irm %s: internal error: output before the store was opened; stop irm serve and run it again\n", name)
			return 1, nil
		}
		return 0, held
	}
	return exitCode(c.Stderr, name, err), nil
}

// exitCode prints err the way every command reports errors and returns the exit code.
func exitCode(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		if e.msg != "" {
			fmt.Fprintln(stderr, e.msg)
		}
		return e.code
	}
	fmt.Fprintf(stderr, "irm %s: %v\n", name, err)
	return 1
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func subNames(c *command) string {
	var out []string
	for _, s := range c.subs {
		out = append(out, s.name)
	}
	return strings.Join(out, ", ")
}

// newFlagSet returns a flag set that reports parse errors through the caller (usage
// errors exit 2 with one line) rather than printing the whole usage.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("irm "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "irm — on-prem insider risk management\n\nUsage: irm COMMAND [SUB-COMMAND] [flags] [arguments]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
		for _, s := range c.subs {
			fmt.Fprintf(w, "    %-12s %s\n", s.name, s.summary)
		}
	}
	fmt.Fprintln(w, "\nFlags come after the command and sub-command, before the arguments. Every command takes\n"+
		"-config FILE (default: $IRM_CONFIG, else the embedded config.toml). While irm serve runs,\n"+
		"the other commands run inside it through its control socket, with the same output.\n"+
		"irm help COMMAND lists a command's flags.")
}

// help prints the usage and flags of the command named by path ("policy" or
// "policy backtest").
func help(stdout, stderr io.Writer, path []string) int {
	cmd := find(commands(), path[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "irm help: unknown command %q; see irm help\n", path[0])
		return 2
	}
	leaves := []*command{cmd}
	prefix := ""
	if cmd.subs != nil {
		prefix = cmd.name + " "
		leaves = cmd.subs
		if len(path) > 1 {
			s := find(cmd.subs, path[1])
			if s == nil {
				fmt.Fprintf(stderr, "irm help: %s has no sub-command %q (%s)\n", cmd.name, path[1], subNames(cmd))
				return 2
			}
			leaves = []*command{s}
		} else {
			fmt.Fprintf(stdout, "irm %s: %s\n\n", cmd.name, cmd.summary)
		}
	}
	for i, l := range leaves {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fs := newFlagSet(prefix+l.name, io.Discard)
		fs.String("config", "", "config file (default $IRM_CONFIG, else the embedded default)")
		l.setup(fs)
		synopsis := "irm " + prefix + l.name + " [flags]"
		if l.args != "" {
			synopsis += " " + l.args
		}
		fmt.Fprintf(stdout, "%s\n  %s\n", synopsis, l.summary)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	return 0
}

func versionCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm version: takes no arguments")
		}
		fmt.Fprintln(c.Stdout, "irm", Version)
		return nil
	}
}
