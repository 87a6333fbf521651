#!/usr/bin/env bash
# One lab run of a push overlay: an SRT relay tree of srt-live-transmit (srt-tools).
#
#   run-srt.sh --out DIR [--id N] [--kbps 271] [--seconds 30] [--relay-up KBIT]
#
#   source 203.0.113.10  ffmpeg -re plays the channel (MPEG-TS) into srt-live-transmit, SRT
#                        listener on :9000
#   relay  203.0.113.11  srt-live-transmit caller to the source; its output is copied (tee,
#                        byte for byte) to two srt-live-transmit listeners, :9001 and :9002
#   leaf1  203.0.113.21  srt-live-transmit caller to relay:9001, writes the stream to a file
#   leaf2  203.0.113.22  srt-live-transmit caller to relay:9002, writes the stream to a file
# SRT is push: the sender sends, the receiver acknowledges (ACK every 10 ms, ACKACK, NAK on
# loss); no requests. Each node captured with tcpdump -i any. Truth: DIR/truth.json (bytes
# each leaf received, each node's parent and role, versions).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/lab/lib.sh
. "$here/lib.sh"

out="" id=0 kbps=271 seconds=30 relay_up=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --id) id="$2"; shift 2 ;;
    --kbps) kbps="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --relay-up) relay_up="$2"; shift 2 ;;
    *) echo "run-srt: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "run-srt: --out DIR is required" >&2; exit 2; }
mkdir -p "$out/nodes"
out="$(cd "$out" && pwd)"
pfx="psl${id}-$$" # unique per run: lab runs started side by side never share a namespace
pids=()
pgroups=()
namespaces=()
lab_traps

media_seconds=$((seconds + 15))
cache="$here/.cache"
mkdir -p "$cache"
media="$cache/channel-${kbps}k-${media_seconds}s.ts"
if [ ! -s "$media" ]; then
  flock "$cache/.lock" "$PY" "$here/media.py" make "$media" --kbps "$kbps" --seconds "$media_seconds" >/dev/null
fi
"$PY" "$here/media.py" probe "$media" >"$out/media.json"

nodes=(source relay leaf1 leaf2)
declare -A ipof=([source]=203.0.113.10 [relay]=203.0.113.11 [leaf1]=203.0.113.21 [leaf2]=203.0.113.22)
lab_switch
lab_node source "${ipof[source]}" "" ""
lab_node relay "${ipof[relay]}" "$relay_up" ""
lab_node leaf1 "${ipof[leaf1]}" "" ""
lab_node leaf2 "${ipof[leaf2]}" "" ""
lab_capture "${nodes[@]}"

slt() { # srt-live-transmit with 1 s statistics (json) into nodes/stats-NAME.json
  local name="$1"; shift
  srt-live-transmit -q -s:100 -f -pf:json -statsout:"$out/nodes/stats-$name.json" "$@"
}

lab_log "srt tree: kbps=$kbps seconds=$seconds relay_up=${relay_up:-none}"
# Each program (or pipeline) in a process group of its own: lab_cleanup ends it whole.
slt_def="$(declare -f slt); out='$out'"
lab_spawn "${pfx}-source" "$out/nodes/source.log" bash -c "$slt_def; slt source \
  'udp://127.0.0.1:5000' 'srt://:9000?mode=listener&latency=200'"
# The relay's copy: one reader of the source, two listeners fed through FIFOs.
mkfifo "$out/nodes/relay-a" "$out/nodes/relay-b"
lab_spawn "${pfx}-relay" "$out/nodes/relay-a.log" bash -c "$slt_def; slt relay-a file://con \
  'srt://:9001?mode=listener&latency=200' <'$out/nodes/relay-a'"
lab_spawn "${pfx}-relay" "$out/nodes/relay-b.log" bash -c "$slt_def; slt relay-b file://con \
  'srt://:9002?mode=listener&latency=200' <'$out/nodes/relay-b'"
lab_spawn "${pfx}-relay" "$out/nodes/relay-in.log" bash -c "$slt_def; slt relay-in \
  'srt://${ipof[source]}:9000?mode=caller&latency=200' file://con | tee '$out/nodes/relay-a' \
  >'$out/nodes/relay-b'"
for leaf in leaf1 leaf2; do
  port=9001
  [ "$leaf" = leaf2 ] && port=9002
  lab_spawn "${pfx}-$leaf" "$out/nodes/$leaf.log" bash -c "$slt_def; slt $leaf \
    'srt://${ipof[relay]}:$port?mode=caller&latency=200' file://con >'$out/nodes/$leaf.ts'"
done
sleep 1.5 # the callers connect (SRT handshake, bounded by its own 3 s connect timeout)
t0=$(date +%s.%N)
ip netns exec "${pfx}-source" timeout -s INT "$seconds" ffmpeg -hide_banner -loglevel error -re \
  -i "$media" -c copy -f mpegts "udp://127.0.0.1:5000?pkt_size=1316" 2>"$out/nodes/ffmpeg.log" &
ff=$!
pids+=("$ff")
for _ in $(seq 1 $((seconds * 10 + 50))); do kill -0 "$ff" 2>/dev/null || break; sleep 0.1; done
sleep 1 # the tree drains (SRT latency 200 ms)
lab_links "${nodes[@]}"
lab_stop_all

LAB_HERE="$here" "$PY" - "$out" "$kbps" "$seconds" "$t0" "${relay_up}" <<'EOF'
import json, os, sys
out, kbps, seconds, t0, relay_up = sys.argv[1:6]
sys.path.insert(0, os.environ["LAB_HERE"])  # truth.py's helpers: link counters, pcap span, versions
import truth as tr

ips = {"source": "203.0.113.10", "relay": "203.0.113.11", "leaf1": "203.0.113.21",
       "leaf2": "203.0.113.22"}
parent = {"source": None, "relay": "source", "leaf1": "relay", "leaf2": "relay"}
nd = os.path.join(out, "nodes")
with open(os.path.join(out, "media.json")) as f:
    media = json.load(f)
topo = []
for n in ["source", "relay", "leaf1", "leaf2"]:
    role = {"source": "source", "relay": "relay"}.get(n, "leaf")
    topo.append({"name": n, "role": role, "ip": ips[n], "parent": parent[n],
                 "parent_ip": ips[parent[n]] if parent[n] else None,
                 "children": [c for c, p in parent.items() if p == n],
                 "capture": f"{n}.pcap", "up_kbit": int(relay_up) if (n == "relay" and relay_up) else None,
                 "down_kbit": None, "link": tr.link_bytes(nd, n),
                 "pcap": tr.pcap_span(os.path.join(out, f"{n}.pcap"))})
leaves = {}
for leaf in ("leaf1", "leaf2"):
    p = os.path.join(nd, f"{leaf}.ts")
    leaves[leaf] = {"stream_bytes": os.path.getsize(p) if os.path.exists(p) else 0}
capture = {}
for k in ("start", "end"):
    with open(os.path.join(nd, f"capture.{k}")) as f:
        capture[k] = float(f.read())
truth = {
    "schema": "peerscope-lab/truth-v1",
    "run": {"t0": float(t0), "seconds": float(seconds), "transport": "srt", "overlay": "srt-tree"},
    "capture": capture,
    "versions": {"srt-tools": tr.dpkg_version("srt-tools"), "ffmpeg": tr.cmd_version(["ffmpeg", "-version"]),
                 "tcpdump": tr.cmd_version(["tcpdump", "--version"]), "kernel": os.uname().release},
    "topology": topo,
    "overlay": {"kind": "tree", "pull_push": "push", "application": "srt"},
    "media": {"container": "mpegts", "muxrate_kbps": int(kbps),
              "nominal_kbps": round(media["bit_rate_bps"] / 1000, 1), "ffprobe": media},
    "leaves": leaves,
}
with open(os.path.join(out, "truth.json"), "w") as f:
    json.dump(truth, f, indent=1, sort_keys=True)
EOF
rm -f "$out/nodes/relay-a" "$out/nodes/relay-b" "$out/nodes/leaf1.ts" "$out/nodes/leaf2.ts"
lab_log "done: $out/truth.json"
