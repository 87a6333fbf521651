#!/usr/bin/env python3
"""Checks peerscope against a lab run's truth.json and prints a measured-vs-truth table.

    check.py RUN_DIR... [--peerscope target/release/peerscope] [--json OUT.json] [--work DIR]

(--work: where peerscope writes its reports, DIR/RUN/...; default inside each RUN_DIR. The
committed captures under tests/data/lab/ are run directories too.)

For each run directory (written by run-one.sh) it runs `peerscope analyze` on the viewer's
capture twice — as a user would (no options) and with `--stream-rate` set to the channel's
nominal rate (ffprobe) — and checks, each printed PASS or FAIL with both numbers:

  vantage point       local.ip == the viewer's address (no --local given)
  peers contacted     peers.contacted == the remote libtorrent nodes that exchanged traffic
  suppliers           the set of peers with share_in >= 1 % == libtorrent's (>= 1 % of payload)
  shares              each supplier's share_in within +-3 points of libtorrent's share
  tracker             tracker.ip == the opentracker address
  download            when the viewer's downlink is below the stream rate (saturated): the
                      median of series down_kbps over the downloading windows within +-3 % of
                      the tbf rate (tbf counts Ethernet bytes, peerscope IP bytes: 14 B/frame)
  start-up            |playback start by peerscope - mpv's "playback restart complete"| <= 1 s
  stream rate         without --stream-rate: within 5 % of the nominal rate
  continuity          without --stream-rate: within +-0.05 of mpv's 1 - stalled/playing
  continuity (rate)   with --stream-rate: within +-0.05 of the same truth
  live capture        when the run also ran `peerscope capture` live in the viewer's namespace
                      (DIR/live/report.json): the same vantage point and suppliers as the file
                      analysis, and its packet count within 1 % of tcpdump's

A failed check whose name (with the run's transport, e.g. "suppliers/tcp") is in KNOWN_GAPS is
printed "KNOWN GAP (#N)": peerscope has an open issue for it. Only other failures make the exit
status 1. Remove an entry when its fix lands; never add one to hide a new disagreement.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

# check name -> issue number. The single list of disagreements that are known and tracked.
KNOWN_GAPS = {
    # Fixed by #14 (removed): the client's self-connection over lo counted
    # as a peer; uTP piece data missed by a size threshold; BitTorrent over TCP invisible.
    # Playback start: peerscope takes the first byte handed to the player; mpv starts after
    # probing the stream (avformat_find_stream_info read 64 KiB), which a starved feed takes
    # seconds to deliver (3.6 s at 400 kbit for 532 kb/s). Listed under #13 (the player-side
    # model driven by the feed's media clock) provisionally: it needs a decision, see docs/lab.md.
    "start-up/utp": 13,
    "start-up/tcp": 13,
    # Fixed by #13 (removed): the stream rate estimated from a starved feed, and continuity
    # near 1 while the player stalled; the feed's media clock (MPEG-TS PCR) gives both.
}

PASS, FAIL, GAP = "PASS", "FAIL", "KNOWN GAP"


def epoch(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def analyze(peerscope, pcap, out, extra):
    cmd = [peerscope, "analyze", pcap, "-o", out, "--force"] + extra
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


class Table:
    def __init__(self, run, transport):
        self.run = run
        self.transport = transport
        self.rows = []

    def add(self, name, ok, measured, truth, tol):
        key = f"{name}/{self.transport}"
        if ok:
            verdict = PASS
        elif key in KNOWN_GAPS:
            verdict = f"{GAP} (#{KNOWN_GAPS[key]})"
        else:
            verdict = FAIL
        self.rows.append({"run": self.run, "check": name, "measured": measured, "truth": truth,
                          "tolerance": tol, "verdict": verdict})

    def failed(self):
        return [r for r in self.rows if r["verdict"] == FAIL]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, (list, tuple, set)):
        return ",".join(str(x).replace("203.0.113.", ".") for x in v) or "(none)"
    return str(v)


def check_run(run_dir, peerscope, work=None):
    with open(os.path.join(run_dir, "truth.json")) as f:
        truth = json.load(f)
    transport = truth["run"]["transport"]
    pcap = os.path.join(run_dir, "viewer.pcap")
    base = os.path.join(work, os.path.basename(os.path.normpath(run_dir))) if work else run_dir
    plain = analyze(peerscope, pcap, os.path.join(base, "peerscope"), [])
    nominal = truth["media"]["nominal_kbps"]
    rated = analyze(peerscope, pcap, os.path.join(base, "peerscope-rate"),
                    ["--stream-rate", f"{nominal}kbps"])
    t = Table(os.path.basename(os.path.normpath(run_dir)), transport)
    viewer_ip = truth["viewer"]["ip"]

    t.add("vantage point", plain["local"]["ip"] == viewer_ip, plain["local"]["ip"], viewer_ip,
          "exact")

    remote = [s for s in truth["suppliers"] if s["ip"] != viewer_ip]
    # Every remote libtorrent node that held a connection with the viewer (either side's
    # counters list it), whether or not it sent payload.
    contacted = len(remote)
    t.add("peers contacted", plain["peers"]["contacted"] == contacted,
          plain["peers"]["contacted"], contacted, "exact")

    true_sup = sorted(s["ip"] for s in remote if s["supplier"])
    plist = plain["peers"]["list"]
    meas_sup = sorted(p["ip"] for p in plist if p.get("share_in", 0) >= 0.01)
    t.add("suppliers", meas_sup == true_sup, meas_sup, true_sup, "exact")

    shares = {p["ip"]: p.get("share_in", 0.0) for p in plist}
    worst = None
    for s in remote:
        if not s["supplier"]:
            continue
        d = abs(shares.get(s["ip"], 0.0) - s["share"])
        if worst is None or d > worst[0]:
            worst = (d, s["ip"], shares.get(s["ip"], 0.0), s["share"])
    if worst is not None:
        t.add("shares", worst[0] <= 0.03,
              f"{worst[2] * 100:.1f}% ({fmt([worst[1]])})", f"{worst[3] * 100:.1f}%",
              "±3 points (worst supplier)")

    # A BitTorrent client requests its pieces: pull (from the timing of its messages).
    pp = plain["summary"]["pull_push"]
    t.add("pull/push", pp == "pull", pp, "pull", "exact (libtorrent requests pieces)")

    tr = (plain.get("tracker") or {}).get("ip")
    t.add("tracker", tr == truth["tracker"]["ip"], tr, truth["tracker"]["ip"], "exact")

    cap_start = epoch(plain["capture"]["start"])
    down = truth["viewer"]["down_kbit"]
    if down and down < nominal:
        # Saturated: the viewer downloads at its link rate from its first video until the
        # run ends. Whole windows only (the last one may be cut).
        fv = plain["startup"].get("first_video_s")
        rows = plain["series"]["rows"]
        win = plain["series"]["window_s"]
        end = plain["capture"]["duration_s"] - win
        vals = [r["down_kbps"] for r in rows if fv is not None and r["t_s"] >= fv + 2 * win
                and r["t_s"] + win <= end]
        med = statistics.median(vals) if vals else 0.0
        t.add("download", abs(med - down) <= 0.03 * down, med, float(down),
              "±3 % of tbf (median 1 s windows)")

    p_start = truth["player"]["playback_start"]
    ps = plain["startup"].get("playback_start_s")
    meas_start = cap_start + ps if ps is not None else None
    t.add("start-up", meas_start is not None and p_start is not None
          and abs(meas_start - p_start) <= 1.0,
          None if ps is None else ps, None if p_start is None else round(p_start - cap_start, 3),
          "±1 s (playback start, s into capture)")

    sr = plain["stream"]["rate_kbps"]
    t.add("stream rate", sr is not None and abs(sr - nominal) <= 0.05 * nominal, sr, nominal,
          "±5 %")

    cont = truth["player"]["continuity"]
    ci = (plain.get("continuity") or {}).get("index")
    t.add("continuity", ci is not None and cont is not None and abs(ci - cont) <= 0.05, ci, cont,
          "±0.05")
    cr = (rated.get("continuity") or {}).get("index")
    t.add("continuity (rate)", cr is not None and cont is not None and abs(cr - cont) <= 0.05,
          cr, cont, "±0.05 (--stream-rate nominal)")
    live_path = os.path.join(run_dir, "live", "report.json")
    if os.path.exists(live_path):
        with open(live_path) as f:
            live = json.load(f)
        tcpdump = next((n.get("pcap") or {} for n in truth["topology"] if n["name"] == "viewer"),
                       {}).get("records")
        lp = live["capture"]["packets"]
        live_sup = sorted(p["ip"] for p in live["peers"]["list"] if p.get("share_in", 0) >= 0.01)
        same = live["local"]["ip"] == plain["local"]["ip"] and live_sup == meas_sup
        ok = same and tcpdump is not None and abs(lp - tcpdump) <= 0.01 * tcpdump
        t.add("live capture", ok, f"{lp} pkts, {fmt(live_sup)}", f"{tcpdump} pkts, {fmt(meas_sup)}",
              "±1 % of tcpdump; = file analysis")
    return t, plain, rated, truth


def print_table(tables):
    hdr = f"{'run':<18} {'check':<18} {'peerscope':>22} {'truth':>22}  {'tolerance':<34} verdict"
    print(hdr)
    print("-" * len(hdr))
    for t in tables:
        for r in t.rows:
            print(f"{r['run']:<18} {r['check']:<18} {fmt(r['measured']):>22} "
                  f"{fmt(r['truth']):>22}  {r['tolerance']:<34} {r['verdict']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--peerscope", default="target/release/peerscope")
    ap.add_argument("--json", help="write the rows as JSON here")
    ap.add_argument("--work", help="directory for peerscope's reports (default: each RUN_DIR)")
    a = ap.parse_args()
    tables = []
    for run in a.runs:
        t, _, _, _ = check_run(run, a.peerscope, a.work)
        tables.append(t)
    print_table(tables)
    failed = [r for t in tables for r in t.failed()]
    gaps = [r for t in tables for r in t.rows if r["verdict"].startswith(GAP)]
    print(f"\n{sum(len(t.rows) for t in tables)} checks: {len(failed)} failed, "
          f"{len(gaps)} known gaps (KNOWN_GAPS in {os.path.basename(__file__)})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump([r for t in tables for r in t.rows], f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
