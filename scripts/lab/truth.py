#!/usr/bin/python3
"""Ground truth of one lab run, from the software's own counters and logs: DIR/truth.json.

Sources (all written by run-one.sh into DIR/nodes/):
- NODE.json (node.py): libtorrent's per-connection payload counters, transports, piece times;
- mpv.log + mpv.start: mpv's log times are seconds since mpv started; mpv.start is the wall
  clock just before it was started, so log time + mpv.start = wall clock (error: the few ms
  mpv needs to open its log). "playback restart complete" = playback start; "Enter buffering"
  / "End buffering" = a stall; a stall still open when the player is stopped ends then;
- link-NODE.json (ip -s -j link): bytes on each node's veth; tc-switch.json (tc -s -j qdisc);
- media.json (ffprobe): the channel's nominal rate.
Continuity truth = 1 - stalled time / playing time, playing time = playback start .. player
stopped. Buffer truth (SPEC's definition, from the viewer's own counters): libtorrent's payload
received minus the bytes the feed handed to the player, sampled every 0.1 s over playing time,
median (also in seconds of the nominal rate). Times are wall clock (Unix seconds); the checker aligns them to the capture.
"""

import argparse
import json
import os
import re
import subprocess
import sys

LOG_LINE = re.compile(r"^\[\s*([0-9.]+)\]\[(\w)\]\[(\w[\w/]*)\] (.*)$")


def cmd_version(argv, pattern=None):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (r.stdout + r.stderr).strip().splitlines()
    if not text:
        return None
    line = text[0]
    if pattern:
        for t in text:
            if re.search(pattern, t):
                return t.strip()
    return line.strip()


def dpkg_version(pkg):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True, timeout=10)
        return r.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def versions():
    import libtorrent as lt

    return {
        "libtorrent": lt.__version__,
        "python3-libtorrent": dpkg_version("python3-libtorrent"),
        "opentracker": dpkg_version("opentracker"),
        "mpv": cmd_version(["mpv", "--no-config", "--version"]),
        "ffmpeg": cmd_version(["ffmpeg", "-version"]),
        "tcpdump": cmd_version(["tcpdump", "--version"]),
        "iproute2": cmd_version(["ip", "-V"]),
        "kernel": os.uname().release,
        "python3": sys.version.split()[0],
    }


FEED_REQUEST = re.compile(r"^\[([0-9.]+)\] feed: request ")
CONNECTED = "tcp: Successfully connected to 127.0.0.1 port"


def player_truth(nodes_dir):
    """mpv's start, stalls and continuity in wall-clock time.

    mpv's log times count from its own start. They are anchored on the player's connection to
    the feed: the viewer logs the wall-clock time the request arrived, mpv logs (its time) when
    it connected, a millisecond before. Without both lines the wall time just before mpv was
    started (mpv.start) is the anchor, which is early by mpv's start-up (about 0.2 s here)."""
    with open(os.path.join(nodes_dir, "mpv.start")) as f:
        base = float(f.read().strip())
    anchor = "mpv.start (wall clock before mpv was started)"
    request = None
    try:
        with open(os.path.join(nodes_dir, "viewer.log"), errors="replace") as f:
            for line in f:
                m = FEED_REQUEST.match(line)
                if m:
                    request = float(m.group(1))
                    break
    except OSError:
        pass
    with open(os.path.join(nodes_dir, "mpv.end")) as f:
        stopped = float(f.read().strip())
    start = None
    stalls = []
    open_stall = None
    path = os.path.join(nodes_dir, "mpv.log")
    lines = []
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    if request is not None:
        for line in lines:
            m = LOG_LINE.match(line)
            if m and m.group(4).startswith(CONNECTED):
                base = request - float(m.group(1))
                anchor = "the feed's request (viewer's wall clock) = mpv's connect (mpv's log time)"
                break
    for line in lines:
        m = LOG_LINE.match(line)
        if not m:
            continue
        t = base + float(m.group(1))
        msg = m.group(4)
        if start is None and msg.startswith("playback restart complete"):
            start = t
        elif msg.startswith("Enter buffering") and start is not None and open_stall is None:
            open_stall = t
        elif msg.startswith("End buffering") and open_stall is not None:
            stalls.append({"start": open_stall, "duration_s": round(t - open_stall, 3)})
            open_stall = None
    if open_stall is not None:
        stalls.append({"start": open_stall, "duration_s": round(stopped - open_stall, 3),
                       "open_at_stop": True})
    playing = (stopped - start) if start is not None else 0.0
    stalled = sum(s["duration_s"] for s in stalls)
    return {
        "software": "mpv --vo=null --ao=null",
        "clock_anchor": anchor,
        "started": base,
        "playback_start": start,
        "stopped": stopped,
        "playing_s": round(playing, 3),
        "stalled_s": round(stalled, 3),
        "stalls": stalls,
        "continuity": round(1 - stalled / playing, 4) if playing > 0 else None,
    }


def pcap_span(path):
    """First and last record time and record count of a classic pcap file (as tcpdump -w
    writes it), read from the record headers only; None when it cannot be read."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(24)
            if len(head) < 24:
                return None
            magic = head[:4]
            if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                end = "<"
            elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                end = ">"
            else:
                return None
            scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
            first = last = None
            n = 0
            while True:
                rec = f.read(16)
                if len(rec) < 16:
                    break
                sec, frac, incl, _ = struct.unpack(end + "IIII", rec)
                t = sec + frac * scale
                first = t if first is None else first
                last = t
                n += 1
                f.seek(incl, 1)
    except OSError:
        return None
    return {"first": first, "last": last, "records": n}


def step_at(series, t):
    """The value of a step series [[time, value], ...] (sorted by time) at time t."""
    v = 0
    for ts, x in series:
        if ts > t:
            break
        v = x
    return v


def buffer_truth(viewer, player, nominal_kbps):
    net = viewer.get("payload_series") or []
    fed = viewer.get("feed_series") or []
    start, stop = player.get("playback_start"), player.get("stopped")
    if not net or start is None or stop is None or stop <= start:
        return None
    samples = []
    t = start
    while t <= stop and len(samples) < 100000:
        samples.append(step_at(net, t) - step_at(fed, t))
        t += 0.1
    samples.sort()
    med = samples[len(samples) // 2]
    return {"median_bytes": med, "median_s": round(med * 8 / (nominal_kbps * 1000), 3),
            "min_bytes": samples[0], "max_bytes": samples[-1],
            "how": "libtorrent payload received (polled 0.5 s) minus bytes handed to the player, "
                   "0.1 s samples over playing time, median"}


def link_bytes(nodes_dir, name):
    try:
        with open(os.path.join(nodes_dir, f"link-{name}.json")) as f:
            link = json.load(f)[0]
        s = link["stats64"]
        return {"rx_bytes": s["rx"]["bytes"], "rx_packets": s["rx"]["packets"],
                "tx_bytes": s["tx"]["bytes"], "tx_packets": s["tx"]["packets"]}
    except (OSError, ValueError, KeyError, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--kbps", type=int, required=True)
    ap.add_argument("--transport", required=True)
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--down", default="")
    ap.add_argument("--src-up", default="")
    ap.add_argument("--peer-up", default="")
    ap.add_argument("--viewer-up", default="")
    ap.add_argument("--t0", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    a = ap.parse_args()
    nodes_dir = os.path.join(a.dir, "nodes")
    names = a.nodes.split(",")

    def rate(v):
        return int(v) if v else None

    ips = {"tracker": "203.0.113.2", "source": "203.0.113.10", "viewer": "203.0.113.20"}
    for i in range(1, 4):
        ips[f"p{i}"] = f"203.0.113.{10 + i}"
    stats = {}
    for n in names:
        p = os.path.join(nodes_dir, f"{n}.json")
        if os.path.exists(p):
            with open(p) as f:
                stats[n] = json.load(f)
    with open(os.path.join(a.dir, "media.json")) as f:
        media = json.load(f)

    topology = []
    for n in names:
        role = {"tracker": "tracker", "source": "source", "viewer": "viewer"}.get(n, "peer")
        up = {"source": a.src_up, "viewer": a.viewer_up}.get(n, a.peer_up if role == "peer" else "")
        down = a.down if n == "viewer" else ""
        topology.append({"name": n, "role": role, "ip": ips[n], "capture": f"{n}.pcap",
                         "up_kbit": rate(up), "down_kbit": rate(down),
                         "link": link_bytes(nodes_dir, n),
                         "pcap": pcap_span(os.path.join(a.dir, f"{n}.pcap"))})

    # What each node sent the viewer: the viewer's counters per remote address (download),
    # and each sender's own counters towards the viewer's address (upload), summed over
    # connections.
    viewer = stats.get("viewer", {})
    by_ip = {}
    for c in viewer.get("connections", []):
        e = by_ip.setdefault(c["ip"], {"ip": c["ip"], "viewer_download": 0, "transports": set()})
        e["viewer_download"] += c["download"]
        e["transports"].add(c["transport"])
    for n, s in stats.items():
        if n == "viewer":
            continue
        towards = [c for c in s.get("connections", []) if c["ip"] == ips["viewer"]]
        if not towards and ips[n] not in by_ip:
            continue  # never connected to the viewer
        e = by_ip.setdefault(ips[n], {"ip": ips[n], "viewer_download": 0, "transports": set()})
        e["sender_upload"] = sum(c["upload"] for c in towards)
        e["transports"].update(c["transport"] for c in towards)
        e["name"] = n
    # libtorrent dials its own address when the tracker returns it; it drops the connection
    # once it sees its own peer id. Kept apart: it is never a supplier.
    self_conn = by_ip.pop(ips["viewer"], None)
    # The viewer's own counters per remote address; when its last poll found no connection
    # left (seen once: every peer had disconnected before the final poll), the senders' own
    # counters towards the viewer, which libtorrent keeps on their side.
    basis = "viewer_download"
    if sum(e["viewer_download"] for e in by_ip.values()) == 0:
        basis = "sender_upload"
    total = sum(e.get(basis, 0) for e in by_ip.values())
    suppliers = []
    for e in sorted(by_ip.values(), key=lambda e: -e.get(basis, 0)):
        e["transports"] = sorted(e["transports"])
        e["share_basis"] = basis
        e["share"] = round(e.get(basis, 0) / total, 4) if total else 0.0
        e["supplier"] = e["share"] >= 0.01  # SPEC: a supplier sent >= 1 % of the video bytes
        suppliers.append(e)

    nodes = {}
    for n, s in stats.items():
        nodes[n] = {k: s.get(k) for k in ("joined", "left", "total_payload_download",
                                           "total_payload_upload", "total_download",
                                           "total_upload", "pieces_have", "feed_first_byte",
                                           "feed_last_byte", "feed_bytes", "feed_pieces")}
        nodes[n]["piece_times"] = s.get("piece_times", {})

    capture = {}
    for k in ("start", "end"):
        try:
            with open(os.path.join(nodes_dir, f"capture.{k}")) as f:
                capture[k] = float(f.read().strip())
        except (OSError, ValueError):
            capture[k] = None
    player = player_truth(nodes_dir)
    truth = {
        "capture": capture,
        "schema": "peerscope-lab/truth-v1",
        "run": {"t0": a.t0, "seconds": a.seconds, "transport": a.transport, "overlay": "swarm"},
        "versions": versions(),
        "topology": topology,
        "tracker": {"ip": ips["tracker"], "port": 6969, "software": "opentracker -w"},
        "viewer": {"ip": ips["viewer"], "player_port": 8902, "down_kbit": rate(a.down),
                   "joined": viewer.get("joined")},
        "media": {"container": "mpegts", "muxrate_kbps": a.kbps,
                  "nominal_kbps": round(media["bit_rate_bps"] / 1000, 1), "ffprobe": media,
                  "piece_bytes": 16384},
        "suppliers": suppliers,
        "self_connections": bool(self_conn),
        "player": player,
        "buffer": buffer_truth(viewer, player, media["bit_rate_bps"] / 1000),
        "nodes": nodes,
    }
    with open(os.path.join(a.dir, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
