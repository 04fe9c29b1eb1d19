package main

// Temporary: keeps the chosen dependencies in go.mod while the packages that use them
// are being written in parallel. Removed once every import is real.
import (
	_ "cel.dev/cel-go/cel"
	_ "github.com/a-h/templ"
	_ "github.com/chromedp/chromedp"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/fsnotify/fsnotify"
	_ "golang.org/x/crypto/argon2"
)
