//! The one code path from packets to a report, shared by `analyze`, `capture` and `compare`:
//! source → decode → flow table (classify, count) → metrics → report model.
//!
//! - [`stream`]: [`Analyzer`] takes raw frames one at a time (from files or a live interface)
//!   and feeds the flow table; the two-thread variant reads and decodes on one thread while the
//!   table is fed on another. Both go through the same items, so both give the same table.
//! - [`files`]: capture files opened, merged and read — with the second pass the flow table
//!   may ask for — into an [`Analysis`] and its [`Report`](crate::report::Report); progress goes to a [`Progress`]
//!   observer that the caller implements (the CLI draws a bar).
//! - [`live`]: a live capture's frames counted as a file's would be, for `capture`.
//! - [`matching`]: `compare`'s pass over several vantage points' captures at once.
//! - [`gateway`]: gateway mode — every client address behind a tap its own vantage point, in
//!   one pass, each client's table fed by the same items as [`stream`]'s.
//! - [`assemble`]: a finished table and what the source read turned into the [`Report`](crate::report::Report) model,
//!   with every warning as a typed [`Warning`].

pub mod assemble;
pub mod files;
pub mod gateway;
pub mod live;
pub mod matching;
pub mod stream;

use std::net::IpAddr;

use crate::flow::{Decision, TableConfig};
use crate::metrics::playback::PlaybackOptions;
use crate::source::SourceError;
use crate::time::Timestamp;

pub use assemble::{build_report, Warning};
pub use files::{analyze_files, open_files, NoProgress, Progress};
pub use stream::Analyzer;

/// What an analysis needs to know beyond the packets.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConfig {
    pub table: TableConfig,
    pub playback: PlaybackOptions,
    /// `-f` expression.
    pub filter: Option<String>,
    /// Read and decode on one thread while the flow table is fed on another (files only).
    /// Off gives the same report, single-threaded.
    pub sequential: bool,
    /// Only records inside this window are analysed (set by the file pass itself when most
    /// records lie far from where the capture began: `source::timegate`).
    pub window: Option<(Timestamp, Timestamp)>,
    /// The ASN and country databases for `locality` (`--asn-db`, `--geo-db`; issue 18).
    pub locator: std::sync::Arc<crate::geo::Locator>,
}

/// Errors that leave nothing to report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// No input could be opened (each file's problem, in the order given).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NoInput(Vec<SourceError>),
    /// A bad filter expression.
    #[error("{0}")]
    Filter(String),
    /// A thread of the analysis failed (a bug, not the input's fault).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// `--local` names an address that exchanged no packet in the capture.
    #[error("--local {ip} is not in the capture; candidates: {}", if .candidates.is_empty() { "none".to_string() } else { .candidates.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ") })]
    LocalAbsent { ip: IpAddr, candidates: Vec<IpAddr> },
}

/// What an analysis decided and found, in domain types: what later stages (`compare`, the
/// CLI) read instead of the report's strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The local host and threshold every packet was classified with.
    pub decision: Option<Decision>,
    /// First and last timestamp of the capture.
    pub first: Timestamp,
    pub last: Timestamp,
    /// The tracker, when one was found.
    pub tracker: Option<IpAddr>,
    /// Video packets received and sent by the local host.
    pub video_packets_in: u64,
    pub video_packets_out: u64,
    /// The largest peer UDP payload the local host sent or received.
    pub largest_udp_payload: Option<u32>,
    /// Times the input was read (1, or 2 when the warm-up's provisional decision was wrong).
    pub passes: u32,
    /// The 5-tuple flows (`--flows`), when `TableConfig::max_conns` asked for them.
    pub flows: crate::flow::conns::Flows,
}
