//! `index.html`: one self-contained page of a [`Report`] that opens from the file system with
//! no network and no JavaScript — the summary row beside the study's table, the figures inline
//! as `<svg>`, the top peers, the warnings and the capture facts.
//!
//! Every string taken from the report (addresses, DNS names, file names, warnings: all from
//! untrusted captures) goes through [`escape`]. A Content-Security-Policy forbids scripts and
//! every fetch, so even a mistake here could not load anything. The page is byte-stable: no
//! rendering time, fixed float precision, report order.

use std::io::{self, Write};

use super::svg::style::fmt_seconds;
use super::svg::Figure;
use super::Report;
use crate::metrics::peers::Peer;

/// Rows in the peers table.
pub const TOP_PEERS: usize = 20;

/// The study's summary table (Sentinelli et al., 2007): system, buffer, playout delay,
/// start-up delay, data rate, push/pull, tree/mesh, peers a client downloads from. `—`: not
/// given.
pub const STUDY_ROWS: [[&str; 8]; 4] = [
    [
        "SopCast (2007)",
        "1 min",
        "1 min",
        "1–5 min",
        "300–350 kb/s",
        "pull",
        "mesh",
        "2–5 suppliers",
    ],
    [
        "PPLive (2007)",
        "2 min",
        "1 min",
        "20 s–2 min",
        "—",
        "—",
        "—",
        "—",
    ],
    [
        "Coolstreaming (2007)",
        "2 min",
        "1 min",
        "1 min",
        "—",
        "—",
        "—",
        "—",
    ],
    [
        "Anysee (2007)",
        "40 s",
        "20–30 s",
        "20 s",
        "—",
        "push",
        "hybrid",
        "—",
    ],
];

/// What each figure shows, for its caption.
fn caption(name: &str) -> &'static str {
    match name {
        "sizes" => "Packet sizes: UDP payload sizes of the local host's peer traffic, packets on a log scale, peaks labelled, the control/video threshold dashed.",
        "peers" => "Peers ranked by video received: video received from and sent to each peer, and the cumulative share of video received.",
        "rates" => "Download and upload rates over time, video and control apart, with tune-in, first video, playback start and stalls marked.",
        "suppliers" => "Active suppliers per window, peers seen so far, and the peers contacted.",
        "buffer" => "The client's buffer in seconds of stream over time.",
        "swarm" => "Churn: the lifetime CDF of the peer sessions that ended (median and p90 dashed), and sessions begun and ended per minute.",
        _ => "",
    }
}

/// Escapes text for HTML element content and quoted attribute values; control characters
/// (other than tab and newline) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn opt_seconds(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(fmt_seconds)
        .unwrap_or_else(|| "n/a".into())
}

fn opt_kbps(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(|v| format!("{v:.0} kb/s"))
        .unwrap_or_else(|| "n/a".into())
}

fn percent(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", v * 100.0)
    } else {
        "n/a".into()
    }
}

fn bytes(v: u64) -> String {
    let f = v as f64;
    if f >= 1e9 {
        format!("{:.2} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} kB", f / 1e3)
    } else {
        format!("{v} B")
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:0 auto;max-width:960px;padding:0 16px 40px;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:0.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.5em 0;font-size:0.92em}th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2}tr.this td{font-weight:bold;background:#eef5fb}td.num{text-align:right;white-space:nowrap}
figure{margin:1.2em 0}figure svg{max-width:100%;height:auto;border:1px solid #ddd}figcaption{font-size:0.9em;color:#444}
.note{color:#555;font-size:0.9em}ul.warnings li{color:#8a3b00}code{white-space:nowrap}
@media print{th,tr.this td{-webkit-print-color-adjust:exact;print-color-adjust:exact}figure svg{border-color:#999}}";

/// Writes the page for `report` with its `figures` (from [`super::svg::render`]) inline.
pub fn write<W: Write>(report: &Report, figures: &[Figure], mut out: W) -> io::Result<()> {
    let files = report
        .capture
        .files
        .iter()
        .map(|f| escape(f))
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<title>peerscope report: {files}</title>")?;
    writeln!(out, "<style>\n{STYLE}\n</style>\n</head>\n<body>")?;
    writeln!(out, "<h1>peerscope report</h1>")?;
    writeln!(
        out,
        "<p class=\"note\">{files} — {} — schema <code>{}</code></p>",
        escape(&report.generator),
        escape(&report.schema)
    )?;
    write_summary(report, &mut out)?;
    writeln!(out, "<h2 id=\"figures\">Figures</h2>")?;
    for fig in figures {
        let name = escape(fig.name);
        writeln!(out, "<figure id=\"fig-{name}\">")?;
        out.write_all(fig.svg.as_bytes())?;
        writeln!(
            out,
            "<figcaption>{} <a href=\"{name}.svg\">{name}.svg</a></figcaption>\n</figure>",
            caption(fig.name)
        )?;
    }
    write_peers(report, &mut out)?;
    write_swarm(report, &mut out)?;
    write_warnings(report, &mut out)?;
    write_facts(report, &mut out)?;
    writeln!(
        out,
        "<p class=\"note\">Written by {} from report.json alone; re-render with <code>peerscope plot report.json</code>.</p>",
        escape(&report.generator)
    )?;
    writeln!(out, "</body>\n</html>")
}

/// A cell's value, marked when it is an estimate.
fn estimate(value: String, estimated: bool) -> String {
    if estimated {
        format!("{value} <small>(estimate)</small>")
    } else {
        value
    }
}

fn write_summary<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    let s = &report.summary;
    writeln!(out, "<h2 id=\"summary\">Summary beside the study</h2>")?;
    writeln!(out, "<table class=\"summary\">")?;
    writeln!(
        out,
        "<tr><th>system</th><th>buffer</th><th>playout delay</th><th>start-up delay</th><th>data rate</th><th>push/pull</th><th>tree/mesh</th><th>peers</th></tr>"
    )?;
    writeln!(
        out,
        "<tr class=\"this\"><td>this capture</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} suppliers of {} contacted</td></tr>",
        estimate(opt_seconds(s.buffer_s), report.buffer.estimated),
        estimate(opt_seconds(s.playout_delay_s), report.buffer.estimated),
        opt_seconds(s.startup_delay_s),
        estimate(opt_kbps(s.data_rate_kbps), report.stream.estimated),
        escape(&s.pull_push),
        escape(&s.tree_mesh),
        report.peers.suppliers,
        report.peers.contacted,
    )?;
    // The study's rows compare like with like: shown beside a P2P live stream (or a report
    // written before verdicts existed).
    let kind = report.verdict.as_ref().map(|v| v.kind.as_str());
    if matches!(kind, None | Some("p2p-live-streaming")) {
        for row in STUDY_ROWS {
            write!(out, "<tr>")?;
            for cell in row {
                write!(out, "<td>{cell}</td>")?;
            }
            writeln!(out, "</tr>")?;
        }
    }
    writeln!(out, "</table>")?;
    if let (Some(a), Some(v)) = (&report.application, &report.verdict) {
        writeln!(
            out,
            "<p class=\"note\">What this is: <b>{}</b> (application {}, confidence {:.2}){}{}</p>",
            escape(&v.kind),
            escape(&a.name),
            a.confidence,
            v.reasons
                .iter()
                .map(|r| format!("; {}", escape(r)))
                .collect::<String>(),
            if matches!(kind, Some("p2p-live-streaming")) {
                ""
            } else {
                "; the study's rows are not shown beside it"
            }
        )?;
    }
    writeln!(
        out,
        "<p class=\"note\">Study rows: Sentinelli, Marfia, Gerla, Kleinrock, Tewari, “Will IPTV ride the peer-to-peer stream?”, IEEE Communications Magazine, 2007; — where the study gives no value.</p>"
    )?;
    writeln!(out, "<ul class=\"note\">")?;
    let notes = [
        ("buffer", &report.buffer.how),
        ("playout delay", &s.playout_delay_how),
        ("start-up delay", &report.startup.how),
        ("stream rate", &report.stream.how),
        ("continuity", &report.continuity.model),
    ];
    for (what, how) in notes {
        writeln!(out, "<li>{what}: {}</li>", escape(how))?;
    }
    writeln!(out, "</ul>")
}

/// The swarm's dynamics, reciprocity and locality (issue 18), when the report has them.
fn write_swarm<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    let Some(s) = report.swarm.as_ref() else {
        return Ok(());
    };
    writeln!(out, "<h2 id=\"swarm\">Swarm</h2>")?;
    let life = match (s.lifetime_s.median, s.lifetime_s.p90) {
        (Some(m), Some(p)) => format!(
            "of the {} that ended, the median lasted {}, the 90th percentile {}",
            s.sessions_ended,
            fmt_seconds(m),
            fmt_seconds(p)
        ),
        _ => "none ended during the capture".to_string(),
    };
    let turnover = match s.supplier_turnover.new_share {
        Some(x) => format!(
            "{} of a {} s window's suppliers had not supplied in the window before",
            percent(x),
            s.supplier_turnover.window_s
        ),
        None => "supplier turnover: no two consecutive windows with suppliers".to_string(),
    };
    let r = &s.reciprocity;
    let tft = match r.tit_for_tat_share {
        Some(x) => format!(
            "{} of the video uploaded went to peers that supply this client",
            percent(x)
        ),
        None => "nothing was uploaded".to_string(),
    };
    writeln!(
        out,
        "<p>{} peers, {} sessions (a gap over {} ends one): {life}; {} still open at the end. {turnover}. {tft}; {} peers exchanged video both ways. Super peers (50 % of the video): {}.</p>",
        s.peers,
        s.sessions,
        fmt_seconds(s.idle_timeout_s),
        s.sessions_open_at_end,
        r.reciprocal_peers,
        if r.super_peers_50.is_empty() {
            "none".to_string()
        } else {
            r.super_peers_50
                .iter()
                .map(|ip| format!("<code>{}</code>", escape(ip)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    )?;
    let Some(l) = report.locality.as_ref() else {
        return Ok(());
    };
    writeln!(
        out,
        "<table class=\"peers\">\n<tr><th>locality</th><th>peers</th><th>share of peers</th><th>share of video received</th><th>preference (bytes / peers)</th></tr>"
    )?;
    let near = format!("≤ {} hops", l.near_hops_max);
    let rows = [
        ("same AS", &l.same_asn),
        ("same country", &l.same_country),
        ("same prefix", &l.same_prefix),
        (near.as_str(), &l.near_hops),
    ];
    for (name, pref) in rows {
        match pref {
            Some(p) => writeln!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(name),
                p.peers,
                percent(p.peers_share),
                percent(p.bytes_share),
                p.ratio.map(|r| format!("{r:.2}")).unwrap_or_else(|| "—".into()),
            )?,
            None => writeln!(
                out,
                "<tr><td>{}</td><td colspan=\"4\">unknown</td></tr>",
                escape(name)
            )?,
        }
    }
    writeln!(out, "</table>\n<p class=\"note\">{}</p>", escape(&l.how))
}

fn write_peers<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    let mut peers: Vec<&Peer> = report.peers.list.iter().collect();
    peers.sort_by(|a, b| {
        b.video_in_bytes
            .cmp(&a.video_in_bytes)
            .then(b.video_out_bytes.cmp(&a.video_out_bytes))
            .then(a.ip.cmp(&b.ip))
    });
    let total = peers.len();
    peers.truncate(TOP_PEERS);
    writeln!(out, "<h2 id=\"peers\">Top peers</h2>")?;
    if peers.is_empty() {
        return writeln!(out, "<p>No peers in this report.</p>");
    }
    let c = &report.peers.concentration;
    writeln!(
        out,
        "<p>{} of {total} peers, ranked by video received. {} contacted, {} suppliers; the top peer sent {}, the top two {} of the video received; {} peers cover 50 %, {} cover 90 %.</p>",
        peers.len(),
        report.peers.contacted,
        report.peers.suppliers,
        percent(c.top1_share),
        percent(c.top2_share),
        c.peers_for_50,
        c.peers_for_90,
    )?;
    writeln!(out, "<table class=\"peers\">")?;
    writeln!(
        out,
        "<tr><th>#</th><th>address</th><th>ports</th><th>name</th><th>role</th><th>share of video received</th><th>video in</th><th>video out</th><th>hops</th><th>first seen</th></tr>"
    )?;
    for (i, p) in peers.iter().enumerate() {
        let ports = p
            .ports
            .iter()
            .take(4)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let more = if p.ports.len() > 4 { ", …" } else { "" };
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td>{ports}{more}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            i + 1,
            escape(&p.ip),
            p.name.as_deref().map(escape).unwrap_or_else(|| "—".into()),
            escape(p.role.as_str()),
            percent(p.share_in),
            bytes(p.video_in_bytes),
            bytes(p.video_out_bytes),
            p.ttl_hops.map(|h| h.to_string()).unwrap_or_else(|| "—".into()),
            fmt_seconds(p.first_seen_s),
        )?;
    }
    writeln!(out, "</table>")?;
    if report.tracker.ip.is_some() || report.tracker.name.is_some() {
        writeln!(
            out,
            "<p>Tracker: <code>{}</code> {} — {}</p>",
            escape(report.tracker.ip.as_deref().unwrap_or("?")),
            escape(report.tracker.name.as_deref().unwrap_or("")),
            escape(&report.tracker.how)
        )?;
    } else {
        writeln!(
            out,
            "<p>Tracker: none — {}</p>",
            escape(&report.tracker.how)
        )?;
    }
    Ok(())
}

fn write_warnings<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    writeln!(out, "<h2 id=\"warnings\">Warnings</h2>")?;
    if report.capture.warnings.is_empty() {
        return writeln!(out, "<p>None.</p>");
    }
    writeln!(out, "<ul class=\"warnings\">")?;
    for w in &report.capture.warnings {
        writeln!(out, "<li>{}</li>", escape(w))?;
    }
    writeln!(out, "</ul>")
}

fn write_facts<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    let c = &report.capture;
    let t = &report.traffic;
    let list = |v: &[String]| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.iter().map(|s| escape(s)).collect::<Vec<_>>().join(", ")
        }
    };
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("{} {v}", escape(k)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let local = match &report.local.ip {
        Some(ip) => format!(
            "<code>{}</code> — {}",
            escape(ip),
            escape(&report.local.how)
        ),
        None => format!("none — {}", escape(&report.local.how)),
    };
    let rows: Vec<(&str, String)> = vec![
        ("files", list(&c.files)),
        ("link types", list(&c.link_types)),
        (
            "packets",
            format!(
                "{} read, {} decoded, {} malformed ({}), {} not IP, {} filtered out, {} fragments",
                c.packets,
                c.decoded_packets,
                c.malformed_packets,
                counts(&c.malformed_by_reason),
                c.not_ip_packets,
                c.filtered_packets,
                c.fragments
            ),
        ),
        ("anomalies", counts(&c.anomalies)),
        (
            "truncated",
            if c.truncated { "yes" } else { "no" }.to_string(),
        ),
        (
            "timestamps",
            format!(
                "{} bad, {} backwards",
                c.bad_timestamps, c.backwards_timestamps
            ),
        ),
        (
            "start",
            c.start.as_deref().map(escape).unwrap_or_else(|| "—".into()),
        ),
        (
            "end",
            c.end.as_deref().map(escape).unwrap_or_else(|| "—".into()),
        ),
        ("duration", format!("{:.3} s", c.duration_s)),
        (
            "filter",
            c.filter
                .as_deref()
                .map(|f| format!("<code>{}</code>", escape(f)))
                .unwrap_or_else(|| "—".into()),
        ),
        ("passes", c.passes.to_string()),
        ("local host", local),
        (
            "traffic",
            format!(
                "down {:.1} kb/s (video {:.1}), up {:.1} kb/s (video {:.1}); overhead {}",
                t.download_kbps,
                t.video.download_kbps,
                t.upload_kbps,
                t.video.upload_kbps,
                t.overhead.map(percent).unwrap_or_else(|| "n/a".into())
            ),
        ),
        (
            "size threshold",
            match report.sizes.threshold {
                Some(th) => format!(
                    "video ≥ {th} B UDP payload — {}",
                    escape(&report.sizes.threshold_how)
                ),
                None => escape(&report.sizes.threshold_how),
            },
        ),
        (
            "start-up",
            format!(
                "tune-in {}, first video {}, playback start {}",
                opt_seconds(report.startup.tune_in_s),
                opt_seconds(report.startup.first_video_s),
                opt_seconds(report.startup.playback_start_s)
            ),
        ),
        (
            "continuity",
            if report.continuity.estimated {
                format!(
                    "{} (estimate: {} stalls in the model on an estimated rate)",
                    report
                        .continuity
                        .index
                        .map(percent)
                        .unwrap_or_else(|| "n/a".into()),
                    report.continuity.estimated_stalls.len()
                )
            } else {
                format!(
                    "{} ({} stalls)",
                    report
                        .continuity
                        .index
                        .map(percent)
                        .unwrap_or_else(|| "n/a".into()),
                    report.continuity.stalls.len()
                )
            },
        ),
    ];
    writeln!(out, "<h2 id=\"capture\">Capture facts</h2>")?;
    writeln!(out, "<table class=\"facts\">")?;
    for (k, v) in rows {
        writeln!(out, "<tr><th>{k}</th><td>{v}</td></tr>")?;
    }
    writeln!(out, "</table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape("<script>\"a\"&'b'\u{7}</script>"),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;\u{fffd}&lt;/script&gt;"
        );
    }
}
