#!/usr/bin/env bash
# One lab run: an emulated network of real P2P streaming software in Linux network namespaces.
#
#   run-one.sh --out DIR [--id N] [--kbps 532] [--down KBIT] [--seconds 60] [--peers 3]
#              [--transport utp|tcp] [--src-up KBIT] [--peer-up KBIT] [--viewer-up KBIT]
#              [--viewer-start S] [--overlay swarm|srt-tree] [--live-peerscope PATH]
#
# --live-peerscope PATH: also run `PATH capture -i any` live in the viewer's namespace (the
# second capture path; its report lands in DIR/live/, stopped with the captures).
# --overlay srt-tree runs run-srt.sh instead (an SRT relay tree, push) with --out/--id/--kbps/
# --seconds.
#
# Topology (every node its own namespace, one bridge in a switch namespace, a veth per node,
# addresses in 203.0.113.0/24 (RFC 5737 TEST-NET-3), no default route, so nothing can leave):
#   tracker 203.0.113.2  opentracker, whitelist mode (-w) holding the channel's info-hash
#   source  203.0.113.10 libtorrent, reveals piece i at its live-edge time (node.py)
#   p1..pN  203.0.113.11.. libtorrent peers, sequential
#   viewer  203.0.113.20 libtorrent, serves the pieces in order on 127.0.0.1:8902 over HTTP to
#                        mpv --vo=null --ao=null (small cache; its log gives the true stalls)
# Shaping: tc tbf, a node's uplink on its own veth, its downlink on its bridge port. This
# kernel has no netem: no emulated delay or loss (only the queueing a tbf adds).
# Capture: tcpdump -i any, full snaplen, in every node's namespace (viewer.pcap holds the
# player's loopback flow too). Truth: DIR/truth.json (see truth.py).
# Cleanup on exit, error and Ctrl-C: the processes this script started (by pid), then its
# namespaces. Every wait is bounded.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/lab/lib.sh
. "$here/lib.sh"

out="" id=0 kbps=532 down="" seconds=60 npeers=3 transport=utp src_up="" peer_up="" viewer_up=""
viewer_start=2 overlay=swarm live=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --id) id="$2"; shift 2 ;;
    --kbps) kbps="$2"; shift 2 ;;
    --down) down="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --peers) npeers="$2"; shift 2 ;;
    --transport) transport="$2"; shift 2 ;;
    --src-up) src_up="$2"; shift 2 ;;
    --peer-up) peer_up="$2"; shift 2 ;;
    --viewer-up) viewer_up="$2"; shift 2 ;;
    --viewer-start) viewer_start="$2"; shift 2 ;;
    --overlay) overlay="$2"; shift 2 ;;
    --live-peerscope) live="$2"; shift 2 ;;
    *) echo "run-one: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "run-one: --out DIR is required" >&2; exit 2; }
case "$overlay" in
  swarm) ;;
  srt-tree) exec bash "$here/run-srt.sh" --out "$out" --id "$id" --kbps "$kbps" --seconds "$seconds" ;;
  *) echo "run-one: --overlay swarm|srt-tree" >&2; exit 2 ;;
esac
case "$transport" in utp|tcp) ;; *) echo "run-one: --transport utp|tcp" >&2; exit 2 ;; esac
[ "$npeers" -ge 1 ] && [ "$npeers" -le 3 ] || { echo "run-one: --peers 1..3" >&2; exit 2; }
mkdir -p "$out"
# A run directory used before holds that run's products: remove them (only those), so no
# report of an earlier run is read as this one's (peerscope capture refuses a non-empty -o).
rm -rf "$out/live" "$out/peerscope" "$out/peerscope-rate" "$out/nodes" "$out"/*.pcap "$out/truth.json"
out="$(cd "$out" && pwd)"
pfx="psl${id}-$$" # unique per run: lab runs started side by side never share a namespace

pids=()
pgroups=()
namespaces=()
lab_traps
log() { lab_log "$@"; }

# --- the channel -----------------------------------------------------------------------------
media_seconds=$((seconds + 15))
cache="$here/.cache"
mkdir -p "$cache"
media="$cache/channel-${kbps}k-${media_seconds}s.ts"
if [ ! -s "$media" ]; then
  (cd "$cache" && flock "$cache/.lock" "$PY" "$here/media.py" make "$media" --kbps "$kbps" \
    --seconds "$media_seconds" >/dev/null)
fi
mkdir -p "$out/nodes"
cp "$media" "$out/nodes/channel.ts"
"$PY" "$here/media.py" probe "$out/nodes/channel.ts" >"$out/media.json"
tracker_ip=203.0.113.2
infohash="$("$PY" "$here/media.py" torrent "$out/nodes/channel.ts" "$out/channel.torrent" \
  --tracker "http://$tracker_ip:6969/announce")"
echo "$infohash" >"$out/nodes/whitelist"

# --- the network -----------------------------------------------------------------------------
nodes=(tracker source)
declare -A ipof=([tracker]=$tracker_ip [source]=203.0.113.10 [viewer]=203.0.113.20)
for i in $(seq 1 "$npeers"); do nodes+=("p$i"); ipof[p$i]="203.0.113.$((10 + i))"; done
nodes+=(viewer)
declare -A upof=([source]="$src_up" [viewer]="$viewer_up")
declare -A downof=([viewer]="$down")
for i in $(seq 1 "$npeers"); do upof[p$i]="$peer_up"; done

lab_switch
for n in "${nodes[@]}"; do lab_node "$n" "${ipof[$n]}" "${upof[$n]:-}" "${downof[$n]:-}"; done
# Small socket buffers in the viewer's namespace, so the player's pull over loopback is paced
# by playback and not absorbed by the kernel.
ip netns exec "${pfx}-viewer" sysctl -q -w net.ipv4.tcp_rmem="4096 16384 65536" \
  net.ipv4.tcp_wmem="4096 16384 65536"

# --- capture ---------------------------------------------------------------------------------
lab_capture "${nodes[@]}"
if [ -n "$live" ]; then
  ip netns exec "${pfx}-viewer" "$live" capture -i any -q -o "$out/live" >"$out/nodes/live.log" 2>&1 &
  pids+=($!)
fi
# --- software --------------------------------------------------------------------------------
# opentracker chroots into -d and drops to -u before it reads the whitelist (a relative path).
(cd "$out/nodes" && exec ip netns exec "${pfx}-tracker" opentracker -i "$tracker_ip" -p 6969 -P 6969 \
  -w whitelist -u nobody -d "$out/nodes" >"$out/nodes/tracker.log" 2>&1) &
tracker_pid=$!
pids+=("$tracker_pid")
t0=$(date +%s.%N | cut -c1-14)
t0=$("$PY" -c "print(f'{$t0 + 2.5:.3f}')")
log "t0=$t0 kbps=$kbps down=${down:-none} transport=$transport peers=$npeers seconds=$seconds"
for n in "${nodes[@]}"; do
  [ "$n" = tracker ] && continue
  role=peer start=0.3
  [ "$n" = source ] && role=source start=-1.5
  [ "$n" = viewer ] && role=viewer start="$viewer_start"
  mkdir -p "$out/nodes/$n"
  args=(--role "$role" --name "$n" --ip "${ipof[$n]}" --torrent "$out/channel.torrent"
    --save "$out/nodes/$n" --t0 "$t0" --start "$start" --duration "$seconds"
    --transport "$transport" --stats "$out/nodes/$n.json")
  [ "$role" = source ] && args+=(--content "$out/nodes/channel.ts" --rate "$((kbps * 1000))")
  ip netns exec "${pfx}-$n" "$PY" "$here/node.py" "${args[@]}" 2>"$out/nodes/$n.log" &
  pids+=($!)
  eval "node_pid_$n=$!"
done

# The player: started once the viewer has joined; mpv's log times are relative to its own
# start, so the wall-clock time just before it starts is recorded to align them.
lab_sleep_until "$("$PY" -c "print($t0 + $viewer_start + 0.5)")"
mpv_start=$(date +%s.%N)
ip netns exec "${pfx}-viewer" timeout -s TERM "$((seconds + 5))" mpv --no-config --vo=null --ao=null \
  --cache=yes --demuxer-max-bytes=512KiB --demuxer-readahead-secs=2 --cache-secs=2 \
  --network-timeout=60 --log-file="$out/nodes/mpv.log" --really-quiet \
  "http://127.0.0.1:8902/channel.ts" >/dev/null 2>&1 &
mpv_pid=$!
pids+=("$mpv_pid")
echo "$mpv_start" >"$out/nodes/mpv.start"

# The run ends at t0 + seconds: the nodes stop by themselves; the player is stopped then.
lab_sleep_until "$("$PY" -c "print($t0 + $seconds)")"
kill -TERM "$mpv_pid" 2>/dev/null || true
date +%s.%N >"$out/nodes/mpv.end"
# Each node writes its counters as it stops (up to 15 s each under load; a node still running
# after that is ended by the cleanup, and truth.py then falls back on the senders' counters).
for n in "${nodes[@]}"; do
  [ "$n" = tracker ] && continue
  p="node_pid_$n"
  for _ in $(seq 1 150); do kill -0 "${!p}" 2>/dev/null || break; sleep 0.1; done
done
for _ in $(seq 1 30); do kill -0 "$mpv_pid" 2>/dev/null || break; sleep 0.1; done
# Link counters and shaper statistics before the namespaces go.
lab_links "${nodes[@]}"
sleep 0.5
kill -TERM "$tracker_pid" 2>/dev/null || true
lab_stop_all

nodes_csv=$(IFS=,; echo "${nodes[*]}")
"$PY" "$here/truth.py" "$out" --kbps "$kbps" --transport "$transport" --nodes "$nodes_csv" \
  --down "${down}" --src-up "${src_up}" --peer-up "${peer_up}" --viewer-up "${viewer_up}" \
  --t0 "$t0" --seconds "$seconds"
rm -f "$out/nodes/channel.ts"
for n in "${nodes[@]}"; do rm -rf "$out/nodes/$n"; done
log "done: $out/truth.json"
