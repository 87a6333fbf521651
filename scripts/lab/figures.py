#!/usr/bin/env python3
"""The lab's experiments over finished runs: tables (Markdown) and figures (SVG, rendered to PNG).

    figures.py fig2  --out DIR RUN...   continuity vs the viewer's downlink rate: mpv's truth,
                                        peerscope as a user runs it, and with --stream-rate
    figures.py fig34 --out DIR RUN...   per-node download/upload through `peerscope compare`
                                        against the links' own byte counters
    figures.py delay --out DIR RUN...   playback delay behind the source through compare, against
                                        libtorrent's piece times (and mpv for the viewer)

Every figure follows the report figures' frame (src/report/svg/style.rs: 900x480, sans-serif,
the same palette) and is rendered with `chromium --headless --screenshot` to a PNG beside it.
fig2 also runs the checker (check.py) over its runs; the exit status is 1 on an unlisted
failure, as for --quick (unless --no-checks: --quick runs check.py itself and uses fig2 only for
its figure).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

# src/report/svg/style.rs
WIDTH, HEIGHT = 900, 480
DOWN = "#1F77B4"
UP = "#E67300"
REFERENCE = "#6E6E6E"
ALERT = "#D62728"
CUMULATIVE = "#282828"
FONT = "sans-serif"
TITLE, LABEL, NOTE = 21 / 1.24, 16 / 1.24, 15 / 1.24


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Svg:
    """A small chart frame: title, legend row, axes with ticks, grid lines."""

    def __init__(self, title, x_desc, y_desc, xr, yr, xticks, yticks):
        self.parts = [
            f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            'xmlns="http://www.w3.org/2000/svg">',
            f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#FFFFFF" stroke="none"/>',
            self.text(WIDTH / 2, 8, title, TITLE, "middle", dy="0.76em"),
        ]
        self.x0, self.x1, self.y0, self.y1 = 86, 885, 417, 86
        self.xr, self.yr = xr, yr
        self.legend_x = 76
        for v in xticks:
            x = self.px(v)
            self.parts.append(f'<line opacity="0.08" stroke="#000000" x1="{x:.1f}" y1="{self.y0}" '
                              f'x2="{x:.1f}" y2="{self.y1}"/>')
            self.parts.append(self.text(x, self.y0 + 6, f"{v:g}", NOTE, "middle", dy="0.76em"))
        for v in yticks:
            y = self.py(v)
            self.parts.append(f'<line opacity="0.08" stroke="#000000" x1="{self.x0}" y1="{y:.1f}" '
                              f'x2="{self.x1}" y2="{y:.1f}"/>')
            self.parts.append(self.text(self.x0 - 6, y, f"{v:g}", NOTE, "end", dy="0.5ex"))
        self.parts.append(f'<polyline fill="none" stroke="#000000" points="{self.x0},{self.y1} '
                          f'{self.x0},{self.y0} {self.x1},{self.y0}"/>')
        self.parts.append(self.text((self.x0 + self.x1) / 2, HEIGHT - 14, x_desc, LABEL, "middle",
                                    dy="-0.5ex"))
        self.parts.append(f'<text x="14" y="252" dy="0.76em" text-anchor="middle" '
                          f'font-family="{FONT}" font-size="{LABEL:.2f}" fill="#000000" '
                          f'transform="rotate(270, 14, 252)">{esc(y_desc)}</text>')

    @staticmethod
    def text(x, y, s, size, anchor="start", dy="0.5ex", fill="#000000"):
        return (f'<text x="{x:.1f}" y="{y:.1f}" dy="{dy}" text-anchor="{anchor}" '
                f'font-family="{FONT}" font-size="{size:.2f}" fill="{fill}">{esc(s)}</text>')

    def px(self, v):
        a, b = self.xr
        return self.x0 + (v - a) / (b - a) * (self.x1 - self.x0)

    def py(self, v):
        a, b = self.yr
        return self.y0 - (v - a) / (b - a) * (self.y0 - self.y1)

    def legend(self, label, color, dash=False, marker=True):
        x, y = self.legend_x, 44
        d = ' stroke-dasharray="4,2"' if dash else ""
        self.parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{d} '
                          f'points="{x},{y} {x + 14},{y}"/>')
        if marker:
            self.parts.append(f'<circle cx="{x + 7}" cy="{y}" r="3.5" fill="{color}"/>')
        self.parts.append(self.text(x + 20, y, label, NOTE))
        self.legend_x += 30 + int(len(label) * NOTE * 0.55)

    def series(self, points, color, dash=False):
        pts = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in points)
        d = ' stroke-dasharray="6,3"' if dash else ""
        self.parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{d} points="{pts}"/>')
        for x, y in points:
            self.parts.append(f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="4.5" '
                              f'fill="{color}"/>')

    def vline(self, v, label, color=REFERENCE):
        x = self.px(v)
        self.parts.append(f'<line stroke="{color}" stroke-dasharray="5,3" x1="{x:.1f}" '
                          f'y1="{self.y0}" x2="{x:.1f}" y2="{self.y1}"/>')
        self.parts.append(self.text(x + 5, self.y0 - 12, label, NOTE, fill=color))

    def bars(self, groups, colors, labels):
        """groups: [(name, [v...])] drawn as grouped bars over categorical x."""
        n = len(groups)
        slot = (self.x1 - self.x0) / max(n, 1)
        k = len(colors)
        w = slot * 0.8 / k
        for i, (name, vals) in enumerate(groups):
            left = self.x0 + i * slot + slot * 0.1
            for j, v in enumerate(vals):
                if v is None:
                    continue
                top = self.py(v)
                self.parts.append(f'<rect x="{left + j * w:.1f}" y="{top:.1f}" width="{w - 2:.1f}" '
                                  f'height="{self.y0 - top:.1f}" fill="{colors[j]}"/>')
            self.parts.append(self.text(self.x0 + (i + 0.5) * slot, self.y0 + 6, name, NOTE,
                                        "middle", dy="0.76em"))
        for c, lab in zip(colors, labels):
            self.legend(lab, c, marker=False)

    def write(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.parts + ["</svg>"]) + "\n")
        render(path)


def render(svg):
    """Renders an SVG to a PNG beside it with headless chromium (skipped when absent)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        print(f"figures: no chromium, {svg} not rendered", file=sys.stderr)
        return
    png = svg[:-4] + ".png"
    html = svg[:-4] + ".render.html"
    with open(html, "w") as f:
        f.write(f'<html><body style="margin:0"><img src="{os.path.basename(svg)}"></body></html>')
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
                    "file://" + os.path.abspath(html)],
                   capture_output=True, timeout=60)
    os.remove(html)


def load(run):
    with open(os.path.join(run, "truth.json")) as f:
        return json.load(f)


def fig2(a):
    rows, tables = [], []
    for run in a.runs:
        t, plain, rated, truth = check.check_run(run, a.peerscope)
        tables.append(t)
        rows.append({
            "run": os.path.basename(os.path.normpath(run)),
            "down_kbit": truth["viewer"]["down_kbit"],
            "nominal_kbps": truth["media"]["nominal_kbps"],
            "truth": truth["player"]["continuity"],
            "truth_stalled_s": truth["player"]["stalled_s"],
            "truth_stalls": len(truth["player"]["stalls"]),
            "playing_s": truth["player"]["playing_s"],
            "plain": plain["continuity"]["index"],
            "plain_stalls": len(plain["continuity"]["stalls"]),
            "plain_rate": plain["stream"]["rate_kbps"],
            "rated": rated["continuity"]["index"],
            "rated_stalls": len(rated["continuity"]["stalls"]),
            "buffer_truth_bytes": (truth.get("buffer") or {}).get("median_bytes"),
            "buffer_bytes": plain["buffer"].get("bytes"),
        })
    rows.sort(key=lambda r: r["down_kbit"] or 1e9)
    lines = [
        "| viewer downlink (kbit) | mpv truth | stalled s (count) | peerscope | its stream rate est. (kb/s) | peerscope --stream-rate | stalls (count) | buffer KB: truth / peerscope |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def kb(v):
        return "-" if v is None else f"{v / 1000:.0f}"
    for r in rows:
        lines.append(f"| {r['down_kbit'] or 'unshaped'} | {r['truth']:.3f} | {r['truth_stalled_s']:.1f} "
                     f"({r['truth_stalls']}) | {r['plain']:.3f} | {r['plain_rate']:.0f} | "
                     f"{r['rated']:.3f} | {r['rated_stalls']} | "
                     f"{kb(r['buffer_truth_bytes'])} / {kb(r['buffer_bytes'])} |")
    os.makedirs(a.out, exist_ok=True)
    md = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "fig2.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "fig2.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(md)
    nominal = rows[0]["nominal_kbps"]
    shaped = [r["down_kbit"] for r in rows if r["down_kbit"]]
    # An unshaped viewer is drawn at the right edge, labelled so.
    free_x = max(shaped + [nominal]) * 1.2
    for r in rows:
        r["x"] = r["down_kbit"] or free_x
    xs = [r["x"] for r in rows]
    lo = min(min(xs), nominal) * 0.85
    hi = max(max(xs), nominal) * 1.05
    ymin = min([r["truth"] for r in rows] + [r["rated"] for r in rows] + [r["plain"] for r in rows])
    ymin = max(0, (int(ymin * 10) / 10.0) * 100 - 10)
    step = 50 if hi - lo < 700 else 100
    xt = [v for v in range(int(lo // step * step + step), int(hi) + 1, step)
          if len(shaped) == len(rows) or v < free_x - step / 2]
    yt = [v for v in range(int(ymin), 101, 10)]
    s = Svg("Continuity against the viewer's downlink (real swarm, mpv's own stalls)",
            "viewer downlink, tbf rate (kbit/s)", "continuity (%)", (lo, hi), (ymin, 101), xt, yt)
    s.legend("mpv (truth)", CUMULATIVE)
    s.legend("peerscope --stream-rate", DOWN)
    s.legend("peerscope (rate estimated)", UP, dash=True)
    s.series([(r["x"], r["truth"] * 100) for r in rows], CUMULATIVE)
    s.series([(r["x"], r["rated"] * 100) for r in rows], DOWN)
    s.series([(r["x"], r["plain"] * 100) for r in rows], UP, dash=True)
    s.vline(nominal, f"stream {nominal:.0f} kb/s")
    if len(shaped) < len(rows):
        s.parts.append(s.text(s.px(free_x), s.y0 + 6, "unshaped", NOTE, "middle", dy="0.76em"))
    s.write(os.path.join(a.out, "fig2.svg"))
    if a.no_checks:
        return 0
    print()
    check.print_table(tables)
    failed = [r for t in tables for r in t.failed()]
    return 1 if failed else 0


def compare(run, peerscope, out):
    truth = load(run)
    nodes = [n for n in truth["topology"] if n["role"] != "tracker"]
    args = [peerscope, "compare", "-o", out, "--force", "-j", "2", "--source", "source"]
    for n in nodes:
        args += ["--node", f"{n['name']}={os.path.join(run, n['capture'])}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"compare failed: {r.stderr}")
    with open(os.path.join(out, "compare.json")) as f:
        return truth, json.load(f)


def link_rates(truth, node):
    """IP-byte rates (kb/s) from the veth's counters (less the 14-byte Ethernet header of each
    frame) over the node's capture span (first to last record, as peerscope divides)."""
    span = node.get("pcap") or {}
    dur = (span.get("last") or 0) - (span.get("first") or 0)
    link = node.get("link")
    if not link or dur <= 0:
        return None, None
    down = (link["rx_bytes"] - 14 * link["rx_packets"]) * 8 / dur / 1000
    up = (link["tx_bytes"] - 14 * link["tx_packets"]) * 8 / dur / 1000
    return down, up


def fig34(a):
    os.makedirs(a.out, exist_ok=True)
    lines = []
    summary = []
    for run in a.runs:
        name = os.path.basename(os.path.normpath(run))
        truth, cmp = compare(run, a.peerscope, os.path.join(a.out, name))
        by = {n["name"]: n for n in cmp["nodes"]}
        secs = truth["run"]["seconds"]
        src_up = next(n["up_kbit"] for n in truth["topology"] if n["name"] == "source")
        lines.append(f"\n**{name}**: source uplink {src_up} kbit, channel "
                     f"{truth['media']['nominal_kbps']:.0f} kb/s\n")
        lines.append("| node | down kb/s peerscope | down kb/s link | up kb/s peerscope | up kb/s link "
                     "| video down (peerscope) | payload down (libtorrent) | video up (peerscope) "
                     "| payload up (libtorrent) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        recv_down, recv_up = [], []
        for n in truth["topology"]:
            if n["role"] == "tracker":
                continue
            c = by.get(n["name"], {})
            ld, lu = link_rates(truth, n)
            lt = truth["nodes"].get(n["name"], {})
            span = (lt.get("left") or 0) - (lt.get("joined") or 0) or secs
            pd = (lt.get("total_payload_download") or 0) * 8 / span / 1000
            pu = (lt.get("total_payload_upload") or 0) * 8 / span / 1000
            lines.append(
                f"| {n['name']} | {c.get('download_kbps', 0):.1f} | {ld or 0:.1f} | "
                f"{c.get('upload_kbps', 0):.1f} | {lu or 0:.1f} | "
                f"{c.get('video', {}).get('download_kbps', 0):.1f} | {pd:.1f} | "
                f"{c.get('video', {}).get('upload_kbps', 0):.1f} | {pu:.1f} |")
            if n["role"] != "source":
                recv_down.append((c.get("download_kbps", 0), ld or 0))
                recv_up.append((c.get("upload_kbps", 0), lu or 0))
        src = by.get("source", {})
        summary.append({
            "run": name, "source_up_kbit": src_up,
            "source_upload_kbps": src.get("upload_kbps"),
            "source_upload_link_kbps": link_rates(truth, next(
                n for n in truth["topology"] if n["name"] == "source"))[1],
            "receivers_mean_down_kbps": statistics.mean(d for d, _ in recv_down),
            "receivers_mean_down_link_kbps": statistics.mean(t for _, t in recv_down),
            "receivers_mean_up_kbps": statistics.mean(u for u, _ in recv_up),
            "receivers_mean_up_link_kbps": statistics.mean(t for _, t in recv_up),
            "nodes": cmp["nodes"],
        })
        groups = []
        for n in truth["topology"]:
            if n["role"] == "tracker":
                continue
            c = by.get(n["name"], {})
            ld, lu = link_rates(truth, n)
            groups.append((n["name"], [c.get("download_kbps"), ld, c.get("upload_kbps"), lu]))
        ymax = max(v for _, vs in groups for v in vs if v is not None) * 1.1
        step = 500 if ymax > 1500 else 100
        s = Svg(f"Per-node download and upload, source uplink {src_up} kbit ({name})",
                "node", "rate (kb/s, IP bytes)", (0, 1), (0, ymax), [],
                list(range(0, int(ymax) + 1, step)))
        s.bars(groups, [DOWN, "#9EC5E8", UP, "#F5B97F"],
               ["down, peerscope", "down, link counter", "up, peerscope", "up, link counter"])
        s.write(os.path.join(a.out, f"{name}.svg"))
    lines.append("\n| run | source up (peerscope) | source up (link) | receivers' mean down "
                 "(peerscope / link) | receivers' mean up (peerscope / link) |")
    lines.append("|---|---:|---:|---:|---:|")
    for s_ in summary:
        lines.append(f"| {s_['run']} | {s_['source_upload_kbps']:.1f} | "
                     f"{s_['source_upload_link_kbps']:.1f} | {s_['receivers_mean_down_kbps']:.1f} / "
                     f"{s_['receivers_mean_down_link_kbps']:.1f} | {s_['receivers_mean_up_kbps']:.1f} / "
                     f"{s_['receivers_mean_up_link_kbps']:.1f} |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "fig34.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "fig34.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(md)
    return 0


def delay(a):
    os.makedirs(a.out, exist_ok=True)
    lines = ["| run | node | peerscope median s (p10–p90) | matched | libtorrent piece lag median s "
             "(p10–p90) | mpv playback delay at stop s |",
             "|---|---|---:|---:|---:|---:|"]
    rows = []
    for run in a.runs:
        name = os.path.basename(os.path.normpath(run))
        truth, cmp = compare(run, a.peerscope, os.path.join(a.out, name))
        src = truth["nodes"]["source"]["piece_times"]
        for c in cmp["nodes"]:
            if c["name"] == "source":
                continue
            pd = c.get("playback_delay") or {}
            mine = truth["nodes"].get(c["name"], {}).get("piece_times", {})
            lags = sorted(mine[k] - src[k] for k in mine if k in src)
            q = (lambda p: lags[min(len(lags) - 1, int(p * len(lags)))]) if lags else (lambda p: None)
            play = None
            if c["name"] == "viewer":
                pl = truth["player"]
                if pl.get("playback_start"):
                    # media time played = playing - stalled; the source revealed media time m at
                    # t0 + m (CBR), so the delay at the stop is (stop - t0) - played.
                    play = (pl["stopped"] - truth["run"]["t0"]) - (pl["playing_s"] - pl["stalled_s"])
            row = {"run": name, "node": c["name"], "peerscope": pd,
                   "piece_lag": {"median": q(0.5), "p10": q(0.1), "p90": q(0.9), "pieces": len(lags)},
                   "player_delay_s": play}
            rows.append(row)

            def f(v):
                return "-" if v is None else f"{v:.3f}"
            lines.append(f"| {name} | {c['name']} | {f(pd.get('median_s'))} ({f(pd.get('p10_s'))}–"
                         f"{f(pd.get('p90_s'))}) | {f(pd.get('matched_share'))} | {f(q(0.5))} "
                         f"({f(q(0.1))}–{f(q(0.9))}) | {f(play)} |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "delay.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "delay.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(md)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["fig2", "fig34", "delay"])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--peerscope", default="target/release/peerscope")
    ap.add_argument("--no-checks", action="store_true",
                    help="fig2: do not print the checks nor fail on them (run check.py for that)")
    a = ap.parse_args()
    return {"fig2": fig2, "fig34": fig34, "delay": delay}[a.what](a)


if __name__ == "__main__":
    sys.exit(main())
