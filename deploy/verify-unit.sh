#!/usr/bin/env bash
# Checks deploy/irm.service with `systemd-analyze verify` (Debian's systemd package is
# installed when missing, as test.sh installs chromium). The unit is checked in a scratch
# root that holds it, the irm binary at its ExecStart path and the host's own units
# (sysinit.target and the rest), so the check does not depend on an installed irm.
# systemd-analyze exits 0 on directives it ignores (a typo, an unknown value), so any
# message it prints fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "== installing systemd (systemd-analyze)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq systemd >/dev/null
fi

unit=${1:-deploy/irm.service}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
go build -o "$root/usr/local/bin/irm" .
cp "$unit" "$root/etc/systemd/system/irm.service"
for d in /usr/lib/systemd/system /lib/systemd/system; do
  if [ -d "$d" ]; then cp -a "$d" "$root/usr/lib/systemd/"; break; fi
done
if ! out=$(systemd-analyze verify --root="$root" --man=no /etc/systemd/system/irm.service 2>&1); then
  echo "$out"; echo "$unit: systemd-analyze verify failed"; exit 1
fi
if [ -n "$out" ]; then
  echo "$out"; echo "$unit: systemd-analyze verify reported problems"; exit 1
fi
echo "$unit: systemd-analyze verify ok"
