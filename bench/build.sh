#!/usr/bin/env bash
# bench/build.sh — the snapshot build benchmark (issue 2, item 6).
#
# Generates a 10M-member registry export once (elig-gen, ~3M families,
# cached under bench/data/, git-ignored), builds its snapshot with
# elig-snapshot and reports, for each run and as the median:
#   rows/s end to end  (rows of the three files / wall time of the build,
#                       parse + validate + sort + write + sync)
#   peak RSS           (/usr/bin/time -v, "Maximum resident set size")
#   snapshot bytes per family
# and elig-gen's own rate, measured when the data is generated.
#
#   bash bench/build.sh [--build DIR] [--families N] [--seed S] [--runs N] [--regen]
#
# --build DIR     CMake build directory (default: build); elig-gen and
#                 elig-snapshot are built there first if missing
# --families N    households to generate (default 3000000: ~10M members)
# --seed S        elig-gen seed (default 1)
# --runs N        builds to time (default 3); the median is reported
# --regen         generate the data again even if cached (measures elig-gen)
#
# Results are printed and appended to bench/results/build.txt.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=build
families=3000000
seed=1
runs=3
regen=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --families) families=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --regen) regen=1; shift ;;
    --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$build" in /*) ;; *) build=$root/$build ;; esac

# /usr/bin/time (Debian package `time`) gives peak RSS; install it if missing.
if [ ! -x /usr/bin/time ]; then
  echo "build.sh: installing Debian package 'time' for /usr/bin/time -v" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi

gen=$build/tools/gen/elig-gen
snap=$build/tools/snapshot/elig-snapshot
if [ ! -x "$gen" ] || [ ! -x "$snap" ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target elig-gen elig-snapshot >/dev/null
fi

data=$root/bench/data
set_dir=$data/gen-$families-s$seed
mkdir -p "$data" "$root/bench/results"

# `/usr/bin/time -v` report -> "wall_seconds peak_rss_kib cpu_seconds"
time_fields() {
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
                 for (i = 1; i <= n; i++) s = s * 60 + t[i] }
              /Maximum resident set size/ { rss = $2 }
              /User time|System time/ { cpu += $2 }
              END { printf "%.2f %d %.2f\n", s, rss, cpu }' "$1"
}

# ---- data, generated once -------------------------------------------------
if [ "$regen" = 1 ] || [ ! -f "$set_dir/.complete" ]; then
  tmp=$data/.tmp-gen-$families-s$seed
  rm -rf "$tmp"
  echo "generating $families families (seed $seed) into $set_dir ..." >&2
  /usr/bin/time -v -o "$data/.gen-time" "$gen" --households "$families" --seed "$seed" \
    --out "$tmp" 2>"$data/.gen-summary"
  cat "$data/.gen-summary" >&2
  # elig-gen's summary: "... households.csv N rows, members.csv N rows, enrollments.csv N rows; ..."
  read -r hh mem enr < <(sed -E 's/.*households.csv ([0-9]+) rows, members.csv ([0-9]+) rows, enrollments.csv ([0-9]+) rows.*/\1 \2 \3/' "$data/.gen-summary")
  read -r gsec grss _ < <(time_fields "$data/.gen-time")
  printf 'households=%s\nmembers=%s\nenrollments=%s\ngen_seconds=%s\ngen_rss_kib=%s\n' \
    "$hh" "$mem" "$enr" "$gsec" "$grss" >"$tmp/.complete"
  rm -rf "$set_dir"
  mv "$tmp" "$set_dir"
  rm -f "$data/.gen-time" "$data/.gen-summary"
fi
# shellcheck disable=SC1091
. "$set_dir/.complete"
rows=$((households + members + enrollments))
input_bytes=$(cat "$set_dir"/households.csv "$set_dir"/members.csv "$set_dir"/enrollments.csv | wc -c)

# ---- builds ---------------------------------------------------------------
out=$data/snap-$families-s$seed.mdb
load=$(cut -d' ' -f1-3 /proc/loadavg)
results=()
for i in $(seq 1 "$runs"); do
  rm -f "$out" "$out.rejects.csv"
  sync
  /usr/bin/time -v -o "$data/.build-time" "$snap" build \
    --households "$set_dir/households.csv" --members "$set_dir/members.csv" \
    --enrollments "$set_dir/enrollments.csv" --out "$out" --rejects "$out.rejects.csv" \
    --max-reject-ratio 0 --id "bench-$families-s$seed" >"$data/.build-log" 2>&1 || {
      cat "$data/.build-log" >&2; echo "build.sh: elig-snapshot build failed" >&2; exit 1; }
  read -r sec rss cpu < <(time_fields "$data/.build-time")
  size=$(stat -c %s "$out")
  rate=$(awk -v r="$rows" -v s="$sec" 'BEGIN { printf "%.0f", r / s }')
  echo "run $i: ${sec} s wall, ${cpu} s CPU, $rate rows/s, peak RSS $((rss / 1024)) MiB, snapshot $size bytes" >&2
  results+=("$sec $rss $size $cpu")
done
rm -f "$data/.build-time" "$data/.build-log"
read -r msec mrss msize _ < <(printf '%s\n' "${results[@]}" | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)')
bsec=$(printf '%s\n' "${results[@]}" | sort -n | awk 'NR == 1 { print $1 }')
mcpu=$(printf '%s\n' "${results[@]}" | awk '{ print $4 }' | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)')

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
# the source the binaries were built from, which need not be this checkout
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
if commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null); then
  git -C "$src" diff --quiet HEAD -- tools lib include 2>/dev/null || commit="$commit + uncommitted changes"
else
  commit="unknown ($src is not a git checkout)"
fi
report=$(cat <<EOF
snapshot build benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), binaries built from $commit
machine: $(nproc) cores, $cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average before the builds $load (the machine is shared)
note: input files in the page cache (generated or read before); the build fsyncs the snapshot
input: $households households, $members members, $enrollments enrollments = $rows rows, $((input_bytes / 1048576)) MiB ($set_dir)
elig-gen: $gen_seconds s, $(awk -v r="$rows" -v s="$gen_seconds" 'BEGIN { printf "%.0f", r / s }') rows/s, peak RSS $((gen_rss_kib / 1024)) MiB (when the data was generated)
elig-snapshot build, median of $runs runs ($(printf '%s\n' "${results[@]%% *}" | paste -sd, | sed 's/,/, /g') s): $msec s, $(awk -v r="$rows" -v s="$msec" 'BEGIN { printf "%.0f", r / s }') rows/s end to end, peak RSS $((mrss / 1024)) MiB
  fastest run $bsec s = $(awk -v r="$rows" -v s="$bsec" 'BEGIN { printf "%.0f", r / s }') rows/s; median CPU time (user + system) $mcpu s = $(awk -v r="$rows" -v s="$mcpu" 'BEGIN { printf "%.0f", r / s }') rows per CPU-second
snapshot: $msize bytes, $(awk -v b="$msize" -v h="$households" 'BEGIN { printf "%.1f", b / h }') bytes per family
EOF
)
echo "$report"
printf '%s\n\n' "$report" >>"$root/bench/results/build.txt"
