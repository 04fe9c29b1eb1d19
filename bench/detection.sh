#!/usr/bin/env bash
# Detection benchmark: the realistic demo organisation (heavy-tailed habits that overlap
# risky behaviour, plus every planted insider case) ingested through the real parsers,
# store and engine with all nine default policies on all users; then, per policy and alert
# volume, planted cases alerted, benign users alerted (as a share of benign users per 30
# days of the period after user mode's learning month) and severity counts. The same Go
# test runs in CI at 300 users and holds the targets: every planted case alerted under its
# template at the default volume, at most 1 % of benign users per 30 days at the default
# volume, at most 0.3 % at "fewer".
#
#   bench/detection.sh [USERS] [DAYS] [SEED]     (defaults: 1000 users, 90 days, seed 1)
#
# Writes the Markdown table to bench/out/detection-USERS-DAYS-SEED.md as well.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-1000}
days=${2:-90}
seed=${3:-1}
mkdir -p bench/out
report="$PWD/bench/out/detection-$users-$days-$seed.md"
go test ./bench/detection -run '^TestDetection$' -count=1 -timeout 60m -v \
  -args -users "$users" -days "$days" -seed "$seed" -report "$report" | sed -n '/Realistic organisation/,/^--- /p'
echo "report: $report"
