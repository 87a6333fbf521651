//! Several vantage points compared (`peerscope compare`): one source and its receivers, each
//! captured on its own host with clocks in sync, plus optional runs of one client at several
//! input rates.
//!
//! [`compare`] takes a [`CompareConfig`] and gives an [`Outcome`]: the [`Compare`] model of
//! `compare.json` and every node's and run's own [`Report`]. The data flow:
//!
//! 1. every node's capture files (and every run's) go through the one pipeline of `analyze`
//!    ([`pipeline::analyze_files`]), several at once on scoped threads (at most
//!    `available_parallelism`);
//! 2. each [`Analysis`] gives the node's local host and video threshold; with them a second,
//!    single pass ([`pipeline::matching`]) reads the source's and the receivers' captures merged in time order (a
//!    k-way merge) and feeds the source's sent video and each receiver's received video to
//!    the matcher (`metrics::delay`: payload fingerprints in a bounded sliding window, rate
//!    series for the cross-correlation fallback);
//! 3. the delays, rates and the runs' continuity are put together into the model.
//!
//! Receivers are matched in groups of at most [`MAX_NODES`]; each group reads the source again.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::flow::Decision;
use crate::metrics::delay::{MatchConfig, NodeDelay, MAX_NODES, OFFSETS};
use crate::metrics::round;
use crate::pipeline::{self, matching, Analysis, AnalysisConfig, AnalysisError, NoProgress};
use crate::report::compare::{
    Compare, CompareSummary, DelayMethod, Matching, Node, NodeRole, NodeVideo, PlaybackDelay, Run,
    COMPARE_SCHEMA,
};
use crate::report::Report;

/// Below this peak correlation the rate cross-correlation gives no delay.
pub const MIN_XCORR_R: f64 = 0.3;

/// One vantage point as given.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInput {
    /// Name (letters, digits, `.`, `_`, `-`): used in paths under the output directory.
    pub name: String,
    /// Its capture files, merged in time order.
    pub files: Vec<String>,
    /// Its address, when given (else inferred as in `analyze`).
    pub local: Option<IpAddr>,
}

/// One `--run`: a client's capture at a known input rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInput {
    pub label: String,
    pub input_kbps: f64,
    pub file: String,
}

/// What a comparison needs.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    pub nodes: Vec<NodeInput>,
    /// Index of the source in `nodes`.
    pub source: usize,
    pub runs: Vec<RunInput>,
    /// Analysis settings shared by every node (each node's `local` is set from its input).
    pub analysis: AnalysisConfig,
    pub matching: MatchConfig,
    /// Largest lag searched by the cross-correlation, either way, seconds.
    pub max_lag_s: f64,
    /// Below this matched share, the cross-correlation gives the delay.
    pub min_matched_share: f64,
    /// Analyses run at once (0: `available_parallelism`).
    pub threads: usize,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            nodes: Vec::new(),
            source: 0,
            runs: Vec::new(),
            analysis: AnalysisConfig::default(),
            matching: MatchConfig::default(),
            max_lag_s: 180.0,
            min_matched_share: 0.05,
            threads: 0,
        }
    }
}

/// Errors that leave nothing to compare.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// The configuration is inconsistent (no nodes, a bad name, the source out of range).
    #[error("{reason}")]
    Invalid { reason: String },
    /// A node's captures could not be analysed.
    #[error("node {name}: {source}")]
    Node {
        name: String,
        #[source]
        source: AnalysisError,
    },
    /// A run's capture could not be analysed.
    #[error("run {label}: {source}")]
    Run {
        label: String,
        #[source]
        source: AnalysisError,
    },
}

/// The comparison and the reports it was made from.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub compare: Compare,
    /// One per node, in the order of `CompareConfig::nodes`.
    pub node_reports: Vec<Report>,
    /// One per run.
    pub run_reports: Vec<Report>,
}

/// Whether `name` can name a node (and a directory under the output).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Runs the comparison.
pub fn compare(cfg: &CompareConfig) -> Result<Outcome, CompareError> {
    validate(cfg)?;
    let mut jobs: Vec<(Vec<String>, AnalysisConfig)> = Vec::new();
    for n in &cfg.nodes {
        let mut a = cfg.analysis.clone();
        if n.local.is_some() {
            a.table.given.local = n.local;
        }
        jobs.push((n.files.clone(), a));
    }
    for r in &cfg.runs {
        jobs.push((vec![r.file.clone()], cfg.analysis.clone()));
    }
    let threads = if cfg.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        cfg.threads
    };
    let mut results = analyse_all(&jobs, threads).into_iter();
    let mut node_reports = Vec::with_capacity(cfg.nodes.len());
    let mut analyses = Vec::with_capacity(cfg.nodes.len());
    for n in &cfg.nodes {
        match results.next() {
            Some(Ok((a, r))) => {
                analyses.push(a);
                node_reports.push(r);
            }
            Some(Err(e)) => {
                return Err(CompareError::Node {
                    name: n.name.clone(),
                    source: e,
                })
            }
            None => {
                return Err(CompareError::Invalid {
                    reason: "an analysis went missing".into(),
                })
            }
        }
    }
    let mut run_reports = Vec::with_capacity(cfg.runs.len());
    for r in &cfg.runs {
        match results.next() {
            Some(Ok((_, rep))) => run_reports.push(rep),
            Some(Err(e)) => {
                return Err(CompareError::Run {
                    label: r.label.clone(),
                    source: e,
                })
            }
            None => {
                return Err(CompareError::Invalid {
                    reason: "an analysis went missing".into(),
                })
            }
        }
    }
    let mut warnings = distinct_addresses(cfg, &mut analyses, &mut node_reports)?;
    let (delays, matching, delay_warnings) = playback_delays(cfg, &analyses);
    warnings.extend(delay_warnings);
    let node_swarms = node_swarms(&node_reports);
    let mut nodes = Vec::with_capacity(cfg.nodes.len());
    for (i, (input, report)) in cfg.nodes.iter().zip(&node_reports).enumerate() {
        let role = if i == cfg.source {
            NodeRole::Source
        } else {
            NodeRole::Receiver
        };
        nodes.push(Node {
            name: input.name.clone(),
            role,
            ip: report.local.ip.clone(),
            file: input.files.first().cloned().unwrap_or_default(),
            files: input.files.clone(),
            report: format!("nodes/{}/report.json", input.name),
            duration_s: report.capture.duration_s,
            download_kbps: report.traffic.download_kbps,
            upload_kbps: report.traffic.upload_kbps,
            video: NodeVideo {
                download_kbps: report.traffic.video.download_kbps,
                upload_kbps: report.traffic.video.upload_kbps,
            },
            playback_delay: delays[i].clone(),
            continuity: report.continuity.index,
            summary: node_summary(report, &delays[i], role, &cfg.nodes[cfg.source].name),
            warnings: report.capture.warnings.clone(),
            swarm: node_swarms.get(i).cloned().flatten(),
        });
        for w in &report.capture.warnings {
            warnings.push(format!("{}: {w}", input.name));
        }
    }
    let runs = cfg
        .runs
        .iter()
        .zip(&run_reports)
        .map(|(r, rep)| Run {
            label: r.label.clone(),
            input_kbps: r.input_kbps,
            file: r.file.clone(),
            continuity: rep.continuity.index,
            stream_rate_kbps: rep.stream.rate_kbps,
            stream_how: rep.stream.how.clone(),
            continuity_estimated: rep.continuity.estimated,
            stalls: rep.continuity.stalls.len(),
            reason: rep
                .continuity
                .index
                .is_none()
                .then(|| rep.continuity.model.clone()),
        })
        .collect::<Vec<_>>();
    let summary = summary(&nodes, cfg.source);
    let methods: Vec<DelayMethod> = nodes
        .iter()
        .filter_map(|n| n.playback_delay.method)
        .collect();
    let method = match methods.first() {
        None => None,
        Some(&m) if methods.iter().all(|&x| x == m) => Some(m),
        Some(_) => Some(DelayMethod::Mixed),
    };
    let mut figures = vec!["traffic.svg".to_string()];
    if nodes.len() > 1 {
        figures.push("delay.svg".into());
    }
    if !runs.is_empty() {
        figures.push("continuity.svg".into());
    }
    let compare = Compare {
        schema: COMPARE_SCHEMA.into(),
        generator: format!("peerscope {}", env!("CARGO_PKG_VERSION")),
        source: cfg.nodes[cfg.source].name.clone(),
        method,
        matching,
        nodes,
        runs,
        summary,
        figures,
        warnings,
    };
    Ok(Outcome {
        compare,
        node_reports,
        run_reports,
    })
}

/// A node's Table-1 row: its own report's, with the playout delay measured against the
/// source when the comparison measured it (the source's is 0 by definition); otherwise the
/// buffer estimate stays, saying why no delay was measured.
fn node_summary(
    report: &Report,
    delay: &PlaybackDelay,
    role: NodeRole,
    source: &str,
) -> crate::metrics::playback::Summary {
    let mut s = report.summary.clone();
    match (role, delay.median_s, delay.method) {
        (NodeRole::Source, _, _) => {
            s.playout_delay_s = Some(0.0);
            s.playout_delay_how = "the source: the reference of every delay".into();
        }
        (_, Some(d), Some(method)) => {
            s.playout_delay_s = Some(d);
            s.playout_delay_how = match method {
                DelayMethod::PayloadMatch => format!(
                    "measured against the source {source}: median lag of {} video packets matched by payload ({})",
                    delay.matched_packets, method
                ),
                _ => format!(
                    "measured against the source {source}: lag of the best cross-correlation of the video rate series ({method})"
                ),
            };
        }
        _ => {
            s.playout_delay_how = format!(
                "buffer estimate: no delay measured against the source {source} ({})",
                delay.reason.as_deref().unwrap_or("no match")
            );
        }
    }
    s
}

/// How strongly a report's local host is its own: link-layer evidence first, then the lead
/// of its distinct-partner score over the runner-up.
fn claim(r: &Report) -> (bool, i64) {
    let score = |i: usize| r.local.candidates.get(i).map_or(0, |c| c.udp_peers as i64);
    (r.local.how.starts_with("link layer"), score(0) - score(1))
}

/// Every node gets its own address: when two nodes inferred the same one (a leaf that sees
/// only its parent, a capture with no link-layer evidence), the node with the stronger claim
/// keeps it (given addresses always do) and the others are analysed again with their best
/// other candidate, one no other node has. Returns what was done, as warnings.
fn distinct_addresses(
    cfg: &CompareConfig,
    analyses: &mut [Analysis],
    reports: &mut [Report],
) -> Result<Vec<String>, CompareError> {
    let mut warnings = Vec::new();
    let addr = |a: &Analysis| a.decision.map(|d| d.local);
    for i in 0..cfg.nodes.len() {
        let Some(ip) = addr(&analyses[i]) else {
            continue;
        };
        let sharing: Vec<usize> = (0..cfg.nodes.len())
            .filter(|&j| addr(&analyses[j]) == Some(ip))
            .collect();
        if sharing.len() < 2 {
            continue;
        }
        let owner = sharing
            .iter()
            .copied()
            .find(|&j| cfg.nodes[j].local == Some(ip))
            .or_else(|| {
                sharing
                    .iter()
                    .copied()
                    .max_by_key(|&j| (claim(&reports[j]), std::cmp::Reverse(j)))
            })
            .unwrap_or(i);
        for &j in sharing.iter().filter(|&&j| j != owner) {
            let (name, owner_name) = (&cfg.nodes[j].name, &cfg.nodes[owner].name);
            if cfg.nodes[j].local.is_some() {
                warnings.push(format!(
                    "nodes {owner_name} and {name} were both given {ip}"
                ));
                continue;
            }
            let taken: Vec<IpAddr> = analyses.iter().filter_map(addr).collect();
            let next = reports[j]
                .local
                .candidates
                .iter()
                .filter_map(|c| c.ip.parse::<IpAddr>().ok().map(|ip| (ip, c.udp_peers)))
                .find(|(c, _)| !taken.contains(c));
            let Some((other, partners)) = next else {
                warnings.push(format!(
                    "node {name}: its inferred address {ip} is node {owner_name}'s, and it has no other candidate: give {name}=FILE@IP"
                ));
                continue;
            };
            let mut a = cfg.analysis.clone();
            a.table.given.local = Some(other);
            let (analysis, mut report) =
                pipeline::analyze_files(&cfg.nodes[j].files, &a, &NoProgress).map_err(|e| {
                    CompareError::Node {
                        name: name.clone(),
                        source: e,
                    }
                })?;
            report.local.how = format!(
                "re-inferred: the best candidate ({partners} distinct partners) that is no other node's address; {ip}, inferred first, is node {owner_name}'s"
            );
            warnings.push(format!(
                "node {name}: inferred {ip}, node {owner_name}'s address; re-inferred under that constraint as {other}"
            ));
            analyses[j] = analysis;
            reports[j] = report;
        }
    }
    Ok(warnings)
}

fn validate(cfg: &CompareConfig) -> Result<(), CompareError> {
    let bad = |reason: String| Err(CompareError::Invalid { reason });
    if cfg.nodes.is_empty() {
        return bad("no nodes to compare: give --node NAME=FILE".into());
    }
    if cfg.source >= cfg.nodes.len() {
        return bad("the source is not one of the nodes".into());
    }
    for (i, n) in cfg.nodes.iter().enumerate() {
        if !valid_name(&n.name) {
            return bad(format!(
                "node name '{}': use letters, digits, '.', '_' or '-' (at most 64)",
                n.name
            ));
        }
        if cfg.nodes[..i].iter().any(|m| m.name == n.name) {
            return bad(format!("node '{}' is given twice", n.name));
        }
        if n.files.is_empty() {
            return bad(format!("node '{}' has no capture file", n.name));
        }
        if n.files.iter().any(|f| f == "-") {
            return bad(format!(
                "node '{}': standard input cannot be compared (it is read twice)",
                n.name
            ));
        }
    }
    Ok(())
}

type Job = (Vec<String>, AnalysisConfig);

/// Analyses every job, at most `threads` at once; results in job order.
type JobResult = Result<(Analysis, Report), AnalysisError>;

fn analyse_all(jobs: &[Job], threads: usize) -> Vec<JobResult> {
    let workers = threads.clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<JobResult>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((files, cfg)) = jobs.get(i) else {
                    break;
                };
                let r = pipeline::analyze_files(files, cfg, &NoProgress);
                if let Some(Ok(mut slot)) = slots.get(i).map(|m| m.lock()) {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or(Err(AnalysisError::Internal("an analysis did not finish")))
        })
        .collect()
}

/// The decision a node's video is matched with: a local host and a threshold.
fn side_of(a: &Analysis) -> Result<(Decision, u32), String> {
    let d = a
        .decision
        .ok_or_else(|| "no local host could be inferred: give NAME=FILE@IP".to_string())?;
    // Matching reads UDP payloads: plain UDP or uTP, each by its own threshold.
    let t = d
        .threshold
        .or(d.utp_threshold)
        .ok_or_else(|| "no video: video and control could not be separated".to_string())?;
    Ok((d, t))
}

/// The playback delay of every node (the source's says it is the reference), the matching
/// section, and warnings.
fn playback_delays(
    cfg: &CompareConfig,
    analyses: &[Analysis],
) -> (Vec<PlaybackDelay>, Matching, Vec<String>) {
    let mut warnings = Vec::new();
    let mut delays: Vec<PlaybackDelay> =
        analyses.iter().map(|_| PlaybackDelay::default()).collect();
    let mut matching = Matching {
        offsets_tried: OFFSETS.iter().map(|&o| o as u32).collect(),
        offset: None,
        horizon_s: round(cfg.matching.horizon_ns as f64 / 1e9, 6),
        max_window_entries: cfg.matching.max_entries as u64,
        peak_window_entries: 0,
        evicted_early: 0,
        source_video_packets: 0,
        min_matched_share: cfg.min_matched_share,
        bin_s: round(cfg.matching.bin_ns as f64 / 1e9, 6),
        max_lag_s: cfg.max_lag_s,
    };
    delays[cfg.source].reason = Some("the source: the reference of every delay".into());
    let source = match side_of(&analyses[cfg.source]) {
        Ok(s) if analyses[cfg.source].video_packets_out > 0 => s,
        Ok(_) | Err(_) => {
            let why = match side_of(&analyses[cfg.source]) {
                Err(e) => format!("the source: {e}"),
                Ok(_) => "the source sent no video".to_string(),
            };
            for (i, d) in delays.iter_mut().enumerate() {
                if i != cfg.source {
                    d.reason = Some(why.clone());
                }
            }
            warnings.push(format!("no playback delay: {why}"));
            return (delays, matching, warnings);
        }
    };
    let mut eligible: Vec<(usize, Decision)> = Vec::new();
    for (i, a) in analyses.iter().enumerate() {
        if i == cfg.source {
            continue;
        }
        match side_of(a) {
            Ok(_) if a.video_packets_in == 0 => {
                delays[i].reason = Some("no video received".into());
            }
            // Its own split found "video", yet nothing it exchanged is as large as the
            // source's video: the split separates control messages only.
            Ok((d, threshold))
                if d.threshold.is_some()
                    && source.0.threshold.is_some()
                    && a.largest_udp_payload.is_none_or(|m| m < source.1) =>
            {
                delays[i].reason = Some(format!(
                    "no video received: no packet is as large as the source's video (≥ {} bytes); its own size split (threshold {} bytes) separates control messages only",
                    source.1, threshold
                ));
            }
            Ok((side, _)) => eligible.push((i, side)),
            Err(e) => delays[i].reason = Some(e),
        }
    }
    let mut best_counts: Vec<(u32, u64)> = Vec::new();
    for group in eligible.chunks(MAX_NODES) {
        let nodes: Vec<(&[String], Decision)> = group
            .iter()
            .map(|(i, d)| (cfg.nodes[*i].files.as_slice(), *d))
            .collect();
        match matching::match_pass(
            &cfg.nodes[cfg.source].files,
            source.0,
            &nodes,
            cfg.matching,
            cfg.max_lag_s,
        ) {
            Ok(summary) => {
                matching.peak_window_entries = matching
                    .peak_window_entries
                    .max(summary.peak_window_entries as u64);
                matching.evicted_early += summary.evicted_early;
                matching.source_video_packets = summary.source_video_packets;
                if summary.evicted_early > 0 {
                    warnings.push(format!(
                        "the fingerprint window was full: {} source packets left it before the horizon (delays that long may be missed)",
                        summary.evicted_early
                    ));
                }
                if let Some(o) = summary.best_offset {
                    let matched: u64 = summary.nodes.iter().map(|n| n.matched).sum();
                    best_counts.push((o as u32, matched));
                }
                for ((i, _), nd) in group.iter().zip(&summary.nodes) {
                    delays[*i] = delay_of(nd, cfg.min_matched_share);
                }
            }
            Err(e) => {
                for (i, _) in group {
                    delays[*i].reason = Some(format!("captures could not be read again: {e}"));
                }
                warnings.push(e);
            }
        }
    }
    matching.offset = best_counts.iter().max_by_key(|(_, n)| *n).map(|(o, _)| *o);
    (delays, matching, warnings)
}

/// A receiver's delay from what the matcher found.
fn delay_of(nd: &NodeDelay, min_share: f64) -> PlaybackDelay {
    let share = nd.matched_share();
    let mut d = PlaybackDelay {
        method: None,
        median_s: None,
        p10_s: None,
        p90_s: None,
        matched_share: share.map(|s| round(s, 4)),
        matched_packets: nd.matched,
        video_packets: nd.video_received,
        offset: nd.offset.map(|o| o as u32),
        xcorr_r: nd.xcorr.map(|(_, r)| round(r, 4)),
        reason: None,
    };
    let Some(share) = share else {
        d.reason = Some("no video received".into());
        return d;
    };
    if share >= min_share && nd.median_s.is_some() {
        d.method = Some(DelayMethod::PayloadMatch);
        d.median_s = nd.median_s.map(|x| round(x, 6));
        d.p10_s = nd.p10_s.map(|x| round(x, 6));
        d.p90_s = nd.p90_s.map(|x| round(x, 6));
        return d;
    }
    let pct = share * 100.0;
    match nd.xcorr {
        Some((lag, r)) if r >= MIN_XCORR_R => {
            d.method = Some(DelayMethod::RateXcorr);
            d.median_s = Some(round(lag, 6));
            d.reason = Some(format!(
                "{pct:.1} % of the video packets matched the source's payloads: the delay is the lag of the best cross-correlation of the video rate series (r = {r:.2})"
            ));
        }
        Some((_, r)) => {
            d.reason = Some(format!(
                "{pct:.1} % of the video packets matched the source's payloads and the video rate series do not correlate (best r = {r:.2} < {MIN_XCORR_R})"
            ));
        }
        None => {
            d.reason = Some(format!(
                "{pct:.1} % of the video packets matched the source's payloads and the captures overlap too little to correlate their rate series"
            ));
        }
    }
    d
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, s) = v.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| round(s / n as f64, 3))
}

fn summary(nodes: &[Node], source: usize) -> CompareSummary {
    let receivers: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != source)
        .map(|(_, n)| n)
        .collect();
    let src = &nodes[source];
    CompareSummary {
        source_upload_kbps: src.upload_kbps,
        source_video_upload_kbps: src.video.upload_kbps,
        receivers: receivers.len(),
        mean_receiver_download_kbps: mean(receivers.iter().map(|n| n.download_kbps)),
        mean_receiver_upload_kbps: mean(receivers.iter().map(|n| n.upload_kbps)),
        mean_receiver_video_download_kbps: mean(receivers.iter().map(|n| n.video.download_kbps)),
        mean_receiver_video_upload_kbps: mean(receivers.iter().map(|n| n.video.upload_kbps)),
        mean_playback_delay_s: mean(receivers.iter().filter_map(|n| n.playback_delay.median_s))
            .map(|x| round(x, 6)),
    }
}

/// Each node's churn, reciprocity and locality figures, and how many of its peers another
/// node contacted too (issue 18).
fn node_swarms(reports: &[Report]) -> Vec<Option<crate::report::compare::NodeSwarm>> {
    use std::collections::BTreeSet;
    let contacted = |r: &Report| -> BTreeSet<String> {
        r.peers
            .list
            .iter()
            .filter(|p| {
                !p.transport.is_empty() && p.role != crate::metrics::peers::PeerRole::Tracker
            })
            .map(|p| p.ip.clone())
            .collect()
    };
    let sets: Vec<BTreeSet<String>> = reports.iter().map(contacted).collect();
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let s = r.swarm.as_ref()?;
            let l = r.locality.as_ref();
            let ratio = |f: fn(
                &crate::metrics::locality::Locality,
            ) -> &Option<crate::metrics::locality::Preference>| {
                l.and_then(|l| f(l).as_ref()).and_then(|p| p.ratio)
            };
            let shared = sets[i]
                .iter()
                .filter(|ip| {
                    sets.iter()
                        .enumerate()
                        .any(|(j, o)| j != i && o.contains(*ip))
                })
                .count() as u64;
            Some(crate::report::compare::NodeSwarm {
                peers: sets[i].len() as u64,
                shared_peers: shared,
                lifetime_median_s: s.lifetime_s.median,
                tit_for_tat_share: s.reciprocity.tit_for_tat_share,
                same_asn_ratio: ratio(|l| &l.same_asn),
                same_country_ratio: ratio(|l| &l.same_country),
                same_prefix_ratio: ratio(|l| &l.same_prefix),
                near_hops_ratio: ratio(|l| &l.near_hops),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("r1"));
        assert!(valid_name("home-dsl.2"));
        assert!(!valid_name(""));
        assert!(!valid_name(".."));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("<x>"));
    }

    #[test]
    fn delay_falls_back_and_explains() {
        let nd = NodeDelay {
            video_received: 100,
            matched: 0,
            offset: None,
            median_s: None,
            p10_s: None,
            p90_s: None,
            xcorr: Some((2.1, 0.8)),
        };
        let d = delay_of(&nd, 0.05);
        assert_eq!(d.method, Some(DelayMethod::RateXcorr));
        assert_eq!(d.median_s, Some(2.1));
        let flat = NodeDelay {
            xcorr: Some((0.0, 0.1)),
            ..nd.clone()
        };
        let d = delay_of(&flat, 0.05);
        assert_eq!(d.median_s, None);
        assert!(d.reason.unwrap().contains("do not correlate"));
    }
}
