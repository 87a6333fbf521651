#!/usr/bin/env bash
# Speed of `peerscope analyze` next to cat, tcpdump and tshark on the same capture, measured in
# the same run (warm page cache, runs interleaved). Prints medians and ratios. Not a test.
#
#   bash scripts/bench.sh [PACKETS] [RUNS]      (default 3000000 packets, 3 runs)
#
# The capture is generated with `peerscope simulate` (a SopCast-like session at a high stream
# rate so that the packet count is reached in minutes of simulated time). A second capture of
# 5 M small packets (70-byte frames, scripts/gen-small.py) gives the packet rate on acks.
set -euo pipefail
cd "$(dirname "$0")/.."
packets=${1:-3000000}
runs=${2:-3}
bash scripts/setup.sh --bench
cargo build --release -q
bin=target/release/peerscope
dir=${BENCH_DIR:-/tmp/peerscope-bench}
mkdir -p "$dir"
cap="$dir/bench-$packets.pcap"
if [ ! -s "$cap" ]; then
  # ~4,900 packets per simulated second at 20 Mb/s with the default mix.
  secs=$(( packets / 4900 + 1 ))
  "$bin" simulate -o "$cap" --seed 42 --stream-rate 20Mbps --duration "${secs}s" >/dev/null
fi
size=$(stat -c %s "$cap")
count=$("$bin" analyze "$cap" --json --force -o "$dir/warm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["capture"]["packets"])')
echo "capture: $cap, $count packets, $size bytes; machine: $(nproc) cores, $(uname -m)"

declare -A times
measure() { # name command...
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  times[$name]+="$(echo "$t1 - $t0" | bc) "
}
for _ in $(seq "$runs"); do
  measure cat cat "$cap"
  measure peerscope "$bin" analyze "$cap" -o "$dir/out" --force
  measure tcpdump tcpdump -r "$cap" -w /dev/null
  measure tshark tshark -r "$cap" -q -z conv,udp
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
for name in cat peerscope tcpdump tshark; do
  med[$name]=$(echo "${times[$name]}" | median)
done
printf '%-10s %10s %12s\n' tool "median s" "Mpackets/s"
for name in cat peerscope tcpdump tshark; do
  printf '%-10s %10.3f %12.2f\n' "$name" "${med[$name]}" "$(echo "$count / ${med[$name]} / 1000000" | bc -l)"
done
r() { echo "${med[$1]} / ${med[$2]}" | bc -l; }
printf 'peerscope / cat     = %.2f   (target <= 2.5)\n' "$(r peerscope cat)"
printf 'peerscope / tcpdump = %.2f   (target <= 0.8)\n' "$(r peerscope tcpdump)"
printf 'tshark / peerscope  = %.1f   (target >= 25)\n' "$(r tshark peerscope)"

small="$dir/small-5000000.pcap"
[ -s "$small" ] || python3 scripts/gen-small.py "$small" 5000000
declare -A stimes
for _ in $(seq "$runs"); do
  t0=$(date +%s.%N); cat "$small" >/dev/null; t1=$(date +%s.%N)
  stimes[cat]+="$(echo "$t1 - $t0" | bc) "
  t0=$(date +%s.%N); "$bin" analyze "$small" -o "$dir/out-small" --force >/dev/null 2>&1; t1=$(date +%s.%N)
  stimes[peerscope]+="$(echo "$t1 - $t0" | bc) "
done
sp=$(echo "${stimes[peerscope]}" | median)
sc=$(echo "${stimes[cat]}" | median)
printf 'small packets: 5000000 x 70 B, peerscope %.3f s = %.1f Mpackets/s (target >= 5), cat %.3f s\n' "$sp" "$(echo "5 / $sp" | bc -l)" "$sc"
