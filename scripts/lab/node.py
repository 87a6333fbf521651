#!/usr/bin/python3
"""One libtorrent node of the lab: the live source, a peer, or the viewer.

Runs inside its network namespace (started by lab.sh through `ip netns exec`), bounded by
--duration, and writes its own ground truth to --stats (JSON): libtorrent's per-peer payload
counters (peer_info total_download / total_upload, polled every 0.5 s and kept at their
maximum per connection, so a closed connection keeps its bytes), the transport of each
connection (uTP or TCP), and the wall-clock time each piece became available on this node.

Roles
- source: starts with no pieces and reveals piece i of the MPEG-TS file (add_piece) at its
  live-edge time t0 + i * piece_bytes * 8 / rate, so nobody can get ahead of the live edge.
- peer:   sequential download, uploads to whoever asks.
- viewer: a peer that also serves the completed pieces, in order, over HTTP on
  127.0.0.1:8902 to the local player (as SopCast does), holding the response head until the
  first piece is there so the first byte to the player is stream data.

DHT, local peer discovery, UPnP and NAT-PMP are off; the only way to find peers is the
tracker. Needs python3-libtorrent (Debian: /usr/bin/python3).
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time

import libtorrent as lt

# libtorrent 2.0 peer_info::utp_socket (include/libtorrent/peer_info.hpp: bit 17); the Python
# binding of 2.0.8 does not export the constant.
UTP_SOCKET = 1 << 17

STOP = threading.Event()


def log(msg):
    print(f"[{time.time():.3f}] {msg}", file=sys.stderr, flush=True)


def make_session(args):
    settings = {
        "listen_interfaces": f"{args.ip}:6881",
        "outgoing_interfaces": "",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": args.transport == "utp",
        "enable_incoming_utp": args.transport == "utp",
        "enable_outgoing_tcp": args.transport == "tcp",
        "enable_incoming_tcp": args.transport == "tcp",
        "alert_mask": lt.alert_category.status
        | lt.alert_category.error
        | lt.alert_category.piece_progress
        | lt.alert_category.tracker,
        "announce_to_all_trackers": True,
        "peer_connect_timeout": 3,
        "min_reconnect_time": 1,
        "user_agent": f"peerscope-lab/{args.role}",
        "peer_fingerprint": "-LT2080-",
    }
    return lt.session(settings)


class Feed(threading.Thread):
    """The viewer's player feed: completed pieces, in order, over HTTP on loopback."""

    def __init__(self, handle, ti, path, port, record):
        super().__init__(daemon=True)
        self.handle = handle
        self.ti = ti
        self.path = path
        self.port = port
        self.record = record

    def run(self):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(4)
        srv.settimeout(0.5)
        while not STOP.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            conn.settimeout(2.0)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 8192:
                chunk = conn.recv(1024)
                if not chunk:
                    return
                request += chunk
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            log(f"feed: request {line!r}")
            total = self.ti.total_size()
            n = self.ti.num_pieces()
            plen = self.ti.piece_length()
            i = 0
            conn.settimeout(30.0)
            # The file exists once libtorrent has written the first piece into it.
            while not self.handle.have_piece(0) and not STOP.is_set():
                time.sleep(0.02)
            if STOP.is_set():
                return
            with open(self.path, "rb") as f:
                while i < n and not STOP.is_set():
                    if not self.handle.have_piece(i):
                        time.sleep(0.02)
                        continue
                    f.seek(i * plen)
                    data = f.read(min(plen, total - i * plen))
                    if i == 0:
                        head = (
                            "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n"
                            f"Content-Length: {total}\r\nConnection: close\r\n\r\n"
                        ).encode()
                        self.record["feed_first_byte"] = time.time()
                        conn.sendall(head)
                    conn.sendall(data)
                    self.record["feed_bytes"] = self.record.get("feed_bytes", 0) + len(data)
                    # (wall time, bytes handed over so far): the player side of the buffer.
                    self.record.setdefault("feed_series", []).append(
                        [round(time.time(), 3), self.record["feed_bytes"]])
                    self.record["feed_pieces"] = i + 1
                    i += 1
        except OSError as e:
            log(f"feed: {e}")
        finally:
            self.record["feed_last_byte"] = time.time()
            conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["source", "peer", "viewer"], required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--ip", required=True)
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--content", help="the MPEG-TS file (source only)")
    ap.add_argument("--save", required=True, help="directory for this node's pieces")
    ap.add_argument("--rate", type=float, help="live rate in bit/s (source only)")
    ap.add_argument("--t0", type=float, required=True, help="wall-clock start of the live edge")
    ap.add_argument("--start", type=float, default=0.0, help="seconds after t0 to join")
    ap.add_argument("--duration", type=float, required=True, help="seconds after t0 to stop")
    ap.add_argument("--transport", choices=["utp", "tcp"], default="utp")
    ap.add_argument("--player-port", type=int, default=8902)
    ap.add_argument("--stats", required=True)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())

    end = args.t0 + args.duration
    while time.time() < args.t0 + args.start and not STOP.is_set():
        time.sleep(0.05)

    ses = make_session(args)
    ti = lt.torrent_info(args.torrent)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = args.save
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    if args.role != "source":
        atp.flags |= lt.torrent_flags.sequential_download
    joined = time.time()
    h = ses.add_torrent(atp)
    log(f"{args.name}: joined {ti.info_hashes().v1} pieces={ti.num_pieces()}")

    record = {"name": args.name, "role": args.role, "ip": args.ip, "joined": joined}
    piece_times = {}
    peers = {}  # key (ip, port, utp) -> counters
    if args.role == "viewer":
        path = os.path.join(args.save, ti.files().file_path(0))
        Feed(h, ti, path, args.player_port, record).start()

    content = None
    if args.role == "source":
        with open(args.content, "rb") as f:
            content = f.read()
    plen = ti.piece_length()
    n = ti.num_pieces()
    next_piece = 0
    last_poll = 0.0
    payload_series = []

    # add_piece on a torrent that is still checking its (absent) files is dropped: wait until
    # it is ready (bounded), and re-add any revealed piece the torrent does not hold 1 s later.
    ready_by = time.time() + 10
    while content is not None and time.time() < ready_by and not STOP.is_set():
        if h.status().state not in (lt.torrent_status.checking_files,
                                    lt.torrent_status.checking_resume_data):
            break
        time.sleep(0.05)
    readded = 0
    while not STOP.is_set() and time.time() < end:
        now = time.time()
        if content is not None:
            while next_piece < n and now >= args.t0 + next_piece * plen * 8 / args.rate:
                data = content[next_piece * plen : (next_piece + 1) * plen]
                h.add_piece(next_piece, data, 0)
                piece_times[next_piece] = time.time()
                next_piece += 1
            for i in range(max(0, next_piece - 8), next_piece):
                if now - piece_times[i] > 1.0 and not h.have_piece(i) and readded < 1000:
                    h.add_piece(i, content[i * plen : (i + 1) * plen], 0)
                    readded += 1
                    log(f"{args.name}: piece {i} re-added")
        for a in ses.pop_alerts():
            if isinstance(a, lt.piece_finished_alert):
                piece_times.setdefault(a.piece_index, time.time())
            elif isinstance(a, (lt.tracker_error_alert, lt.peer_error_alert)):
                log(f"{args.name}: {a.message()}")
            elif isinstance(a, lt.tracker_reply_alert):
                log(f"{args.name}: {a.message()}")
        if now - last_poll >= 0.5:
            last_poll = now
            if args.role == "viewer":
                # (wall time, payload bytes received so far): the network side of the buffer.
                payload_series.append([round(now, 3), h.status().total_payload_download])
            for p in h.get_peer_info():
                key = (p.ip[0], p.ip[1], bool(p.flags & UTP_SOCKET))
                c = peers.setdefault(
                    key,
                    {"ip": p.ip[0], "port": p.ip[1], "transport": "utp" if key[2] else "tcp",
                     "download": 0, "upload": 0, "client": "", "first": now},
                )
                c["download"] = max(c["download"], p.total_download)
                c["upload"] = max(c["upload"], p.total_upload)
                c["client"] = p.client.decode("utf-8", "replace") if isinstance(p.client, bytes) else str(p.client)
                c["last"] = now
        time.sleep(0.02)

    st = h.status()
    record.update(
        {
            "left": time.time(),
            "total_payload_download": st.total_payload_download,
            "total_payload_upload": st.total_payload_upload,
            "total_download": st.total_download,
            "total_upload": st.total_upload,
            "pieces_have": sum(1 for i in range(n) if h.have_piece(i)),
            "piece_times": {str(k): v for k, v in sorted(piece_times.items())},
            "connections": list(peers.values()),
            "payload_series": payload_series,
            "libtorrent": lt.__version__,
            "pieces_readded": readded if content is not None else None,
        }
    )
    STOP.set()
    tmp = args.stats + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, args.stats)
    log(f"{args.name}: done, up={st.total_payload_upload} down={st.total_payload_download}")


if __name__ == "__main__":
    main()
