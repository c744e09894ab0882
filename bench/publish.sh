#!/usr/bin/env bash
# publish.sh — what safe publishing costs (issue 8; docs/BENCHMARKS.md,
# "Publishing: the guard, the diff and the overwrite protection"):
#   - the guard: `elig-snapshot build` of the same input without and with
#     --previous (the snapshot already built from it), in turn;
#   - the diff: `elig-snapshot diff S S` (both sides walked in full; a
#     snapshot against itself is the merge's whole cost, every row compared);
#   - the overwrite protection: eligd with --snapshot-load copy (the
#     default, a sealed private copy) against map, in turn: exec to the
#     ready file (listening, snapshot open), the machine's shared memory
#     added, and check c=50 P=16 throughput.
#   bash bench/publish.sh [SIZE ...]          (default: 10000000)
# Uses bench/run's cached datasets (bench/data/gen-N-s1/, eligd-N-s1-v2.mdb,
# keys-N-s1.csv: `bash bench/run --prepare` makes them) and build-bench/'s
# programs. GUARD=0 skips the two builds (7-8 minutes each at 30M).
# ROUNDS (3) and SECS (3) for the throughput runs.
set -euo pipefail
cd "$(dirname "$0")/.."
b=build-bench data=bench/data
rounds=${ROUNDS:-3} secs=${SECS:-3}
sizes=("${@:-10000000}")
dir=$(mktemp -d /tmp/eligd-publish.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
command -v /usr/bin/time >/dev/null || { echo "publish.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

# timed LABEL CMD...: one line "LABEL wall_s user_s sys_s maxrss_kib"
timed() {
  local label=$1; shift
  /usr/bin/time -o "$dir/t" -f "%e %U %S %M" "$@" >/dev/null 2>"$dir/err" ||
    { echo "publish.sh: $label failed:" >&2; cat "$dir/err" >&2; exit 1; }
  echo "$label $(cat "$dir/t")"
}

start() { # MODE SNAP: eligd on an ephemeral port, $port and $pid set
  rm -f "$dir/ready"
  $b/daemon/eligd --snapshot "$2" --snapshot-load "$1" --listen 127.0.0.1:0 --ready-file "$dir/ready" \
    --log-level warn 2>>"$dir/eligd.log" &
  pid=$!
  for _ in $(seq 1200); do [ -s "$dir/ready" ] && break; sleep 0.05; done
  port=$(sed 's/.*://' "$dir/ready")
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

for n in "${sizes[@]}"; do
  snap=$data/eligd-$n-s1-v2.mdb gen=$data/gen-$n-s1 keys=$data/keys-$n-s1.csv
  if [ ! -f "$snap" ] || [ ! -f "$keys" ]; then
    echo "publish.sh: no dataset for $n (bash bench/run --prepare)" >&2; exit 1
  fi
  echo "== $n families, $(( $(stat -c %s "$snap") >> 20 )) MiB snapshot; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  cat "$snap" >/dev/null
  timed "diff_self" $b/tools/snapshot/elig-snapshot diff "$snap" "$snap" --period 2024-06
  if [ "${GUARD:-1}" = 1 ] && [ -f "$gen/households.csv" ]; then
    in=(--households "$gen/households.csv" --members "$gen/members.csv" --enrollments "$gen/enrollments.csv")
    timed "build_no_guard" $b/tools/snapshot/elig-snapshot build "${in[@]}" --out "$dir/a.mdb" \
      --max-reject-ratio 1 --rejects "$dir/a.rej"
    rm -f "$dir/a.mdb" "$dir/a.rej"
    timed "build_guard" $b/tools/snapshot/elig-snapshot build "${in[@]}" --out "$dir/b.mdb" \
      --max-reject-ratio 1 --rejects "$dir/b.rej" --previous "$snap" --guard-period 2024-06
    rm -f "$dir/b.mdb" "$dir/b.rej"
  fi
  for r in $(seq "$rounds"); do
    for mode in copy map; do
      shmem0=$(awk '/^Shmem:/ {print $2}' /proc/meminfo)
      t0=$(date +%s%N)
      start "$mode" "$snap"
      ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      # the private copy is a memfd: shared memory of the machine, whether
      # or not the process has touched its pages yet
      shmem=$(( $(awk '/^Shmem:/ {print $2}' /proc/meminfo) - shmem0 ))
      anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
      rps=$($b/bench/elig-bench -p "$port" --keys "$keys" -c 50 -P 16 -d "$secs" --json |
        python3 -c 'import json,sys; print(round(json.loads(sys.stdin.readline())["requests_per_s"]))')
      stop
      echo "serve_$mode round $r ready_ms $ready_ms shmem_added_kib $shmem rss_anon_kib $anon check_p16_rps $rps"
    done
  done
done
