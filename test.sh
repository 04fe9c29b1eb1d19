#!/usr/bin/env bash
# Runs the whole irm test suite: formatting, vet, templ generation, then every Go test
# with the race detector (the watcher, engine and server run concurrently). Browser tests
# need Debian's chromium; it is installed here when missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (browser tests)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt-clean:"; echo "$unformatted"; exit 1; fi

echo "== templ generate (generated code must be committed and current)"
go tool templ generate >/dev/null
if [ -d .git ] && [ -n "$(git status --porcelain -- '*_templ.go')" ]; then
  echo "generated templ code is stale; run 'go tool templ generate' and commit:"
  git status --porcelain -- '*_templ.go'; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 30m ./... 2>&1 | tee /tmp/irm-test.log
