//! Assembling the report: a finished flow table and what the source read become the
//! [`Report`] model (metrics computed here, in one place), and every problem met on the way a
//! typed [`Warning`], turned into its sentence only at the edge.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::stream::Pass;
use super::{Analysis, AnalysisConfig};
use crate::flow::classify::LocalHow;
use crate::flow::Finished;
use crate::identify::verdict::{self, Features, WINDOW_S};
use crate::identify::{self, AppName};
use crate::metrics::peers::Peers;
use crate::metrics::playback;
use crate::metrics::traffic::Traffic;
use crate::metrics::{peers, round, sizes, traffic};
use crate::report::{self, ApplicationSection, Candidate, Capture, Local, Report, VerdictSection};
use crate::source::{linktype, SourceError, SourceStats};
use crate::time::Timestamp;

/// Something the report must say about its input or its method.
#[derive(Debug)]
#[non_exhaustive]
pub enum Warning {
    /// A file among several could not be opened.
    Unreadable(SourceError),
    /// What the source layer said of a file (it names the file).
    Source(String),
    /// What the capture filter said.
    Filter(String),
    /// A second pass was needed but the input (stdin) cannot be read twice.
    ApproximateTimeline,
    /// Frames that could not be decoded.
    Malformed { malformed: u64, packets: u64 },
    /// Records with an impossible sub-second part.
    BadSubsecond(u64),
    /// Records with a time outside any plausible capture time.
    Implausible(u64),
    /// Records earlier than the record before.
    Backwards(u64),
    /// Records far (days, years) from the rest, held back from the analysis.
    FarTimestamps {
        records: u64,
        first: Timestamp,
        last: Timestamp,
    },
    /// Most records lie far from the first ones, but the input (stdin, or an interrupted
    /// reading) cannot be read again to analyse them instead.
    FarMajority {
        records: u64,
        first: Timestamp,
        last: Timestamp,
    },
    /// pcapng packets naming an undescribed interface.
    UnknownInterface(u64),
    /// The pair table was full.
    PairTableFull {
        max_pairs: usize,
        pairs: u64,
        packets: u64,
    },
    /// Gateway mode: this client's pair table was full, by its own cap or because the shared
    /// budget was spent (the generic [`Warning::PairTableFull`] is then not given).
    ClientPairsFull {
        /// Pairs the client's table held.
        held: usize,
        /// `--max-pairs-per-client`.
        per_client: usize,
        /// `--max-pairs`: the budget shared by all clients.
        budget: usize,
        pairs: u64,
        packets: u64,
    },
    /// Packets too far from the first timestamp to be binned.
    Unbinned(u64),
    /// Fewer than two UDP payload sizes: no threshold.
    NoSeparation,
    /// No local host.
    NoLocalHost,
    /// A snapshot report during a live capture.
    Snapshot { packets: u64 },
    /// A snapshot classified with a provisional decision.
    SnapshotApproximate,
    /// A live capture that stopped before it was asked to.
    CaptureEndedEarly { interface: String, error: String },
    /// Packets the kernel or the interface dropped.
    Dropped(u64),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Unreadable(e) => write!(f, "{e}"),
            Warning::Source(s) | Warning::Filter(s) => f.write_str(s),
            Warning::ApproximateTimeline => f.write_str("the series, stream rate, buffer and continuity were classified with a provisional local host/threshold that the whole capture contradicts; standard input cannot be read twice, so they are approximate (give --local and --video-min to make them exact)"),
            Warning::Malformed { malformed, packets } => write!(f, "{malformed} of {packets} packets could not be decoded (see capture.malformed_by_reason)"),
            Warning::BadSubsecond(n) => write!(f, "{n} records have an invalid sub-second timestamp (clamped)"),
            Warning::Implausible(n) => write!(f, "{n} records have a timestamp outside any plausible capture time (before 1970 or after 2242, or so shifted by an if_tsoffset): their times were replaced (the previous record's, or the time without the offset), so the capture's span leaves them out"),
            Warning::Backwards(n) => write!(f, "{n} records have a timestamp earlier than the record before"),
            Warning::FarTimestamps { records, first, last } => write!(f, "{records} {} more than {} days from the rest of the capture ({} to {}): not analysed and left out of its span (read them apart, e.g. editcap -A/-B)", if *records == 1 { "record lies" } else { "records lie" }, crate::source::timegate::FAR_GAP.ns() / 86_400_000_000_000, first.rfc3339().unwrap_or_default(), last.rfc3339().unwrap_or_default()),
            Warning::FarMajority { records, first, last } => write!(f, "{records} records ({} to {}) lie more than {} days from the first ones, which were analysed instead: the input cannot be read again (give the file, not standard input)", first.rfc3339().unwrap_or_default(), last.rfc3339().unwrap_or_default(), crate::source::timegate::FAR_GAP.ns() / 86_400_000_000_000),
            Warning::UnknownInterface(n) => write!(f, "{n} pcapng packets name an interface that was never described; skipped"),
            Warning::PairTableFull { max_pairs, pairs, packets } => write!(f, "the address-pair table was full (--max-pairs {max_pairs}): about {pairs} more address pairs, {packets} packets, were counted only in peers.overflow"),
            Warning::ClientPairsFull { held, per_client, budget, pairs, packets } => {
                let why = if held >= per_client {
                    format!("it reached its own cap, --max-pairs-per-client {per_client}")
                } else {
                    format!("the budget shared by all clients, --max-pairs {budget}, was spent")
                };
                write!(f, "this client's address-pair table was full at {held} pairs ({why}): about {pairs} more address pairs, {packets} packets, were counted only in peers.overflow")
            }
            Warning::Unbinned(n) => write!(f, "{n} packets lie too far from the first timestamp to be placed on the timeline"),
            Warning::NoSeparation => f.write_str("video and control could not be separated (fewer than two UDP payload sizes): no packet is counted as video"),
            Warning::NoLocalHost => f.write_str("no local host could be inferred: give --local"),
            Warning::Snapshot { packets } => write!(f, "snapshot during the capture, after {packets} packets: the final report replaces it"),
            Warning::SnapshotApproximate => f.write_str("the series, stream rate, buffer and continuity of this snapshot were classified with a provisional local host/threshold that the capture so far contradicts: approximate until the final report"),
            Warning::CaptureEndedEarly { interface, error } => write!(f, "the capture on {interface} ended early: {error}"),
            Warning::Dropped(n) => write!(f, "{n} packets were dropped before peerscope saw them (see capture.dropped_by_kernel and dropped_by_interface): rates and shares undercount"),
        }
    }
}

/// Builds the report from a finished table and what the source read.
pub fn build_report(
    pass: Pass,
    stats: &SourceStats,
    files: &[String],
    cfg: &AnalysisConfig,
    warnings: Vec<Warning>,
    passes: u32,
) -> Report {
    analysis_and_report(pass, stats, files, cfg, warnings, passes).1
}

/// The analysis in domain types and the report built from it.
/// The caller's `warnings` come first, then the capture filter's (from the pass).
pub fn analysis_and_report(
    pass: Pass,
    stats: &SourceStats,
    files: &[String],
    cfg: &AnalysisConfig,
    mut warnings: Vec<Warning>,
    passes: u32,
) -> (Analysis, Report) {
    let Pass {
        fin,
        findings,
        feed,
        filter_warnings,
    } = pass;
    let (findings, feed) = (&findings, feed.as_ref());
    warnings.extend(filter_warnings.into_iter().map(Warning::Filter));
    warnings.extend(stats.warnings.iter().cloned().map(Warning::Source));
    let malformed = fin.counts.malformed_total();
    let checks = [
        (malformed > 0).then_some(Warning::Malformed {
            malformed,
            packets: stats.packets,
        }),
        (stats.bad_timestamps > 0).then_some(Warning::BadSubsecond(stats.bad_timestamps)),
        (stats.implausible_timestamps > 0)
            .then_some(Warning::Implausible(stats.implausible_timestamps)),
        (stats.backwards_timestamps > 0).then_some(Warning::Backwards(stats.backwards_timestamps)),
        stats
            .far
            .far
            .filter(|_| stats.far.far_is_majority().is_none())
            .map(|c| Warning::FarTimestamps {
                records: c.records,
                first: c.first,
                last: c.last,
            }),
        (stats.unknown_interface > 0).then_some(Warning::UnknownInterface(stats.unknown_interface)),
        (fin.overflow.pairs_refused > 0
            && !warnings
                .iter()
                .any(|w| matches!(w, Warning::ClientPairsFull { .. })))
        .then_some(Warning::PairTableFull {
            max_pairs: cfg.table.max_pairs,
            pairs: fin.overflow.pairs,
            packets: fin.overflow.packets,
        }),
        (fin.timeline.unbinned > 0).then_some(Warning::Unbinned(fin.timeline.unbinned)),
        (fin.local.is_some() && fin.thresholds() == Default::default())
            .then_some(Warning::NoSeparation),
        (fin.local.is_none() && fin.counts.decoded > 0).then_some(Warning::NoLocalHost),
    ];
    warnings.extend(checks.into_iter().flatten());
    let duration_s = traffic::duration_s(&fin);
    let link_types = stats
        .link_types
        .iter()
        .map(|&l| linktype::name(l))
        .collect();
    let has_packets = stats.packets > 0;
    let capture = Capture {
        files: files.to_vec(),
        link_types,
        packets: stats.packets,
        decoded_packets: fin.counts.decoded,
        malformed_packets: malformed,
        malformed_by_reason: fin
            .counts
            .malformed
            .iter()
            .map(|(k, v)| (k.key(), *v))
            .collect::<BTreeMap<_, _>>(),
        not_ip_packets: fin.counts.not_ip,
        filtered_packets: fin.counts.filtered_out,
        fragments: fin.counts.fragments,
        anomalies: fin
            .counts
            .anomalies
            .iter()
            .map(|(k, v)| (k.key().to_string(), *v))
            .collect(),
        truncated: stats.truncated,
        bad_timestamps: stats.bad_timestamps + stats.implausible_timestamps,
        backwards_timestamps: stats.backwards_timestamps,
        start: if has_packets {
            fin.first.rfc3339()
        } else {
            None
        },
        end: if has_packets {
            fin.last.rfc3339()
        } else {
            None
        },
        duration_s: round(duration_s, 6),
        filter: cfg.filter.clone(),
        passes,
        warnings: warnings.iter().map(ToString::to_string).collect(),
        dropped_by_kernel: None,
        dropped_by_interface: None,
        duplicates: (stats.duplicates > 0).then_some(stats.duplicates),
        far_records: (stats.far.far_records() > 0).then_some(stats.far.far_records()),
    };
    let local = local_section(&fin);
    let sizes = sizes::sizes(&fin);
    let traffic = traffic::traffic(&fin);
    let announced = findings.tracker_endpoints();
    let (mut peers, tracker_ip, tracker) = peers::peers(&fin, &announced);
    let swarm = crate::metrics::swarm::swarm(&fin, &mut peers);
    let locality = crate::metrics::locality::locality(&fin, &mut peers, &cfg.locator);
    let pb = playback::playback(&fin, &cfg.playback, tracker_ip, feed);
    let bin_s = fin.timeline.bin_ns() as f64 / 1e9;
    let series = traffic::series(&fin, &|t| pb.buffer_at(t, bin_s));
    let summary = playback::summary(&fin, &pb, &peers);
    let analysis = Analysis {
        decision: fin.decision(),
        first: fin.first,
        last: fin.last,
        tracker: tracker_ip,
        video_packets_in: traffic.video.packets_in,
        video_packets_out: traffic.video.packets_out,
        largest_udp_payload: fin.hist.sizes().last().copied(),
        passes,
        flows: fin.conns.export(fin.threshold),
    };
    let application = identify::identify(findings);
    let verdict = verdict::verdict(&verdict_features(&fin, &traffic, &peers, application.name));
    let report = Report {
        schema: report::SCHEMA.into(),
        generator: format!("peerscope {}", env!("CARGO_PKG_VERSION")),
        capture,
        local,
        sizes,
        traffic,
        peers,
        tracker,
        series,
        stream: pb.stream,
        startup: pb.startup,
        buffer: pb.buffer,
        continuity: pb.continuity,
        summary,
        application: Some(ApplicationSection {
            name: application.name.to_string(),
            confidence: application.confidence,
            evidence: application
                .evidence
                .iter()
                .map(ToString::to_string)
                .collect(),
        }),
        verdict: Some(VerdictSection {
            kind: verdict.kind.to_string(),
            reasons: verdict.reasons.iter().map(ToString::to_string).collect(),
        }),
        anonymized: None,
        swarm: Some(swarm),
        locality: Some(locality),
    };
    (analysis, report)
}

fn local_section(fin: &Finished) -> Local {
    let candidates: Vec<Candidate> = fin
        .candidates
        .iter()
        .take(5)
        .map(|(ip, n)| Candidate {
            ip: ip.to_string(),
            udp_peers: *n,
        })
        .collect();
    let partners = |ip: IpAddr| {
        let mine = fin
            .candidates
            .iter()
            .find(|(c, _)| *c == ip)
            .map_or(0, |(_, n)| *n);
        match fin.candidates.iter().find(|(c, _)| *c != ip) {
            Some((next, n)) => format!("({mine}); runner-up {next} with {n}"),
            None => format!("({mine}); no other candidate"),
        }
    };
    let how = match (fin.local, fin.local_how) {
        (Some(_), LocalHow::Given) => "given (--local)".to_string(),
        (Some(ip), LocalHow::CookedOutgoing { packets }) => format!(
            "link layer: the sender of the {packets} packets the Linux cooked capture marks outgoing; distinct remote addresses {}",
            partners(ip)
        ),
        (Some(ip), LocalHow::EthernetMac { mac, frames, unicast }) => format!(
            "link layer: the only address behind MAC {}, which is on {frames} of the {unicast} unicast Ethernet frames; distinct remote addresses {}",
            mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
            partners(ip)
        ),
        (Some(ip), LocalHow::Pinned) => format!("decided by the first pass; distinct remote addresses {}", partners(ip)),
        (Some(ip), _) => format!(
            "inferred: exchanges UDP with the most distinct remote addresses {}",
            partners(ip)
        ),
        (None, _) => "unknown: no traffic between two distinct unicast hosts (a host talking to itself is not a swarm)".to_string(),
    };
    Local {
        ip: fin.local.map(|ip: IpAddr| ip.to_string()),
        how,
        candidates,
    }
}

/// The verdict's inputs, from the finished table and the metrics.
fn verdict_features(fin: &Finished, traffic: &Traffic, peers: &Peers, app: AppName) -> Features {
    let bins = fin.timeline.bins();
    let per = ((WINDOW_S * 1e9 / fin.timeline.bin_ns() as f64).round() as usize).max(1);
    let first = bins.iter().position(|b| b.video_down_payload > 0);
    let last = bins.iter().rposition(|b| b.video_down_payload > 0);
    let (mut rates, mut cv) = (Vec::new(), None);
    if let (Some(first), Some(last)) = (first, last) {
        let (w0, w1) = (first / per, last / per);
        // Complete windows only: the last, partial one is left out.
        for w in w0..w1 {
            let bytes: u64 = bins
                .get(w * per..(w + 1) * per)
                .map_or(0, |s| s.iter().map(|b| b.video_down_payload).sum());
            rates.push(bytes as f64);
        }
        if !rates.is_empty() {
            let n = rates.len() as f64;
            let mean = rates.iter().sum::<f64>() / n;
            let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
            cv = (mean > 0.0).then(|| var.sqrt() / mean);
        }
    }
    let video_out_total: u64 = peers.list.iter().map(|p| p.video_out_bytes).sum();
    let upload_peers = peers
        .list
        .iter()
        .filter(|p| {
            p.video_out_bytes > 0
                && p.video_out_bytes as f64 >= peers::SUPPLIER_SHARE * video_out_total as f64
        })
        .count() as u32;
    Features {
        duration_s: fin.duration().as_secs_f64(),
        peers_contacted: peers.contacted as u32,
        suppliers: peers.suppliers as u32,
        top1_share: peers.concentration.top1_share,
        top2_share: peers.concentration.top2_share,
        video_down_kbps: traffic.video.download_kbps,
        video_up_kbps: traffic.video.upload_kbps,
        video_share_of_download: if traffic.bytes_in > 0 {
            traffic.video_payload_in as f64 / traffic.bytes_in as f64
        } else {
            0.0
        },
        video_upload_peers: upload_peers,
        video_rate_cv: cv,
        video_windows: rates.len() as u32,
        application: app,
    }
}
