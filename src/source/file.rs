//! Capture files read by a pure-Rust reader (pcap-parser): pcap in both byte orders, micro- or
//! nanosecond timestamps, and pcapng, whose interfaces may have different link types. The format
//! is recognised from the first bytes, never from the file name; `-` is standard input.
//!
//! Damage is counted in [`SourceStats`], not fatal: a file cut in the middle of a record yields
//! every record before the cut and sets `truncated`; a record that claims an impossible length
//! stops the reading there (nothing after it can be trusted) with a warning. Only a file from
//! which no header can be read is an error ([`SourceError`]).
//!
//! A gzip, zstd or xz stream is recognised by its magic bytes and decompressed on its own
//! thread ([`super::compressed`]); progress then counts compressed bytes, as the file size
//! does. The reader stops cleanly at the next record when a signal asked it to
//! ([`super::interrupt`]). In a pcapng file with several interfaces, a frame read again on
//! another interface within [`DUP_WINDOW_NS`] (the same network-layer bytes) is dropped and
//! counted in `duplicates`, as `editcap -d` would.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::compressed::{Compression, Threaded};
use super::{interrupt, linktype, RawPacket, SourceError, SourceStats};
use crate::time::Timestamp;

/// Frames with the same bytes on two interfaces of one pcapng are one frame when their times
/// are this close (ns). One frame reaches every packet socket with the one timestamp the
/// kernel gave it (`dev_queue_xmit_nit`, `__netif_receive_skb`); 10 µs leaves room for
/// rounding and clock reads, and is far below the gap between two sends of the same bytes.
pub const DUP_WINDOW_NS: i64 = 10_000;
/// Recent frames remembered for duplicate detection (bounded memory: a fixed ring).
const DUP_RING: usize = 64;

/// Size of the reader's buffer: large reads keep system calls off the profile.
const BUFFER_BYTES: usize = 1 << 20;
/// A record longer than this and longer than the file's snaplen is corrupt (libpcap uses the
/// same bound, MAXIMUM_SNAPLEN = 262144).
const MAX_SANE_CAPLEN: u32 = 262_144;
/// pcap magic numbers as read little-endian (pcap-savefile(5)).
const MAGIC_PCAP_US: u32 = 0xa1b2_c3d4;
const MAGIC_PCAP_NS: u32 = 0xa1b2_3c4d;
/// pcapng Section Header Block type (pcapng draft, section 4.1).
const MAGIC_PCAPNG_SHB: u32 = 0x0a0d_0d0a;

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic libpcap format.
    Pcap { nanoseconds: bool, big_endian: bool },
    /// pcapng.
    PcapNg,
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u16,
    /// Timestamp units per second.
    resolution: u64,
    /// `if_tsoffset`, seconds added to every timestamp (pcapng §4.2).
    offset_s: i64,
    /// The offset put a timestamp outside any plausible capture time: it is ignored from then
    /// on, and the interface's timestamps counted as bad.
    offset_absurd: bool,
}

/// A `Read` that counts the bytes it hands out, for progress reporting.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One open capture file (or standard input), read record by record.
pub struct CaptureFile {
    path: String,
    format: FileFormat,
    reader: Box<dyn PcapReaderIterator + Send>,
    legacy_link: u16,
    legacy_nanos: bool,
    snaplen: u32,
    interfaces: Vec<Interface>,
    /// Byte order of the current pcapng section.
    ng_big_endian: bool,
    read_bytes: Arc<AtomicU64>,
    total_bytes: Option<u64>,
    /// The last plausible timestamp given out (none yet at the start).
    last_ts: Option<Timestamp>,
    stats: SourceStats,
    dedup: Dedup,
    done: bool,
    /// The end-of-input warnings were written.
    closed: bool,
}

/// One frame remembered for duplicate detection.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    ts_ns: i64,
    hash: u64,
    len: u32,
    if_id: u32,
    valid: bool,
}

/// The last [`DUP_RING`] frames of a multi-interface pcapng, for duplicate detection.
#[derive(Debug, Clone)]
struct Dedup {
    ring: [Seen; DUP_RING],
    next: usize,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup {
            ring: [Seen::default(); DUP_RING],
            next: 0,
        }
    }
}

impl Dedup {
    /// Whether this frame was just read on another interface; remembers it when not.
    fn is_duplicate(&mut self, ts: Timestamp, if_id: u32, link: u16, data: &[u8]) -> bool {
        use std::hash::Hasher;
        let mut h = rustc_hash::FxHasher::default();
        let body = match linktype::network_offset(link, data) {
            Some(at) => &data[at..],
            None => {
                // An unknown link header: only the same link type can match.
                h.write_u16(link);
                data
            }
        };
        h.write(body);
        let hash = h.finish();
        let len = body.len() as u32;
        let ts_ns = ts.ns();
        let dup = self.ring.iter().any(|s| {
            s.valid
                && s.if_id != if_id
                && s.hash == hash
                && s.len == len
                && (s.ts_ns - ts_ns).abs() <= DUP_WINDOW_NS
        });
        if !dup {
            self.ring[self.next] = Seen {
                ts_ns,
                hash,
                len,
                if_id,
                valid: true,
            };
            self.next = (self.next + 1) % DUP_RING;
        }
        dup
    }
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Reads up to `limit` bytes, looping over short reads (pipes deliver in pieces).
fn read_head(reader: &mut dyn Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; limit];
    let mut filled = 0;
    while filled < limit {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok(head)
}

fn detect_format(path: &str, head: &[u8]) -> Result<FileFormat, SourceError> {
    if head.is_empty() {
        return Err(SourceError::Empty {
            path: path.to_string(),
        });
    }
    let Some(magic_bytes) = head.get(..4) else {
        return Err(SourceError::BadHeader {
            path: path.to_string(),
            detail: format!("only {} bytes", head.len()),
        });
    };
    let le = u32::from_le_bytes([
        magic_bytes[0],
        magic_bytes[1],
        magic_bytes[2],
        magic_bytes[3],
    ]);
    let be = u32::from_be_bytes([
        magic_bytes[0],
        magic_bytes[1],
        magic_bytes[2],
        magic_bytes[3],
    ]);
    match (le, be) {
        (MAGIC_PCAP_US, _) => Ok(FileFormat::Pcap {
            nanoseconds: false,
            big_endian: false,
        }),
        (MAGIC_PCAP_NS, _) => Ok(FileFormat::Pcap {
            nanoseconds: true,
            big_endian: false,
        }),
        (_, MAGIC_PCAP_US) => Ok(FileFormat::Pcap {
            nanoseconds: false,
            big_endian: true,
        }),
        (_, MAGIC_PCAP_NS) => Ok(FileFormat::Pcap {
            nanoseconds: true,
            big_endian: true,
        }),
        (MAGIC_PCAPNG_SHB, _) => Ok(FileFormat::PcapNg),
        _ => Err(SourceError::BadMagic {
            path: path.to_string(),
            magic: magic_bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" "),
        }),
    }
}

impl CaptureFile {
    /// Opens a capture file by path; `-` reads standard input.
    pub fn open(path: &str) -> Result<Self, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.to_string(),
            source,
        };
        if path == "-" {
            // On a thread of its own, so a signal ends the input even when the pipe is quiet.
            let stdin = Threaded::spawn_stoppable(Box::new(io::stdin())).map_err(io_err)?;
            Self::from_reader(path, Box::new(stdin), None)
        } else {
            let file = File::open(path).map_err(io_err)?;
            let size = file.metadata().ok().map(|m| m.len());
            Self::from_reader(path, Box::new(file), size)
        }
    }

    /// Reads a capture from any byte stream; `name` is used in messages.
    pub fn from_reader(
        name: &str,
        mut input: Box<dyn Read + Send>,
        total_bytes: Option<u64>,
    ) -> Result<Self, SourceError> {
        let head = read_head(&mut input, 64 * 1024).map_err(|source| SourceError::Io {
            path: name.to_string(),
            source,
        })?;
        let read_bytes = Arc::new(AtomicU64::new(0));
        let compression = Compression::detect(&head);
        // Read as a plain capture unless it is compressed.
        let plain_format = detect_format(name, &head);
        // Progress counts the bytes of the input itself (compressed, when it is).
        let counted = Counting {
            inner: Cursor::new(head).chain(input),
            count: Arc::clone(&read_bytes),
        };
        let (format, counting): (FileFormat, Box<dyn Read + Send>) = match compression {
            None => (plain_format?, Box::new(counted)),
            Some(c) => {
                let label = format!("{name} ({} data)", c.name());
                let bad = |e: io::Error| SourceError::BadHeader {
                    path: label.clone(),
                    detail: e.to_string(),
                };
                let mut stream = c
                    .decoder(Box::new(counted))
                    .and_then(Threaded::spawn)
                    .map_err(bad)?;
                let head = read_head(&mut stream, 64 * 1024).map_err(bad)?;
                let format = detect_format(&label, &head)?;
                (format, Box::new(Cursor::new(head).chain(stream)))
            }
        };
        let reader = pcap_parser::create_reader(BUFFER_BYTES, counting).map_err(|e| {
            SourceError::BadHeader {
                path: name.to_string(),
                detail: e.to_string(),
            }
        })?;
        Ok(CaptureFile {
            path: name.to_string(),
            format,
            reader,
            legacy_link: 0,
            legacy_nanos: false,
            snaplen: 0,
            interfaces: Vec::new(),
            ng_big_endian: false,
            read_bytes,
            total_bytes,
            last_ts: None,
            stats: SourceStats::default(),
            dedup: Dedup::default(),
            done: false,
            closed: false,
        })
    }

    /// The name given when opening.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The container format.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// What has been read so far.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Bytes read so far and the file size when known.
    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.read_bytes.load(Ordering::Relaxed), self.total_bytes)
    }

    /// A counter of bytes read that stays valid while the file is read on another thread.
    pub fn progress_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.read_bytes)
    }

    fn warn(&mut self, text: String) {
        self.stats.warnings.push(format!("{}: {text}", self.path));
    }

    /// Reads the next packet record and hands it to `f`. Returns `false` at the end of the
    /// input (clean or not), after which `stats()` is final.
    pub fn next_packet<F: FnOnce(RawPacket<'_>)>(&mut self, f: F) -> bool {
        let mut f = Some(f);
        while !self.done {
            if interrupt::requested() {
                self.stats.interrupted = true;
                let n = self.stats.packets;
                self.warn(format!(
                    "interrupted by a signal after {n} packets: the report covers what was read until then"
                ));
                self.done = true;
                break;
            }
            let step = match self.reader.next() {
                Ok((offset, block)) => {
                    let emitted = handle_block(
                        block,
                        &mut Handler {
                            legacy_link: &mut self.legacy_link,
                            legacy_nanos: &mut self.legacy_nanos,
                            snaplen: &mut self.snaplen,
                            interfaces: &mut self.interfaces,
                            ng_big_endian: &mut self.ng_big_endian,
                            stats: &mut self.stats,
                            dedup: &mut self.dedup,
                            last_ts: &mut self.last_ts,
                            path: &self.path,
                            done: &mut self.done,
                        },
                        &mut f,
                    );
                    Ok((offset, emitted))
                }
                Err(PcapError::Eof) => Err(Stop::Eof),
                Err(PcapError::Incomplete(_)) => Err(Stop::Incomplete),
                Err(PcapError::UnexpectedEof) => Err(Stop::UnexpectedEof),
                Err(PcapError::BufferTooSmall) => Err(Stop::TooLarge),
                Err(e) => Err(Stop::Corrupt(e.to_string())),
            };
            let (offset, emitted) = match step {
                Ok(x) => x,
                Err(Stop::Eof) => {
                    self.done = true;
                    break;
                }
                Err(Stop::Incomplete) => {
                    if let Err(e) = self.reader.refill() {
                        let text = format!("read error: {e}");
                        self.stats.truncated = true;
                        self.warn(text);
                        self.done = true;
                    }
                    continue;
                }
                // Records are consumed without shifting the buffer (see below), so the reader
                // may report an unexpected end with nothing left: that is a clean end.
                Err(Stop::UnexpectedEof) if self.reader.data().is_empty() => {
                    self.done = true;
                    break;
                }
                Err(Stop::UnexpectedEof) => {
                    self.stats.truncated = true;
                    // The reader says "unexpected end" for any record it could not parse once
                    // the input is exhausted; when the record's own length fits in what is
                    // left, the file is not cut: the record is corrupt.
                    let left = self.reader.data().len();
                    let text = match claimed_len(self.format, self.ng_big_endian, self.reader.data()) {
                        Some(len) if len <= left as u64 => format!(
                            "corrupt record after packet {} ({len} bytes claimed, content does not match); stopped reading with {left} bytes unread",
                            self.stats.packets
                        ),
                        _ => format!(
                            "file ends in the middle of a record after {} packets (truncated capture)",
                            self.stats.packets
                        ),
                    };
                    self.warn(text);
                    self.done = true;
                    break;
                }
                Err(Stop::TooLarge) => {
                    self.stats.truncated = true;
                    self.warn(format!(
                        "record after packet {} claims a length over {} bytes; corrupt from here, stopped reading",
                        self.stats.packets, BUFFER_BYTES
                    ));
                    self.done = true;
                    break;
                }
                Err(Stop::Corrupt(e)) => {
                    let text = format!(
                        "corrupt record after packet {} ({e}); stopped reading",
                        self.stats.packets
                    );
                    self.stats.truncated = true;
                    self.warn(text);
                    self.done = true;
                    break;
                }
            };
            // `consume` would move the rest of the buffer to its start whenever half of it is
            // read — a copy of the whole file; the refill shifts only the last partial record.
            self.reader.consume_noshift(offset);
            if emitted {
                return true;
            }
        }
        self.stats.bytes = self.read_bytes.load(Ordering::Relaxed);
        if !self.closed {
            self.closed = true;
            if self.stats.duplicates > 0 {
                let n = self.stats.duplicates;
                self.warn(format!(
                    "{n} packets were read twice, on two interfaces (the same bytes within {} µs), and counted once (capture.duplicates)",
                    DUP_WINDOW_NS / 1000
                ));
            }
        }
        false
    }
}

/// The length, header included, that the record or block at the start of `rest` claims (pcap:
/// 16-byte header + caplen; pcapng: the block total length), when its length field is there.
fn claimed_len(format: FileFormat, ng_big_endian: bool, rest: &[u8]) -> Option<u64> {
    let (at, big_endian, header) = match format {
        FileFormat::Pcap { big_endian, .. } => (8, big_endian, 16),
        FileFormat::PcapNg => (4, ng_big_endian, 0),
    };
    let b = rest.get(at..at + 4)?;
    let bytes = [b[0], b[1], b[2], b[3]];
    let len = if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    };
    Some(header + u64::from(len))
}

/// Why the reader stopped yielding blocks, detached from the reader's borrowed error.
enum Stop {
    Eof,
    Incomplete,
    UnexpectedEof,
    TooLarge,
    Corrupt(String),
}

/// The parts of a `CaptureFile` that block handling updates (the reader itself stays borrowed
/// by the block).
struct Handler<'h> {
    legacy_link: &'h mut u16,
    legacy_nanos: &'h mut bool,
    snaplen: &'h mut u32,
    interfaces: &'h mut Vec<Interface>,
    ng_big_endian: &'h mut bool,
    stats: &'h mut SourceStats,
    dedup: &'h mut Dedup,
    last_ts: &'h mut Option<Timestamp>,
    path: &'h str,
    done: &'h mut bool,
}

impl Handler<'_> {
    fn note_link(&mut self, link: u16) {
        if !self.stats.link_types.contains(&link) {
            self.stats.link_types.push(link);
        }
    }
    /// Checks a record's timestamp: an implausible one (before 1970 or after 2242) is counted
    /// as bad and replaced by the previous record's, so it cannot stretch the capture's span.
    fn stamp(&mut self, ts: Timestamp) -> Timestamp {
        if !ts.is_plausible() {
            self.stats.implausible_timestamps += 1;
            return self
                .last_ts
                .unwrap_or_else(|| ts.max(Timestamp::EPOCH).min(Timestamp::LATEST_PLAUSIBLE));
        }
        if self.last_ts.is_some_and(|last| ts < last) {
            self.stats.backwards_timestamps += 1;
        }
        *self.last_ts = Some(ts);
        ts
    }
}

/// Link type numbers keep their low 16 bits; the high bits of the pcap header field carry FCS
/// information (pcap-savefile(5), "LinkType and additional information").
fn link16(linktype: i32) -> u16 {
    (linktype as u32 & 0xffff) as u16
}

fn handle_block<F: FnOnce(RawPacket<'_>)>(
    block: PcapBlockOwned<'_>,
    h: &mut Handler<'_>,
    f: &mut Option<F>,
) -> bool {
    match block {
        PcapBlockOwned::LegacyHeader(header) => {
            *h.legacy_link = link16(header.network.0);
            *h.legacy_nanos = header.is_nanosecond_precision();
            *h.snaplen = header.snaplen;
            false
        }
        PcapBlockOwned::Legacy(record) => {
            if record.caplen > MAX_SANE_CAPLEN.max(*h.snaplen) {
                h.stats.truncated = true;
                h.stats.warnings.push(format!(
                    "{}: record {} claims {} captured bytes (snaplen {}); corrupt from here, stopped reading",
                    h.path,
                    h.stats.packets + 1,
                    record.caplen,
                    h.snaplen
                ));
                *h.done = true;
                return false;
            }
            let (frac_ns, limit) = if *h.legacy_nanos {
                (u64::from(record.ts_usec), 1_000_000_000u64)
            } else {
                (u64::from(record.ts_usec) * 1_000, 1_000_000_000u64)
            };
            let frac_ns = if frac_ns >= limit {
                h.stats.bad_timestamps += 1;
                limit - 1
            } else {
                frac_ns
            };
            let ts = h.stamp(Timestamp::from_secs_nanos(
                i64::from(record.ts_sec),
                frac_ns as u32,
            ));
            let link = *h.legacy_link;
            h.note_link(link);
            h.stats.packets += 1;
            if let Some(f) = f.take() {
                f(RawPacket {
                    ts,
                    link_type: link,
                    orig_len: record.origlen.max(record.caplen),
                    data: record.data,
                });
            }
            true
        }
        PcapBlockOwned::NG(block) => match block {
            Block::SectionHeader(shb) => {
                *h.ng_big_endian = shb.big_endian();
                h.interfaces.clear();
                false
            }
            Block::InterfaceDescription(idb) => {
                let resolution = match idb.ts_resolution() {
                    Some(r) if r > 0 => r,
                    _ => {
                        h.stats.warnings.push(format!(
                            "{}: interface {} has an invalid timestamp resolution; assuming microseconds",
                            h.path,
                            h.interfaces.len()
                        ));
                        1_000_000
                    }
                };
                h.interfaces.push(Interface {
                    link_type: link16(idb.linktype.0),
                    resolution,
                    offset_s: idb.if_tsoffset,
                    offset_absurd: false,
                });
                false
            }
            Block::EnhancedPacket(epb) => {
                let if_id = epb.if_id as usize;
                let Some(iface) = h.interfaces.get(if_id).copied() else {
                    h.stats.unknown_interface += 1;
                    return false;
                };
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let secs = i64::try_from(raw / iface.resolution).unwrap_or(i64::MAX);
                let frac = raw % iface.resolution;
                let ns = (u128::from(frac) * 1_000_000_000 / u128::from(iface.resolution)) as u32;
                let plain = Timestamp::from_secs_nanos(secs, ns);
                let ts = if iface.offset_absurd {
                    h.stats.implausible_timestamps += 1;
                    plain
                } else {
                    let shifted =
                        Timestamp::from_secs_nanos(secs.saturating_add(iface.offset_s), ns);
                    if iface.offset_s != 0 && !shifted.is_plausible() && plain.is_plausible() {
                        // The offset, not the clock, is wrong: ignore it for this interface.
                        h.stats.warnings.push(format!(
                            "{}: interface {if_id} has an if_tsoffset of {} s that puts its packets outside any plausible capture time; the offset is ignored and its timestamps counted as bad",
                            h.path, iface.offset_s
                        ));
                        if let Some(i) = h.interfaces.get_mut(if_id) {
                            i.offset_absurd = true;
                        }
                        h.stats.implausible_timestamps += 1;
                        plain
                    } else {
                        shifted
                    }
                };
                let caplen = epb.caplen as usize;
                let data = epb.data.get(..caplen).unwrap_or(epb.data);
                if h.interfaces.len() > 1
                    && h.dedup.is_duplicate(ts, epb.if_id, iface.link_type, data)
                {
                    h.stats.duplicates += 1;
                    return false;
                }
                let ts = h.stamp(ts);
                h.note_link(iface.link_type);
                h.stats.packets += 1;
                if let Some(f) = f.take() {
                    f(RawPacket {
                        ts,
                        link_type: iface.link_type,
                        orig_len: epb.origlen.max(data.len() as u32),
                        data,
                    });
                }
                true
            }
            Block::SimplePacket(spb) => {
                // Simple packets carry no timestamp: they take the previous record's.
                let Some(iface) = h.interfaces.first().copied() else {
                    h.stats.unknown_interface += 1;
                    return false;
                };
                let ts = h.last_ts.unwrap_or(Timestamp::EPOCH);
                let data = spb.data.get(..spb.origlen as usize).unwrap_or(spb.data);
                h.note_link(iface.link_type);
                h.stats.packets += 1;
                if let Some(f) = f.take() {
                    f(RawPacket {
                        ts,
                        link_type: iface.link_type,
                        orig_len: spb.origlen.max(data.len() as u32),
                        data,
                    });
                }
                true
            }
            _ => {
                h.stats.skipped_blocks += 1;
                false
            }
        },
    }
}
