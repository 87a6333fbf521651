//! `compare`'s matching pass: the source's and a group of receivers' captures read merged in
//! time order, each packet decoded once, the source's sent video and each receiver's received
//! video (classified by each node's own [`Decision`]) handed to the delay matcher.

use crate::decode::{self, Decoded, Frag};
use crate::flow::{is_infra_port, Decision};
use crate::metrics::delay::{MatchConfig, MatchSummary, Matcher};
use crate::source::{CaptureFile, Merged};

/// A UDP packet counted as video by `d`: uTP by its data past the header and the uTP
/// threshold, any other UDP by its payload and the UDP threshold.
fn is_udp_video(p: &crate::decode::Packet<'_>, d: &Decision) -> bool {
    match p.utp {
        Some(u) if d.utp_threshold.is_some() => crate::flow::is_video(d.utp_threshold, u.data_len),
        _ => d.is_video(p.payload_len),
    }
}

/// Who a file belongs to in the matching pass.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Source,
    Node(usize),
}

/// One merged pass over the source's files and the receivers' (`nodes`: each one's files and
/// decision). Fails when a file cannot be opened again.
pub fn match_pass(
    source_files: &[String],
    source: Decision,
    nodes: &[(&[String], Decision)],
    cfg: MatchConfig,
    max_lag_s: f64,
) -> Result<MatchSummary, String> {
    let mut files = Vec::new();
    let mut owners = Vec::new();
    let mut open = |path: &str, owner: Owner| -> Result<(), String> {
        let f = CaptureFile::open(path).map_err(|e| e.to_string())?;
        files.push(f);
        owners.push(owner);
        Ok(())
    };
    for path in source_files {
        open(path, Owner::Source)?;
    }
    for (k, (paths, _)) in nodes.iter().enumerate() {
        for path in paths.iter() {
            open(path, Owner::Node(k))?;
        }
    }
    let mut matcher = Matcher::new(nodes.len(), cfg);
    let mut merged = Merged::new(files);
    merged.for_each_indexed(|fi, raw| {
        let Some(&owner) = owners.get(fi) else {
            return;
        };
        let Decoded::Packet(p) = decode::decode(&raw) else {
            return;
        };
        let node = match owner {
            Owner::Source => None,
            Owner::Node(k) => Some(k),
        };
        matcher.cover(node, p.ts.ns());
        if !p.is_udp()
            || matches!(p.frag, Frag::Later { .. })
            || is_infra_port(p.sport)
            || is_infra_port(p.dport)
        {
            return;
        }
        match owner {
            Owner::Source => {
                if p.src == source.local && is_udp_video(&p, &source) {
                    matcher.source_sent(p.ts.ns(), p.payload, p.ip_len);
                }
            }
            Owner::Node(k) => {
                if let Some((_, d)) = nodes.get(k) {
                    if p.dst == d.local && is_udp_video(&p, d) {
                        matcher.node_received(k, p.ts.ns(), p.payload, p.ip_len);
                    }
                }
            }
        }
    });
    Ok(matcher.finish(max_lag_s))
}
