//! Packet sources: where captured frames come from.
//!
//! A source yields [`RawPacket`]s — a timestamp, the link type of the interface it was captured
//! on, the captured bytes and the original length — and keeps [`SourceStats`] about what it
//! read and what it could not. Files are read by the pure-Rust reader in [`mod@file`] (pcap in both
//! byte orders and both precisions, pcapng with mixed link types, stdin); several files are
//! merged in timestamp order by [`merge`]. Compressed files and streams (gzip, zstd, xz) are
//! recognised by their magic bytes and decompressed on a thread of their own by
//! [`compressed`]; a signal asks every reader to stop at its next record ([`interrupt`]). Live interfaces are read by [`live`] (libpcap, on a
//! reader thread that also writes the pcap file). Nothing here looks inside a frame.

pub mod compressed;
pub mod file;
pub mod filter;
pub mod interrupt;
pub mod linktype;
pub mod live;
pub mod merge;
pub mod timegate;

pub use file::{CaptureFile, FileFormat};

use crate::time::Timestamp;
pub use merge::Merged;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Link type (DLT/LINKTYPE number) of the interface the frame was captured on.
    pub link_type: u16,
    /// Length of the frame on the wire (may exceed `data.len()` when a snaplen cut it).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// What a source read, and what it could not. Merged across files with `+=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Packet records read.
    pub packets: u64,
    /// Bytes of the input consumed.
    pub bytes: u64,
    /// Distinct link types seen, in order of first appearance.
    pub link_types: Vec<u16>,
    /// The input ended in the middle of a record, or a corrupt record stopped the reading.
    pub truncated: bool,
    /// Records with an impossible timestamp fraction (µs ≥ 10⁶ or ns ≥ 10⁹).
    pub bad_timestamps: u64,
    /// Records whose time lies outside any plausible capture time (before 1970 or after 2242,
    /// e.g. through an absurd pcapng `if_tsoffset`): each takes the previous record's time.
    pub implausible_timestamps: u64,
    /// Records whose timestamp is earlier than the previous record's in the same file.
    pub backwards_timestamps: u64,
    /// pcapng blocks that carry no packet and were skipped (statistics, name resolution, unknown).
    pub skipped_blocks: u64,
    /// Packets whose interface id names no interface description.
    pub unknown_interface: u64,
    /// pcapng records dropped because the same frame had just been read on another interface
    /// of the file (same network-layer bytes within a few µs, like `editcap -d`); not counted
    /// in `packets`.
    pub duplicates: u64,
    /// The reading stopped early because a signal asked it to ([`interrupt`]).
    pub interrupted: bool,
    /// Human-readable warnings, each naming the file.
    pub warnings: Vec<String>,
    /// Records held back because their time lies far from the rest ([`timegate`]); set on
    /// the merged statistics only.
    pub far: timegate::FarRecords,
}

impl std::ops::AddAssign<&SourceStats> for SourceStats {
    fn add_assign(&mut self, other: &SourceStats) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        for lt in &other.link_types {
            if !self.link_types.contains(lt) {
                self.link_types.push(*lt);
            }
        }
        self.truncated |= other.truncated;
        self.bad_timestamps += other.bad_timestamps;
        self.implausible_timestamps += other.implausible_timestamps;
        self.backwards_timestamps += other.backwards_timestamps;
        self.skipped_blocks += other.skipped_blocks;
        self.unknown_interface += other.unknown_interface;
        self.duplicates += other.duplicates;
        self.interrupted |= other.interrupted;
        self.warnings.extend(other.warnings.iter().cloned());
    }
}

/// Errors that stop a source before it yields anything usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: empty file, no capture header")]
    Empty { path: String },
    /// The first bytes are neither a pcap nor a pcapng header.
    #[error("{path}: not a pcap or pcapng capture (unrecognised header {magic})")]
    BadMagic { path: String, magic: String },
    /// The header is recognised but cut short or broken.
    #[error("{path}: broken capture header ({detail})")]
    BadHeader { path: String, detail: String },
}
