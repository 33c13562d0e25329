#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench_nats.sh - imgstream's scale-out over NATS JetStream on this
# machine, as docs/SCALING.md reports it.
#
#   bench/bench_nats.sh [BUILD_DIR [PARTS]]
#       BUILD_DIR  default: build (needs bench/bench_nats; `e2e` also
#                  needs the imgstream tool)
#       PARTS      any of "single cluster e2e" (default: all three)
#
# single   one nats-server (JetStream, file store in a temporary folder,
#          loopback, free port); bench_nats with replicas 1: publish with
#          1, 2, 4 publishers, then fetch + result + ack with 1, 2, 4
#          workers and 1, 16, 64 images per pull request, a no-op
#          classifier; the server's CPU per image read from /proc (more
#          workers than cores: how the server's cost per image falls as
#          its load rises); then results published asynchronously (one
#          wait for all PubAcks of a batch) for comparison.
# cluster  three nats-servers clustered on loopback (all on this machine's
#          cores, so wall-clock figures are pessimistic; the CPU per image
#          is the figure that carries over), bench_nats with replicas 3.
# e2e      the real pipeline, if `imgstream stream --help` mentions nats:
#          `imgstream produce` publishes the shared flowers to a fresh
#          stream, then 1 worker (-t 2) or 2 workers (-t 1 each) drain it
#          with --max-files-per-trigger 16; images/s from the first to the
#          last row of their jsonl: sinks (the first batch excluded: its
#          rows carry its end time). The folder source is measured the same
#          way for comparison (bench/bench_stream.sh's full-rate run).
#
# Environment: IMS_BENCH_COUNT images per bench_nats pass (default 5000;
# IMS_BENCH_CLUSTER_COUNT for the cluster, default 2000),
# IMS_BENCH_WORKERS worker (and publisher) counts (default 1,2,4),
# IMS_BENCH_E2E_IMAGES images per e2e run (default 430: the flowers once;
# more loops the producer), IMGSTREAM_NATS_SERVER (default: nats-server
# from PATH or /usr/sbin). Everything runs under one temporary folder,
# removed at exit with the servers.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
parts=${2:-single cluster e2e}
bench=$build/bench/bench_nats
bin=$build/imgstream
shared=${IMGSTREAM_SHARED:-$root/../shared}
count=${IMS_BENCH_COUNT:-5000}
cluster_count=${IMS_BENCH_CLUSTER_COUNT:-2000}
workers=${IMS_BENCH_WORKERS:-1,2,4}
e2e_images=${IMS_BENCH_E2E_IMAGES:-430}
server=${IMGSTREAM_NATS_SERVER:-$(command -v nats-server ||
                                 echo /usr/sbin/nats-server)}
tmp=$(mktemp -d)
servers=""

cleanup() {
  for p in $servers; do kill "$p" 2>/dev/null || true; done
  for p in $servers; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A base port with the next 7 free (clients + cluster routes).
free_base() {
  used=$(ss -ltnH | awk '{n=split($4,a,":"); print a[n]}')
  while :; do
    base=$(awk 'BEGIN{srand(); print 20000 + int(rand() * 30000)}')
    ok=1
    for i in 0 1 2 3 4 5 6; do
      if echo "$used" | grep -qx "$((base + i))"; then ok=0; fi
    done
    [ "$ok" = 1 ] && { echo "$base"; return; }
    sleep 1
  done
}

# start_server NAME CONFIG: start it, wait for "Server is ready"; its pid
# is appended to $servers.
start_server() {
  "$server" -c "$2" >"$tmp/$1.log" 2>&1 &
  servers="$servers $!"
  i=0
  until grep -q "Server is ready" "$tmp/$1.log"; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then cat "$tmp/$1.log" >&2; exit 1; fi
    sleep 0.1
  done
}

stop_servers() {
  for p in $servers; do kill "$p" 2>/dev/null || true; done
  for p in $servers; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
  servers=""
}

# The flower JPEG closest to 50 KB from below (bench_nats zero-pads it to
# exactly 51200 bytes; a JPEG decoder ignores what follows its end).
image=$(find "$shared/data/flowers" -name '*.jpg' -size -51201c \
          -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)

echo "# bench_nats.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
     "$("$server" --version), libnats $(pkg-config --modversion libnats \
     2>/dev/null || echo '?')"
echo "# body: $image, padded to 51200 bytes; $count images per pass"

# run_bench LABEL URL REPLICAS COUNT [OPTION...]: bench_nats against the
# running servers, the command echoed first.
run_bench() {
  label=$1 url=$2 replicas=$3 n=$4
  shift 4
  set -- --url "$url" --count "$n" --image "$image" --workers "$workers" \
    --replicas "$replicas" --pids "$(echo $servers | tr ' ' ,)" \
    --label "$label" "$@"
  echo "bench_nats $*"
  "$bench" "$@" || { tail -n 5 "$tmp"/*.log >&2; exit 1; }
  echo "# load average after: $(cut -d" " -f1-3 /proc/loadavg)"
}

single() {
  port=$(free_base)
  cat >"$tmp/single.conf" <<EOF
server_name: single
listen: 127.0.0.1:$port
jetstream { store_dir: "$tmp/single" }
EOF
  start_server single "$tmp/single.conf"
  echo
  echo "## one server, replicas 1"
  echo "# load average before: $(cut -d" " -f1-3 /proc/loadavg)"
  run_bench "1 server R1" "nats://127.0.0.1:$port" 1 "$count"
  echo
  echo "## one server, replicas 1, results published asynchronously" \
       "(one wait per batch)"
  run_bench "1 server R1 async" "nats://127.0.0.1:$port" 1 "$count" \
    --publishers 1 --batch 16,64 --results async
  stop_servers
}

cluster() {
  base=$(free_base)
  routes="nats-route://127.0.0.1:$((base + 4)),"
  routes="${routes}nats-route://127.0.0.1:$((base + 5)),"
  routes="${routes}nats-route://127.0.0.1:$((base + 6))"
  url=""
  for n in 1 2 3; do
    cat >"$tmp/n$n.conf" <<EOF
server_name: n$n
listen: 127.0.0.1:$((base + n))
jetstream { store_dir: "$tmp/n$n" }
cluster {
  name: bench
  listen: 127.0.0.1:$((base + 3 + n))
  routes: [$routes]
}
EOF
    url="$url${url:+,}nats://127.0.0.1:$((base + n))"
  done
  for n in 1 2 3; do start_server "n$n" "$tmp/n$n.conf"; done
  echo
  echo "## 3-server cluster (same 2 cores), replicas 3"
  echo "# load average before: $(cut -d" " -f1-3 /proc/loadavg)"
  run_bench "3 servers R3" "$url" 3 "$cluster_count"
  stop_servers
}

# rate FILE... -> "ROWS IMAGES/S": rows after the first batch divided by
# the time from the first batch's end to the last row.
rate() {
  cat "$@" | grep -o '"processing_time":"[^"]*"' | cut -d'"' -f4 |
    sort >"$tmp/times"
  first=$(head -n 1 "$tmp/times")
  t0=$(date -u -d "$(echo "$first" | sed 's/T/ /; s/Z//')" +%s.%N)
  t1=$(date -u -d "$(tail -n 1 "$tmp/times" | sed 's/T/ /; s/Z//')" +%s.%N)
  awk -v f="$first" -v a="$t0" -v b="$t1" '
    { n++; if ($1 == f) k++ }
    END { printf "%d %.0f\n", n, (n - k) / (b - a) }' "$tmp/times"
}

# worker N THREADS STREAM SUFFIX: one `imgstream stream` worker.
worker() {
  "$bin" stream --source "nats://127.0.0.1:$port/IMAGES$3" \
    --sink "nats://127.0.0.1:$port/RESULTS$3" \
    --sink "jsonl:$tmp/w$1$3.jsonl" --max-files-per-trigger 16 \
    --until-idle 2000 -t "$2" >/dev/null 2>"$tmp/w$1$3.err" ||
    { cat "$tmp/w$1$3.err" >&2; exit 1; }
}

produce() { # TARGET-URL
  if [ "$e2e_images" -gt 430 ]; then
    "$bin" produce --from "$shared/data/flowers" --to "$1" --interval 0 \
      --seed 1 --loop --limit "$e2e_images" -q
  else
    "$bin" produce --from "$shared/data/flowers" --to "$1" --interval 0 \
      --seed 1 --limit "$e2e_images" -q
  fi
}

e2e() {
  if [ ! -x "$bin" ] || ! "$bin" stream --help 2>&1 | grep -q 'nats://'
  then
    echo
    echo "## e2e: skipped ($bin stream has no nats source yet)"
    return
  fi
  port=$(free_base)
  cat >"$tmp/e2e.conf" <<EOF
server_name: e2e
listen: 127.0.0.1:$port
jetstream { store_dir: "$tmp/e2e" }
EOF
  start_server e2e "$tmp/e2e.conf"
  echo
  echo "## end to end, $e2e_images images published first," \
       "--max-files-per-trigger 16, one server R1"
  echo "# load average before: $(cut -d" " -f1-3 /proc/loadavg)"
  echo "| source | workers x threads | images | images/s (first batch" \
       "to last row) | wall s (incl. model load, 2 s idle) |"
  echo "| --- | --- | ---: | ---: | ---: |"
  for w in 1 2; do
    produce "nats://127.0.0.1:$port/IMAGES$w"
    th=$((3 - w)) # 1 worker x 2 threads, 2 workers x 1 thread
    start=$(date +%s.%N)
    i=1
    wpids=""
    while [ "$i" -le "$w" ]; do
      worker "$i" "$th" "$w" &
      wpids="$wpids $!"
      i=$((i + 1))
    done
    for p in $wpids; do wait "$p"; done
    end=$(date +%s.%N)
    set -- $(rate "$tmp"/w*"$w".jsonl)
    stored=$("$bin" results --source "nats://127.0.0.1:$port/RESULTS$w" \
               --json 2>/dev/null | wc -l || echo '?')
    printf '| nats | %d x %d | %d (RESULTS holds %s) | %d | %.2f |\n' \
      "$w" "$th" "$1" "$stored" "$2" "$(echo "$end - $start" | bc)"
  done
  stop_servers
  # The folder source, same batch size, same threads, same clock.
  if [ "$e2e_images" -gt 430 ]; then
    "$bin" produce --from "$shared/data/flowers" --to "dir://$tmp/bucket" \
      --interval 0 --seed 1 --loop --limit "$e2e_images" -q
  else
    "$bin" produce --from "$shared/data/flowers" --to "dir://$tmp/bucket" \
      --interval 0 --seed 1 --limit "$e2e_images" -q
  fi
  start=$(date +%s.%N)
  "$bin" stream --source "dir://$tmp/bucket" --checkpoint "$tmp/ck" \
    --sink "jsonl:$tmp/dir.jsonl" --max-files-per-trigger 16 \
    --until-idle 2000 -t 2 >/dev/null 2>"$tmp/dir.err" ||
    { cat "$tmp/dir.err" >&2; exit 1; }
  end=$(date +%s.%N)
  set -- $(rate "$tmp/dir.jsonl")
  printf '| dir (checkpoint) | 1 x 2 | %d | %d | %.2f |\n' "$1" "$2" \
    "$(echo "$end - $start" | bc)"
}

for p in $parts; do
  case $p in
    single) single ;;
    cluster) cluster ;;
    e2e) e2e ;;
    *) echo "bench_nats.sh: unknown part $p" >&2; exit 2 ;;
  esac
done
