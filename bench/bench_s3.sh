#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench_s3.sh - `imgstream stream` throughput from an S3-protocol bucket
# next to the folder source, on this machine (docs/BENCHMARKS-notes.md,
# "S3 buckets"). A benchmark, not a test: it asserts nothing.
#
#   bench/bench_s3.sh [BUILD_DIR]      (default: build)
#
# The S3 server is s3rver (npm, tests/s3/; installed into
# BUILD_DIR/tests/s3 by tests/s3/setup.sh, as the tests do), on a free
# 127.0.0.1 port, storing under a temporary folder - a local server, so
# the figures are imgstream's cost per object (HTTP, SigV4, listing), not
# a cloud's network.
# 1. Full rate: the 430 shared flowers are put into a dir:// bucket and
#    an s3:// bucket; the stream (checkpoint + JSONL sink, 2 threads)
#    drains each with --max-files-per-trigger 1, 16 and 64; images/s =
#    rows / (last row - first row processing time), as bench_stream.sh.
# 2. Latency at a steady 10 images/s (one file per trigger): landing
#    (LastModified, whole seconds on s3rver) to classification, with
#    --poll-interval 1000 (default) and 200. Listing is the only way to
#    find new objects in S3, so latency follows the poll interval.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/imgstream
shared=${IMGSTREAM_SHARED:-$root/../shared}
tmp=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

sh "$root/tests/s3/setup.sh" "$build/tests/s3" >/dev/null
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/s3data"
node --openssl-legacy-provider \
  "$build/tests/s3/node_modules/s3rver/bin/s3rver.js" -d "$tmp/s3data" \
  -a 127.0.0.1 -p "$port" --configure-bucket bench -s \
  >"$tmp/s3rver.log" 2>&1 &
server=$!
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=S3RVER \
  AWS_SECRET_ACCESS_KEY=S3RVER
i=0
until curl -s -o /dev/null "$AWS_ENDPOINT_URL"; do
  i=$((i + 1))
  [ "$i" -lt 100 ] || { cat "$tmp/s3rver.log" >&2; exit 1; }
  sleep 0.1
done

. "$root/bench/sink_stats.sh" # stats, span

t0=$(date +%s.%N)
"$bin" produce --from "$shared/data/flowers" --to "s3://bench/full" \
  --interval 0 --seed 1 -q
t1=$(date +%s.%N)
"$bin" produce --from "$shared/data/flowers" --to "dir://$tmp/full" \
  --interval 0 --seed 1 -q
awk -v s="$(echo "$t1 - $t0" | bc)" \
  'BEGIN { printf "produce to s3: 430 images in %.2f s (%.0f/s)\n", s, 430/s }'

echo "## full rate (430 images already in the bucket)"
for n in 1 16 64; do
  for src in "dir://$tmp/full" "s3://bench/full"; do
    rm -rf "$tmp/ck" "$tmp/out.jsonl"
    "$bin" stream --source "$src" --max-files-per-trigger "$n" \
      --checkpoint "$tmp/ck" --sink "jsonl:$tmp/out.jsonl" --threads 2 \
      --until-idle 1500 >/dev/null 2>&1
    rows=$(wc -l < "$tmp/out.jsonl")
    s=$(span "$tmp/out.jsonl")
    awk -v n="$n" -v r="$rows" -v s="$s" -v src="${src%%:*}" \
      'BEGIN { printf "%-3s max-files-per-trigger %2d: %d rows, " \
               "%.0f images/s\n", src, n, r, r/s }'
  done
done

echo "## steady 10 images/s, one file per trigger, s3://"
for poll in 1000 200; do
  rm -rf "$tmp/ck" "$tmp/out.jsonl"
  "$bin" stream --source "s3://bench/live$poll" --checkpoint "$tmp/ck" \
    --sink "jsonl:$tmp/out.jsonl" --threads 2 --until-idle 4000 \
    --poll-interval "$poll" >/dev/null 2>&1 &
  stream=$!
  sleep 1
  "$bin" produce --from "$shared/data/flowers" --to "s3://bench/live$poll" \
    --rate 10 --seed 2 --limit 150 -q
  wait "$stream"
  printf 'poll-interval %4s ms: ' "$poll"
  stats "$tmp/out.jsonl"
done
