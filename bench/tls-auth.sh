#!/usr/bin/env bash
# bench/tls-auth.sh — what access control and TLS cost (docs/BENCHMARKS.md,
# "TLS and access control"), measured in one sitting with elig-bench.
#
#   bash bench/tls-auth.sh SNAPSHOT KEYS WORKDIR [ROUNDS]
#
# SNAPSHOT: e.g. a 1M-family snapshot (elig-gen --households 1000000, then
# elig-snapshot build); KEYS: elig-keys --snapshot SNAPSHOT --out KEYS.
# WORKDIR gets a throwaway CA, certificates, tokens and the channels file.
# Two eligd (2 threads, --warm) run side by side on 127.0.0.1: "open" with
# no auth file (today's eligd) and "guarded" with an auth file and
# --tls-listen; one elig-bench runs at a time, rounds alternate the cases,
# and the median of ROUNDS (default 5, of DUR=3 s each after 1 s warm-up)
# is reported, with the CPU eligd spent per request (user + system, from
# /proc/PID/stat), the figure the machine's other load moves least.
set -euo pipefail
snap=$1 keys=$2 dir=$3 rounds=${4:-5}
b=${BUILD:-build}
dur=${DUR:-3}
mkdir -p "$dir"
cd "$dir"
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 30 -subj /CN=bench-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr \
    -subj /CN=localhost 2>/dev/null
  printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > san.ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 30 \
    -extfile san.ext 2>/dev/null
fi
cd - >/dev/null
mk_channel() { # NAME EXTRA...
  local name=$1; shift
  (umask 077; "$b/tools/token/elig-token" new "$name" | head -1 > "$dir/$name.token")
  printf "[channel %s]\ntoken_sha256 = %s\nmethods = check, check_batch, household, info\nprograms = *\nregions = *\n%s\n" \
    "$name" "$(tr -d '\n' < "$dir/$name.token" | sha256sum | cut -d' ' -f1)" "$*"
}
{ mk_channel bench; mk_channel victim; mk_channel limited "rate = 1000"; } > "$dir/channels.conf"

rm -f "$dir/open.port" "$dir/guarded.port" # a previous run's would name a dead port
"$b/daemon/eligd" --snapshot "$snap" --listen 127.0.0.1:0 --ready-file "$dir/open.port" --threads 2 --warm \
  --log-level warn > "$dir/open.log" 2>&1 &
open_pid=$!
"$b/daemon/eligd" --snapshot "$snap" --listen 127.0.0.1:0 --ready-file "$dir/guarded.port" --threads 2 --warm \
  --auth-file "$dir/channels.conf" --tls-listen 127.0.0.1:17999 --tls-cert "$dir/srv.pem" --tls-key "$dir/srv.key" \
  --log-level warn > "$dir/guarded.log" 2>&1 &
guarded_pid=$!
trap 'kill $open_pid $guarded_pid 2>/dev/null' EXIT
for f in open guarded; do
  for _ in $(seq 100); do [ -s "$dir/$f.port" ] && break; sleep 0.1; done
done
open_port=$(cat "$dir/open.port") guarded_port=$(cat "$dir/guarded.port") tls_port=17999

eb() { "$b/bench/elig-bench" --json --warmup 1 -d "$dur" "$@"; }
auth=(--channel bench --token-file "$dir/bench.token")
out="$dir/results.jsonl"
: > "$out"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # the daemon's CPU, user + system
run() { # LABEL ARGS...: one elig-bench, and the CPU the daemon spent meanwhile
  local label=$1; shift
  local pid=$guarded_pid
  case $label in open*) pid=$open_pid ;; esac
  local t0; t0=$(ticks $pid)
  local json; json=$(eb "$@")
  local t1; t1=$(ticks $pid)
  echo "$json" | sed "s/^{/{\"case\":\"$label\",\"server_cpu_s\":$(( t1 - t0 ))e-2,/" >> "$out"
}
# An unrecorded pass first: page cache, TLS session machinery, the CPU's
# frequency; the first round was an outlier without it.
"$b/bench/elig-bench" -p "$open_port" --keys "$keys" -c 50 -P 16 -d 1 --warmup 0 > /dev/null
"$b/bench/elig-bench" -p "$guarded_port" --keys "$keys" -c 50 -P 16 -d 1 --warmup 0 "${auth[@]}" > /dev/null
"$b/bench/elig-bench" -p "$tls_port" --tls --keys "$keys" -c 50 -P 16 -d 1 --warmup 0 "${auth[@]}" > /dev/null
for r in $(seq "$rounds"); do
  for p in 16 1; do
    run "open P=$p" -p "$open_port" --keys "$keys" -c 50 -P $p
    run "auth P=$p" -p "$guarded_port" --keys "$keys" -c 50 -P $p "${auth[@]}"
    run "tls P=$p" -p "$tls_port" --tls --tls-ca "$dir/ca.pem" --keys "$keys" -c 50 -P $p "${auth[@]}"
  done
  run "connect plain" -p "$guarded_port" --method connect -c 1 "${auth[@]}"
  run "connect tls full" -p "$tls_port" --tls --method connect -c 1 "${auth[@]}"
  run "connect tls resumed" -p "$tls_port" --tls --resume --method connect -c 1 "${auth[@]}"
  # Another channel over its limit: the victim's throughput alone, beside a
  # limited channel's flood (mostly error 6), and beside the same flood
  # from an unlimited channel.
  run "victim alone" -p "$guarded_port" --keys "$keys" -c 10 -P 16 --channel victim --token-file "$dir/victim.token"
  for other in limited bench; do
    eb -p "$guarded_port" --keys "$keys" -c 10 -P 16 --channel $other --token-file "$dir/$other.token" \
      -d $((dur + 2)) > "$dir/flood-$other.json" &
    flood=$!
    run "victim beside $other" -p "$guarded_port" --keys "$keys" -c 10 -P 16 --channel victim \
      --token-file "$dir/victim.token"
    wait $flood
    sed "s/^{/{\"case\":\"flood $other\",\"server_cpu_s\":0,/" "$dir/flood-$other.json" >> "$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["case"], []).append(r)
def med(case, key="requests_per_s"):
    return statistics.median(x[key] for x in by[case])
def p99(case):
    return statistics.median(x["latency_us"]["p99"] for x in by[case])
def ratio(case, base):
    return med(case) / med(base) if base in by else float("nan")
def cpu_us(case):  # eligd CPU per measured request (warm-up included in the CPU, so an upper bound)
    return statistics.median(1e6 * x["server_cpu_s"] / max(1, x["requests"] * (1 + 1 / x["seconds"]))
                             for x in by[case])
print("%-22s %10s %9s %9s %9s %9s %10s" % ("case", "req/s", "p99 us", "/open", "/auth", "errors",
                                            "eligd us/req"))
for case in by:
    kind, _, rest = case.partition(" ")
    vs_open = ratio(case, "open " + rest) if kind in ("auth", "tls") else float("nan")
    vs_auth = ratio(case, "auth " + rest) if kind == "tls" else \
        ratio(case, "connect plain") if kind == "connect" else \
        ratio(case, "victim alone") if kind == "victim" else float("nan")
    errs = sum(sum(x["errors"].values()) for x in by[case])
    print("%-22s %10.0f %9.0f %9.3f %9.3f %9d %10.1f" % (case, med(case), p99(case), vs_open, vs_auth, errs,
                                                       cpu_us(case)))
PY
