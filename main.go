// Command irm is an on-prem insider risk management appliance: it watches drop
// directories for audit, HR, badging, DLP and endpoint-alert feeds, stores every event
// in Badger, scores users against policies written in CEL, and serves an admin UI.
//
// The commands live in package cli; this file embeds the documented default
// configuration and hands over.
package main

import (
	_ "embed"
	"os"

	"irm/cli"
	"irm/config"
)

//go:embed config.toml
var defaultConfig []byte

// version is set at build time with -ldflags "-X main.version=..."
var version = "0.1.0-dev"

func main() {
	config.Default = defaultConfig
	cli.Version = version
	os.Exit(cli.Main(os.Args[1:]))
}
