#!/usr/bin/env bash
# End-to-end benchmark of the detection pipeline with the real binary: `irm demo -out`
# writes a synthetic organisation with RECORDS benign audit records (plus HR, badging,
# DLP and defender feeds and the planted cases), the demo settings and one policy per
# template (all nine) are imported, then `irm ingest -once` parses, stores, evaluates
# and alerts under /usr/bin/time -v. Prints records/s (wall clock, including the final
# re-scoring), alerts raised, peak RSS, the database's size on disk after ingest (and
# per million events), and the load average before and after, since a shared machine's
# neighbours change the figures.
#
#   bench/e2e.sh [RECORDS] [USERS] [DAYS]     (defaults: 1000000 records, 1000 users, 30 days)
#
# BACKGROUND=realistic|clean picks the demo's background (default: realistic when DAYS is
# at least 45, the realistic organisation's minimum, else clean). The realistic
# background's habits need their own records: 1,000 users over 90 days take about
# 920,000, so RECORDS must exceed what the habits write (the demo says so otherwise).
#
# Work files go to $E2E_DIR (default /tmp/irm-e2e: outside the tree, so that bench/ingest.sh,
# which empties bench/out, cannot remove them mid-run); removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

records=${1:-1000000}
users=${2:-1000}
days=${3:-30}
out=${E2E_DIR:-/tmp/irm-e2e}
rm -rf "$out"
mkdir -p "$out"

echo "== build"
go build -o "$out/irm" .

printf 'data_dir = "data"\nlisten = "127.0.0.1:0"\n[drop]\ndir = "drop"\nsettle_ms = 0\n' >"$out/irm.toml"

background=${BACKGROUND:-}
if [ -z "$background" ]; then
  if [ "$days" -ge 45 ]; then background=realistic; else background=clean; fi
fi
echo "== generate: $records audit records, $users users, $days days, $background background"
"$out/irm" demo -out "$out/drop" -background "$background" -audit-records "$records" -users "$users" -days "$days" -seed 1
total=$(python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["counts"].values()))' "$out/drop/manifest.json")
planted=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["planted"]))' "$out/drop/manifest.json")

echo "== settings and policies"
"$out/irm" settings import -config "$out/irm.toml" "$out/drop/settings.toml"
"$out/irm" policy import -config "$out/irm.toml" "$out/drop/policies.toml"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== irm ingest -once ($total records in all feeds)"
/usr/bin/time -v "$out/irm" ingest -config "$out/irm.toml" -once -q 2>"$out/time.txt" || { cat "$out/time.txt"; exit 1; }
grep -E '^ingest:' "$out/time.txt" || true

wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time.txt")
cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$out/time.txt")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
alerts=$("$out/irm" alerts -config "$out/irm.toml" -json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
# The database as it stays: Badger's files after the process closed it (value log,
# tables), without the drop files.
disk=$(du -sb "$out/data" | cut -f1)

# A restart over this database: irm serve from start until /readyz (the engine index built
# from the stored events), a command through the control socket, and a graceful stop.
echo "== irm serve: start until /readyz, irm alerts through the control socket, stop"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^listen = .*/listen = \"127.0.0.1:$port\"/" "$out/irm.toml"
t0=$(date +%s.%N)
"$out/irm" serve -config "$out/irm.toml" >"$out/serve.log" 2>&1 &
pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { cat "$out/serve.log"; exit 1; }
  sleep 0.05
done
t1=$(date +%s.%N)
"$out/irm" alerts -config "$out/irm.toml" -json >/dev/null
t2=$(date +%s.%N)
kill -TERM "$pid"; wait "$pid"
t3=$(date +%s.%N)
timing=$(python3 -c 'import sys; a=[float(x) for x in sys.argv[1:]]; print(f"{a[1]-a[0]:.1f} s to /readyz, {1000*(a[2]-a[1]):.0f} ms for irm alerts -json through the socket, {a[3]-a[2]:.1f} s to stop")' "$t0" "$t1" "$t2" "$t3")

echo "== result"
python3 -c '
import sys
total, wall, rss, alerts, planted, disk = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
secs = sum(float(x) * 60**i for i, x in enumerate(reversed(wall.split(":"))))
print(f"records:     {total}")
print(f"wall clock:  {secs:.1f} s")
print(f"throughput:  {total/secs:,.0f} records/s   (target >= 50,000)")
cpu = float(sys.argv[9])
print(f"CPU:         {cpu:.1f} s user+system, {total/cpu:,.0f} records per CPU-second (what a busy neighbour does not change)")
print(f"peak RSS:    {rss/1024:,.0f} MiB            (target <= 1024)")
print(f"disk:        {disk/2**20:,.0f} MiB of database, {disk/2**20/(total/1e6):,.0f} MiB per million events")
print(f"alerts:      {alerts} ({planted} planted cases)")
print(f"restart:     {sys.argv[10]}")
print(f"load avg:    {sys.argv[7]} before, {sys.argv[8]} after (2 cores shared: neighbours slow it down)")
' "$total" "$wall" "$rss_kb" "$alerts" "$planted" "$disk" "$load_before" "$load_after" "$cpu" "$timing"
if [ "${KEEP:-0}" != 1 ]; then rm -rf "$out"; fi
