//! Capture files (and standard input) read into an analysis: opened, merged in time order,
//! streamed through the flow table once — twice when the warm-up's provisional decision proves
//! wrong and the input can be read again — and assembled into the report.

use std::sync::atomic::Ordering;

use super::assemble::{self, Warning};
use super::stream::{self, Analyzer, Pass};
use super::{Analysis, AnalysisConfig, AnalysisError};
use crate::report::Report;
use crate::source::{CaptureFile, Merged, SourceStats};

/// Opens every file; files that cannot be read are reported, and only if none can is it an
/// error.
pub fn open_files(paths: &[String]) -> Result<(Vec<CaptureFile>, Vec<Warning>), AnalysisError> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match CaptureFile::open(path) {
            Ok(f) => files.push(f),
            Err(e) => problems.push(e),
        }
    }
    if files.is_empty() {
        return Err(AnalysisError::NoInput(problems));
    }
    Ok((
        files,
        problems.into_iter().map(Warning::Unreadable).collect(),
    ))
}

/// The files opened and merged in time order (keeping only `window`, when given), the
/// problems of those that could not be opened, and each file's byte counter; `progress` is
/// told the pass starts.
pub(crate) fn open_merged(
    paths: &[String],
    window: Option<(crate::time::Timestamp, crate::time::Timestamp)>,
    progress: &dyn Progress,
) -> Result<(Merged, Vec<Warning>, Vec<ByteCounter>), AnalysisError> {
    let (files, problems) = open_files(paths)?;
    let merged = Merged::new(files).with_window(window);
    let total = merged
        .files()
        .iter()
        .map(|f| f.progress().1)
        .sum::<Option<u64>>();
    let names: Vec<&str> = paths
        .iter()
        .map(|p| if p == "-" { "stdin" } else { p.as_str() })
        .collect();
    progress.start(&names.join(", "), total);
    let counters = merged
        .files()
        .iter()
        .map(|f| f.progress_counter())
        .collect();
    Ok((merged, problems, counters))
}

/// A file's count of bytes read, shared with its reader.
pub(crate) type ByteCounter = std::sync::Arc<std::sync::atomic::AtomicU64>;

fn one_pass(
    paths: &[String],
    cfg: &AnalysisConfig,
    progress: &dyn Progress,
) -> Result<(Pass, SourceStats, Vec<Warning>), AnalysisError> {
    let (mut merged, problems, counters) = open_merged(paths, cfg.window, progress)?;
    // Both paths tick every TICK_PACKETS packets.
    let mut ticks: u64 = 0;
    let mut tick = || {
        ticks += 1;
        progress.advance(
            counters.iter().map(|c| c.load(Ordering::Relaxed)).sum(),
            ticks * stream::TICK_PACKETS,
        );
    };
    let parallel =
        !cfg.sequential && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let pass = if parallel {
        stream::parallel_pass(&mut merged, cfg, tick)?
    } else {
        let mut analyzer = Analyzer::new(cfg)?;
        let mut n: u64 = 0;
        merged.for_each(|raw| {
            analyzer.push(&raw);
            n += 1;
            if n % stream::TICK_PACKETS == 0 {
                tick();
            }
        });
        analyzer.finish()
    };
    progress.finish();
    Ok((pass, merged.stats(), problems))
}

/// Told how far a pass over files has got. The library never draws anything: the CLI
/// implements this with a progress bar on a terminal.
pub trait Progress: Sync {
    /// A pass over `names` (the inputs, `stdin` for `-`) starts; `total_bytes` when every
    /// input's size is known.
    fn start(&self, names: &str, total_bytes: Option<u64>);
    /// Bytes of input and packets read so far in this pass (called every few tens of
    /// thousands of packets).
    fn advance(&self, bytes: u64, packets: u64);
    /// The pass ended.
    fn finish(&self);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64, _: u64) {}
    fn finish(&self) {}
}

/// Analyses capture files (`-` is stdin) into a report. When the warm-up's provisional local
/// host or threshold turns out wrong, the files are read a second time with both fixed; stdin
/// cannot be, and the report says the timeline is approximate.
pub fn analyze_files(
    paths: &[String],
    cfg: &AnalysisConfig,
    progress: &dyn Progress,
) -> Result<(Analysis, Report), AnalysisError> {
    let (mut pass, mut stats, mut problems) = one_pass(paths, cfg, progress)?;
    if let Some(ip) = cfg.table.given.local {
        let fin = &pass.fin;
        if fin.counts.decoded > 0 && !fin.pairs.iter().any(|p| p.a == ip || p.b == ip) {
            return Err(AnalysisError::LocalAbsent {
                ip,
                candidates: fin.candidates.iter().take(5).map(|(c, _)| *c).collect(),
            });
        }
    }
    let mut passes = 1;
    let mut cfg = std::borrow::Cow::Borrowed(cfg);
    if let Some(far) = stats.far.far_is_majority() {
        // Most records lie far from where the capture began: the first ones were the odd
        // ones out. Read again keeping the majority's span.
        if stats.interrupted || paths.iter().any(|p| p == "-") {
            problems.push(Warning::FarMajority {
                records: far.records,
                first: far.first,
                last: far.last,
            });
        } else {
            let mut pinned = cfg.into_owned();
            pinned.window = Some((far.first, far.last));
            cfg = std::borrow::Cow::Owned(pinned);
            (pass, stats, problems) = one_pass(paths, &cfg, progress)?;
            passes += 1;
        }
    }
    let cfg: &AnalysisConfig = &cfg;
    if pass.fin.needs_second_pass {
        if stats.interrupted {
            // A second pass would stop at once: the first pass's timeline is what there is.
            problems.push(Warning::Source("the series, stream rate, buffer and continuity were classified with a provisional local host/threshold that the capture read contradicts; the reading was interrupted, so there is no second pass and they are approximate (give --local and --video-min to make them exact)".into()));
        } else if paths.iter().any(|p| p == "-") {
            problems.push(Warning::ApproximateTimeline);
        } else if let Some(pinned) = pass.fin.decision() {
            // Pass 2 classifies with the decision pass 1 settled on; what the user gave stays
            // what the user gave.
            let mut second = cfg.clone();
            second.table.pinned = Some(pinned);
            (pass, stats, problems) = one_pass(paths, &second, progress)?;
            passes += 1;
        }
    }
    Ok(assemble::analysis_and_report(
        pass, &stats, paths, cfg, problems, passes,
    ))
}
