//! Gateway mode's index (`clients.json`, schema `peerscope/clients-v1`) and its page
//! (`clients.html`): one row per client, built from that client's [`Report`], with the
//! gateway's own counts beside. Rows hold scalars only (units in the names), so a columnar
//! export can flatten them as they are.
//!
//! ```json
//! {"schema": "peerscope/clients-v1", "rule": "given: 192.0.2.0/24",
//!  "clients": [{"ip": "192.0.2.10", "verdict": "p2p-live", "application": "sopcast",
//!               "down_kbps": 412.3, "up_kbps": 130.2, "video_down_kbps": 389.9,
//!               "video_up_kbps": 112.0, "suppliers": 5, "top1_share": 0.46,
//!               "top2_share": 0.77, "continuity": 1.0, "continuity_estimated": true,
//!               "stream_rate_kbps": 360.0, "peers": 30, "packets": 6100, "bytes": 4200000,
//!               "duration_s": 60.0, "report": "clients/192.0.2.10/report.json", "page": null}],
//!  "clients_seen": 1, "clients_analysed": 1, "clients_over_cap": 0, "over_cap_packets": 0,
//!  "over_cap_bytes": 0, "pairs_cap": 262144, "pairs_per_client_cap": 32768,
//!  "pairs_used": 34, "max_clients": 65536, "packets": 6100, "unrouted_packets": 0,
//!  "passes": 1, "warnings": []}
//! ```

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::html::escape;
use super::Report;

/// The schema name of `clients.json`.
pub const CLIENTS_SCHEMA: &str = "peerscope/clients-v1";

/// One client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientRow {
    pub ip: String,
    /// The report's `verdict.kind`.
    pub verdict: Option<String>,
    /// The report's `application.name`.
    pub application: Option<String>,
    pub down_kbps: f64,
    pub up_kbps: f64,
    pub video_down_kbps: f64,
    pub video_up_kbps: f64,
    pub suppliers: u64,
    pub top1_share: f64,
    pub top2_share: f64,
    /// The report's `continuity.index`.
    pub continuity: Option<f64>,
    pub continuity_estimated: bool,
    pub stream_rate_kbps: Option<f64>,
    /// Peers contacted.
    pub peers: u64,
    /// Frames of the client's packets and their bytes on the wire.
    pub packets: u64,
    pub bytes: u64,
    pub duration_s: f64,
    /// The client's report, relative to the output directory.
    pub report: String,
    /// Its page, when per-client pages were written.
    pub page: Option<String>,
}

impl ClientRow {
    /// The row of one client's report; `report`/`page` are paths relative to the index.
    pub fn new(
        report: &Report,
        ip: &str,
        packets: u64,
        bytes: u64,
        path: String,
        page: Option<String>,
    ) -> Self {
        ClientRow {
            ip: ip.to_string(),
            verdict: report.verdict.as_ref().map(|v| v.kind.clone()),
            application: report.application.as_ref().map(|a| a.name.clone()),
            down_kbps: report.traffic.download_kbps,
            up_kbps: report.traffic.upload_kbps,
            video_down_kbps: report.traffic.video.download_kbps,
            video_up_kbps: report.traffic.video.upload_kbps,
            suppliers: report.peers.suppliers,
            top1_share: report.peers.concentration.top1_share,
            top2_share: report.peers.concentration.top2_share,
            continuity: report.continuity.index,
            continuity_estimated: report.continuity.estimated,
            stream_rate_kbps: report.stream.rate_kbps,
            peers: report.peers.contacted,
            packets,
            bytes,
            duration_s: report.capture.duration_s,
            report: path,
            page,
        }
    }
}

/// `clients.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientsIndex {
    pub schema: String,
    /// How clients were chosen (`given: …` or `auto: …`).
    pub rule: String,
    /// Sorted by address.
    pub clients: Vec<ClientRow>,
    /// Client addresses met: analysed plus over the caps.
    pub clients_seen: u64,
    pub clients_analysed: u64,
    /// Client addresses not analysed (the pair budget or `--max-clients`), with their traffic.
    pub clients_over_cap: u64,
    pub over_cap_packets: u64,
    pub over_cap_bytes: u64,
    /// The shared pair budget, the most one client may draw, and what was drawn.
    pub pairs_cap: u64,
    pub pairs_per_client_cap: u64,
    pub pairs_used: u64,
    pub max_clients: u64,
    /// Frames read, and decoded packets with no client on either side.
    pub packets: u64,
    pub unrouted_packets: u64,
    pub passes: u32,
    pub warnings: Vec<String>,
}

/// Writes `clients.json` (pretty, newline-terminated).
pub fn write_json<W: Write>(index: &ClientsIndex, mut out: W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, index).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$}"))
}

/// Writes `clients.html`: one plain table, a row per client linking to its report and page.
/// No JavaScript; a Content-Security-Policy forbids scripts and fetches (addresses come from
/// untrusted captures and are escaped).
pub fn write_html<W: Write>(index: &ClientsIndex, mut out: W) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    )?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    )?;
    writeln!(
        out,
        "<title>peerscope: {} clients</title>",
        index.clients.len()
    )?;
    writeln!(
        out,
        "<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}td.n{{text-align:right}}</style></head><body>"
    )?;
    writeln!(out, "<h1>Gateway: {} clients</h1>", index.clients.len())?;
    writeln!(
        out,
        "<p>Clients: {}. Seen {}, analysed {}, over the caps {} ({} packets, {} bytes not analysed). Pairs {} of {} (at most {} per client). {} packets read, {} with no client.</p>",
        escape(&index.rule),
        index.clients_seen,
        index.clients_analysed,
        index.clients_over_cap,
        index.over_cap_packets,
        index.over_cap_bytes,
        index.pairs_used,
        index.pairs_cap,
        index.pairs_per_client_cap,
        index.packets,
        index.unrouted_packets
    )?;
    if !index.warnings.is_empty() {
        writeln!(out, "<ul>")?;
        for w in &index.warnings {
            writeln!(out, "<li>{}</li>", escape(w))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(
        out,
        "<table><tr><th>client</th><th>verdict</th><th>application</th><th>down kb/s</th><th>up kb/s</th><th>video down kb/s</th><th>suppliers</th><th>top-2 share</th><th>continuity</th><th>peers</th><th>packets</th><th>report</th></tr>"
    )?;
    for r in &index.clients {
        let ip = escape(&r.ip);
        let name = match &r.page {
            Some(page) => format!("<a href=\"{}\">{ip}</a>", escape(page)),
            None => ip,
        };
        let continuity = format!(
            "{}{}",
            opt(r.continuity, 4),
            if r.continuity_estimated && r.continuity.is_some() {
                " (est.)"
            } else {
                ""
            }
        );
        writeln!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{continuity}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><a href=\"{}\">json</a></td></tr>",
            escape(r.verdict.as_deref().unwrap_or("—")),
            escape(r.application.as_deref().unwrap_or("—")),
            r.down_kbps,
            r.up_kbps,
            r.video_down_kbps,
            r.suppliers,
            r.top2_share,
            r.peers,
            r.packets,
            escape(&r.report)
        )?;
    }
    writeln!(out, "</table></body></html>")
}

/// The stdout summary: one line per client (the first `max` rows, then a count of the rest).
pub fn write_text<W: Write>(index: &ClientsIndex, max: usize, mut out: W) -> io::Result<()> {
    writeln!(
        out,
        "{} clients analysed ({} seen, {} over the caps); {} of {} pairs; {} packets, {} with no client",
        index.clients_analysed,
        index.clients_seen,
        index.clients_over_cap,
        index.pairs_used,
        index.pairs_cap,
        index.packets,
        index.unrouted_packets
    )?;
    writeln!(
        out,
        "{:<39} {:<20} {:<12} {:>9} {:>9} {:>9} {:>4} {:>6} {:>10} {:>5}",
        "client",
        "verdict",
        "application",
        "down kb/s",
        "up kb/s",
        "video",
        "supp",
        "top2",
        "continuity",
        "peers"
    )?;
    for r in index.clients.iter().take(max) {
        writeln!(
            out,
            "{:<39} {:<20} {:<12} {:>9.1} {:>9.1} {:>9.1} {:>4} {:>6.3} {:>10} {:>5}",
            r.ip,
            r.verdict.as_deref().unwrap_or("-"),
            r.application.as_deref().unwrap_or("-"),
            r.down_kbps,
            r.up_kbps,
            r.video_down_kbps,
            r.suppliers,
            r.top2_share,
            format!(
                "{}{}",
                opt(r.continuity, 4),
                if r.continuity_estimated && r.continuity.is_some() {
                    "~"
                } else {
                    ""
                }
            ),
            r.peers
        )?;
    }
    if index.clients.len() > max {
        writeln!(
            out,
            "… and {} more in clients.json",
            index.clients.len() - max
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_escapes_and_links() {
        let index = ClientsIndex {
            schema: CLIENTS_SCHEMA.into(),
            rule: "given: <x>".into(),
            clients: vec![ClientRow {
                ip: "192.0.2.10".into(),
                verdict: Some("p2p-live".into()),
                application: None,
                down_kbps: 1.0,
                up_kbps: 2.0,
                video_down_kbps: 0.5,
                video_up_kbps: 0.0,
                suppliers: 2,
                top1_share: 0.6,
                top2_share: 0.9,
                continuity: Some(1.0),
                continuity_estimated: true,
                stream_rate_kbps: None,
                peers: 3,
                packets: 10,
                bytes: 1000,
                duration_s: 1.0,
                report: "clients/192.0.2.10/report.json".into(),
                page: Some("clients/192.0.2.10/index.html".into()),
            }],
            clients_seen: 1,
            clients_analysed: 1,
            clients_over_cap: 0,
            over_cap_packets: 0,
            over_cap_bytes: 0,
            pairs_cap: 10,
            pairs_per_client_cap: 2,
            pairs_used: 3,
            max_clients: 5,
            packets: 10,
            unrouted_packets: 0,
            passes: 1,
            warnings: vec!["a <b>".into()],
        };
        let mut html = Vec::new();
        write_html(&index, &mut html).unwrap();
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains("given: &lt;x&gt;"));
        assert!(html.contains("a &lt;b&gt;"));
        assert!(html.contains("href=\"clients/192.0.2.10/index.html\""));
        assert!(html.contains("1.0000 (est.)"));
        assert!(!html.contains("<script"));
        let mut json = Vec::new();
        write_json(&index, &mut json).unwrap();
        let back: ClientsIndex = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, index);
    }
}
