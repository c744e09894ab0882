#!/usr/bin/env bash
# peers.sh — Redis 7 and PostgreSQL 15 (Debian's) as peers of eligd: same
# data, same machine, loopback only, started and stopped here.
#
#   bash bench/peers.sh install
#   bash bench/peers.sh redis-start FAMILIES     # cached dataset, see below
#   bash bench/peers.sh redis-stop
#   bash bench/peers.sh pg-start FAMILIES
#   bash bench/peers.sh pg-bench FAMILIES SECONDS [CLIENTS]   # one JSON line
#   bash bench/peers.sh pg-stop
#   bash bench/peers.sh stop-all
#   bash bench/peers.sh demo FAMILIES            # start both, one run each, stop
#
# Redis (127.0.0.1:$ELIG_REDIS_PORT, default 16379, no persistence while it
# runs): one key per id, `nik:ID`, `kk:ID`, `kks:ID`, holding eligd's own
# answer bytes to `check` for programme $ELIG_BENCH_PROGRAM (BPNT) and month
# $ELIG_BENCH_PERIOD (2024-06), written by bench-redis-load through the
# daemon's real answer path and fed to `redis-cli --pipe`. After the first
# load the data is saved once to bench/data/redis-N-...rdb and later starts
# load that file.
#
# PostgreSQL (127.0.0.1:$ELIG_PG_PORT, default 15432; its own cluster in
# bench/data/pg-N, run as the postgres user): the three CSV tables with
# primary keys (households.kk, members.nik, enrollments (kk, program, start))
# and a unique kks, loaded with COPY in the transaction that creates them
# (wal_level minimal: no WAL for the load), plus bench_keys holding the same
# sampled hit keys elig-bench uses. pg-bench runs `pgbench -M prepared -j 1`
# with one script per kind (weights equal), each one prepared SELECT that
# resolves the id, joins the household and its covering enrollment, and
# says whether the family is enrolled at all: everything the rule needs.
#
# Needs: $ELIG_BENCH_BUILD (default ./build-bench) with bench-redis-load
# built, and bench/data/gen-N-s1 (elig-gen output) and bench/data/keys-N-s1.csv,
# bench/data/eligd-N-s1-v2.mdb — bench/run makes them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/bench/data
build=${ELIG_BENCH_BUILD:-$root/build-bench}
redis_port=${ELIG_REDIS_PORT:-16379}
pg_port=${ELIG_PG_PORT:-15432}
program=${ELIG_BENCH_PROGRAM:-BPNT}
period=${ELIG_BENCH_PERIOD:-2024-06}
seed=1
pgbin=/usr/lib/postgresql/15/bin
run_dir=$data/run
mkdir -p "$data" "$run_dir"

say() { echo "peers: $*" >&2; }
die() { echo "peers: $*" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  local need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v redis-cli >/dev/null || need+=(redis-tools)
  [ -x $pgbin/postgres ] || need+=(postgresql-15)
  [ -x /usr/bin/pgbench ] || need+=(postgresql-client-15)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null || true
    # This script runs its own instances; a service the package may start
    # listens on the default ports, which are not used here.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${need[@]}" >/dev/null
  fi
}

# ---- Redis -----------------------------------------------------------------

redis_cli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }

redis_wait() {
  for _ in $(seq 1 600); do
    if redis_cli ping 2>/dev/null | grep -q PONG; then
      # a server still loading its RDB answers -LOADING
      redis_cli get __probe__ 2>&1 | grep -q LOADING || return 0
    fi
    sleep 0.2
  done
  die "Redis did not come up on 127.0.0.1:$redis_port"
}

redis_start() {
  local n=$1 rdb=redis-$1-s$seed-$program-$period.rdb
  local snap=$data/eligd-$n-s$seed-v2.mdb
  [ -f "$snap" ] || die "no snapshot $snap (run bench/run first)"
  redis_stop
  if redis_cli ping >/dev/null 2>&1; then
    die "something already answers on 127.0.0.1:$redis_port (set ELIG_REDIS_PORT)"
  fi
  # Persistence off (no RDB snapshots, no AOF) while serving; the cached
  # dataset is read once at start-up if present.
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --dir "$data" --dbfilename "$rdb" --daemonize yes --pidfile "$run_dir/redis.pid" \
    --logfile "$run_dir/redis.log" --protected-mode yes >/dev/null
  redis_wait
  kill -0 "$(cat "$run_dir/redis.pid" 2>/dev/null)" 2>/dev/null \
    || die "Redis did not start, see $run_dir/redis.log"
  local keys
  keys=$(redis_cli dbsize)
  if [ "$keys" -eq 0 ]; then
    say "loading Redis with every id's answer for $program $period ($n families) ..."
    local t0=$SECONDS
    "$build/bench/bench-redis-load" --snapshot "$snap" --program "$program" --period "$period" \
      | redis_cli --pipe >"$run_dir/redis-pipe.log"
    grep -q "errors: 0" "$run_dir/redis-pipe.log" || die "redis-cli --pipe reported errors: $(tail -2 "$run_dir/redis-pipe.log")"
    say "loaded $(redis_cli dbsize) keys in $((SECONDS - t0)) s; saving $rdb for later runs"
    redis_cli save >/dev/null
  fi
  say "Redis up on 127.0.0.1:$redis_port with $(redis_cli dbsize) keys, $(redis_cli info memory | sed -n 's/^used_memory_human://p' | tr -d '\r') used"
}

redis_stop() {
  if [ -f "$run_dir/redis.pid" ]; then
    local pid; pid=$(cat "$run_dir/redis.pid")
    if kill -0 "$pid" 2>/dev/null; then
      # SHUTDOWN NOSAVE: never rewrite the cached dataset on the way out
      redis_cli shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$run_dir/redis.pid"
  fi
}

# ---- PostgreSQL ------------------------------------------------------------

psql_q() { as_pg $pgbin/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

pg_dir() { echo "$data/pg-$1-s$seed"; }

pg_conf() { # DIR
  cat >>"$1/postgresql.conf" <<EOF
# eligd bench: loopback only, a read-only benchmark load
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$run_dir'
max_connections = 200
shared_buffers = 2GB
effective_cache_size = 12GB
maintenance_work_mem = 1GB
work_mem = 16MB
wal_level = minimal
max_wal_senders = 0
fsync = off
synchronous_commit = off
full_page_writes = off
checkpoint_timeout = 30min
max_wal_size = 8GB
jit = off
max_parallel_workers_per_gather = 0
logging_collector = off
EOF
}

pg_ctl_() { as_pg $pgbin/pg_ctl -D "$1" -l "$run_dir/pg.log" -w -t 600 "${@:2}" >/dev/null; }

# COPY FILE into TABLE using the CSV's own header as the column list.
pg_copy() { # TABLE FILE
  local cols
  cols=$(head -1 "$2" | tr -d '\r' | sed 's/\bend\b/"end"/')
  psql_q -d bench -c "COPY $1 ($cols) FROM STDIN WITH (FORMAT csv, HEADER true)" <"$2"
}

pg_load() { # N DIR
  local n=$1 dir=$2 csv=$data/gen-$1-s$seed keys=$data/keys-$1-s$seed.csv
  [ -f "$csv/.complete" ] || die "no dataset $csv (run bench/run first)"
  [ -f "$keys" ] || die "no keys file $keys (run bench/run first)"
  say "loading PostgreSQL with $n families (COPY, then keys and ANALYZE) ..."
  local t0=$SECONDS
  psql_q -d postgres -c "CREATE DATABASE bench"
  # Created and filled in one transaction each: with wal_level minimal the
  # COPY writes no WAL.
  psql_q -d bench <<'EOF'
BEGIN;
CREATE TABLE households (kk bigint NOT NULL, region bigint NOT NULL, status text NOT NULL,
                         kks bigint, head_name text);
CREATE TABLE members (nik bigint NOT NULL, kk bigint NOT NULL, status text, birth_date date);
CREATE TABLE enrollments (kk bigint NOT NULL, program text NOT NULL, start text NOT NULL,
                          "end" text, amount bigint NOT NULL, status text NOT NULL);
CREATE TABLE bench_keys (kind text NOT NULL, i integer NOT NULL, id bigint NOT NULL);
COMMIT;
EOF
  pg_copy households "$csv/households.csv" &
  pg_copy members "$csv/members.csv" &
  wait
  pg_copy enrollments "$csv/enrollments.csv"
  # bench_keys: the hit keys elig-bench draws from, numbered per kind.
  awk -F, 'NR > 1 && NF == 2 { n[$1]++; print $1 "," n[$1] "," $2 }' "$keys" \
    | psql_q -d bench -c "COPY bench_keys (kind, i, id) FROM STDIN WITH (FORMAT csv)"
  psql_q -d bench -c "ALTER TABLE households ADD PRIMARY KEY (kk)" &
  psql_q -d bench -c "ALTER TABLE members ADD PRIMARY KEY (nik)" &
  wait
  psql_q -d bench -c "CREATE UNIQUE INDEX households_kks ON households (kks)" &
  psql_q -d bench -c "ALTER TABLE enrollments ADD PRIMARY KEY (kk, program, start)" &
  wait
  psql_q -d bench -c "ALTER TABLE bench_keys ADD PRIMARY KEY (kind, i)"
  psql_q -d bench -c "VACUUM ANALYZE"
  psql_q -d bench -c "CREATE EXTENSION pg_prewarm"
  say "PostgreSQL loaded in $((SECONDS - t0)) s"
}

pg_start() {
  local n=$1 dir; dir=$(pg_dir "$1")
  pg_stop
  if (exec 3<>/dev/tcp/127.0.0.1/"$pg_port") 2>/dev/null; then
    die "something already listens on 127.0.0.1:$pg_port (set ELIG_PG_PORT)"
  fi
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir" "$run_dir"
    chmod 700 "$dir"
    as_pg $pgbin/initdb -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    pg_conf "$dir"
    pg_ctl_ "$dir" start
    pg_load "$n" "$dir"
    touch "$dir/.complete"
  else
    [ "$(id -u)" = 0 ] && chown postgres: "$run_dir"
    pg_ctl_ "$dir" start
  fi
  echo "$dir" >"$run_dir/pg.dir"
  # Read everything into shared buffers / the page cache, as eligd's map
  # and Redis's memory are warm.
  psql_q -d bench -At -c "SELECT sum(pg_prewarm(c.oid::regclass)) FROM pg_class c
    JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'public' AND c.relkind IN ('r','i')" >/dev/null
  say "PostgreSQL up on 127.0.0.1:$pg_port ($dir)"
}

pg_stop() {
  if [ -f "$run_dir/pg.dir" ]; then
    local dir; dir=$(cat "$run_dir/pg.dir")
    [ -f "$dir/postmaster.pid" ] && pg_ctl_ "$dir" stop -m fast || true
    rm -f "$run_dir/pg.dir"
  fi
}

# One pgbench script per kind: the check as one prepared SELECT.
pg_scripts() { # DIR
  local kind join cols
  for kind in nik kk kks; do
    case $kind in
      nik) join="JOIN members m ON m.nik = b.id JOIN households h ON h.kk = m.kk"
           cols="m.status AS member_status," ;;
      kk)  join="JOIN households h ON h.kk = b.id"; cols="" ;;
      kks) join="JOIN households h ON h.kks = b.id"; cols="" ;;
    esac
    cat >"$1/check-$kind.sql" <<EOF
\\set r random(1, :n_$kind)
SELECT $cols h.kk, h.region, h.status, e.status AS enrollment_status, e.amount,
       EXISTS (SELECT 1 FROM enrollments x WHERE x.kk = h.kk AND x.program = '$program') AS enrolled
  FROM bench_keys b $join
  LEFT JOIN enrollments e ON e.kk = h.kk AND e.program = '$program'
       AND e.start <= '$period' AND (e."end" IS NULL OR e."end" >= '$period')
 WHERE b.kind = '$kind' AND b.i = :r;
EOF
  done
}

pg_bench() { # N SECONDS [CLIENTS]
  local n=$1 secs=$2 clients=${3:-50}
  local work; work=$(mktemp -d "$run_dir/pgbench.XXXXXX")
  [ "$(id -u)" = 0 ] && chown postgres: "$work"
  pg_scripts "$work"
  local counts nik kk kks
  counts=$(psql_q -d bench -At -F' ' -c "SELECT
      (SELECT count(*) FROM bench_keys WHERE kind = 'nik'),
      (SELECT count(*) FROM bench_keys WHERE kind = 'kk'),
      (SELECT count(*) FROM bench_keys WHERE kind = 'kks')")
  read -r nik kk kks <<<"$counts"
  (cd "$work" && as_pg pgbench -n -M prepared -c "$clients" -j 1 -T "$secs" -l --log-prefix="$work/lat" \
      -D n_nik="$nik" -D n_kk="$kk" -D n_kks="$kks" \
      -f check-nik.sql@1 -f check-kk.sql@1 -f check-kks.sql@1 \
      -h 127.0.0.1 -p "$pg_port" -U postgres bench >"$work/out.txt" 2>&1) \
    || { cat "$work/out.txt" >&2; die "pgbench failed"; }
  # Latency percentiles from the per-transaction log (column 3, us).
  /usr/bin/python3 - "$work" "$clients" "$secs" "$n" <<'EOF'
import glob, json, re, sys
work, clients, secs, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
out = open(work + "/out.txt").read()
tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
failed = re.search(r"number of failed transactions: (\d+)", out)
lat = []
for f in glob.glob(work + "/lat*"):
    for line in open(f):
        p = line.split()
        if len(p) >= 3:
            lat.append(int(p[2]))
lat.sort()
def pct(q):
    if not lat:
        return 0.0
    i = max(0, min(len(lat) - 1, int(-(-q * len(lat) // 100)) - 1))
    return float(lat[i])
print(json.dumps({"server": "postgresql", "method": "check", "families": n, "connections": clients,
                  "pipeline": 1, "threads": 1, "seconds": secs, "requests_per_s": tps,
                  "answers_per_s": tps, "requests": len(lat),
                  "latency_us": {"p50": pct(50), "p90": pct(90), "p99": pct(99), "p999": pct(99.9),
                                 "max": float(lat[-1]) if lat else 0.0},
                  "errors": {"failed": int(failed.group(1)) if failed else 0}}))
EOF
  rm -rf "$work"
}

stop_all() { redis_stop; pg_stop; }

demo() { # N: both peers, one short run each, then stop — bounded by timeout(1)
  local n=$1
  trap stop_all EXIT
  install
  redis_start "$n"
  "$build/bench/elig-bench" --redis -p "$redis_port" --keys "$data/keys-$n-s$seed.csv" -d 5
  redis_stop
  pg_start "$n"
  pg_bench "$n" 5
  pg_stop
}

cmd=${1:-}
case "$cmd" in
  install) install ;;
  redis-start) redis_start "${2:?FAMILIES}" ;;
  redis-stop) redis_stop ;;
  pg-start) pg_start "${2:?FAMILIES}" ;;
  pg-bench) pg_bench "${2:?FAMILIES}" "${3:?SECONDS}" "${4:-50}" ;;
  pg-stop) pg_stop ;;
  stop-all) stop_all ;;
  demo) timeout 3600 "$0" demo-inner "${2:?FAMILIES}" ;;
  demo-inner) demo "$2" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; [ "$cmd" = --help ] || [ "$cmd" = -h ]; exit $? ;;
esac
