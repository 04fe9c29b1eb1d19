// Package rules holds irm's built-in rule catalog: indicators, lists, sequences,
// policy templates and their tests, as TOML files with CEL conditions. They are
// embedded in the binary; package dsl compiles them.
package rules

import "embed"

// FS holds every built-in rule file.
//
//go:embed *.toml
var FS embed.FS
