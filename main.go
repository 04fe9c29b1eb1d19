// Command irm is an on-prem insider risk management appliance: it watches drop
// directories for audit, HR, badging, DLP and endpoint-alert feeds, stores every event
// in Badger, scores users against policies written in CEL, and serves an admin UI.
//
// main.go only dispatches: each command lives in its own cmd_*.go file and registers
// itself in init, so the list below grows without this file changing.
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"unicode/utf8"

	"irm/config"
)

//go:embed config.toml
var defaultConfig []byte

// command is one irm sub-command.
type command struct {
	name    string
	summary string // one line for `irm help`
	usage   string // argument synopsis after the flags, e.g. "FILE"
	// run parses its own flags from args (everything after the command name).
	run func(args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

// exitError carries a process exit code other than 1 (for example lint's findings).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	config.Default = defaultConfig
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprintf(stderr, "irm %s [flags] %s\n  %s\n", c.name, c.usage, c.summary)
				return 0
			}
		}
		printHelp(os.Stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "irm: unknown command %q; see irm help\n", args[0])
		return 2
	}
	if err := c.run(args[1:]); err != nil {
		if e, ok := err.(*exitError); ok {
			if e.msg != "" {
				fmt.Fprintln(stderr, e.msg)
			}
			return e.code
		}
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "irm %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "irm — on-prem insider risk management\n\nUsage: irm COMMAND [flags] [arguments]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery command takes -config FILE (default: $IRM_CONFIG, else the embedded config.toml).\nirm help COMMAND shows one command's usage; irm COMMAND -h lists its flags.")
}

// newFlags returns a flag set for a command with the shared -config flag.
func newFlags(c string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("irm "+c, flag.ContinueOnError)
	cfg := fs.String("config", "", "config file (default $IRM_CONFIG, else the embedded default)")
	return fs, cfg
}

// subcommand takes the sub-command after the flags already parsed into fs, then parses
// flags again after it, so that both "irm policy -config F import X" and
// "irm policy import -config F X" work. It returns the sub-command and its arguments.
func subcommand(fs *flag.FlagSet, name, usage string) (string, []string, error) {
	rest := fs.Args()
	if len(rest) == 0 {
		return "", nil, &exitError{2, fmt.Sprintf("irm %s: want a sub-command: %s", name, usage)}
	}
	sub := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return "", nil, err
	}
	return sub, fs.Args(), nil
}

// loadConfig loads the config named by the -config flag or IRM_CONFIG.
func loadConfig(flagValue string) (*config.Config, error) {
	return config.Load(config.FromEnv(flagValue))
}

func init() {
	register(&command{name: "version", summary: "print the version", run: func(args []string) error {
		fs, _ := newFlags("version")
		if err := fs.Parse(args); err != nil {
			return err
		}
		fmt.Println("irm", version)
		return nil
	}})
}

// version is set at build time with -ldflags "-X main.version=..."
var version = "0.1.0-dev"

// validUTF8 replaces bytes that are not UTF-8 with U+FFFD. JSON output goes through it:
// encoding/json copies json.RawMessage (an event's raw record) verbatim, and standard
// JSON parsers refuse invalid UTF-8. Invalid bytes can only sit inside strings there,
// so the result is still the same JSON.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, []byte("\uFFFD"))
}

// utf8Writer applies validUTF8 to each write; a json.Encoder writes one whole value per
// call, so no character is split between writes.
type utf8Writer struct{ w io.Writer }

func (u utf8Writer) Write(p []byte) (int, error) {
	if _, err := u.w.Write(validUTF8(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
