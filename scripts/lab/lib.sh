# Shared by the lab's run scripts (sourced, not run): the emulated network, captures, cleanup
# and bounded waits. The caller sets `pfx` (namespace prefix), `out` (run directory) and keeps
# the arrays `pids`, `pgroups` and `namespaces`, which lab_cleanup (its EXIT trap) empties.
#
# Network: a switch namespace "$pfx-sw" holding bridge br0; per node a namespace "$pfx-NAME"
# with eth0, the other end of its veth ("portK") on the bridge. Addresses are given by the
# caller (203.0.113.0/24, RFC 5737 TEST-NET-3); there is no default route, so nothing leaves.
# Shaping: tc tbf, the uplink on the node's eth0, the downlink on its bridge port. No netem on
# this kernel: no emulated delay or loss, only the queueing a tbf adds.

PY=/usr/bin/python3 # Debian's python3-libtorrent lives in the system interpreter

lab_log() { echo "[lab ${id:-0} $(date -u +%H:%M:%S)] $*" >&2; }

lab_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for g in "${pgroups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for g in "${pgroups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  exit "$rc"
}

# lab_spawn NS LOG CMD...: starts CMD in namespace NS as the leader of a process group of its
# own (setsid runs in place: a background child of a script is no group leader), stdin from
# /dev/null, stdout and stderr to LOG. Its pid goes into pids and pgroups, so a wrapper shell or
# a pipeline is stopped as a whole, children included.
lab_spawn() {
  local ns="$1" logf="$2"
  shift 2
  ip netns exec "$ns" setsid "$@" </dev/null >"$logf" 2>&1 &
  pids+=($!)
  pgroups+=($!)
}

lab_traps() {
  trap lab_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# lab_switch: the switch namespace and its bridge.
lab_switch() {
  local sw="${pfx}-sw"
  ip netns add "$sw"; namespaces+=("$sw")
  ip -n "$sw" link set lo up
  ip netns exec "$sw" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  lab_ports=0
}

# lab_node NAME IP UP_KBIT DOWN_KBIT: a node's namespace, its veth on the bridge, its shapers
# (an empty rate means unshaped).
lab_node() {
  local name="$1" addr="$2" up="$3" down="$4"
  local ns="${pfx}-$name" sw="${pfx}-sw" port="port$lab_ports"
  lab_ports=$((lab_ports + 1))
  ip netns add "$ns"; namespaces+=("$ns")
  ip -n "$ns" link set lo up
  # IPv4 only: no IPv6 autoconfiguration chatter in the captures.
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link add eth0 type veth peer name "$port" netns "$sw"
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$sw" link set "$port" master br0
  ip -n "$sw" link set "$port" up
  # tbf: rate in kbit (1000 bit/s); burst just above one full frame so the rate holds over
  # short windows; the queue (latency) bounds the standing delay the shaper can add.
  if [ -n "$up" ]; then
    ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "${up}kbit" burst 4kb latency 400ms
  fi
  if [ -n "$down" ]; then
    ip netns exec "$sw" tc qdisc add dev "$port" root tbf rate "${down}kbit" burst 4kb latency 400ms
  fi
}

# lab_capture NAME...: tcpdump -i any, full snaplen, in each node's namespace, into
# $out/NAME.pcap; returns when every one is listening (bounded: 5 s). Its "received by filter"
# exceeds "captured" by the packets on lo: libpcap drops the outgoing copy of each (the incoming
# one is kept), so a self-connection or the player feed shows up as that difference.
lab_capture() {
  local n
  for n in "$@"; do
    ip netns exec "${pfx}-$n" tcpdump -i any -s 0 -U -Z root -w "$out/$n.pcap" \
      2>"$out/nodes/tcpdump-$n.log" &
    pids+=($!)
  done
  for _ in $(seq 1 50); do
    local ready=0
    for n in "$@"; do grep -q "listening on" "$out/nodes/tcpdump-$n.log" && ready=$((ready + 1)); done
    [ "$ready" -eq "$#" ] && break
    sleep 0.1
  done
  date +%s.%N >"$out/nodes/capture.start"
}

# lab_links NAME...: link counters of each node's eth0 and the switch's qdisc statistics.
lab_links() {
  local n
  for n in "$@"; do ip -n "${pfx}-$n" -s -j link show eth0 >"$out/nodes/link-$n.json"; done
  ip netns exec "${pfx}-sw" tc -s -j qdisc show >"$out/nodes/tc-switch.json"
}

# lab_stop_all: INT to every process still running, bounded wait. tcpdump (libpcap's
# TPACKET_V3 ring) hands packets over in blocks retired by a 1 s timeout and loses the block in
# hand when stopped, so the traffic must have been quiet for longer than that: wait 1.5 s.
# (--immediate-mode avoids the wait but dropped packets in the kernel under load here.)
lab_stop_all() {
  sleep 1.5
  date +%s.%N >"$out/nodes/capture.end"
  local p
  for p in "${pgroups[@]}"; do kill -INT -- "-$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
}

# lab_sleep_until EPOCH: waits until the wall clock reaches EPOCH (a float).
lab_sleep_until() {
  while "$PY" -c "import sys,time; sys.exit(0 if time.time() < $1 else 1)"; do sleep 0.1; done
}
