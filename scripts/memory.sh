#!/usr/bin/env bash
# Peak memory (max RSS, /usr/bin/time -v) of `peerscope analyze` on captures that could blow
# it up. Not a test: run by hand, figures go to the README ("Memory").
#
#   bash scripts/memory.sh            (full: 1 M distinct sources; SopCast-like 1 M and 3 M)
#   bash scripts/memory.sh --quick    (smoke: 100 k distinct sources; 100 k and 300 k packets)
#
# (a) many-peers: every packet from a different IPv6 address (examples/many_peers.rs), so the
#     pair table fills to --max-pairs and the rest goes to peers.overflow. Target ≤ 300 MB.
# (b) sopcast-N: `peerscope simulate --stream-rate 20Mbps` (~4,900 packets per simulated
#     second), at two lengths. Target ≤ 100 MB, and the same at both lengths.
# (c) tiny-day: 12 packets spread over 27.8 h, the longest span the timeline bins (10^6 bins of
#     100 ms): the worst a tiny file can cost, since memory follows the duration.
# Captures are written to $MEM_DIR (default /tmp/peerscope-mem) and kept for reruns.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--quick" ]; then
  peers=100000; sizes=(100000 300000)
else
  peers=1000000; sizes=(1000000 3000000)
fi
dir=${MEM_DIR:-/tmp/peerscope-mem}
mkdir -p "$dir"
cargo build --release -q --bin peerscope --example many_peers
bin=target/release/peerscope

# Runs analyze under /usr/bin/time -v; prints name, packets, max RSS, wall time, overflow.
measure() { # name capture
  local name=$1 cap=$2
  /usr/bin/time -v "$bin" analyze "$cap" --json -o "$dir/out-$name" \
    >"$dir/$name.json" 2>"$dir/$name.time"
  python3 - "$name" "$cap" "$dir/$name.json" "$dir/$name.time" <<'PY'
import json, os, re, sys
name, cap, rep, tim = sys.argv[1:]
r = json.load(open(rep))
t = open(tim).read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
c, p = r["capture"], r["peers"]
overflow = [w for w in c["warnings"] if "pair table was full" in w]
print(f"{name:16} {c['packets']:>9} packets  {os.path.getsize(cap)/1e6:8.0f} MB file  "
      f"max RSS {rss_kb/1024:6.1f} MiB  wall {wall:>8}  passes {c['passes']}  "
      f"peers {p['contacted']:>7}  overflow {p['overflow']['packets']:>7} pkts"
      + ("  (warned)" if overflow else ""))
PY
}

cap="$dir/many-peers-$peers.pcap"
[ -s "$cap" ] || target/release/examples/many_peers "$cap" "$peers" >/dev/null
measure "many-peers-$peers" "$cap"
for n in "${sizes[@]}"; do
  cap="$dir/sopcast-$n.pcap"
  if [ ! -s "$cap" ]; then
    secs=$(( n / 4900 + 1 ))
    "$bin" simulate -o "$cap" --seed 7 --stream-rate 20Mbps --duration "${secs}s" >/dev/null
  fi
  measure "sopcast-$n" "$cap"
done

# (c) Raw IPv4: two peers send 1000- and 40-byte payloads to 192.0.2.1 at the start and 99,990 s
# later.
cap="$dir/tiny-day.pcap"
python3 - "$cap" <<'PY'
import struct, sys
out = open(sys.argv[1], "wb")
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
def udp(src, dst, n):
    u = struct.pack(">HHHH", 4000, 8000, 8 + n, 0) + b"x" * n
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 1, 0, 64, 17, 0,
                       bytes(src), bytes(dst)) + u
local = [192, 0, 2, 1]
for t in (0, 10_000, 99_990_000_000, 99_990_010_000):  # microseconds
    for i, (src, dst, n) in enumerate([([198, 51, 100, 2], local, 1000),
                                       ([198, 51, 100, 3], local, 40),
                                       (local, [198, 51, 100, 2], 40)]):
        us = 1_767_268_800_000_000 + t + i * 1000
        f = udp(src, dst, n)
        out.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(f), len(f)) + f)
PY
measure tiny-day "$cap"
