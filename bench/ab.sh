#!/usr/bin/env bash
# ab.sh — two eligd binaries under the same load, alternating, in one
# sitting: the ratio of their throughputs and p99s is the cost of what
# differs between them (docs/BENCHMARKS.md, "Counters and metrics").
#   bash bench/ab.sh ELIGD_A ELIGD_B [ROUNDS] [SECONDS]
# Extra eligd arguments: ARGS_A, ARGS_B (e.g. ARGS_B="--metrics-listen 127.0.0.1:0").
# Uses build/'s elig-gen, elig-snapshot, elig-keys and elig-bench; data in
# /tmp/eligd-ab (100,000 families, cached). Server 1 thread, client 1 thread,
# 16 connections, pipeline 32, check by kk/nik/kks, 20% misses.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 rounds=${3:-3} secs=${4:-5}
bin=build
dir=/tmp/eligd-ab
mkdir -p "$dir"
if [ ! -s "$dir/snap.mdb" ]; then
  $bin/tools/gen/elig-gen --households 100000 --seed 1 --out "$dir/csv" --quiet
  $bin/tools/snapshot/elig-snapshot build --households "$dir/csv/households.csv" \
    --members "$dir/csv/members.csv" --enrollments "$dir/csv/enrollments.csv" --out "$dir/snap.mdb" >/dev/null
  $bin/bench/elig-keys --snapshot "$dir/snap.mdb" -n 50000 > "$dir/keys.csv"
fi
run() { # binary label extra-args
  local port_file=$dir/port pid
  rm -f "$port_file"
  # shellcheck disable=SC2086
  "$1" --snapshot "$dir/snap.mdb" --listen 127.0.0.1:0 --ready-file "$port_file" --threads 1 \
       --log-level warn $3 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.05; done
  $bin/bench/elig-bench -p "$(cat "$port_file")" -c 16 -P 32 -d "$secs" --warmup 1 --keys "$dir/keys.csv" \
    --miss-ratio 0.2 --json --label "$2"
  kill -TERM "$pid"; wait "$pid" || true
}
for r in $(seq "$rounds"); do
  run "$a" A "${ARGS_A:-}"
  run "$b" B "${ARGS_B:-}"
done
