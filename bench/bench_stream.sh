#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench_stream.sh - `imgstream stream` throughput and latency on this
# machine, as docs/BENCHMARKS.md reports them.
#
#   bench/bench_stream.sh [BUILD_DIR [steady [RUNS]]]   (default: build)
#
# `steady` runs only part 2, RUNS times (default 1), one line each with
# the load average when it ended (the machine may be shared), then the
# median and range of the runs' p50 and p99.
#
# 1. Throughput at full rate: the 430 shared flowers are put into a fresh
#    bucket first, then the stream (checkpoint + JSONL sink, 2 threads)
#    drains it with --max-files-per-trigger 1, 16 and 64; images/s =
#    rows / (last batch end - first batch start), from the JSONL sink's
#    processing times.
# 2. Latency at a steady 50 images/s: the producer uploads at --rate 50
#    while the stream (one file per trigger) runs; p50/p99/max of the
#    sink's latency_ms (landing to classification).
# Needs only the build and ../shared; writes under a temporary folder.
# IMGSTREAM_PRODUCER=PATH runs part 2's producer from another imgstream
# (streams of two builds measured with the same producer).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
only=${2:-}
runs=${3:-1}
bin=$build/imgstream
# the steady part's producer; another build's to compare streams alone
producer=${IMGSTREAM_PRODUCER:-$bin}
shared=${IMGSTREAM_SHARED:-$root/../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

. "$root/bench/sink_stats.sh" # stats, span

"$bin" produce --from "$shared/data/flowers" --to "dir://$tmp/full" \
  --interval 0 --seed 1 -q
[ "$only" = steady ] || echo "## full rate (430 images already in the bucket)"
[ "$only" = steady ] || for n in 1 16 64; do
  rm -rf "$tmp/ck" "$tmp/out.jsonl"
  start=$(date +%s.%N)
  "$bin" stream --source "dir://$tmp/full" --max-files-per-trigger "$n" \
    --checkpoint "$tmp/ck" --sink "jsonl:$tmp/out.jsonl" --threads 2 \
    --until-idle 500 >/dev/null
  end=$(date +%s.%N)
  rows=$(wc -l < "$tmp/out.jsonl")
  s=$(span "$tmp/out.jsonl")
  awk -v n="$n" -v r="$rows" -v s="$s" -v w="$(echo "$end - $start" | bc)" \
    'BEGIN { printf "max-files-per-trigger %2d: %d rows, %.0f images/s " \
             "(first to last row), %.2f s wall incl. start-up\n", n, r, r/s, w }'
done

echo "## steady 50 images/s, one file per trigger"
steady() {
  rm -rf "$tmp/ck" "$tmp/out.jsonl" "$tmp/live"
  mkdir -p "$tmp/live"
  "$bin" stream --source "dir://$tmp/live" --checkpoint "$tmp/ck" \
    --sink "jsonl:$tmp/out.jsonl" --threads 2 --until-idle 3000 >/dev/null &
  stream=$!
  sleep 1
  "$producer" produce --from "$shared/data/flowers" --to "dir://$tmp/live" \
    --rate 50 --seed 2 -q
  wait "$stream"
}
i=0
while [ "$i" -lt "$runs" ]; do
  i=$((i + 1))
  steady
  line=$(stats "$tmp/out.jsonl")
  echo "$line (load $(cut -d' ' -f1 /proc/loadavg))"
  echo "$line" >> "$tmp/runs"
done
[ "$runs" -gt 1 ] || exit 0
# median and range over the runs (the 5th and 7th fields: p50, p99)
for f in 5 8; do
  cut -d' ' -f$f "$tmp/runs" | sort -n | awk -v f=$f '{v[NR]=$1} END {
    printf "%s over %d runs: median %s ms, range %s-%s ms\n",
      f == 5 ? "p50" : "p99", NR, v[int((NR+1)/2)], v[1], v[NR] }'
done
