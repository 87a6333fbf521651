#!/usr/bin/env bash
# Gateway mode (`analyze --clients`): peak memory (/usr/bin/time -v) and time per packet at 10,
# 100 and 1,000 clients, against a single-client analyze of one of those clients' sessions
# of a single session as many packets long. Not a test.
#
#   bash scripts/gateway-bench.sh [SECONDS] [CLIENTS…]   (default 30 s of capture; 10 100 1000)
#
# Each capture is `simulate --gateway N` (8 in 10 clients SopCast-like, 1 in 10 a download,
# 1 in 10 a video call); clients 253 and beyond are IPv6. The 1,000-client capture is ~2.5 GB
# for 30 s. Captures are kept in $BENCH_DIR (default /tmp/peerscope-bench-gateway) for reruns.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000)
cargo build --release -q
bin=$PWD/target/release/peerscope
dir=${BENCH_DIR:-/tmp/peerscope-bench-gateway}
mkdir -p "$dir"
echo "machine: $(nproc) cores, $(uname -m); capture length ${secs} s"

# Reports go to a memory file system when there is one ($OUT_DIR, default /dev/shm): a
# thousand client directories created on a disk just after the last run's were deleted cost
# more in the file system (ext4's inode allocation) than the analysis of the packets, and
# differ from run to run. Set OUT_DIR to measure a disk.
outroot=${OUT_DIR:-}
if [ -z "$outroot" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then outroot=/dev/shm; else outroot=$dir; fi
fi
echo "reports written under $outroot"

# Runs the analysis given as arguments under /usr/bin/time -v, three times, and prints
# "seconds rss_kib" of the fastest run (the machine is shared).
measure() {
  local best_s="" best_rss=""
  for _ in 1 2 3; do
    local out="$outroot/peerscope-gateway-bench-out"
    rm -rf "$out"
    /usr/bin/time -v "$@" -o "$out" -q --no-progress 2>"$dir/time.txt" >/dev/null
    local s rss
    s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); t=0; for(i=1;i<=n;i++) t=t*60+a[i]; print t}' "$dir/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.txt")
    if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s; best_rss=$rss; fi
  done
  echo "$best_s $best_rss"
}

packets_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['packets'])" "$1"; }

# The single-client baseline: one SopCast-like session 100 times as long (as many packets as
# the 100-client capture, so start-up costs do not count).
long=$((secs * 100))
one="$dir/one-${long}s.pcap"
[ -s "$one" ] || "$bin" simulate -o "$one" --duration "${long}s" --seed 7 >/dev/null
one_packets=$(packets_of "${one%.pcap}.truth.json")
read -r s rss < <(measure "$bin" analyze "$one")
one_ns=$(awk "BEGIN{printf \"%.0f\", $s*1e9/$one_packets}")
read -r s1 rss1 < <(measure "$bin" analyze "$one" --single-thread)
one1_ns=$(awk "BEGIN{printf \"%.0f\", $s1*1e9/$one_packets}")
printf "%-28s %10s %9s %10s %8s\n" "run" "packets" "wall s" "ns/packet" "RSS MB"
printf "%-28s %10d %9.2f %10d %8.1f\n" "single client (2 threads)" "$one_packets" "$s" "$one_ns" "$(awk "BEGIN{print $rss/1024}")"
printf "%-28s %10d %9.2f %10d %8.1f\n" "single client (1 thread)" "$one_packets" "$s1" "$one1_ns" "$(awk "BEGIN{print $rss1/1024}")"

for n in "${sizes[@]}"; do
  cap="$dir/gw-$n-${secs}s.pcap"
  [ -s "$cap" ] || "$bin" simulate --gateway "$n" -o "$cap" --duration "${secs}s" --seed 7 >/dev/null
  packets=$(packets_of "${cap%.pcap}.truth.json")
  read -r s rss < <(measure "$bin" analyze "$cap" --clients auto)
  ns=$(awk "BEGIN{printf \"%.0f\", $s*1e9/$packets}")
  printf "%-28s %10d %9.2f %10d %8.1f   %.2f× single (2 threads), %.2f× (1 thread)\n" \
    "gateway, $n clients" "$packets" "$s" "$ns" "$(awk "BEGIN{print $rss/1024}")" \
    "$(awk "BEGIN{print $ns/$one_ns}")" "$(awk "BEGIN{print $ns/$one1_ns}")"
done
rm -rf "$outroot/peerscope-gateway-bench-out" "$dir/time.txt"
