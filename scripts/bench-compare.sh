#!/usr/bin/env bash
# `peerscope compare` on a lab of 5 nodes with about 500,000 packets each on average (a source
# and 4 receivers, 2.5 million packets in all): wall time and peak memory from /usr/bin/time -v.
# Not a test.
#
#   bash scripts/bench-compare.sh [SECONDS] [JOBS]   (default 330 s of lab at 5 Mb/s, all cores)
#
# The per-node analyses run in parallel (at most JOBS at once); the matching pass that follows
# reads every capture once more, merged in time order.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-330}
jobs=${2:-0}
cargo build --release -q
bin=target/release/peerscope
dir=${BENCH_DIR:-/tmp/peerscope-bench-compare}
if [ ! -s "$dir/r4.pcap" ] || [ "$(cat "$dir/.secs" 2>/dev/null)" != "$secs" ]; then
  rm -rf "$dir"
  # 5 Mb/s of 1320-byte video: ~470 chunks/s; 16 packets per chunk over the 5 captures.
  "$bin" simulate --lab --receivers 4 --stream-rate 5Mbps --duration "${secs}s" --seed 42 -o "$dir" >/dev/null
  echo "$secs" > "$dir/.secs"
fi
python3 - "$dir/lab.truth.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
total = sum(n["packets"] for n in t["nodes"])
print("lab: " + ", ".join(f'{n["name"]} {n["packets"]}' for n in t["nodes"]) + f"; total {total} packets")
PY
du -ch "$dir"/*.pcap | tail -1 | sed 's/^/captures: /'
echo "machine: $(nproc) cores, $(uname -m)"
nodes=()
for n in source r1 r2 r3 r4; do nodes+=(--node "$n=$dir/$n.pcap"); done
extra=()
if [ "$jobs" != 0 ]; then extra=(-j "$jobs"); fi
/usr/bin/time -v "$bin" compare "${nodes[@]}" "${extra[@]}" -o "$dir/out" >"$dir/out.txt" 2>"$dir/time.txt"
cat "$dir/out.txt"
grep -E "Elapsed \(wall|Maximum resident|User time|System time" "$dir/time.txt" | sed 's/^\s*//'
