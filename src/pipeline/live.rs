//! A live capture's frames through the same analysis as a file's: [`LiveSession`] counts what
//! the source read (as a file reader's [`SourceStats`] would) and feeds the [`Analyzer`];
//! snapshots finish a copy of the table while the capture goes on.

use super::assemble::{self, Warning};
use super::stream::{Analyzer, Pass};
use super::{Analysis, AnalysisConfig, AnalysisError};
use crate::flow::Live;
use crate::report::Report;
use crate::source::{RawPacket, SourceStats};
use crate::time::Timestamp;

/// One live capture being analysed.
pub struct LiveSession {
    analyzer: Analyzer,
    stats: SourceStats,
    last: Option<Timestamp>,
}

impl LiveSession {
    /// A session for an interface of the given link type.
    pub fn new(cfg: &AnalysisConfig, link_type: u16) -> Result<Self, AnalysisError> {
        Ok(LiveSession {
            analyzer: Analyzer::new(cfg)?,
            stats: SourceStats {
                link_types: vec![link_type],
                ..SourceStats::default()
            },
            last: None,
        })
    }

    /// Takes one captured frame.
    #[inline]
    pub fn push(&mut self, raw: &RawPacket<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += raw.data.len() as u64;
        if self.last.is_some_and(|last| raw.ts < last) {
            self.stats.backwards_timestamps += 1;
        }
        self.last = Some(raw.ts);
        self.analyzer.push(raw);
    }

    /// Frames taken so far.
    pub fn packets(&self) -> u64 {
        self.stats.packets
    }

    /// The vantage point's running totals, for a status line.
    pub fn live(&self) -> Live {
        self.analyzer.live()
    }

    /// The report of the capture so far (the capture goes on).
    pub fn snapshot(&self, files: &[String], cfg: &AnalysisConfig) -> Report {
        let pass = self.analyzer.snapshot();
        let mut warnings = vec![Warning::Snapshot {
            packets: self.stats.packets,
        }];
        if pass.fin.needs_second_pass {
            warnings.push(Warning::SnapshotApproximate);
        }
        assemble::build_report(pass, &self.stats, files, cfg, warnings, 1)
    }

    /// Ends the capture: the pass (finished table, identification, the feed, the filter's
    /// warnings) and what was read.
    pub fn finish(self) -> (Pass, SourceStats) {
        (self.analyzer.finish(), self.stats)
    }

    /// The analysis and report of a finished session.
    pub fn report(
        pass: Pass,
        stats: &SourceStats,
        files: &[String],
        cfg: &AnalysisConfig,
        warnings: Vec<Warning>,
    ) -> (Analysis, Report) {
        assemble::analysis_and_report(pass, stats, files, cfg, warnings, 1)
    }
}
