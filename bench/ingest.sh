#!/usr/bin/env bash
# Ingest benchmark with the real binary: builds irm, writes N audit records (about 570
# bytes each, unique Ids) as drop files, runs `irm ingest -once` under /usr/bin/time -v
# into a fresh data dir and prints records/s and peak RSS.
#
#   bench/ingest.sh [RECORDS] [FILES]      (defaults: 200000 records in 10 files)
#
# Work files go to bench/out/ (git-ignored); they are removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

records=${1:-200000}
files=${2:-10}
out=bench/out
rm -rf "$out"
mkdir -p "$out"

echo "== build"
go build -o "$out/irm" .
go build -o "$out/gen" ./bench/gen

cat >"$out/irm.toml" <<EOF
data_dir = "data"
listen = "127.0.0.1:0"
[drop]
dir = "drop"
settle_ms = 0
EOF

echo "== generate $records records in $files files"
"$out/gen" -dir "$out/drop/audit" -records "$records" -files "$files"
bytes=$(du -sb "$out/drop/audit" | cut -f1)

echo "== irm ingest -once"
sync
/usr/bin/time -v "$out/irm" ingest -once -q -config "$out/irm.toml" 2>"$out/time.txt" || {
  cat "$out/time.txt"; exit 1; }
grep '^ingest:' "$out/time.txt" || true

wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/time.txt")
secs=$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }')
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time.txt")
user=$(awk -F': ' '/User time/ {print $2}' "$out/time.txt")
sys=$(awk -F': ' '/System time/ {print $2}' "$out/time.txt")

awk -v r="$records" -v s="$secs" -v kb="$rss_kb" -v b="$bytes" -v u="$user" -v y="$sys" -v c="$(nproc)" 'BEGIN {
  printf "records:      %d (%.1f MiB of drop files)\n", r, b / 1048576
  printf "wall time:    %.2f s   (cpu: user %.2f s + sys %.2f s on %d cores)\n", s, u, y, c
  printf "records/s:    %.0f\n", r / s
  printf "peak RSS:     %.0f MiB\n", kb / 1024
}'
[ "${KEEP:-0}" = 1 ] || rm -rf "$out"
