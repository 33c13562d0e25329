# SPDX-License-Identifier: Apache-2.0
# bench/sink_stats.sh - sourced by bench_stream.sh and bench_s3.sh:
# latency percentiles and the time span of a stream's JSONL sink, with awk
# and sort only (no Python in the loop being measured).

stats() { # FILE -> "N rows, latency p50 .. ms, p99 .. ms, max .. ms"
  grep -o '"latency_ms":[0-9.]*' "$1" | cut -d: -f2 | sort -n |
    awk '{v[NR]=$1} END {
      p50=v[int(NR*0.50+0.5)]; p99=v[int(NR*0.99+0.5)];
      printf "%d rows, latency p50 %s ms, p99 %s ms, max %s ms\n",
             NR, p50, p99, v[NR] }'
}

span() { # FILE -> seconds between the first and last processing_time
  grep -o '"processing_time":"[^"]*"' "$1" | cut -d'"' -f4 |
    sed 's/T/ /; s/Z//' | sort | sed -n '1p;$p' |
    while read -r d t; do date -u -d "$d $t" +%s.%N; done |
    awk 'NR==1{a=$1} NR==2{printf "%.3f\n", $1-a}'
}
