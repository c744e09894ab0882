#!/usr/bin/env bash
# smoke.sh — the benchmark tools end to end on a tiny generated snapshot:
# elig-keys samples it, elig-bench drives a real eligd and the I/O floor
# with every method, closed and open loop, and the in-process benches run.
# Asserts counts, errors and answer reasons — never timings.
#
#   smoke.sh ELIG_GEN ELIG_SNAPSHOT ELIGD ELIG_KEYS ELIG_BENCH ELIGD_IOFLOOR BENCH_ANSWER BENCH_LOOKUP
set -euo pipefail
gen=$1 snapshot=$2 eligd=$3 keys=$4 bench=$5 iofloor=$6 answer=$7 lookup=$8
py=/usr/bin/python3

work=$(mktemp -d /tmp/bench-smoke.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

"$gen" --households 400 --seed 5 --out "$work/csv" --quiet
"$snapshot" build --households "$work/csv/households.csv" --members "$work/csv/members.csv" \
  --enrollments "$work/csv/enrollments.csv" --out "$work/snap.mdb" --id smoke >/dev/null
"$keys" --snapshot "$work/snap.mdb" -n 300 --misses 50 --out "$work/keys.csv" 2>/dev/null
[ "$(grep -c ',miss$' "$work/keys.csv")" -gt 0 ] || fail "elig-keys wrote no misses"
[ "$(grep -c '^nik,' "$work/keys.csv")" -gt 300 ] || fail "elig-keys wrote too few nik keys"

start() { # start BINARY NAME: runs it on an ephemeral port, sets $port
  "$1" --snapshot "$work/snap.mdb" --listen 127.0.0.1:0 --ready-file "$work/$2.ready" \
    --threads 2 --log-level warn &
  pids+=($!)
  for _ in $(seq 1 200); do [ -s "$work/$2.ready" ] && break; sleep 0.05; done
  [ -s "$work/$2.ready" ] || fail "$2 did not start"
  port=$(cat "$work/$2.ready")
}

# check JSON_LINE PYTHON_EXPR: the expression, over the parsed line `r`, must hold
check() {
  "$py" -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" \
    || fail "expected $2 in: $1"
}
no_errors='sum(r["errors"].values()) == 0'

start "$eligd" eligd
out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 2000 -c 8 --warmup 0 --json --verify)
check "$out" "r['requests'] == 2000 and $no_errors"
check "$out" "sum(r['reasons'].values()) == 2000 and r['reasons']['unknown'] == 0 and r['reasons']['not_found'] == 0"
check "$out" "r['latency_us']['p50'] > 0 and r['latency_us']['p50'] <= r['latency_us']['p99'] <= r['latency_us']['max']"

# all misses: every answer is not_found
out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 1000 -c 4 -P 8 --warmup 0 --miss-ratio 1 --json --verify)
check "$out" "r['reasons']['not_found'] == 1000 and $no_errors"

# one kind only
out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 500 -c 2 --kinds kks --warmup 0 --json --skew zipf)
check "$out" "r['requests'] == 500 and r['kinds'] == 'kks' and $no_errors"

out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 100 -c 4 -P 4 --method check_batch --batch 25 --warmup 0 --json --verify)
check "$out" "r['requests'] == 100 and sum(r['reasons'].values()) == 2500 and $no_errors"

# a batch over the server's limit is answered with too_large, counted by code
out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 5 -c 1 --method check_batch --batch 10001 --warmup 0 --json)
check "$out" "r['errors']['too_large'] == 5 and r['requests'] == 5"

out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 500 -c 4 --method household --warmup 0 --json)
check "$out" "r['requests'] == 500 and $no_errors"

out=$("$bench" -p "$port" -n 500 -c 2 --method ping --warmup 0 --json --threads 2)
check "$out" "r['requests'] == 500 and r['threads'] == 2 and $no_errors"

# wrong program syntax is a bad_request for every check
out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 50 -c 1 --program bpnt --warmup 0 --json)
check "$out" "r['errors']['bad_request'] == 50"

# open loop: requests go out and come back with no errors
out=$("$bench" -p "$port" --keys "$work/keys.csv" -d 0.5 --warmup 0.1 -c 4 --rate 400 --json)
check "$out" "r['requests'] > 0 and r['rate'] == 400 and $no_errors"

# the I/O floor answers check like eligd, with a constant answer
start "$iofloor" iofloor
out=$("$bench" -p "$port" --keys "$work/keys.csv" -n 1000 -c 4 --warmup 0 --json --verify)
check "$out" "r['reasons']['eligible'] == 1000 and $no_errors"

# nothing listening: exit 1 with a message, not a hang
if "$bench" -p 1 --method ping -n 1 2>"$work/err"; then fail "elig-bench succeeded with no server"; fi
grep -q "cannot connect" "$work/err" || fail "no 'cannot connect' message"
# bad usage: exit 2
set +e
"$bench" -c 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "-c 0 is not a usage error"
"$bench" --method check >/dev/null 2>&1; [ $? -eq 2 ] || fail "check without --keys is not a usage error"
set -e

out=$("$answer" --snapshot "$work/snap.mdb" --keys "$work/keys.csv" -d 0.2 --threads 2)
[ "$(echo "$out" | wc -l)" -eq 2 ] || fail "bench-answer: expected 2 lines: $out"
check "$(echo "$out" | tail -1)" "r['threads'] == 2 and r['answers_per_s'] > 0"
out=$("$lookup" --snapshot "$work/snap.mdb" --keys "$work/keys.csv" -d 0.2 --threads 2)
check "$(echo "$out" | head -1)" "r['threads'] == 1 and r['ops_per_s'] > 0"

echo "bench smoke: all checks passed"
