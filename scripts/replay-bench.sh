#!/usr/bin/env bash
# Replay benchmark (issue 17): does `peerscope capture` keep up on an interface where
# `tcpdump -w /dev/null` does? A generated capture is replayed with `tcpreplay --topspeed` into
# one end of a veth pair inside a network namespace of its own (documentation addresses, no
# default route: nothing leaves it) while one listener at a time captures on the other end:
# first tcpdump, then peerscope capture (which also analyses every frame). Each tool gets the
# same replay; the script prints, per run, the rate tcpreplay achieved, the packets each tool
# received and its kernel drop counter — then, for a tool that dropped at top speed, the
# highest of a few fixed rates (--pps) it held without drops.
#
# Usage: sudo bash scripts/replay-bench.sh [--loops N] [--peerscope BIN] [--rates "R1 R2 ..."]
#   --loops N      replays of the capture per run (default 40: about 230,000 frames)
#   --peerscope    the binary (default target/release/peerscope, built when missing)
#   --rates        the rates tried, in packets/s, highest first, when a tool drops at top speed
#                  (default "400000 200000 100000 50000")
# Needs root, iproute2, tcpreplay and tcpdump (bash scripts/setup.sh --lab installs them).
# Bounded: every wait has a timeout; the namespace and every process started here are removed
# on exit, on error and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

loops=40
bin=target/release/peerscope
rates="400000 200000 100000 50000"
while [ $# -gt 0 ]; do
  case "$1" in
    --loops) loops="$2"; shift 2 ;;
    --peerscope) bin="$2"; shift 2 ;;
    --rates) rates="$2"; shift 2 ;;
    *) echo "usage: $0 [--loops N] [--peerscope BIN] [--rates \"R1 R2 ...\"]" >&2; exit 2 ;;
  esac
done
case "$loops" in ''|*[!0-9]*) echo "--loops: a number" >&2; exit 2 ;; esac
[ "$loops" -ge 1 ] && [ "$loops" -le 1000 ] || { echo "--loops: 1 to 1000" >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then echo "replay-bench: needs root (network namespaces, raw sockets)" >&2; exit 1; fi
for tool in ip tcpreplay tcpdump python3; do
  command -v "$tool" >/dev/null || { echo "replay-bench: $tool is missing (bash scripts/setup.sh --lab)" >&2; exit 1; }
done
if [ ! -x "$bin" ]; then
  echo "replay-bench: building $bin" >&2
  cargo build --release --locked -q
fi

ns="psreplay-$$"
work="$(mktemp -d /tmp/peerscope-replay.XXXXXX)"
# Listeners are started in subshells (each run's figures are read through a pipe), so their
# pids are kept in a file that the cleanup reads.
pidfile="$work/pids"
: >"$pidfile"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pids=()
  mapfile -t pids <"$pidfile" 2>/dev/null || true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The namespace: a veth pair rb0 <-> rb1, documentation addresses (RFC 5737), no route out.
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add rb0 type veth peer name rb1
ip -n "$ns" addr add 192.0.2.201/24 dev rb0
ip -n "$ns" addr add 192.0.2.202/24 dev rb1
ip -n "$ns" link set rb0 up
ip -n "$ns" link set rb1 up
ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1

# The replayed capture: a generated SopCast-like session (documentation addresses only).
pcap="$work/replay.pcap"
"$bin" simulate --seed 17 --duration 60s -o "$pcap" >/dev/null
frames=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
echo "replay: $pcap, $frames frames, replayed $loops times per run ($((frames * loops)) frames)"

# wait_for FILE TEXT SECS: until FILE holds TEXT.
wait_for() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "replay-bench: timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# replay [PPS]: tcpreplay into rb0 (top speed, or PPS packets/s); prints the achieved pps.
replay() {
  local speed=(--topspeed)
  [ -n "${1:-}" ] && speed=(--pps="$1")
  ip netns exec "$ns" timeout 300 tcpreplay -q -K "${speed[@]}" --loop="$loops" -i rb0 "$pcap" >"$work/tcpreplay.log" 2>&1
  python3 - "$work/tcpreplay.log" 2>/dev/null <<'PY' || echo "?"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"Rated:.*?([\d.]+) pps", text)
print(int(float(m.group(1))) if m else "?")
PY
}

# stop PID: SIGINT, then wait (bounded).
stop() {
  kill -INT "$1" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$1" 2>/dev/null && { echo "replay-bench: listener $1 did not stop" >&2; return 1; }
  wait "$1" 2>/dev/null || true
}

# run_tcpdump [PPS]: prints "pps received dropped".
run_tcpdump() {
  local log="$work/tcpdump.log"
  ip netns exec "$ns" tcpdump -i rb1 -n -w /dev/null >"$log" 2>&1 &
  local pid=$!
  echo "$pid" >>"$pidfile"
  wait_for "$log" "listening on" 20
  local pps
  pps=$(replay "${1:-}")
  sleep 1
  stop "$pid"
  python3 - "$log" "$pps" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
got = re.search(r"(\d+) packets captured", text)
drop = re.search(r"(\d+) packets dropped by kernel", text)
print(sys.argv[2], got.group(1) if got else "?", drop.group(1) if drop else "?")
PY
}

# run_peerscope [PPS]: prints "pps received dropped".
run_peerscope() {
  local log="$work/peerscope.log" out="$work/peerscope.json"
  # --local and --video-min pin the decisions, so the report needs no second pass over the
  # (discarded) pcap file.
  ip netns exec "$ns" "$bin" capture -i rb1 -w /dev/null --force --json --no-progress \
    --local 192.0.2.10 --video-min 500 >"$out" 2>"$log" &
  local pid=$!
  echo "$pid" >>"$pidfile"
  wait_for "$log" "listening on" 20
  local pps
  pps=$(replay "${1:-}")
  sleep 1
  stop "$pid"
  python3 - "$out" "$pps" "$log" <<'PY'
import json, sys
try:
    c = json.load(open(sys.argv[1]))["capture"]
    print(sys.argv[2], c["packets"], c.get("dropped_by_kernel"))
except (OSError, ValueError, KeyError):
    print(sys.argv[2], "?", "?")
    sys.stderr.write("replay-bench: peerscope wrote no report:\n" + open(sys.argv[3]).read()[-2000:])
PY
}

sent=$((frames * loops))
printf '%-10s %-9s %12s %10s %10s %10s\n' tool rate pps_sent sent received dropped
held_line=()
for tool in tcpdump peerscope; do
  read -r pps got drop < <("run_$tool")
  printf '%-10s %-9s %12s %10s %10s %10s\n' "$tool" topspeed "$pps" "$sent" "$got" "$drop"
  if [ "$drop" = "0" ] && [ "$got" -ge "$sent" ] 2>/dev/null; then
    held_line+=("$tool: held top speed ($pps packets/s) without drops")
    continue
  fi
  held=""
  for r in $rates; do
    read -r pps got drop < <("run_$tool" "$r")
    printf '%-10s %-9s %12s %10s %10s %10s\n' "$tool" "$r" "$pps" "$sent" "$got" "$drop"
    if [ "$drop" = "0" ] && [ "$got" -ge "$sent" ] 2>/dev/null; then held="$pps"; break; fi
  done
  held_line+=("$tool: ${held:+held $held packets/s without drops}${held:-dropped at every rate tried ($rates)}")
done
for l in "${held_line[@]}"; do echo "$l"; done
