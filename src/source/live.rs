//! Live capture: frames from a network interface through libpcap, read on a thread of their own.
//!
//! [`LiveCapture::open`] activates the interface (a 64 MB kernel buffer, no immediate mode, SLL2
//! on Linux's `any`, then the kernel BPF filter — in that order, or `any` captures nothing) and
//! turns libpcap's terse failures into [`LiveError`]s that say what to do.
//! [`LiveCapture::spawn`] starts the reader thread, which
//!
//! - reads nonblocking in its own deadline loop (a blocking `next_packet` never times out on a
//!   quiet interface, so a stop request would go unnoticed);
//! - writes every frame to the pcap file as it arrives and flushes it at least once a second, so
//!   the run can always be analysed again from the file; with a [`Rotation`] (tcpdump's `-C`,
//!   `-G`, `-W`) the file is closed and the next one opened between two frames, so every frame
//!   read is in exactly one file;
//! - sends [`Batch`]es of owned frames (one buffer per batch, not an allocation per frame)
//!   through a bounded channel, so a slow consumer backs up into the kernel buffer, whose drops
//!   libpcap counts;
//! - stops on the [`Stop`] conditions: a flag set by a signal handler, a packet count, a
//!   duration.
//!
//! The consumer lends each batch's frames as [`RawPacket`]s to the same analyzer that files
//! feed. [`interfaces`] lists what can be captured on.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pcap::{Active, Capture, Device, Linktype, Savefile};

use super::RawPacket;
use crate::time::Timestamp;

/// LINKTYPE_LINUX_SLL2: what Linux's `any` pseudo-interface is captured as (the interface
/// index and packet direction in each header).
const LINUX_SLL2: i32 = 276;
/// Kernel buffer: with libpcap's default 2 MB a burst on `lo` loses most of its packets.
pub const BUFFER_BYTES: i32 = 64 << 20;
/// Read timeout handed to libpcap: on Linux it is how long the kernel holds a partly filled
/// block of the ring before the reader sees it, so it bounds the delay of a quiet stream.
const BLOCK_TIMEOUT_MS: i32 = 50;
/// After a stop request, frames already in the ring (in a block not yet handed over) are still
/// read for this long, so everything that arrived before the stop is kept.
const DRAIN: Duration = Duration::from_millis(4 * BLOCK_TIMEOUT_MS as u64);
/// Pause of the reader when the ring is empty.
const IDLE: Duration = Duration::from_millis(2);
/// The pcap file is flushed, and the kernel's counters read, at least this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// A batch is sent when it holds this many frames or bytes, or when the ring is empty.
const BATCH_FRAMES: usize = 512;
const BATCH_BYTES: usize = 256 << 10;

/// The default interface: `any` on Linux (so the player's loopback traffic is seen too),
/// libpcap's first device elsewhere.
pub fn default_interface() -> Result<String, LiveError> {
    if cfg!(target_os = "linux") {
        return Ok("any".into());
    }
    match Device::lookup() {
        Ok(Some(d)) => Ok(d.name),
        Ok(None) => Err(LiveError::NoInterface),
        Err(e) => Err(LiveError::Pcap {
            interface: "(default)".into(),
            detail: e.to_string(),
        }),
    }
}

/// Why a live capture could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// Capturing needs privileges this process lacks.
    #[error("cannot capture on {interface}: {detail}. Capturing needs root or the capabilities CAP_NET_RAW and CAP_NET_ADMIN: run as root (sudo), or once: sudo setcap cap_net_raw,cap_net_admin+eip {binary}")]
    Permission {
        interface: String,
        detail: String,
        binary: String,
    },
    /// The interface does not exist.
    #[error("no interface named '{interface}'; available: {}", available.join(", "))]
    NoSuchInterface {
        interface: String,
        available: Vec<String>,
    },
    /// No interface at all.
    #[error("no interface to capture on")]
    NoInterface,
    /// libpcap refused the filter expression.
    #[error("bad filter expression '{expr}': {detail}")]
    Filter { expr: String, detail: String },
    /// The pcap file could not be created.
    #[error("cannot write {path}: {detail}")]
    Savefile { path: PathBuf, detail: String },
    /// Any other libpcap failure.
    #[error("cannot capture on {interface}: {detail}")]
    Pcap { interface: String, detail: String },
}

/// One interface as libpcap sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub description: Option<String>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    pub wireless: bool,
    pub addresses: Vec<IpAddr>,
}

/// The interfaces that can be captured on, in libpcap's order.
pub fn interfaces() -> Result<Vec<Interface>, LiveError> {
    let devices = Device::list().map_err(|e| LiveError::Pcap {
        interface: "(listing)".into(),
        detail: e.to_string(),
    })?;
    Ok(devices
        .into_iter()
        .map(|d| Interface {
            up: d.flags.is_up(),
            running: d.flags.is_running(),
            loopback: d.flags.is_loopback(),
            wireless: d.flags.is_wireless(),
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            name: d.name,
            description: d.desc,
        })
        .collect())
}

/// How to open an interface.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interface: String,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// BPF expression compiled into the kernel filter.
    pub filter: Option<String>,
}

/// When the reader stops (whichever comes first).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    /// Set by a signal handler (or anyone) to stop the capture.
    pub flag: Arc<AtomicBool>,
    /// Stop after this many frames.
    pub count: Option<u64>,
    /// Stop this long after the reader starts.
    pub duration: Option<Duration>,
}

/// Counters the reader keeps up to date for a status line.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Frames read.
    pub packets: AtomicU64,
    /// Frames the kernel dropped for want of buffer space (libpcap `ps_drop`).
    pub dropped_by_kernel: AtomicU64,
    /// Frames the interface or driver dropped (libpcap `ps_ifdrop`).
    pub dropped_by_interface: AtomicU64,
}

/// Where a frame lies in its batch's buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    ts_ns: i64,
    orig_len: u32,
    start: usize,
    end: usize,
}

/// Owned frames read in a row: one buffer for all their bytes.
#[derive(Debug)]
pub struct Batch {
    link_type: u16,
    data: Vec<u8>,
    slots: Vec<Slot>,
}

impl Batch {
    fn new(link_type: u16) -> Self {
        Batch {
            link_type,
            data: Vec::with_capacity(BATCH_BYTES + 2048),
            slots: Vec::with_capacity(BATCH_FRAMES),
        }
    }

    fn push(&mut self, ts_ns: i64, orig_len: u32, bytes: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.slots.push(Slot {
            ts_ns,
            orig_len,
            start,
            end: self.data.len(),
        });
    }

    /// Takes the last frame back out (it was not kept after all).
    fn pop(&mut self) {
        if let Some(s) = self.slots.pop() {
            self.data.truncate(s.start);
        }
    }

    /// The bytes of the last frame.
    fn last_data(&self) -> Option<&[u8]> {
        let s = self.slots.last()?;
        self.data.get(s.start..s.end)
    }

    fn full(&self) -> bool {
        self.slots.len() >= BATCH_FRAMES || self.data.len() >= BATCH_BYTES
    }

    /// Frames in the batch.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The frames, in capture order.
    pub fn packets(&self) -> impl Iterator<Item = RawPacket<'_>> {
        self.slots.iter().map(move |s| RawPacket {
            ts: Timestamp::from_ns(s.ts_ns),
            link_type: self.link_type,
            orig_len: s.orig_len,
            data: self.data.get(s.start..s.end).unwrap_or_default(),
        })
    }
}

/// How the pcap files rotate: tcpdump's `-C`, `-G` and `-W`, with its names (tcpdump(8)).
///
/// - `-C` ([`max_bytes`](Rotation::max_bytes)): before a frame is written, a file already
///   holding more than this many bytes is closed and the next one opened (so a file exceeds
///   it by at most one frame). Names: the `-w` name, then the name with `1`, `2`, … appended;
///   with `-W N` the files are `name0` … `name{N-1}` (zero-padded to the digits of N−1), reused
///   in turn: a ring of the last N files.
/// - `-G` ([`every`](Rotation::every)): a frame this many seconds (by its timestamp) after the
///   current file was opened goes to a new file, named by passing the `-w` name through
///   strftime (local time), e.g. `-w 'trace-%Y%m%d-%H%M%S.pcap'`; with `-C` too, the size
///   number is appended and starts again at each new time. With `-W N` and no `-C`, the
///   capture stops (cleanly) when a frame would open file N+1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rotation {
    /// `-C`, bytes (tcpdump counts its argument in millions of bytes).
    pub max_bytes: Option<u64>,
    /// `-G`, seconds.
    pub every: Option<u64>,
    /// `-W`.
    pub files: Option<u32>,
}

impl Rotation {
    /// True when files rotate at all.
    pub fn is_active(&self) -> bool {
        self.max_bytes.is_some() || self.every.is_some()
    }

    /// Digits of the appended number: those of N−1 with `-W N`, else none (tcpdump's
    /// `WflagChars`).
    fn width(&self) -> usize {
        match self.files {
            Some(n) if n > 1 => (n - 1).to_string().len(),
            Some(_) => 1,
            None => 0,
        }
    }
}

/// Bytes of the pcap file header and of each record header (pcap-savefile(5)).
const PCAP_FILE_HEADER: u64 = 24;
const PCAP_RECORD_HEADER: u64 = 16;

/// The name of a rotated file, as tcpdump's `MakeFilename`: `template` through strftime when
/// `-G` is on (at local time `at_s`), then `count` appended, zero-padded to `width` digits —
/// unless both are 0 (the first file of a `-C` run without `-W` keeps the bare name).
/// Invalid strftime items were refused when the option was checked ([`check_template`]).
pub fn rotated_name(template: &str, strftime: bool, at_s: i64, count: u32, width: usize) -> String {
    let base = if strftime {
        use chrono::TimeZone;
        match chrono::Local.timestamp_opt(at_s, 0).earliest() {
            Some(t) => {
                let items: Vec<_> = chrono::format::StrftimeItems::new(template).collect();
                if items
                    .iter()
                    .any(|i| matches!(i, chrono::format::Item::Error))
                {
                    template.to_string()
                } else {
                    t.format_with_items(items.into_iter()).to_string()
                }
            }
            None => template.to_string(),
        }
    } else {
        template.to_string()
    };
    if count == 0 && width == 0 {
        base
    } else {
        format!("{base}{count:0width$}")
    }
}

/// Checks a `-w` name for strftime (`-G`): an item chrono cannot format is refused.
pub fn check_template(template: &str) -> Result<(), String> {
    let bad = chrono::format::StrftimeItems::new(template)
        .any(|i| matches!(i, chrono::format::Item::Error));
    if bad {
        Err(format!(
            "-w {template}: not a valid strftime pattern (with -G the name is passed through strftime; write a literal % as %%)"
        ))
    } else {
        Ok(())
    }
}

/// The pcap file being written and, when it rotates, where it is in its rotation.
struct Writer {
    file: Savefile,
    path: PathBuf,
    template: String,
    rotation: Rotation,
    /// Bytes in the current file.
    bytes: u64,
    /// The number appended for `-C` (tcpdump's `Cflag_count`).
    count: u32,
    /// When the current time period (`-G`) started, seconds since the epoch.
    opened_s: i64,
    /// Files opened for `-G` periods (for `-W` without `-C`).
    periods: u32,
    /// Every file written, in order of first opening.
    files: Vec<PathBuf>,
    /// A file was reopened (the `-C -W` ring came round): its earlier frames are gone.
    wrapped: bool,
}

/// What [`Writer::before`] decided.
enum Next {
    Write,
    /// `-G` with `-W`: the file limit is reached; the capture stops before this frame.
    Stop,
}

impl Writer {
    fn open(cap: &Capture<Active>, path: &Path) -> Result<Savefile, String> {
        cap.savefile(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Rotates, if this frame (time `ts_ns`) must go to another file.
    fn before(&mut self, cap: &Capture<Active>, ts_ns: i64) -> Result<Next, String> {
        let ts_s = ts_ns.div_euclid(1_000_000_000);
        let mut reopen = false;
        if let Some(g) = self.rotation.every {
            if ts_s.saturating_sub(self.opened_s) >= i64::try_from(g).unwrap_or(i64::MAX) {
                if self.rotation.max_bytes.is_none()
                    && self.rotation.files.is_some_and(|w| self.periods >= w)
                {
                    return Ok(Next::Stop);
                }
                self.periods += 1;
                self.opened_s = ts_s;
                self.count = 0;
                reopen = true;
            }
        }
        if let Some(c) = self.rotation.max_bytes {
            if !reopen && self.bytes > c {
                self.count += 1;
                if self.rotation.files.is_some_and(|w| self.count >= w) {
                    self.count = 0;
                }
                reopen = true;
            }
        }
        if reopen {
            let name = rotated_name(
                &self.template,
                self.rotation.every.is_some(),
                self.opened_s,
                self.count,
                self.rotation.width(),
            );
            let path = PathBuf::from(name);
            self.file
                .flush()
                .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
            // The old file is closed when its Savefile is dropped, after the new one opened.
            self.file = Self::open(cap, &path)?;
            if self.files.contains(&path) {
                self.wrapped = true;
            } else {
                self.files.push(path.clone());
            }
            self.path = path;
            self.bytes = PCAP_FILE_HEADER;
        }
        Ok(Next::Write)
    }
}

/// How the reader ended.
#[derive(Debug, Clone, Default)]
pub struct ReaderEnd {
    /// Frames read (and written to the pcap file).
    pub packets: u64,
    /// The pcap files written, in order (one unless they rotate).
    pub files: Vec<PathBuf>,
    /// The `-C -W` ring came round: the first files were overwritten.
    pub wrapped: bool,
    /// `-G` with `-W`: the capture stopped at its file limit.
    pub file_limit: bool,
    /// libpcap's final counters; `None` when they could not be read.
    pub dropped_by_kernel: Option<u64>,
    pub dropped_by_interface: Option<u64>,
    /// A read or write error that ended the capture early.
    pub error: Option<String>,
}

/// An opened interface, not yet read.
pub struct LiveCapture {
    cap: Capture<Active>,
    interface: String,
    link_type: u16,
    savefile: Option<Writer>,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("interface", &self.interface)
            .field("link_type", &self.link_type)
            .finish()
    }
}

fn is_permission(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("operation not permitted")
        || d.contains("permission")
        || d.contains("not have permission")
}

fn is_no_device(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("no such device")
}

impl LiveCapture {
    /// Opens and activates the interface and sets the filter.
    pub fn open(opts: &LiveOptions) -> Result<Self, LiveError> {
        let interface = opts.interface.clone();
        let failed = |e: pcap::Error| classify(&interface, e.to_string());
        let snaplen = i32::try_from(opts.snaplen).unwrap_or(i32::MAX);
        let inactive = Capture::from_device(interface.as_str()).map_err(failed)?;
        let mut cap = inactive
            .snaplen(snaplen)
            .buffer_size(BUFFER_BYTES)
            .timeout(BLOCK_TIMEOUT_MS)
            .open()
            .map_err(failed)?;
        // SLL2 keeps the interface of each frame; it must be chosen before the filter is
        // compiled, or the filter is compiled for the wrong header and nothing matches.
        if interface == "any"
            && cap
                .list_datalinks()
                .is_ok_and(|l| l.contains(&Linktype(LINUX_SLL2)))
        {
            cap.set_datalink(Linktype(LINUX_SLL2)).map_err(failed)?;
        }
        if let Some(expr) = &opts.filter {
            cap.filter(expr, true).map_err(|e| LiveError::Filter {
                expr: expr.clone(),
                detail: e.to_string(),
            })?;
        }
        let cap = cap.setnonblock().map_err(failed)?;
        let link_type = u16::try_from(cap.get_datalink().0).unwrap_or(u16::MAX);
        Ok(LiveCapture {
            cap,
            interface,
            link_type,
            savefile: None,
        })
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The link type frames arrive with.
    pub fn link_type(&self) -> u16 {
        self.link_type
    }

    /// Writes every frame read to a pcap file at `path` (created now, replacing any file).
    pub fn write_to(&mut self, path: &Path) -> Result<(), LiveError> {
        self.write_rotating(path, Rotation::default())
    }

    /// Writes every frame read to pcap files named after `path` as `rotation` says (the first
    /// is created now, replacing any file of its name); see [`Rotation`] for the names.
    pub fn write_rotating(&mut self, path: &Path, rotation: Rotation) -> Result<(), LiveError> {
        let template = path.to_string_lossy().into_owned();
        let now_s = wall_ns().div_euclid(1_000_000_000);
        let first = PathBuf::from(rotated_name(
            &template,
            rotation.every.is_some(),
            now_s,
            0,
            if rotation.is_active() {
                rotation.width()
            } else {
                0
            },
        ));
        let file = Writer::open(&self.cap, &first).map_err(|detail| LiveError::Savefile {
            path: first.clone(),
            detail,
        })?;
        self.savefile = Some(Writer {
            file,
            path: first.clone(),
            template,
            rotation,
            bytes: PCAP_FILE_HEADER,
            count: 0,
            opened_s: now_s,
            periods: 1,
            files: vec![first],
            wrapped: false,
        });
        Ok(())
    }

    /// Starts the reader thread. It sends batches through `tx` until a stop condition holds or
    /// the receiver hangs up, then flushes and closes the pcap file and returns its tally.
    pub fn spawn(
        self,
        stop: Stop,
        counters: Arc<LiveCounters>,
        tx: SyncSender<Batch>,
    ) -> std::io::Result<JoinHandle<ReaderEnd>> {
        std::thread::Builder::new()
            .name("peerscope-capture".into())
            .spawn(move || self.read(&stop, &counters, &tx))
    }

    fn read(mut self, stop: &Stop, counters: &LiveCounters, tx: &SyncSender<Batch>) -> ReaderEnd {
        let started = Instant::now();
        let started_ns = wall_ns();
        let deadline = stop.duration.map(|d| started + d);
        let mut end = ReaderEnd::default();
        let mut batch = Batch::new(self.link_type);
        let mut last_flush = started;
        // Once a stop is requested: the wall-clock time of the stop (later frames are not
        // kept) and how long the ring is still read for frames that arrived before it.
        let mut stopping: Option<(i64, Instant)> = None;
        let mut since_check = 0u32;
        loop {
            if stop.count.is_some_and(|c| end.packets >= c) {
                break;
            }
            let idle = match self.cap.next_packet() {
                Ok(p) => {
                    let ts_ns = timeval_ns(p.header.ts.tv_sec, p.header.ts.tv_usec);
                    since_check += 1;
                    let keep = stopping.is_none_or(|(at, _)| ts_ns <= at);
                    if keep {
                        let header = *p.header;
                        // The frame is copied into the batch first: that ends the borrow of
                        // the capture, which opening the next file of a rotation needs.
                        batch.push(ts_ns, p.header.len, p.data);
                        if let Some(w) = self.savefile.as_mut() {
                            match w.before(&self.cap, ts_ns) {
                                Ok(Next::Write) => {}
                                Ok(Next::Stop) => {
                                    batch.pop();
                                    end.file_limit = true;
                                    break;
                                }
                                Err(e) => {
                                    batch.pop();
                                    end.error = Some(e);
                                    break;
                                }
                            }
                            if let Some(data) = batch.last_data() {
                                w.file.write(&pcap::Packet::new(&header, data));
                            }
                            w.bytes += PCAP_RECORD_HEADER + u64::from(header.caplen);
                        }
                        end.packets += 1;
                    }
                    if batch.full() {
                        let full = std::mem::replace(&mut batch, Batch::new(self.link_type));
                        counters.packets.store(end.packets, Ordering::Relaxed);
                        if tx.send(full).is_err() {
                            break;
                        }
                    }
                    false
                }
                Err(pcap::Error::TimeoutExpired) => true,
                Err(e) => {
                    end.error = Some(e.to_string());
                    break;
                }
            };
            if idle && !batch.is_empty() {
                let part = std::mem::replace(&mut batch, Batch::new(self.link_type));
                counters.packets.store(end.packets, Ordering::Relaxed);
                if tx.send(part).is_err() {
                    break;
                }
            }
            if !idle && since_check < 64 {
                continue;
            }
            since_check = 0;
            let now = Instant::now();
            if stopping.is_none() {
                if let Some(d) = deadline.filter(|&d| now >= d) {
                    let at = started_ns + i64::try_from((d - started).as_nanos()).unwrap_or(0);
                    stopping = Some((at, now + DRAIN));
                } else if stop.flag.load(Ordering::Relaxed) {
                    stopping = Some((wall_ns(), now + DRAIN));
                }
            }
            // The ring hands a block over when it fills or its timeout expires: frames from
            // before the stop may still be on their way until the drain time has passed.
            if stopping.is_some_and(|(_, until)| now >= until) {
                break;
            }
            if now.duration_since(last_flush) >= FLUSH_EVERY {
                last_flush = now;
                if let Err(e) = self.flush(counters) {
                    end.error = Some(e);
                    break;
                }
            }
            if idle {
                std::thread::sleep(IDLE);
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        counters.packets.store(end.packets, Ordering::Relaxed);
        if let Err(e) = self.flush(counters) {
            end.error.get_or_insert(e);
        }
        if let Ok(s) = self.cap.stats() {
            end.dropped_by_kernel = Some(u64::from(s.dropped));
            end.dropped_by_interface = Some(u64::from(s.if_dropped));
        }
        if let Some(w) = self.savefile.take() {
            end.files = w.files;
            end.wrapped = w.wrapped;
            // Dropping the savefile closes the file.
        }
        end
    }

    /// Flushes the pcap file and refreshes the kernel's counters.
    fn flush(&mut self, counters: &LiveCounters) -> Result<(), String> {
        if let Ok(s) = self.cap.stats() {
            counters
                .dropped_by_kernel
                .store(u64::from(s.dropped), Ordering::Relaxed);
            counters
                .dropped_by_interface
                .store(u64::from(s.if_dropped), Ordering::Relaxed);
        }
        if let Some(w) = self.savefile.as_mut() {
            w.file
                .flush()
                .map_err(|e| format!("cannot write {}: {e}", w.path.display()))?;
        }
        Ok(())
    }
}

/// A libpcap timestamp (microsecond precision) in nanoseconds. `time_t` and `suseconds_t` are
/// 64-bit only on some platforms, hence the generic conversions.
fn timeval_ns(sec: impl Into<i64>, usec: impl Into<i64>) -> i64 {
    sec.into()
        .saturating_mul(1_000_000_000)
        .saturating_add(usec.into().saturating_mul(1_000))
}

/// Now, nanoseconds since the Unix epoch (the clock libpcap stamps frames with).
fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Turns libpcap's message into an error that names the interface and says what to do.
fn classify(interface: &str, detail: String) -> LiveError {
    if is_no_device(&detail) {
        let available = interfaces()
            .map(|l| l.into_iter().map(|i| i.name).collect())
            .unwrap_or_default();
        return LiveError::NoSuchInterface {
            interface: interface.to_string(),
            available,
        };
    }
    if is_permission(&detail) {
        let binary = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "$(command -v peerscope)".into());
        return LiveError::Permission {
            interface: interface.to_string(),
            detail,
            binary,
        };
    }
    LiveError::Pcap {
        interface: interface.to_string(),
        detail,
    }
}

/// The version of the libpcap this process runs with, read from the shared object it mapped
/// (`/proc/self/maps`: `…/libpcap.so.1.10.3` gives `1.10.3`); `None` when it cannot be told
/// (not Linux, or libpcap linked statically). The pcap crate does not expose
/// `pcap_lib_version()`, and calling C directly is ruled out (`unsafe_code = "forbid"`).
pub fn libpcap_version() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let path = line.split_whitespace().nth(5)?;
        let name = path.rsplit('/').next()?;
        let version = name.strip_prefix("libpcap.so.")?;
        version
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
            .then(|| version.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lends_frames_in_order() {
        let mut b = Batch::new(1);
        b.push(10, 60, &[1, 2, 3]);
        b.push(20, 4, &[4, 5, 6, 7]);
        let got: Vec<_> = b
            .packets()
            .map(|p| (p.ts.ns(), p.orig_len, p.data.to_vec(), p.link_type))
            .collect();
        assert_eq!(
            got,
            vec![(10, 60, vec![1, 2, 3], 1), (20, 4, vec![4, 5, 6, 7], 1)]
        );
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn rotated_names_are_tcpdumps() {
        // -C without -W: name, name1, name2, ...
        assert_eq!(rotated_name("x.pcap", false, 0, 0, 0), "x.pcap");
        assert_eq!(rotated_name("x.pcap", false, 0, 2, 0), "x.pcap2");
        // -W 10: x.pcap0 .. x.pcap9; -W 11: two digits.
        let r = Rotation {
            max_bytes: Some(1),
            every: None,
            files: Some(11),
        };
        assert_eq!(rotated_name("x.pcap", false, 0, 3, r.width()), "x.pcap03");
        assert_eq!(
            Rotation {
                files: Some(10),
                ..r
            }
            .width(),
            1
        );
        // -G: strftime (local time; the test only checks the pattern was expanded).
        let n = rotated_name("t-%Y.pcap", true, 0, 0, 0);
        assert!(n.starts_with("t-19") && n.ends_with(".pcap"), "{n}");
        assert!(check_template("t-%Y%m%d.pcap").is_ok());
        assert!(check_template("t-%Q.pcap").is_err());
        let mut b = Batch::new(1);
        b.push(1, 3, &[1, 2, 3]);
        b.push(2, 2, &[4, 5]);
        assert_eq!(b.last_data(), Some(&[4u8, 5][..]));
        b.pop();
        assert_eq!(b.last_data(), Some(&[1u8, 2, 3][..]));
        assert_eq!(b.data.len(), 3);
    }

    #[test]
    fn libpcap_messages_are_classified() {
        assert!(matches!(
            classify("eth9", "socket: Operation not permitted".into()),
            LiveError::Permission { .. }
        ));
        assert!(matches!(
            classify("eth9", "No such device exists".into()),
            LiveError::NoSuchInterface { .. }
        ));
        let e = classify("eth9", "socket: Operation not permitted".into()).to_string();
        assert!(e.contains("setcap cap_net_raw,cap_net_admin+eip"), "{e}");
        let e = classify("eth9", "No such device exists".into()).to_string();
        assert!(e.contains("'eth9'"), "{e}");
    }
}
