//! Reports: the serde model of `report.json` (schema `peerscope/report-v1`, SPEC §3) and the
//! renderers that turn it into JSON and a human summary. Renderers are pure functions from the
//! model to a writer; the model holds no computation.

pub mod anonymize;
pub mod clients;
pub mod compare;
pub mod compare_svg;
pub mod html;
pub mod json;
pub mod svg;
pub mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::peers::{Peers, Tracker};
use crate::metrics::playback::{Buffer, Continuity, Startup, Stream, Summary};
use crate::metrics::sizes::Sizes;
use crate::metrics::traffic::{Series, Traffic};

/// The schema name written in every report.
pub const SCHEMA: &str = "peerscope/report-v1";

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema: String,
    /// `peerscope <version>`.
    pub generator: String,
    pub capture: Capture,
    pub local: Local,
    pub sizes: Sizes,
    pub traffic: Traffic,
    pub peers: Peers,
    pub tracker: Tracker,
    pub series: Series,
    pub stream: Stream,
    pub startup: Startup,
    pub buffer: Buffer,
    pub continuity: Continuity,
    pub summary: Summary,
    /// What the traffic is, from headers and behaviour (absent in reports written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationSection>,
    /// What kind of traffic this is, with the reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictSection>,
    /// Present when every address was replaced by a pseudonym (`--anonymize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymized: Option<Anonymized>,
    /// Churn, lifetimes, supplier turnover and reciprocity (issue 18; absent in older reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<crate::metrics::swarm::Swarm>,
    /// Network awareness: same AS, country, prefix, near hops (issue 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<crate::metrics::locality::Locality>,
}

/// `anonymized`: the report's addresses are keyed pseudonyms (see `report::anonymize`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Anonymized {
    /// `crypto-pan` (prefix-preserving).
    pub method: String,
    /// 16 hex digits that tell keys apart (not the key): reports with the same fingerprint
    /// share pseudonyms.
    pub key_fingerprint: String,
    /// Loopback addresses (127.0.0.0/8, ::1) were left as they are.
    pub loopback_kept: bool,
}

/// `application`: the application identified from headers and behaviour, never from ports
/// alone (`identify`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSection {
    /// `bittorrent`, `sopcast`, `ppstream`, `webrtc`, `srt`, `rtp`, `quic` or `unknown`.
    pub name: String,
    /// 0–1.
    pub confidence: f64,
    /// The evidence for `name`, strongest rule first: rule, packets, flows, bytes.
    pub evidence: Vec<String>,
}

/// `verdict`: `p2p-live-streaming`, `p2p-bulk`, `two-party-call`, `client-server-stream` or
/// `unknown`, with the reasons.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VerdictSection {
    pub kind: String,
    pub reasons: Vec<String>,
}

/// `capture`: what was read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub files: Vec<String>,
    /// Link types seen, by tcpdump's names (EN10MB, LINUX_SLL2, RAW, …).
    pub link_types: Vec<String>,
    /// Packet records read.
    pub packets: u64,
    /// Records decoded to an IP packet.
    pub decoded_packets: u64,
    /// Records that could not be decoded (see `malformed_by_reason`).
    pub malformed_packets: u64,
    pub malformed_by_reason: BTreeMap<String, u64>,
    /// Well-formed frames that carry no IP (ARP, LLDP, …).
    pub not_ip_packets: u64,
    /// Records rejected by the `-f` filter.
    pub filtered_packets: u64,
    /// IP fragments (first and later).
    pub fragments: u64,
    /// Decoded packets whose headers disagreed, by kind (see the README).
    pub anomalies: BTreeMap<String, u64>,
    /// Some input ended inside a record or had a corrupt record.
    pub truncated: bool,
    pub bad_timestamps: u64,
    pub backwards_timestamps: u64,
    /// First and last packet, RFC 3339 UTC with microseconds.
    pub start: Option<String>,
    pub end: Option<String>,
    pub duration_s: f64,
    /// `-f` expression, if any.
    pub filter: Option<String>,
    /// Passes over the input (2 when the warm-up's provisional choice had to be corrected).
    pub passes: u32,
    pub warnings: Vec<String>,
    /// Live capture only (`peerscope capture`): packets the kernel dropped because the buffer
    /// was full, and packets the interface or its driver dropped, as libpcap counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_by_kernel: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_by_interface: Option<u64>,
    /// Records dropped as copies of a frame just read on another interface of the same
    /// pcapng (same network-layer bytes within 10 µs, like `editcap -d`), not counted in
    /// `packets`; absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
    /// Records held back because their time lies more than 7 days from the rest of the
    /// capture (not analysed, not in the span; a warning gives their span); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub far_records: Option<u64>,
}

/// `local`: the vantage point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Local {
    pub ip: Option<String>,
    pub how: String,
    pub candidates: Vec<Candidate>,
}

/// A local-host candidate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub ip: String,
    /// Distinct remote addresses it exchanged peer UDP with.
    pub udp_peers: u64,
}
