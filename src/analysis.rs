//! The one code path from packets to a report, shared by `analyze`, `capture` and `compare`:
//! source → decode → flow table → metrics → report model.
//!
//! [`Analyzer`] takes raw frames one at a time (from files or a live interface) and
//! [`Analyzer::finish`] builds the [`Report`]. [`analyze_files`] drives it over capture files,
//! with the second pass that the flow table may ask for (see `flow`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use crate::decode::{self, link::linktype, Decoded, Malformed, Packet};
use crate::flow::{Finished, Live, Table, TableConfig};
use crate::metrics::playback::{self, PlaybackOptions};
use crate::metrics::{peers, round, sizes, traffic};
use crate::report::{self, Candidate, Capture, Local, Report};
use crate::source::filter::Filter;
use crate::source::{CaptureFile, Merged, RawPacket, SourceError, SourceStats};

/// What an analysis needs to know beyond the packets.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConfig {
    pub table: TableConfig,
    pub playback: PlaybackOptions,
    /// `-f` expression.
    pub filter: Option<String>,
    /// Show a progress bar on stderr when it is a terminal.
    pub progress: bool,
    /// Read and decode on one thread while the flow table is fed on another (files only).
    /// Off gives the same report, single-threaded.
    pub sequential: bool,
}

/// Errors that leave nothing to report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// No input could be opened.
    #[error("{0}")]
    NoInput(String),
    /// A bad filter expression.
    #[error("{0}")]
    Filter(String),
}

/// Streams frames into a flow table.
pub struct Analyzer {
    table: Table,
    filter: Option<Filter>,
    /// The items of the frame being pushed (reused: no allocation per frame).
    scratch: Vec<Item>,
}

impl Analyzer {
    /// A new analyzer; fails only on a bad filter expression.
    pub fn new(cfg: &AnalysisConfig) -> Result<Self, AnalysisError> {
        let filter = match &cfg.filter {
            Some(expr) => Some(Filter::new(expr).map_err(AnalysisError::Filter)?),
            None => None,
        };
        Ok(Analyzer {
            table: Table::new(cfg.table.clone()),
            filter,
            scratch: Vec::with_capacity(8),
        })
    }

    /// Takes one frame: the same decoding and the same items as the two-thread file pass, so
    /// both paths give the same table by construction.
    #[inline]
    pub fn push(&mut self, raw: &RawPacket<'_>) {
        decode_item(raw, &mut self.filter, &mut self.scratch);
        for item in &self.scratch {
            apply_item(&mut self.table, item);
        }
        self.scratch.clear();
    }

    /// The vantage point's running totals (for a live status line), see [`Table::live`].
    pub fn live(&self) -> Live {
        self.table.live(crate::metrics::peers::SUPPLIER_SHARE)
    }

    /// What [`Analyzer::finish`] would return now, leaving the analyzer running: a copy of the
    /// table is finished (for periodic snapshot reports of a live capture).
    pub fn snapshot(&self) -> (Finished, Vec<String>) {
        let warnings = self
            .filter
            .as_ref()
            .map(|f| f.warnings.clone())
            .unwrap_or_default();
        (self.table.clone().finish(), warnings)
    }

    /// Ends the stream: the finished table and the filter's warnings.
    pub fn finish(self) -> (Finished, Vec<String>) {
        let warnings = self.filter.map(|f| f.warnings).unwrap_or_default();
        (self.table.finish(), warnings)
    }
}

/// A decoded frame as it crosses from the reading thread to the flow-table thread: packets
/// travel without their payload (the only payload the table reads, DNS answers, is parsed on
/// the reading side and sent as names).
enum Item {
    Packet(Packet<'static>),
    Malformed(Malformed, i64),
    NotIp(i64),
    Filtered,
    Name(IpAddr, String),
}

/// Frames per batch sent between the threads.
const BATCH: usize = 4096;
/// Batches in flight: bounds memory to a few MB.
const BATCHES_IN_FLIGHT: usize = 8;

fn decode_item(raw: &RawPacket<'_>, filter: &mut Option<Filter>, out: &mut Vec<Item>) {
    if let Some(f) = filter.as_mut() {
        if !f.matches(raw) {
            out.push(Item::Filtered);
            return;
        }
    }
    match decode::decode(raw) {
        Decoded::Packet(p) => {
            if p.is_udp() && p.sport == 53 {
                decode::dns::answers(p.payload, |ip, name| {
                    out.push(Item::Name(ip, name.to_string()));
                });
            }
            out.push(Item::Packet(Packet { payload: &[], ..p }));
        }
        Decoded::NotIp(_) => out.push(Item::NotIp(raw.ts_ns)),
        Decoded::Malformed(m) => out.push(Item::Malformed(m, raw.ts_ns)),
    }
}

fn apply_item(table: &mut Table, item: &Item) {
    match item {
        Item::Packet(p) => table.ingest(p),
        Item::Malformed(m, ts) => {
            table.saw_frame(*ts);
            table.malformed(*m);
        }
        Item::NotIp(ts) => {
            table.saw_frame(*ts);
            table.not_ip();
        }
        Item::Filtered => table.filtered_out(),
        Item::Name(ip, name) => table.learn_name(*ip, name),
    }
}

/// The two-thread pass: this thread reads and decodes, a second one feeds the flow table.
fn parallel_pass(
    merged: &mut Merged,
    cfg: &AnalysisConfig,
    bar: Option<&(indicatif::ProgressBar, Counters)>,
) -> Result<(Finished, Vec<String>), AnalysisError> {
    let mut filter = match &cfg.filter {
        Some(expr) => Some(Filter::new(expr).map_err(AnalysisError::Filter)?),
        None => None,
    };
    let mut table = Table::new(cfg.table.clone());
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(BATCHES_IN_FLIGHT);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Item>>();
    std::thread::scope(|scope| {
        let feeder = scope.spawn(move || {
            for mut batch in full_rx {
                for item in &batch {
                    apply_item(&mut table, item);
                }
                batch.clear();
                // The reader may have finished; a lost spare buffer is harmless.
                let _ = empty_tx.send(batch);
            }
            table
        });
        let mut batch: Vec<Item> = Vec::with_capacity(BATCH + 64);
        let mut n: u64 = 0;
        merged.for_each(|raw| {
            decode_item(&raw, &mut filter, &mut batch);
            if batch.len() >= BATCH {
                let spare = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH + 64));
                let full = std::mem::replace(&mut batch, spare);
                // The feeder only stops when this side hangs up.
                let _ = full_tx.send(full);
            }
            n += 1;
            if let Some((bar, counters)) = bar {
                if n % 65_536 == 0 {
                    bar.set_position(counters.iter().map(|c| c.load(Ordering::Relaxed)).sum());
                }
            }
        });
        if !batch.is_empty() {
            let _ = full_tx.send(batch);
        }
        drop(full_tx);
        let table = feeder
            .join()
            .map_err(|_| AnalysisError::NoInput("the flow-table thread failed".into()))?;
        let warnings = filter.map(|f| f.warnings).unwrap_or_default();
        Ok((table.finish(), warnings))
    })
}

/// Opens every file; files that cannot be read are reported, and only if none can is it an
/// error.
pub fn open_files(paths: &[String]) -> Result<(Vec<CaptureFile>, Vec<String>), AnalysisError> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match CaptureFile::open(path) {
            Ok(f) => files.push(f),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if files.is_empty() {
        return Err(AnalysisError::NoInput(problems.join("; ")));
    }
    Ok((files, problems))
}

fn one_pass(
    paths: &[String],
    cfg: &AnalysisConfig,
) -> Result<(Finished, SourceStats, Vec<String>), AnalysisError> {
    let (files, mut problems) = open_files(paths)?;
    let mut merged = Merged::new(files);
    let bar = progress_bar(&merged, cfg.progress);
    let parallel =
        !cfg.sequential && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    if parallel {
        let (fin, filter_warnings) = parallel_pass(&mut merged, cfg, bar.as_ref())?;
        if let Some((bar, _)) = &bar {
            bar.finish_and_clear();
        }
        problems.extend(filter_warnings);
        return Ok((fin, merged.stats(), problems));
    }
    let mut analyzer = Analyzer::new(cfg)?;
    match &bar {
        Some((bar, counters)) => {
            let mut n: u64 = 0;
            merged.for_each(|raw| {
                analyzer.push(&raw);
                n += 1;
                if n % 65_536 == 0 {
                    bar.set_position(counters.iter().map(|c| c.load(Ordering::Relaxed)).sum());
                }
            });
            bar.finish_and_clear();
        }
        None => merged.for_each(|raw| analyzer.push(&raw)),
    }
    let stats = merged.stats();
    let (fin, filter_warnings) = analyzer.finish();
    problems.extend(filter_warnings);
    Ok((fin, stats, problems))
}

type Counters = Vec<std::sync::Arc<std::sync::atomic::AtomicU64>>;

fn progress_bar(merged: &Merged, wanted: bool) -> Option<(indicatif::ProgressBar, Counters)> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let mut total = 0;
    for f in merged.files() {
        total += f.progress().1?;
    }
    // Small files finish before a bar would be useful.
    if total < 64 << 20 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let counters = merged
        .files()
        .iter()
        .map(|f| f.progress_counter())
        .collect();
    Some((bar, counters))
}

/// Analyses capture files (`-` is stdin) into a report. When the warm-up's provisional local
/// host or threshold turns out wrong, the files are read a second time with both fixed; stdin
/// cannot be, and the report says the timeline is approximate.
pub fn analyze_files(paths: &[String], cfg: &AnalysisConfig) -> Result<Report, AnalysisError> {
    let (mut fin, mut stats, mut problems) = one_pass(paths, cfg)?;
    let mut passes = 1;
    if fin.needs_second_pass {
        if paths.iter().any(|p| p == "-") {
            problems.push(
                "the series, stream rate, buffer and continuity were classified with a provisional local host/threshold that the whole capture contradicts; standard input cannot be read twice, so they are approximate (give --local and --video-min to make them exact)".into(),
            );
        } else {
            let mut second = cfg.clone();
            second.table.local = fin.local;
            second.table.video_min = fin.threshold;
            let (mut fin2, stats2, problems2) = one_pass(paths, &second)?;
            fin2.local_given = fin.local_given;
            fin2.threshold_given = fin.threshold_given;
            fin2.candidates = std::mem::take(&mut fin.candidates);
            fin = fin2;
            stats = stats2;
            problems = problems2;
            passes = 2;
        }
    }
    Ok(build_report(fin, &stats, paths, cfg, problems, passes))
}

fn rfc3339(ns: i64) -> Option<String> {
    let secs = ns.div_euclid(1_000_000_000);
    let sub = ns.rem_euclid(1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, sub)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Builds the report from a finished table and what the source read.
pub fn build_report(
    fin: Finished,
    stats: &SourceStats,
    files: &[String],
    cfg: &AnalysisConfig,
    mut warnings: Vec<String>,
    passes: u32,
) -> Report {
    warnings.extend(stats.warnings.iter().cloned());
    let malformed = fin.counts.malformed_total();
    if malformed > 0 {
        warnings.push(format!(
            "{malformed} of {} packets could not be decoded (see capture.malformed_by_reason)",
            stats.packets
        ));
    }
    if stats.bad_timestamps > 0 {
        warnings.push(format!(
            "{} records have an invalid sub-second timestamp (clamped)",
            stats.bad_timestamps
        ));
    }
    if stats.backwards_timestamps > 0 {
        warnings.push(format!(
            "{} records have a timestamp earlier than the record before",
            stats.backwards_timestamps
        ));
    }
    if stats.unknown_interface > 0 {
        warnings.push(format!(
            "{} pcapng packets name an interface that was never described; skipped",
            stats.unknown_interface
        ));
    }
    if fin.overflow.pairs_refused > 0 {
        warnings.push(format!(
            "the address-pair table was full (--max-pairs {}): about {} more address pairs, {} packets, were counted only in peers.overflow",
            cfg.table.max_pairs, fin.overflow.pairs, fin.overflow.packets
        ));
    }
    if fin.timeline.unbinned > 0 {
        warnings.push(format!(
            "{} packets lie too far from the first timestamp to be placed on the timeline",
            fin.timeline.unbinned
        ));
    }
    if fin.local.is_some() && fin.threshold.is_none() {
        warnings.push(
            "video and control could not be separated (fewer than two UDP payload sizes): no packet is counted as video".into(),
        );
    }
    if fin.local.is_none() && fin.counts.decoded > 0 {
        warnings.push("no local host could be inferred: give --local".into());
    }
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
        bad_timestamps: stats.bad_timestamps,
        backwards_timestamps: stats.backwards_timestamps,
        start: if has_packets {
            rfc3339(fin.first_ns)
        } else {
            None
        },
        end: if has_packets {
            rfc3339(fin.last_ns)
        } else {
            None
        },
        duration_s: round(duration_s, 6),
        filter: cfg.filter.clone(),
        passes,
        warnings,
        dropped_by_kernel: None,
        dropped_by_interface: None,
    };
    let local = local_section(&fin);
    let sizes = sizes::sizes(&fin);
    let traffic = traffic::traffic(&fin);
    let (peers, tracker) = peers::peers(&fin);
    let pb = playback::playback(&fin, &cfg.playback, tracker.ip.as_deref());
    let bin_s = fin.timeline.bin_ns() as f64 / 1e9;
    let series = traffic::series(&fin, &|t| pb.buffer_at(t, bin_s));
    let summary = playback::summary(&fin, &pb, &peers);
    Report {
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
    }
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
    let how = match (fin.local, fin.local_given) {
        (Some(_), true) => "given (--local)".to_string(),
        (Some(ip), false) => {
            let mine = fin
                .candidates
                .iter()
                .find(|(c, _)| *c == ip)
                .map_or(0, |(_, n)| *n);
            match fin.candidates.iter().find(|(c, _)| *c != ip) {
                Some((next, n)) => format!(
                    "inferred: exchanges UDP with the most distinct remote addresses ({mine}); runner-up {next} with {n}"
                ),
                None => format!(
                    "inferred: exchanges UDP with the most distinct remote addresses ({mine}); no other candidate"
                ),
            }
        }
        (None, _) => "unknown: no traffic between two distinct unicast hosts (a host talking to itself is not a swarm)".to_string(),
    };
    Local {
        ip: fin.local.map(|ip: IpAddr| ip.to_string()),
        how,
        candidates,
    }
}

impl From<SourceError> for AnalysisError {
    fn from(e: SourceError) -> Self {
        AnalysisError::NoInput(e.to_string())
    }
}
