#!/usr/bin/python3
"""The lab's channel: an MPEG-TS test stream made by ffmpeg, and its torrent.

`media.py make OUT.ts --kbps 532 --seconds 70` writes lavfi testsrc + sine, x264 CBR
(nal-hrd=cbr) with the transport stream's mux rate fixed by `-muxrate`, and prints ffprobe's
view of it. `media.py torrent IN.ts OUT.torrent --tracker URL` makes a 16 KiB-piece torrent
(a chunk-based live system's chunk size) and prints its v1 info-hash in hex (opentracker's
whitelist format: one 40-digit hex hash per line).
"""

import argparse
import json
import os
import subprocess
import sys


def make(args):
    mux = int(args.kbps)
    # Video + audio must fit under the mux rate with the TS/PES overhead, which grows at low
    # rates (every PES ends in a part-filled 188-byte packet); ffmpeg says "dts < pcr, TS is
    # invalid" when they do not, and the file is then bigger than the mux rate says.
    audio = 24 if mux < 400 else 32
    video = int(mux * (0.72 if mux < 400 else 0.80)) - audio
    tmp = args.out + ".tmp.ts"
    cmd = [
        "ffmpeg", "-hide_banner", "-loglevel", "warning", "-y",
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050",
        "-t", str(args.seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
        "-b:v", f"{video}k", "-minrate", f"{video}k", "-maxrate", f"{video}k",
        "-bufsize", f"{video // 2}k", "-x264-params", "nal-hrd=cbr",
        "-c:a", "aac", "-b:a", f"{audio}k",
        "-f", "mpegts", "-muxrate", f"{mux}k", tmp,
    ]
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    if "TS is invalid" in r.stderr:
        os.remove(tmp)
        sys.exit(f"media: {mux} kb/s cannot hold {video}k video + {audio}k audio: {r.stderr[:300]}")
    os.replace(tmp, args.out)
    print(json.dumps(probe(args.out)))


def probe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=bit_rate,duration,size,format_name",
         "-of", "json", path],
        check=True, capture_output=True, text=True,
    ).stdout
    fmt = json.loads(out)["format"]
    return {
        "format": fmt.get("format_name"),
        "bit_rate_bps": int(fmt["bit_rate"]),
        "duration_s": float(fmt["duration"]),
        "size_bytes": int(fmt["size"]),
    }


def torrent(args):
    import libtorrent as lt

    fs = lt.file_storage()
    lt.add_files(fs, args.input)
    # v1 only: a hybrid torrent also announces its v2 hash, which the whitelist does not hold.
    ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
    ct.add_tracker(args.tracker)
    ct.set_creator("peerscope lab")
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(args.input)))
    with open(args.out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(args.out)
    print(str(ti.info_hashes().v1))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("--kbps", type=int, required=True)
    m.add_argument("--seconds", type=int, required=True)
    p = sub.add_parser("probe")
    p.add_argument("input")
    t = sub.add_parser("torrent")
    t.add_argument("input")
    t.add_argument("out")
    t.add_argument("--tracker", required=True)
    args = ap.parse_args()
    if args.cmd == "make":
        make(args)
    elif args.cmd == "probe":
        print(json.dumps(probe(args.input)))
    else:
        torrent(args)


if __name__ == "__main__":
    sys.exit(main())
