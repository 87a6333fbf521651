//! The short human summary printed by `analyze`: what was read, the vantage point, the
//! video/control split, peers and rates, and the study's table row next to SopCast's.

use std::io::Write;

use super::Report;

fn opt(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(x) => format!("{x:.1}{unit}"),
        None => "n/a".into(),
    }
}

/// Writes the summary.
pub fn write<W: Write>(r: &Report, mut out: W) -> std::io::Result<()> {
    let c = &r.capture;
    writeln!(
        out,
        "capture   {} packets ({} decoded, {} malformed, {} not IP) in {:.1} s, {}{}",
        c.packets,
        c.decoded_packets,
        c.malformed_packets,
        c.not_ip_packets,
        c.duration_s,
        c.link_types.join("+"),
        if c.truncated { ", TRUNCATED" } else { "" }
    )?;
    writeln!(
        out,
        "local     {} ({})",
        r.local.ip.as_deref().unwrap_or("unknown"),
        r.local.how
    )?;
    let peaks: Vec<String> = r
        .sizes
        .peaks
        .iter()
        .map(|p| {
            format!(
                "{} B {} ({:.1} %)",
                p.size,
                p.class,
                p.share_packets * 100.0
            )
        })
        .collect();
    writeln!(
        out,
        "sizes     peaks {}; video ≥ {} B payload",
        if peaks.is_empty() {
            "none".into()
        } else {
            peaks.join(", ")
        },
        r.sizes
            .threshold
            .map_or("n/a".to_string(), |t| t.to_string())
    )?;
    for t in &r.sizes.transports {
        let peaks: Vec<String> = t
            .peaks
            .iter()
            .map(|p| {
                format!(
                    "{} B {} ({:.1} %)",
                    p.size,
                    p.class,
                    p.share_packets * 100.0
                )
            })
            .collect();
        writeln!(
            out,
            "  {:<7} peaks {}; video ≥ {} B {}",
            t.transport,
            if peaks.is_empty() {
                "none".into()
            } else {
                peaks.join(", ")
            },
            t.threshold.map_or("n/a".to_string(), |v| v.to_string()),
            if t.transport == "utp" {
                "data"
            } else {
                "payload"
            }
        )?;
    }
    writeln!(
        out,
        "peers     {} contacted, {} supplier{}, top-1 {:.1} %, top-2 {:.1} % of video; tracker {}",
        r.peers.contacted,
        r.peers.suppliers,
        if r.peers.suppliers == 1 { "" } else { "s" },
        r.peers.concentration.top1_share * 100.0,
        r.peers.concentration.top2_share * 100.0,
        match (&r.tracker.ip, &r.tracker.name) {
            (Some(ip), Some(n)) => format!("{ip} ({n})"),
            (Some(ip), None) => ip.clone(),
            _ => "none".into(),
        }
    )?;
    if let Some(s) = &r.swarm {
        let life = match (s.lifetime_s.median, s.lifetime_s.p90) {
            (Some(m), Some(p)) => format!("lifetime median {m:.1} s, p90 {p:.1} s"),
            _ => "no session ended".into(),
        };
        let loc = r
            .locality
            .as_ref()
            .and_then(|l| l.same_asn.as_ref().or(l.near_hops.as_ref()).map(|p| (l, p)))
            .map(|(l, p)| {
                let class = if l.same_asn.is_some() {
                    "same-AS".to_string()
                } else {
                    format!("≤ {}-hop", l.near_hops_max)
                };
                format!(
                    "; {class} preference {}",
                    p.ratio.map_or("n/a".into(), |x| format!("{x:.2}"))
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "swarm     {} sessions of {} peers, {} ended ({life}); tit-for-tat {}{loc}",
            s.sessions,
            s.peers,
            s.sessions_ended,
            s.reciprocity
                .tit_for_tat_share
                .map_or("n/a".into(), |x| format!("{:.1} %", x * 100.0)),
        )?;
    }
    let t = &r.traffic;
    writeln!(
        out,
        "traffic   down {:.1} kb/s (video {:.1}, control {:.1}), up {:.1} kb/s (video {:.1}, control {:.1}), overhead {}",
        t.download_kbps,
        t.video.download_kbps,
        t.control.download_kbps,
        t.upload_kbps,
        t.video.upload_kbps,
        t.control.upload_kbps,
        t.overhead.map_or("n/a".into(), |o| format!("{:.1} %", o * 100.0))
    )?;
    let estimate = |e: bool| if e { " estimate" } else { "" };
    writeln!(
        out,
        "playback  stream {}{} ({}), first video {}, start-up delay {}, continuity {}{}{}",
        opt(r.stream.rate_kbps, " kb/s"),
        estimate(r.stream.estimated),
        r.stream
            .how
            .trim_start_matches("estimate, ")
            .split(':')
            .next()
            .unwrap_or(""),
        opt(r.startup.first_video_s, " s"),
        opt(r.startup.delay_s, " s"),
        r.continuity
            .index
            .map_or("n/a".into(), |i| format!("{:.2} %", i * 100.0)),
        estimate(r.continuity.estimated),
        match (
            r.continuity.stalls.len(),
            r.continuity.estimated_stalls.len()
        ) {
            (0, 0) => String::new(),
            (0, n) => format!(" ({n} stalls in the estimate)"),
            (n, _) => format!(" ({n} stalls)"),
        }
    )?;
    if let (Some(a), Some(v)) = (&r.application, &r.verdict) {
        writeln!(
            out,
            "what      {} ({}, confidence {:.2}){}",
            v.kind,
            a.name,
            a.confidence,
            v.reasons
                .first()
                .map_or(String::new(), |why| format!(": {why}"))
        )?;
    }
    let s = &r.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{:<12} {:>10} {:>14} {:>14} {:>14} {:>9} {:>9} {:>6}",
        "", "buffer", "playout delay", "start-up", "data rate", "pull/push", "tree/mesh", "peers"
    )?;
    writeln!(
        out,
        "{:<12} {:>10} {:>14} {:>14} {:>14} {:>9} {:>9} {:>6}",
        "this capture",
        opt(s.buffer_s, " s"),
        opt(s.playout_delay_s, " s"),
        opt(s.startup_delay_s, " s"),
        opt(s.data_rate_kbps, " kb/s"),
        s.pull_push,
        s.tree_mesh,
        s.peers
    )?;
    // The study's row compares like with like: a P2P live stream (or a report without a
    // verdict, written before it existed).
    match r.verdict.as_ref().map(|v| v.kind.as_str()) {
        None | Some("p2p-live-streaming") => writeln!(
            out,
            "{:<12} {:>10} {:>14} {:>14} {:>14} {:>9} {:>9} {:>6}",
            "SopCast 2007", "1 min", "1 min", "1-5 min", "300-350 kb/s", "pull", "mesh", "2-5"
        )?,
        Some(kind) => writeln!(
            out,
            "(SopCast 2007's row is not shown: this is {kind}, not a P2P live stream)"
        )?,
    }
    for w in &c.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
