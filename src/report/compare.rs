//! The model of `compare.json` (schema `peerscope/compare-v1`, SPEC §3) and its `index.html`.
//! Serde-only structs, filled by `crate::compare`; the renderers are pure functions from the
//! model to a writer. Field order is the JSON key order.
//!
//! # Example (abridged; `peerscope compare --node source=source.pcap --node r1=r1.pcap`)
//!
//! ```text
//! { "schema": "peerscope/compare-v1", "generator": "peerscope 0.1.0", "source": "source",
//!   "method": "payload-match",
//!   "matching": {"offsets_tried": [0, 4, 8, 12, 16, 24, 32], "offset": 8, "horizon_s": 300.0,
//!                "max_window_entries": 1048576, "peak_window_entries": 1540, "evicted_early": 0,
//!                "source_video_packets": 5140, "min_matched_share": 0.05, "bin_s": 0.1,
//!                "max_lag_s": 180.0},
//!   "nodes": [{"name": "r1", "role": "receiver", "ip": "192.0.2.101", "file": "r1.pcap",
//!              "files": ["r1.pcap"], "report": "nodes/r1/report.json", "duration_s": 59.9,
//!              "download_kbps": 352.1, "upload_kbps": 668.3,
//!              "video": {"download_kbps": 347.4, "upload_kbps": 659.6},
//!              "playback_delay": {"method": "payload-match", "median_s": 0.03, "p10_s": 0.03,
//!                                 "p90_s": 0.03, "matched_share": 1.0, "matched_packets": 1284,
//!                                 "video_packets": 1284, "offset": 8, "xcorr_r": 0.98,
//!                                 "reason": null},
//!              "continuity": 1.0, "summary": {...report.summary...}, "warnings": []}, ...],
//!   "runs": [{"label": "380kbps", "input_kbps": 380.0, "file": "run380.pcap",
//!             "continuity": 0.9967, "stream_rate_kbps": 271.0, "stalls": 2, "reason": null}],
//!   "summary": {"source_upload_kbps": 693.8, "source_video_upload_kbps": 693.8,
//!               "receivers": 4, "mean_receiver_download_kbps": 351.0, ...},
//!   "figures": ["traffic.svg", "delay.svg"], "warnings": [] }
//! ```

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::metrics::playback::Summary;

/// The schema name written in every `compare.json`.
pub const COMPARE_SCHEMA: &str = "peerscope/compare-v1";
/// How a playback delay was found: written `payload-match`, `rate-xcorr`, or (for the whole
/// comparison, when nodes differ) `mixed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DelayMethod {
    /// Video payloads matched across the captures.
    PayloadMatch,
    /// Rate series cross-correlated.
    RateXcorr,
    /// Nodes' delays were found by different methods.
    Mixed,
}

impl DelayMethod {
    /// The report's word for the method.
    pub fn as_str(self) -> &'static str {
        match self {
            DelayMethod::PayloadMatch => "payload-match",
            DelayMethod::RateXcorr => "rate-xcorr",
            DelayMethod::Mixed => "mixed",
        }
    }
}

impl std::fmt::Display for DelayMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's part in the comparison: written `source` or `receiver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    Source,
    Receiver,
}

impl NodeRole {
    /// The report's word for the role.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Source => "source",
            NodeRole::Receiver => "receiver",
        }
    }
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    pub schema: String,
    /// `peerscope <version>`.
    pub generator: String,
    /// Name of the source node.
    pub source: String,
    /// How the receivers' delays were found: `payload-match`, `rate-xcorr`, `mixed`, or `null`
    /// when no delay was found.
    pub method: Option<DelayMethod>,
    pub matching: Matching,
    /// Every node, the source first.
    pub nodes: Vec<Node>,
    /// `--run` points: continuity against input rate.
    pub runs: Vec<Run>,
    pub summary: CompareSummary,
    /// Figure files written next to `compare.json`.
    pub figures: Vec<String>,
    pub warnings: Vec<String>,
}

/// `matching`: how the payload match was set up and what it held.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Matching {
    /// Payload offsets tried for the fingerprint.
    pub offsets_tried: Vec<u32>,
    /// The offset matching most over all receivers.
    pub offset: Option<u32>,
    /// Source packets older than this leave the window, seconds.
    pub horizon_s: f64,
    /// Most fingerprints held per offset.
    pub max_window_entries: u64,
    /// Most fingerprints one offset's window held at once.
    pub peak_window_entries: u64,
    /// Fingerprints pushed out by `max_window_entries` before the horizon.
    pub evicted_early: u64,
    /// Video packets the source sent.
    pub source_video_packets: u64,
    /// Below this matched share a receiver's delay comes from the rate cross-correlation.
    pub min_matched_share: f64,
    /// Bin of the rate series cross-correlated, seconds.
    pub bin_s: f64,
    /// Largest lag searched either way, seconds.
    pub max_lag_s: f64,
}

/// One vantage point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    /// `source` or `receiver`.
    pub role: NodeRole,
    /// Local host of the node's analysis.
    pub ip: Option<String>,
    /// First capture file.
    pub file: String,
    pub files: Vec<String>,
    /// The node's own report, relative to `compare.json`.
    pub report: String,
    pub duration_s: f64,
    /// kb/s of IP bytes, as in report.traffic.
    pub download_kbps: f64,
    pub upload_kbps: f64,
    pub video: NodeVideo,
    pub playback_delay: PlaybackDelay,
    /// report.continuity.index.
    pub continuity: Option<f64>,
    /// The node's row of the study's table (report.summary).
    pub summary: Summary,
    /// The node's analysis warnings.
    pub warnings: Vec<String>,
    /// The node's churn, reciprocity and locality, and the peers it shares with the other
    /// nodes (issue 18; absent when its report has no `swarm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<NodeSwarm>,
}

/// `nodes[].swarm` of `compare.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSwarm {
    /// Peers contacted (the node's `locality.peers`).
    pub peers: u64,
    /// Of them, peers that some other node contacted too.
    pub shared_peers: u64,
    pub lifetime_median_s: Option<f64>,
    pub tit_for_tat_share: Option<f64>,
    /// The node's locality preference ratios (`locality.*.ratio`).
    pub same_asn_ratio: Option<f64>,
    pub same_country_ratio: Option<f64>,
    pub same_prefix_ratio: Option<f64>,
    pub near_hops_ratio: Option<f64>,
}

/// Video rates of a node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeVideo {
    pub download_kbps: f64,
    pub upload_kbps: f64,
}

/// Playback delay behind the source. Every value is `null` when there is none, and `reason`
/// then says why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PlaybackDelay {
    /// `payload-match` or `rate-xcorr`.
    pub method: Option<DelayMethod>,
    /// Seconds behind the source: median, 10th and 90th percentile of the matched packets
    /// (with `rate-xcorr`, the median is the lag and p10/p90 are `null`).
    pub median_s: Option<f64>,
    pub p10_s: Option<f64>,
    pub p90_s: Option<f64>,
    /// Matched video packets received / video packets received.
    pub matched_share: Option<f64>,
    pub matched_packets: u64,
    pub video_packets: u64,
    /// Payload offset of the fingerprint.
    pub offset: Option<u32>,
    /// Peak correlation of the rate series (whatever the method).
    pub xcorr_r: Option<f64>,
    pub reason: Option<String>,
}

/// One `--run` point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// As given, e.g. `380kbps`.
    pub label: String,
    /// The label as a rate.
    pub input_kbps: f64,
    pub file: String,
    /// report.continuity.index of the run's capture.
    pub continuity: Option<f64>,
    pub stream_rate_kbps: Option<f64>,
    /// How the run's stream rate was obtained (`--stream-rate`, its media clock, or an
    /// estimate) and whether its continuity is an estimate.
    #[serde(default)]
    pub stream_how: String,
    #[serde(default)]
    pub continuity_estimated: bool,
    pub stalls: usize,
    pub reason: Option<String>,
}

/// `summary`: the source and the receivers at a glance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompareSummary {
    pub source_upload_kbps: f64,
    pub source_video_upload_kbps: f64,
    pub receivers: usize,
    /// Means over the receivers (`null` without receivers).
    pub mean_receiver_download_kbps: Option<f64>,
    pub mean_receiver_upload_kbps: Option<f64>,
    pub mean_receiver_video_download_kbps: Option<f64>,
    pub mean_receiver_video_upload_kbps: Option<f64>,
    /// Mean of the receivers' median playback delays.
    pub mean_playback_delay_s: Option<f64>,
}

/// Writes `compare.json` (pretty, with a final newline).
pub fn write_json<W: Write>(c: &Compare, mut out: W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, c)?;
    out.write_all(b"\n")
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

/// The page's style: one look with the report page; cells of addresses, sizes and numbers
/// never wrap inside a token; lines and shades stay visible in print.
const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1200px}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}td{white-space:nowrap}\
th{background:#eee;vertical-align:bottom}td:first-child,th:first-child{text-align:left}\
td.text{text-align:left;white-space:normal}.src{font-weight:bold}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}\
figcaption{color:#444;font-size:0.9em}\
section.node{border-top:1px solid #bbb;margin-top:1.5em}\
@media print{body{margin:0;color:#000}th{background:#ddd;-webkit-print-color-adjust:exact;print-color-adjust:exact}\
td,th{border-color:#666}svg{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/// Writes a self-contained `index.html`: the tables of `compare.json`, a section per node with
/// units and continuity, and the figures inline (`figures`: file name and SVG text, in the
/// order of `c.figures`), so the page needs no other file.
pub fn write_html<W: Write>(
    c: &Compare,
    figures: &[(String, String)],
    mut out: W,
) -> io::Result<()> {
    let e = escape;
    writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>peerscope compare: {}</title>\n<style>{STYLE}</style></head><body>",
        e(&c.source)
    )?;
    writeln!(
        out,
        "<h1>Vantage points compared</h1>\n<p>Source: <b>{}</b>; delay method: {}; {}</p>",
        e(&c.source),
        e(c.method.map_or("none", DelayMethod::as_str)),
        e(&c.generator)
    )?;
    let s = &c.summary;
    writeln!(
        out,
        "<h2>Summary</h2><table><tr><th>source upload (kb/s)</th><th>receivers</th><th>mean download (kb/s)</th><th>mean upload (kb/s)</th><th>mean playback delay (s)</th></tr><tr><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        s.source_upload_kbps,
        s.receivers,
        opt(s.mean_receiver_download_kbps, 1),
        opt(s.mean_receiver_upload_kbps, 1),
        opt(s.mean_playback_delay_s, 3)
    )?;
    writeln!(out, "<h2>Nodes</h2><table><tr><th>node</th><th>ip</th><th>down (kb/s)</th><th>up (kb/s)</th><th>video down (kb/s)</th><th>video up (kb/s)</th><th>delay median (s)</th><th>matched (%)</th><th>method</th><th>continuity (%)</th></tr>")?;
    for n in &c.nodes {
        let d = &n.playback_delay;
        writeln!(
            out,
            "<tr{}><td><a href=\"#node-{}\">{}</a></td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if n.role == NodeRole::Source { " class=\"src\"" } else { "" },
            e(&n.name),
            e(&n.name),
            e(n.ip.as_deref().unwrap_or("?")),
            n.download_kbps,
            n.upload_kbps,
            n.video.download_kbps,
            n.video.upload_kbps,
            opt(d.median_s, 3),
            opt(d.matched_share.map(|x| x * 100.0), 1),
            e(d.method.map_or("–", DelayMethod::as_str)),
            opt(n.continuity.map(|x| x * 100.0), 2),
        )?;
    }
    writeln!(out, "</table>")?;
    if !c.runs.is_empty() {
        writeln!(out, "<h2>Continuity against input rate</h2><table><tr><th>run</th><th>input (kb/s)</th><th>continuity (%)</th><th>stalls</th><th>file</th></tr>")?;
        for r in &c.runs {
            writeln!(
                out,
                "<tr><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&r.label),
                r.input_kbps,
                opt(r.continuity.map(|x| x * 100.0), 2),
                r.stalls,
                e(&r.file)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    if !figures.is_empty() {
        writeln!(out, "<h2>Figures</h2>")?;
        for (name, svg) in figures {
            // The figure's own XML declaration is dropped: the SVG is part of the page.
            let body = svg
                .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
                .unwrap_or(svg);
            writeln!(
                out,
                "<figure id=\"fig-{}\">{}<figcaption>{}</figcaption></figure>",
                e(name),
                body.trim(),
                e(name)
            )?;
        }
    }
    writeln!(out, "<h2>Per node</h2>")?;
    for n in &c.nodes {
        let d = &n.playback_delay;
        let r = &n.summary;
        writeln!(
            out,
            "<section class=\"node\" id=\"node-{}\"><h3>{} ({})</h3>",
            e(&n.name),
            e(&n.name),
            e(n.role.as_str())
        )?;
        writeln!(
            out,
            "<table><tr><th>address</th><td>{}</td></tr><tr><th>files</th><td class=\"text\">{}</td></tr><tr><th>duration (s)</th><td>{:.1}</td></tr><tr><th>download / upload (kb/s)</th><td>{:.1} / {:.1}</td></tr><tr><th>video download / upload (kb/s)</th><td>{:.1} / {:.1}</td></tr><tr><th>playback delay behind the source (s)</th><td>{}</td></tr><tr><th>continuity (%)</th><td>{}</td></tr><tr><th>buffer (s)</th><td>{}</td></tr><tr><th>playout delay (s)</th><td>{} <small>{}</small></td></tr><tr><th>start-up delay (s)</th><td>{}</td></tr><tr><th>data rate (kb/s)</th><td>{}</td></tr><tr><th>pull/push, tree/mesh</th><td>{}, {}</td></tr><tr><th>peers</th><td>{}</td></tr></table>",
            e(n.ip.as_deref().unwrap_or("?")),
            e(&n.files.join(", ")),
            n.duration_s,
            n.download_kbps,
            n.upload_kbps,
            n.video.download_kbps,
            n.video.upload_kbps,
            match (d.median_s, &d.reason) {
                (Some(_), _) => format!(
                    "{} (p10 {}, p90 {})",
                    opt(d.median_s, 3),
                    opt(d.p10_s, 3),
                    opt(d.p90_s, 3)
                ),
                (None, Some(why)) => format!("– ({})", e(why)),
                (None, None) => "–".to_string(),
            },
            opt(n.continuity.map(|x| x * 100.0), 2),
            opt(r.buffer_s, 1),
            opt(r.playout_delay_s, 1),
            e(&r.playout_delay_how),
            opt(r.startup_delay_s, 1),
            opt(r.data_rate_kbps, 1),
            e(&r.pull_push),
            e(&r.tree_mesh),
            r.peers
        )?;
        if !n.warnings.is_empty() {
            writeln!(out, "<ul>")?;
            for w in &n.warnings {
                writeln!(out, "<li>{}</li>", e(w))?;
            }
            writeln!(out, "</ul>")?;
        }
        writeln!(
            out,
            "<p>Its report: <a href=\"{}\">{}</a></p></section>",
            e(&n.report),
            e(&n.report)
        )?;
    }
    if !c.warnings.is_empty() {
        writeln!(out, "<h2>Warnings</h2><ul>")?;
        for w in &c.warnings {
            writeln!(out, "<li>{}</li>", e(w))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(
        out,
        "<p>Data: <a href=\"compare.json\">compare.json</a></p></body></html>"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
