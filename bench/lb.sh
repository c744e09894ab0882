#!/usr/bin/env bash
# lb.sh — what HAProxy costs: `check` with c=50 at P=1 and P=16, straight to
# one eligd and through HAProxy running deploy/haproxy/eligd.cfg (one
# server line kept, addresses rewritten) in front of the same eligd, in
# one sitting, alternating, with the CPU each process spent per request
# (docs/BENCHMARKS.md, "What the balancer costs").
#   bash bench/lb.sh [SNAPSHOT] [ROUNDS] [SECONDS]
# SNAPSHOT defaults to /work/data-scale/snap-1m.mdb (elig-gen --households
# 1000000 --seed 1, then elig-snapshot build). Uses build/'s eligd,
# elig-keys and elig-bench; Debian's haproxy and /usr/bin/time. eligd runs
# its default threads (one per core), HAProxy its default (one per core),
# elig-bench one thread. CPU: utime+stime from /proc/PID/stat around each
# run for eligd and HAProxy, /usr/bin/time for elig-bench; divided by the
# requests measured (--warmup 0, so every request the CPU paid for counts).
set -euo pipefail
cd "$(dirname "$0")/.."
snap=${1:-/work/data-scale/snap-1m.mdb}
rounds=${2:-3} secs=${3:-5}
bin=build
dir=$(mktemp -d /tmp/eligd-lb.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
for t in haproxy /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "lb.sh: needs $t (apt-get install haproxy time)" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, clock ticks
hz=$(getconf CLK_TCK)

$bin/bench/elig-keys --snapshot "$snap" -n 50000 > "$dir/keys.csv"
cat "$snap" > /dev/null # page cache

port=$(free_port) mport=$(free_port) front=$(free_port) stats=$(free_port)
$bin/daemon/eligd --snapshot "$snap" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$mport" \
  --ready-file "$dir/ready" --log-level warn 2>"$dir/eligd.log" &
eligd=$!
pids+=("$eligd")
for _ in $(seq 600); do [ -s "$dir/ready" ] && break; sleep 0.1; done
[ -s "$dir/ready" ] || { echo "lb.sh: eligd did not start: $(cat "$dir/eligd.log")" >&2; exit 1; }

# the shipped config: host lines of global out, one replica, loopback ports
sed -e '/^    \(chroot\|user\|group\|daemon\|stats socket\|stats timeout\)\( \|$\)/d' \
    -e 's|^    log /dev/log local0$|    log stderr format raw local0 notice|' \
    -e 's|^    maxconn [0-9]*$|    maxconn 2000|' \
    -e "s|^    bind 192\.0\.2\.10:7420$|    bind 127.0.0.1:$front|" \
    -e "s|^    bind 192\.0\.2\.10:7421$|    bind 127.0.0.1:$(free_port)|" \
    -e "s|^    bind 127\.0\.0\.1:8404$|    bind 127.0.0.1:$stats|" \
    -e "s|^    server r1 192\.0\.2\.11:7420 check$|    server r1 127.0.0.1:$port check|" \
    -e "s|^    server r1 192\.0\.2\.11:7421 |    server r1 127.0.0.1:1 |" \
    -e '/^    server r[23] /d' \
    -e "s|^    tcp-check connect port 9420$|    tcp-check connect port $mport|" \
    deploy/haproxy/eligd.cfg > "$dir/haproxy.cfg"
haproxy -c -q -f "$dir/haproxy.cfg"
haproxy -db -f "$dir/haproxy.cfg" 2>"$dir/haproxy.log" &
hap=$!
pids+=("$hap")
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$stats/;csv" 2>/dev/null | grep -q '^eligd,r1,.*,UP,' && break
  sleep 0.1
done

run() { # label port pipeline
  local e0 h0 e1 h1
  e0=$(ticks "$eligd") h0=$(ticks "$hap")
  /usr/bin/time -f '%U %S' -o "$dir/time" \
    $bin/bench/elig-bench -p "$2" -c 50 -P "$3" -d "$secs" --warmup 0 --keys "$dir/keys.csv" \
    --json --label "$1" > "$dir/out"
  e1=$(ticks "$eligd") h1=$(ticks "$hap")
  python3 - "$dir/out" "$dir/time" "$((e1 - e0))" "$((h1 - h0))" "$hz" "$1" "$3" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
u, s = map(float, open(sys.argv[2]).read().split()[-2:])
n = r["requests"]
e, h, hz = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
us = lambda x: x * 1e6 / n
errs = sum(r["errors"].values())
print(json.dumps({"path": sys.argv[6], "P": int(sys.argv[7]), "rps": r["requests_per_s"],
                  "p50": r["latency_us"]["p50"], "p99": r["latency_us"]["p99"], "errors": errs,
                  "cpu_eligd_us": us(e / hz), "cpu_haproxy_us": us(h / hz),
                  "cpu_client_us": us(u + s)}))
EOF
}

for r in $(seq "$rounds"); do
  for p in 1 16; do
    run direct "$port" "$p"
    run haproxy "$front" "$p"
  done
done > "$dir/runs.jsonl"

python3 - "$dir/runs.jsonl" "$rounds" "$secs" "$snap" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = lambda xs: statistics.median(xs)
print("%s rounds of %s s, medians; snapshot %s" % (sys.argv[2], sys.argv[3], sys.argv[4]))
print("| check c=50 | path | req/s | p50 µs | p99 µs | CPU µs/req eligd | haproxy | client | total | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
res = {}
for P in (1, 16):
    for path in ("direct", "haproxy"):
        rs = [x for x in runs if x["P"] == P and x["path"] == path]
        m = {k: med([x[k] for x in rs]) for k in ("rps", "p50", "p99", "cpu_eligd_us",
                                                  "cpu_haproxy_us", "cpu_client_us")}
        m["total"] = med([x["cpu_eligd_us"] + x["cpu_haproxy_us"] + x["cpu_client_us"] for x in rs])
        m["errors"] = sum(x["errors"] for x in rs)
        res[(P, path)] = m
        print("| P=%d | %s | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %d |" % (
            P, path, format(round(m["rps"]), ","), m["p50"], m["p99"], m["cpu_eligd_us"],
            m["cpu_haproxy_us"], m["cpu_client_us"], m["total"], m["errors"]))
for P in (1, 16):
    d, h = res[(P, "direct")], res[(P, "haproxy")]
    print("P=%d: through HAProxy %.2fx the throughput, %.2fx the p99, %.2fx the CPU per request "
          "(HAProxy %.2f µs of %.2f)" % (P, h["rps"] / d["rps"], h["p99"] / d["p99"],
                                         h["total"] / d["total"], h["cpu_haproxy_us"], h["total"]))
EOF
