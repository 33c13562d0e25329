#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench_http.sh - what serving 1,000 HTTP requests per second, valid and
# hostile, costs `imgstream stream` (issue 16; docs/METRICS.md, "Under
# load").
#
#   bench/bench_http.sh [BUILD_DIR]      (default: build)
#
#   IMS_BENCH_RUNS=3     runs of each mode (medians reported)
#   IMS_BENCH_COPIES=12  copies of the 430 shared flowers in the bucket
#                        (5,160 images: about 10 s at 2 threads here)
#   IMS_BENCH_RATE=1000  requests/s of ims_http_load
#   IMS_BENCH_MODES="plain http load plain1 load1"   the modes to run
#
# The 430 shared flowers, IMS_BENCH_COPIES times each (5,160 images), are
# put into a bucket first; then the stream (checkpoint + JSONL sink, 16
# files a trigger, unpaced) drains it in five modes, one run of each in
# turn (plain, http, load, plain, http, load, ...):
#
#   plain     2 threads, no --http
#   http      2 threads, --http 127.0.0.1:0, no requests
#   load      2 threads, --http, and ims_http_load (tests/support/
#             http_load.c: the http_load test's mix of valid and hostile
#             requests, 8 keep-alive connections) at RATE/s from the
#             port's announcement to the stream's end (--while-up);
#             the generator shares the 2 cores with the stream
#   plain1    1 thread, the stream pinned to CPU 0 (taskset -c 0)
#   load1     the same under load, the generator pinned to CPU 1: the
#             stream's core (and its HTTP thread, which inherits the
#             pinning) against the generator's, so the ratio
#             load1/plain1 is the server's own cost, without the
#             generator's CPU in it
#
# images/s = rows / (last row - first row), from the JSONL sink's
# processing times (sink_stats.sh). Prints each run (with the load
# average before it: anything else running skews it), then the medians
# and the ratios, and the generator's achieved rate, CPU time and
# unexpected answers. Needs the build (imgstream, tests/ims_http_load),
# taskset and ../shared; writes under a temporary folder.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/imgstream
load=$build/tests/ims_http_load
shared=${IMGSTREAM_SHARED:-$root/../shared}
runs=${IMS_BENCH_RUNS:-3}
copies=${IMS_BENCH_COPIES:-12}
rate=${IMS_BENCH_RATE:-1000}
modes=${IMS_BENCH_MODES:-plain http load plain1 load1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

. "$root/bench/sink_stats.sh" # span

for f in "$bin" "$load"; do
  [ -x "$f" ] || { echo "bench_http.sh: no $f (build first)" >&2; exit 1; }
done

"$bin" produce --from "$shared/data/flowers" --to "dir://$tmp/full" \
  --interval 0 --seed 1 -q
for c in $(seq 2 "$copies"); do
  for f in "$tmp"/full/*/*.jpg; do
    case $f in *_copy*) continue ;; esac
    cp "$f" "${f%.jpg}_copy$c.jpg"
  done
done
images=$(find "$tmp/full" -name "*.jpg" | wc -l)

# The port a stream announced on stderr file $1; waits up to 60 s.
port_of() {
  i=0
  while [ $i -lt 6000 ]; do
    p=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' \
        "$1" 2>/dev/null || true) # not there until the shell opens it
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.01
    i=$((i + 1))
  done
  echo "bench_http.sh: no port announced in $1" >&2
  return 1
}

# The number "$1": of the generator's JSON report.
field() {
  grep -o "\"$1\":[0-9.]*" "$tmp/load.json" | head -n 1 | cut -d: -f2
}

# One run of mode $1: prints "MODE images/s", and under load the
# generator's "rate cpu_s wrong unanswered": achieved requests/s, CPU
# seconds, unexpected answers but closes, and requests closed unanswered
# (those in flight when the stream stopped).
run_mode() {
  mode=$1
  rm -rf "$tmp/ck" "$tmp/out.jsonl" "$tmp/err" "$tmp/load.json"
  threads=2 spin="" lpin="" http="" gen=""
  case $mode in
    http) http=1 ;;
    load) http=1 gen=1 ;;
    plain1) threads=1 spin="taskset -c 0" ;;
    load1) threads=1 spin="taskset -c 0" lpin="taskset -c 1" http=1 gen=1 ;;
  esac
  set -- --source "dir://$tmp/full" --max-files-per-trigger 16 \
    --checkpoint "$tmp/ck" --sink "jsonl:$tmp/out.jsonl" \
    --threads "$threads" --until-idle 500
  [ -n "$http" ] && set -- "$@" --http 127.0.0.1:0
  $spin "$bin" stream "$@" >/dev/null 2>"$tmp/err" &
  stream=$!
  if [ -n "$gen" ]; then
    port=$(port_of "$tmp/err")
    $lpin "$load" --port "$port" --rate "$rate" --seconds 600 --while-up \
      --json >"$tmp/load.json" 2>"$tmp/load.err" &
    lpid=$!
  fi
  src=0
  wait "$stream" || src=$?
  # 139: libmicrohttpd 0.9.75 can crash when the server stops while it
  # refuses a request itself (a race in MHD_stop_daemon); the rows are
  # committed by then, so the run still counts, and the exit is shown
  [ "$src" -eq 0 ] || echo "bench_http.sh: $mode: stream exit $src" >&2
  extra=""
  if [ -n "$gen" ]; then
    wait "$lpid" || true # in flight when the stream stopped: unanswered
    u=$(field unexpected) n=$(field no_answer)
    extra="$(field rate) $(field cpu_s) $((u - n)) $n"
  fi
  rows=$(wc -l <"$tmp/out.jsonl")
  [ "$rows" -eq "$images" ] ||
    { echo "bench_http.sh: $mode: $rows rows, not $images" >&2; exit 1; }
  awk -v m="$mode" -v r="$rows" -v s="$(span "$tmp/out.jsonl")" \
    -v x="$extra" 'BEGIN { printf "%s %.1f %s\n", m, r / s, x }'
}

median() { # column $2 of the lines of mode $1 in $tmp/runs
  awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$tmp/runs" | sort -n |
    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "## $images images, stream unpaced (16 files a trigger), $runs runs" \
     "of each mode, ims_http_load at $rate/s"
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
echo "cores: $(nproc)"
: >"$tmp/runs"
for r in $(seq 1 "$runs"); do
  for m in $modes; do
    busy=$(cut -d' ' -f1 /proc/loadavg) # others' work skews a run
    line=$(run_mode "$m")
    echo "run $r (load average $busy before): $line"
    echo "$line" >>"$tmp/runs"
  done
done
echo "## medians (images/s)"
med_plain="" med_http="" med_load="" med_plain1="" med_load1=""
for m in $modes; do
  eval "med_$m=$(median "$m" 2)"
  printf '%-7s %s\n' "$m" "$(median "$m" 2)"
done
ratio() { # NAME NUMERATOR DENOMINATOR: printed when both modes ran
  [ -n "$2" ] && [ -n "$3" ] &&
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%s %.3f\n", n, a / b }'
  return 0
}
ratio http/plain "$med_http" "$med_plain"
ratio load/plain "$med_load" "$med_plain"
ratio load1/plain1 "$med_load1" "$med_plain1"
for m in load load1; do
  case " $modes " in *" $m "*) ;; *) continue ;; esac
  echo "$m: generator $(median $m 3) requests/s achieved," \
       "$(median $m 4) CPU s (medians);" \
       "wrong answers $(awk -v m=$m '$1 == m { s += $5 } END { print s }' \
       "$tmp/runs"), unanswered (in flight at the stream's end)" \
       "$(awk -v m=$m '$1 == m { s += $6 } END { print s }' "$tmp/runs")" \
       "in all runs"
done
