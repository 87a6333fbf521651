//! MPEG-TS (ISO/IEC 13818-1 §2.4) parsed as a stream: [`TsParser`] takes body bytes in any
//! cuts, finds the 188-byte packets (resynchronising after lost sync bytes), reads PAT and PMT
//! (section reassembly, CRC checked) to find the programme, its PCR PID and its streams, reads
//! the PCR from the adaptation field, and checks every PID's `continuity_counter`. The PCR
//! values go to a [`PcrTimeline`], which unwraps them and measures the media time and the bytes
//! between PCRs; [`TsStats`] counts everything else.
//!
//! Lost TS packets are counted two ways that never overlap: counter gaps (`lost_cc`, modulo 16
//! per PID, so at most 15 per gap) and, for a gap in the TCP stream, the packet slots the
//! missing bytes held (`lost_in_gaps`, exact from the byte count; the counters are reset
//! afterwards so the same loss is not counted again).
//!
//! Memory: a 376-byte window, two section buffers of at most 1 KiB, and a PID table capped at
//! [`MAX_PIDS`]; nothing is kept per packet.

use std::ops::AddAssign;

/// Size of a transport stream packet (§2.4.3.2).
pub const TS_PACKET: usize = 188;
/// `sync_byte` (§2.4.3.3).
pub const SYNC: u8 = 0x47;
/// The PAT's PID (Table 2-3).
pub const PID_PAT: u16 = 0x0000;
/// Null packets (Table 2-3): stuffing, no continuity counter.
pub const PID_NULL: u16 = 0x1FFF;
/// The system clock: 27 MHz (§2.4.2.1).
pub const PCR_HZ: u64 = 27_000_000;
/// PCR = base (33 bits, 90 kHz) × 300 + extension (9 bits): it wraps at 2^33 × 300 (§2.4.3.5).
pub const PCR_MODULUS: u64 = (1 << 33) * 300;
/// PTS: 33 bits at 90 kHz (§2.4.3.7).
pub const PTS_MODULUS: u64 = 1 << 33;
/// PTS clock.
pub const PTS_HZ: u64 = 90_000;
/// Most PIDs tracked per stream; further PIDs are counted in `pids_over_cap`.
pub const MAX_PIDS: usize = 64;
/// Most elementary streams kept from a PMT.
const MAX_STREAMS: usize = 16;
/// Longest PSI section (§2.4.4.11: `section_length` ≤ 1021, plus 3 header bytes).
const SECTION_MAX: usize = 1024;
/// A PCR step beyond this (forward or back) without the discontinuity indicator is taken as a
/// discontinuity all the same: §2.4.3.5 requires PCRs at most 0.1 s apart.
pub const PCR_JUMP_MAX: u64 = 10 * PCR_HZ;

const CRC_MPEG2: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_MPEG_2);

/// Continuous media time from a sequence of PCR values: unwraps the 2^33 wrap, starts a new
/// segment at each discontinuity (flagged, or a step beyond [`PCR_JUMP_MAX`]), and keeps the
/// stream bytes between the first and the last PCR of every segment (for the rate).
#[derive(Debug, Clone, Copy, Default)]
pub struct PcrTimeline {
    last_raw: Option<u64>,
    /// Unwrapped PCR of the current segment's first and latest PCR.
    seg_start: i64,
    seg_last: i64,
    seg_start_pos: u64,
    seg_last_pos: u64,
    done_ticks: i64,
    done_bytes: u64,
    /// Segments begun after the first (discontinuities).
    discontinuities: u64,
    pcrs: u64,
    high: i64,
}

impl PcrTimeline {
    /// Takes a PCR (27 MHz, as read) found in the packet at stream offset `pos`.
    pub fn push(&mut self, raw: u64, flagged: bool, pos: u64) {
        let raw = raw % PCR_MODULUS;
        self.pcrs += 1;
        let Some(last) = self.last_raw else {
            self.last_raw = Some(raw);
            self.seg_start = raw as i64;
            self.seg_last = raw as i64;
            self.seg_start_pos = pos;
            self.seg_last_pos = pos;
            return;
        };
        let fwd = (raw + PCR_MODULUS - last) % PCR_MODULUS;
        let back = (last + PCR_MODULUS - raw) % PCR_MODULUS;
        if flagged || (fwd > PCR_JUMP_MAX && back > PCR_JUMP_MAX) {
            self.close_segment();
            self.discontinuities += 1;
            self.seg_start = raw as i64;
            self.seg_last = raw as i64;
            self.seg_start_pos = pos;
        } else if fwd <= PCR_JUMP_MAX {
            self.seg_last += fwd as i64;
        } else {
            self.seg_last -= back as i64;
        }
        self.seg_last_pos = pos;
        self.last_raw = Some(raw);
        self.high = self.high.max(self.ticks());
    }

    fn close_segment(&mut self) {
        self.done_ticks += self.seg_last - self.seg_start;
        self.done_bytes += self.seg_last_pos.saturating_sub(self.seg_start_pos);
    }

    /// Media time from the first PCR to the latest, in 27 MHz ticks, over all segments (may go
    /// back a little after a backward step).
    pub fn ticks(&self) -> i64 {
        self.done_ticks + (self.seg_last - self.seg_start)
    }

    /// The furthest media time reached so far, in seconds from the first PCR.
    pub fn high_s(&self) -> f64 {
        self.high.max(0) as f64 / PCR_HZ as f64
    }

    /// Stream bytes between the first and last PCR packet of every segment.
    pub fn bytes(&self) -> u64 {
        self.done_bytes + self.seg_last_pos.saturating_sub(self.seg_start_pos)
    }

    /// PCR values taken.
    pub fn pcrs(&self) -> u64 {
        self.pcrs
    }

    /// Discontinuities (new segments after the first).
    pub fn discontinuities(&self) -> u64 {
        self.discontinuities
    }

    /// Whether any PCR was taken.
    pub fn started(&self) -> bool {
        self.last_raw.is_some()
    }
}

/// Reads a PCR from the six bytes after the adaptation field flags (§2.4.3.4):
/// 33-bit base, 6 reserved bits, 9-bit extension.
pub fn read_pcr(b: &[u8]) -> Option<u64> {
    let b = b.get(..6)?;
    let base = (u64::from(b[0]) << 25)
        | (u64::from(b[1]) << 17)
        | (u64::from(b[2]) << 9)
        | (u64::from(b[3]) << 1)
        | (u64::from(b[4]) >> 7);
    let ext = (u64::from(b[4] & 0x01) << 8) | u64::from(b[5]);
    Some(base * 300 + ext)
}

/// Reads a 33-bit PTS from its five bytes in a PES header (§2.4.3.7).
fn read_pts(b: &[u8]) -> Option<u64> {
    let b = b.get(..5)?;
    Some(
        (u64::from((b[0] >> 1) & 0x07) << 30)
            | (u64::from(b[1]) << 22)
            | (u64::from(b[2] >> 1) << 15)
            | (u64::from(b[3]) << 7)
            | (u64::from(b[4]) >> 1),
    )
}

/// What a PID carries, as far as PAT and PMT said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PidKind {
    /// Not (yet) named by PAT or PMT.
    #[default]
    Unknown,
    /// The programme association table.
    Pat,
    /// The programme's map table.
    Pmt,
    /// An elementary stream of the programme, with its `stream_type` (Table 2-34).
    Stream(u8),
}

/// Whether a `stream_type` is video (MPEG-1/2, MPEG-4 part 2, H.264, HEVC, and the common
/// private AVS/VC-1 values).
pub fn is_video_type(stream_type: u8) -> bool {
    matches!(
        stream_type,
        0x01 | 0x02 | 0x10 | 0x1B | 0x24 | 0x42 | 0xD1 | 0xEA
    )
}

/// Counters of one PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PidStats {
    /// The PID.
    pub pid: u16,
    /// What it carries.
    pub kind: PidKind,
    /// Packets received (duplicates included).
    pub packets: u64,
    /// Continuity counter errors.
    pub cc_errors: u64,
    /// Packets missing by the counter.
    pub lost: u64,
    /// Duplicate packets (same counter, once).
    pub duplicates: u64,
    /// Packets with a PCR.
    pub pcrs: u64,
    /// Packets with the discontinuity indicator set.
    pub discontinuities: u64,
}

#[derive(Debug, Clone, Copy)]
struct PidState {
    last_cc: Option<u8>,
    dup_seen: bool,
    stats: PidStats,
}

/// Counters of the transport stream (merge with `+=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TsStats {
    /// 188-byte packets found in sync (all PIDs, duplicates and null packets included).
    pub packets: u64,
    /// Null packets (PID 0x1FFF).
    pub null_packets: u64,
    /// Packets with `transport_error_indicator` set (skipped).
    pub tei_packets: u64,
    /// Packets with a reserved adaptation_field_control or an impossible adaptation length.
    pub malformed_packets: u64,
    /// Duplicate packets (§2.4.3.3: the same counter once more).
    pub duplicates: u64,
    /// Continuity counter errors.
    pub cc_errors: u64,
    /// Packets missing by the continuity counters.
    pub lost_cc: u64,
    /// Packet slots in stream gaps (lost TCP bytes, snaplen cuts).
    pub lost_in_gaps: u64,
    /// Times sync was lost while locked.
    pub sync_losses: u64,
    /// Bytes skipped while hunting for sync.
    pub skipped_bytes: u64,
    /// Partial packets dropped at a gap or a body's end.
    pub partial_packets: u64,
    /// PSI sections rejected for a bad CRC.
    pub crc_errors: u64,
    /// Packets on PIDs beyond [`MAX_PIDS`].
    pub pids_over_cap: u64,
}

impl TsStats {
    /// Lost TS packets: counter gaps plus packet slots in stream gaps.
    pub fn lost(&self) -> u64 {
        self.lost_cc + self.lost_in_gaps
    }

    /// Packets that should have arrived: received (duplicates excluded) plus lost.
    pub fn expected(&self) -> u64 {
        self.packets - self.duplicates.min(self.packets) + self.lost()
    }
}

impl AddAssign for TsStats {
    fn add_assign(&mut self, o: Self) {
        self.packets += o.packets;
        self.null_packets += o.null_packets;
        self.tei_packets += o.tei_packets;
        self.malformed_packets += o.malformed_packets;
        self.duplicates += o.duplicates;
        self.cc_errors += o.cc_errors;
        self.lost_cc += o.lost_cc;
        self.lost_in_gaps += o.lost_in_gaps;
        self.sync_losses += o.sync_losses;
        self.skipped_bytes += o.skipped_bytes;
        self.partial_packets += o.partial_packets;
        self.crc_errors += o.crc_errors;
        self.pids_over_cap += o.pids_over_cap;
    }
}

/// The programme found in PAT and PMT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Programme {
    /// `program_number` (the first non-zero one in the PAT).
    pub number: u16,
    /// PID of its PMT.
    pub pmt_pid: u16,
    /// PID carrying its PCR (from the PMT).
    pub pcr_pid: Option<u16>,
    /// Elementary streams: (PID, stream_type), in PMT order.
    pub streams: Vec<(u16, u8)>,
}

/// A PSI section being collected.
#[derive(Debug, Clone, Default)]
struct Section {
    buf: Vec<u8>,
    active: bool,
}

/// Where the parser reports PCRs: the clock of the whole feed.
pub trait PcrSink {
    /// A PCR of the programme's PCR PID (27 MHz, as read), in a packet that arrived at `ts_ns`.
    fn pcr(&mut self, ts_ns: i64, pcr: u64, discontinuity: bool);
}

impl PcrSink for () {
    fn pcr(&mut self, _: i64, _: u64, _: bool) {}
}

/// A streaming MPEG-TS parser.
#[derive(Debug, Clone)]
pub struct TsParser {
    win: [u8; 2 * TS_PACKET],
    len: usize,
    /// Stream offset of `win[0]` (bytes and gaps handed so far, minus what the window holds).
    win_pos: u64,
    locked: bool,
    pids: Vec<PidState>,
    pat: Section,
    pmt: Section,
    programme: Option<Programme>,
    /// The PID whose PCRs make the clock (the PMT's, else the first PID with a PCR).
    pcr_pid: Option<u16>,
    timeline: PcrTimeline,
    video_pid: Option<u16>,
    pts_first: Option<u64>,
    pts_last: u64,
    pts_unwrapped: i64,
    stats: TsStats,
}

impl Default for TsParser {
    fn default() -> Self {
        Self::new()
    }
}

impl TsParser {
    /// A parser that has seen nothing.
    pub fn new() -> Self {
        TsParser {
            win: [0; 2 * TS_PACKET],
            len: 0,
            win_pos: 0,
            locked: false,
            pids: Vec::new(),
            pat: Section::default(),
            pmt: Section::default(),
            programme: None,
            pcr_pid: None,
            timeline: PcrTimeline::default(),
            video_pid: None,
            pts_first: None,
            pts_last: 0,
            pts_unwrapped: 0,
            stats: TsStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TsStats {
        self.stats
    }

    /// The programme, once the PAT and PMT were read.
    pub fn programme(&self) -> Option<&Programme> {
        self.programme.as_ref()
    }

    /// This stream's own PCR timeline (offsets are this parser's stream offsets).
    pub fn timeline(&self) -> &PcrTimeline {
        &self.timeline
    }

    /// Per-PID counters, by PID.
    pub fn pid_stats(&self) -> Vec<PidStats> {
        let mut v: Vec<PidStats> = self.pids.iter().map(|p| p.stats).collect();
        v.sort_by_key(|p| p.pid);
        v
    }

    /// Seconds from the first to the last PTS of the video stream (unwrapped).
    pub fn pts_span_s(&self) -> Option<f64> {
        self.pts_first
            .map(|_| self.pts_unwrapped.max(0) as f64 / PTS_HZ as f64)
    }

    /// Bytes of the stream, in order.
    pub fn push<P: PcrSink>(&mut self, ts_ns: i64, mut data: &[u8], clock: &mut P) {
        while !data.is_empty() {
            if self.len == 0 && self.locked {
                // Fast path: whole packets straight from the input.
                while let (Some(pkt), Some(&SYNC)) = (data.get(..TS_PACKET), data.first()) {
                    let pos = self.win_pos;
                    self.packet(ts_ns, pkt, pos, clock);
                    self.win_pos += TS_PACKET as u64;
                    data = data.get(TS_PACKET..).unwrap_or_default();
                }
                if data.is_empty() {
                    return;
                }
            }
            let take = data.len().min(self.win.len() - self.len);
            let (now, rest) = data.split_at(take);
            if let Some(dst) = self.win.get_mut(self.len..self.len + take) {
                dst.copy_from_slice(now);
            }
            self.len += take;
            data = rest;
            self.scan(ts_ns, clock);
        }
    }

    /// `missing` bytes of the stream were lost.
    pub fn gap(&mut self, missing: u64) {
        let partial = if self.locked { self.len as u64 } else { 0 };
        if self.locked {
            // Every packet slot the lost bytes touched is lost; alignment survives when the
            // partial packet and the gap add up to whole packets.
            let span = partial + missing;
            self.stats.lost_in_gaps += span.div_ceil(TS_PACKET as u64);
            if partial > 0 {
                self.stats.partial_packets += 1;
            }
            self.locked = span % TS_PACKET as u64 == 0;
        } else {
            self.stats.skipped_bytes += self.len as u64;
            self.stats.lost_in_gaps += missing.div_ceil(TS_PACKET as u64);
        }
        self.win_pos += self.len as u64 + missing;
        self.len = 0;
        self.reset_continuity();
    }

    /// A body ended (the next one, if any, is a new stream such as the next HLS segment):
    /// a partial packet is dropped and the counters restart.
    pub fn end_of_body(&mut self) {
        if self.len > 0 {
            if self.locked {
                self.stats.partial_packets += 1;
            } else {
                self.stats.skipped_bytes += self.len as u64;
            }
        }
        self.win_pos += self.len as u64;
        self.len = 0;
        self.locked = false;
        self.reset_continuity();
    }

    fn reset_continuity(&mut self) {
        for p in &mut self.pids {
            p.last_cc = None;
            p.dup_seen = false;
        }
        self.pat = Section::default();
        self.pmt = Section::default();
    }

    fn consume(&mut self, n: usize) {
        self.win.copy_within(n..self.len, 0);
        self.len -= n;
        self.win_pos += n as u64;
    }

    fn scan<P: PcrSink>(&mut self, ts_ns: i64, clock: &mut P) {
        loop {
            if self.locked {
                if self.len < TS_PACKET {
                    return;
                }
                if self.win[0] == SYNC {
                    let mut pkt = [0u8; TS_PACKET];
                    pkt.copy_from_slice(&self.win[..TS_PACKET]);
                    let pos = self.win_pos;
                    self.packet(ts_ns, &pkt, pos, clock);
                    self.consume(TS_PACKET);
                    continue;
                }
                self.locked = false;
                self.stats.sync_losses += 1;
            }
            // Hunting: a sync byte with another one a packet later.
            if self.len <= TS_PACKET {
                return;
            }
            let found = (0..self.len - TS_PACKET)
                .find(|&i| self.win[i] == SYNC && self.win[i + TS_PACKET] == SYNC);
            match found {
                Some(i) => {
                    self.stats.skipped_bytes += i as u64;
                    self.consume(i);
                    self.locked = true;
                }
                None => {
                    // Keep the last packet's worth: a sync byte there is still a candidate.
                    let drop = self.len - TS_PACKET;
                    self.stats.skipped_bytes += drop as u64;
                    self.consume(drop);
                    return;
                }
            }
        }
    }

    fn pid_index(&mut self, pid: u16) -> Option<usize> {
        if let Some(i) = self.pids.iter().position(|p| p.stats.pid == pid) {
            return Some(i);
        }
        if self.pids.len() >= MAX_PIDS {
            return None;
        }
        let kind = self.kind_of(pid);
        self.pids.push(PidState {
            last_cc: None,
            dup_seen: false,
            stats: PidStats {
                pid,
                kind,
                ..PidStats::default()
            },
        });
        Some(self.pids.len() - 1)
    }

    fn kind_of(&self, pid: u16) -> PidKind {
        if pid == PID_PAT {
            return PidKind::Pat;
        }
        match &self.programme {
            Some(p) if p.pmt_pid == pid => PidKind::Pmt,
            Some(p) => p
                .streams
                .iter()
                .find(|s| s.0 == pid)
                .map_or(PidKind::Unknown, |s| PidKind::Stream(s.1)),
            None => PidKind::Unknown,
        }
    }

    /// One packet in sync (`pkt[0] == SYNC`, 188 bytes) at stream offset `pos`.
    fn packet<P: PcrSink>(&mut self, ts_ns: i64, pkt: &[u8], pos: u64, clock: &mut P) {
        let Some(&[_, b1, b2, b3]) = pkt.get(..4).and_then(|h| <&[u8; 4]>::try_from(h).ok()) else {
            return;
        };
        self.stats.packets += 1;
        let pid = (u16::from(b1 & 0x1F) << 8) | u16::from(b2);
        if b1 & 0x80 != 0 {
            self.stats.tei_packets += 1;
            return;
        }
        if pid == PID_NULL {
            self.stats.null_packets += 1;
            return;
        }
        let pusi = b1 & 0x40 != 0;
        let afc = (b3 >> 4) & 0x03;
        let cc = b3 & 0x0F;
        if afc == 0 {
            self.stats.malformed_packets += 1;
            return;
        }
        let mut off = 4;
        let mut disc = false;
        let mut pcr = None;
        if afc & 0x02 != 0 {
            let alen = usize::from(pkt.get(4).copied().unwrap_or(0));
            // §2.4.3.5: 0..=182 with a payload, 183 without.
            let max = if afc == 0x02 { 183 } else { 182 };
            if alen > max {
                self.stats.malformed_packets += 1;
                return;
            }
            if alen > 0 {
                let fl = pkt.get(5).copied().unwrap_or(0);
                disc = fl & 0x80 != 0;
                if fl & 0x10 != 0 && alen >= 7 {
                    pcr = pkt.get(6..12).and_then(read_pcr);
                }
            }
            off = 5 + alen;
        }
        let payload: &[u8] = if afc & 0x01 != 0 {
            pkt.get(off..).unwrap_or_default()
        } else {
            &[]
        };
        let Some(i) = self.pid_index(pid) else {
            self.stats.pids_over_cap += 1;
            return;
        };
        let st = &mut self.pids[i];
        st.stats.packets += 1;
        if disc {
            st.stats.discontinuities += 1;
        }
        // Continuity (§2.4.3.3): increments only with a payload; one duplicate allowed; any
        // value accepted after the discontinuity indicator.
        let mut duplicate = false;
        if afc & 0x01 != 0 {
            match st.last_cc {
                _ if disc => st.dup_seen = false,
                None => {}
                Some(last) if cc == (last + 1) & 0x0F => st.dup_seen = false,
                Some(last) if cc == last && !st.dup_seen => {
                    st.dup_seen = true;
                    duplicate = true;
                }
                Some(last) => {
                    let lost = u64::from(cc.wrapping_sub(last.wrapping_add(1)) & 0x0F);
                    st.stats.cc_errors += 1;
                    st.stats.lost += lost;
                    self.stats.cc_errors += 1;
                    self.stats.lost_cc += lost;
                    st.dup_seen = false;
                }
            }
            st.last_cc = Some(cc);
        }
        if duplicate {
            st.stats.duplicates += 1;
            self.stats.duplicates += 1;
            return;
        }
        if let Some(pcr) = pcr {
            st.stats.pcrs += 1;
            if self.pcr_pid.is_none() {
                self.pcr_pid = Some(pid);
            }
            if self.pcr_pid == Some(pid) {
                // Packets counted as lost by the counters held bytes too: the rate counts
                // their slots.
                let at = pos + self.stats.lost_cc * TS_PACKET as u64;
                self.timeline.push(pcr, disc, at);
                clock.pcr(ts_ns, pcr, disc);
            }
        }
        if payload.is_empty() {
            return;
        }
        let pmt_pid = self.programme.as_ref().map(|p| p.pmt_pid);
        if pid == PID_PAT {
            self.psi(false, pusi, payload);
        } else if Some(pid) == pmt_pid {
            self.psi(true, pusi, payload);
        } else if pusi && Some(pid) == self.video_pid {
            self.pes_start(payload);
        }
    }

    fn psi(&mut self, pmt: bool, pusi: bool, payload: &[u8]) {
        let mut sec = std::mem::take(if pmt { &mut self.pmt } else { &mut self.pat });
        let mut p = payload;
        if pusi {
            let Some((&ptr, rest)) = p.split_first() else {
                return;
            };
            let ptr = usize::from(ptr);
            let Some((tail, new)) = (ptr <= rest.len()).then(|| rest.split_at(ptr)) else {
                sec = Section::default();
                self.put_section(pmt, sec);
                return;
            };
            if sec.active {
                self.append_section(&mut sec, tail);
                self.complete_sections(&mut sec);
            }
            sec.buf.clear();
            sec.active = true;
            p = new;
        } else if !sec.active {
            self.put_section(pmt, sec);
            return;
        }
        self.append_section(&mut sec, p);
        self.complete_sections(&mut sec);
        self.put_section(pmt, sec);
    }

    fn put_section(&mut self, pmt: bool, sec: Section) {
        if pmt {
            self.pmt = sec;
        } else {
            self.pat = sec;
        }
    }

    fn append_section(&mut self, sec: &mut Section, bytes: &[u8]) {
        if sec.buf.len() + bytes.len() > 4 * SECTION_MAX {
            sec.buf.clear();
            sec.active = false;
            return;
        }
        sec.buf.extend_from_slice(bytes);
    }

    /// Handles every complete section at the front of the buffer.
    fn complete_sections(&mut self, sec: &mut Section) {
        loop {
            match sec.buf.first() {
                None => return,
                Some(0xFF) => {
                    // Stuffing: no further section in this packet.
                    sec.buf.clear();
                    sec.active = false;
                    return;
                }
                Some(_) => {}
            }
            let Some(&[_, l1, l2]) = sec.buf.get(..3).and_then(|h| <&[u8; 3]>::try_from(h).ok())
            else {
                return;
            };
            let total = ((usize::from(l1 & 0x0F) << 8) | usize::from(l2)) + 3;
            if !(3 + 5 + 4..=SECTION_MAX).contains(&total) {
                sec.buf.clear();
                sec.active = false;
                return;
            }
            if sec.buf.len() < total {
                return;
            }
            if let Some(section) = sec.buf.get(..total) {
                self.section(section);
            }
            sec.buf.drain(..total);
        }
    }

    /// One complete section: PAT (table 0x00) or PMT (table 0x02), CRC checked.
    fn section(&mut self, s: &[u8]) {
        let Some(n) = s.len().checked_sub(4) else {
            return;
        };
        let (Some(body), Some(crc)) = (s.get(..n), s.get(n..)) else {
            return;
        };
        let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if CRC_MPEG2.checksum(body) != want {
            self.stats.crc_errors += 1;
            return;
        }
        // current_next_indicator (bit 0 of byte 5): a table not yet in force is ignored.
        if s.get(5).is_none_or(|b| b & 0x01 == 0) {
            return;
        }
        let Some(entries) = s.get(8..n) else {
            return;
        };
        match s[0] {
            0x00 => {
                let first = entries.chunks_exact(4).find_map(|e| {
                    let number = u16::from_be_bytes([e[0], e[1]]);
                    let pid = (u16::from(e[2] & 0x1F) << 8) | u16::from(e[3]);
                    (number != 0).then_some((number, pid))
                });
                if let Some((number, pmt_pid)) = first {
                    let same = self
                        .programme
                        .as_ref()
                        .is_some_and(|p| p.number == number && p.pmt_pid == pmt_pid);
                    if !same {
                        self.programme = Some(Programme {
                            number,
                            pmt_pid,
                            ..Programme::default()
                        });
                        self.pmt = Section::default();
                        self.relabel();
                    }
                }
            }
            0x02 => {
                let number = s.get(3..5).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                let Some(prog) = self.programme.as_mut() else {
                    return;
                };
                if number != prog.number {
                    return;
                }
                let Some(&[p0, p1, i0, i1]) =
                    entries.get(..4).and_then(|h| <&[u8; 4]>::try_from(h).ok())
                else {
                    return;
                };
                let pcr_pid = (u16::from(p0 & 0x1F) << 8) | u16::from(p1);
                let info_len = (usize::from(i0 & 0x0F) << 8) | usize::from(i1);
                let mut es = entries.get(4 + info_len..).unwrap_or_default();
                let mut streams = Vec::new();
                while let Some(&[t, e0, e1, l0, l1]) =
                    es.get(..5).and_then(|h| <&[u8; 5]>::try_from(h).ok())
                {
                    let pid = (u16::from(e0 & 0x1F) << 8) | u16::from(e1);
                    let len = (usize::from(l0 & 0x0F) << 8) | usize::from(l1);
                    if streams.len() < MAX_STREAMS {
                        streams.push((pid, t));
                    }
                    es = es.get(5 + len..).unwrap_or_default();
                }
                // PCR_PID 0x1FFF: the programme has no PCR (§2.4.4.9).
                prog.pcr_pid = (pcr_pid != PID_NULL).then_some(pcr_pid);
                if prog.streams != streams {
                    prog.streams = streams;
                }
                if let Some(pid) = prog.pcr_pid {
                    if self.pcr_pid != Some(pid) {
                        // The PMT names the clock; a guessed one is replaced.
                        self.pcr_pid = Some(pid);
                    }
                }
                self.video_pid = prog
                    .streams
                    .iter()
                    .find(|s| is_video_type(s.1))
                    .map(|s| s.0);
                self.relabel();
            }
            _ => {}
        }
    }

    fn relabel(&mut self) {
        for i in 0..self.pids.len() {
            let pid = self.pids[i].stats.pid;
            self.pids[i].stats.kind = self.kind_of(pid);
        }
    }

    /// The start of a video PES packet: its PTS (§2.4.3.7), when the header is in this packet.
    fn pes_start(&mut self, p: &[u8]) {
        let Some(&[0, 0, 1, _sid, _, _, m, f, _hl]) =
            p.get(..9).and_then(|h| <&[u8; 9]>::try_from(h).ok())
        else {
            return;
        };
        if m & 0xC0 != 0x80 || f & 0x80 == 0 {
            return;
        }
        let Some(pts) = p.get(9..14).and_then(read_pts) else {
            return;
        };
        match self.pts_first {
            None => {
                self.pts_first = Some(pts);
                self.pts_last = pts;
            }
            Some(_) => {
                // PTS may step back (B-frames reorder) but never by half the wrap.
                let fwd = (pts + PTS_MODULUS - self.pts_last) % PTS_MODULUS;
                if fwd < PTS_MODULUS / 2 {
                    self.pts_unwrapped += fwd as i64;
                } else {
                    self.pts_unwrapped -= (PTS_MODULUS - fwd) as i64;
                }
                self.pts_last = pts;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a TS packet: PID, counter, optional PCR (27 MHz) and discontinuity flag, payload
    /// (`None` = adaptation field only). Payload is padded with stuffing in the adaptation
    /// field.
    pub(crate) fn packet(
        pid: u16,
        cc: u8,
        pusi: bool,
        pcr: Option<u64>,
        disc: bool,
        payload: Option<&[u8]>,
    ) -> [u8; TS_PACKET] {
        let mut p = [0xFFu8; TS_PACKET];
        p[0] = SYNC;
        p[1] = (if pusi { 0x40 } else { 0 }) | ((pid >> 8) as u8 & 0x1F);
        p[2] = pid as u8;
        let mut body = payload.unwrap_or(&[]);
        let need_af = pcr.is_some() || disc || payload.is_none() || body.len() < 184;
        if need_af && body.len() > 182 {
            body = &body[..182];
        }
        let afc = match (need_af, payload.is_some()) {
            (true, true) => 3,
            (true, false) => 2,
            (false, _) => 1,
        };
        p[3] = (afc << 4) | (cc & 0x0F);
        if need_af {
            let alen = if payload.is_some() {
                183 - body.len()
            } else {
                183
            };
            p[4] = alen as u8;
            if alen > 0 {
                p[5] = (if disc { 0x80 } else { 0 }) | (if pcr.is_some() { 0x10 } else { 0 });
                if let Some(pcr) = pcr {
                    let base = pcr / 300;
                    let ext = pcr % 300;
                    p[6] = (base >> 25) as u8;
                    p[7] = (base >> 17) as u8;
                    p[8] = (base >> 9) as u8;
                    p[9] = (base >> 1) as u8;
                    p[10] = ((base & 1) << 7) as u8 | 0x7E | ((ext >> 8) as u8 & 1);
                    p[11] = ext as u8;
                }
            }
            p[5 + alen..].copy_from_slice(body);
        } else {
            p[4..].copy_from_slice(body);
        }
        p
    }

    /// A PSI section with its CRC: the simulator's writer (one builder for both).
    pub(crate) fn section(table: u8, ext: u16, body: &[u8]) -> Vec<u8> {
        crate::sim::feed::section(table, ext, body)
    }

    /// PAT → programme 1 at PMT 0x1000; PMT → PCR on 0x100, H.264 on 0x100, AAC on 0x101.
    pub(crate) fn pat_pmt() -> Vec<u8> {
        let mut pat = vec![0];
        pat.extend(section(0x00, 1, &[0, 1, 0xF0, 0x00]));
        let mut pmt = vec![0];
        pmt.extend(section(
            0x02,
            1,
            &[
                0xE1, 0x00, 0xF0, 0x00, 0x1B, 0xE1, 0x00, 0xF0, 0x00, 0x0F, 0xE1, 0x01, 0xF0, 0x00,
            ],
        ));
        let mut out = Vec::new();
        out.extend(packet(PID_PAT, 0, true, None, false, Some(&pat)));
        out.extend(packet(0x1000, 0, true, None, false, Some(&pmt)));
        out
    }

    #[derive(Default)]
    struct Clock(Vec<u64>);
    impl PcrSink for Clock {
        fn pcr(&mut self, _: i64, pcr: u64, _: bool) {
            self.0.push(pcr);
        }
    }

    fn parse(bytes: &[u8]) -> TsParser {
        let mut t = TsParser::new();
        t.push(0, bytes, &mut ());
        t
    }

    #[test]
    fn pat_pmt_name_the_programme() {
        let t = parse(&pat_pmt());
        let p = t.programme().unwrap();
        assert_eq!((p.number, p.pmt_pid, p.pcr_pid), (1, 0x1000, Some(0x100)));
        assert_eq!(p.streams, vec![(0x100, 0x1B), (0x101, 0x0F)]);
        assert_eq!(t.stats().crc_errors, 0);
    }

    #[test]
    fn bad_crc_is_rejected() {
        let mut b = pat_pmt();
        b[TS_PACKET - 17 + 1 + 9] ^= 0x01; // the PAT entry's program_number
        let t = parse(&b);
        assert!(t.programme().is_none());
        assert_eq!(t.stats().crc_errors, 1);
    }

    #[test]
    fn pcr_read_and_wrap_unwrapped() {
        let pcr = 0x1_2345_6789u64 * 300 + 299;
        let p = packet(0x100, 0, false, Some(pcr), false, None);
        assert_eq!(read_pcr(&p[6..12]), Some(pcr));
        // Two PCRs either side of the 2^33 × 300 wrap, 40 ms apart.
        let step = PCR_HZ / 25;
        let a = PCR_MODULUS - step / 2;
        let b = (a + step) % PCR_MODULUS;
        let mut bytes = pat_pmt();
        bytes.extend(packet(0x100, 0, false, Some(a), false, Some(&[0; 100])));
        bytes.extend(packet(0x100, 1, false, Some(b), false, Some(&[0; 100])));
        let t = parse(&bytes);
        assert_eq!(t.timeline().ticks(), step as i64);
        assert_eq!(t.timeline().discontinuities(), 0);
        assert_eq!(t.timeline().bytes(), TS_PACKET as u64);
    }

    #[test]
    fn adaptation_only_packets_do_not_step_the_counter() {
        let mut bytes = pat_pmt();
        bytes.extend(packet(0x100, 5, false, Some(0), false, Some(&[1; 10])));
        bytes.extend(packet(0x100, 5, false, Some(27_000), false, None));
        bytes.extend(packet(0x100, 5, false, Some(54_000), false, None));
        bytes.extend(packet(0x100, 6, false, None, false, Some(&[1; 184])));
        let t = parse(&bytes);
        assert_eq!(t.stats().cc_errors, 0);
        assert_eq!(t.stats().duplicates, 0);
        assert_eq!(t.timeline().pcrs(), 3);
    }

    #[test]
    fn counter_gap_and_discontinuity_indicator() {
        let mut bytes = pat_pmt();
        bytes.extend(packet(0x101, 3, false, None, false, Some(&[1; 184])));
        bytes.extend(packet(0x101, 7, false, None, false, Some(&[1; 184]))); // 3 lost
        bytes.extend(packet(0x101, 2, false, None, true, Some(&[1; 184]))); // flagged: fine
        bytes.extend(packet(0x101, 3, false, None, false, Some(&[1; 184])));
        bytes.extend(packet(0x101, 2, false, None, false, Some(&[1; 184]))); // 4..=1: 14 lost
        let t = parse(&bytes);
        let s = t.stats();
        assert_eq!((s.cc_errors, s.lost_cc), (2, 3 + 14));
        let pid = t.pid_stats().into_iter().find(|p| p.pid == 0x101).unwrap();
        assert_eq!(pid.kind, PidKind::Stream(0x0F));
        assert_eq!((pid.cc_errors, pid.lost, pid.discontinuities), (2, 17, 1));
    }

    #[test]
    fn one_duplicate_allowed_a_second_is_an_error() {
        let mut bytes = pat_pmt();
        let p = packet(0x101, 9, false, None, false, Some(&[1; 184]));
        bytes.extend(p);
        bytes.extend(p);
        bytes.extend(packet(0x101, 10, false, None, false, Some(&[1; 184])));
        let t = parse(&bytes);
        assert_eq!((t.stats().duplicates, t.stats().cc_errors), (1, 0));
        bytes.extend(packet(0x101, 10, false, None, false, Some(&[1; 184])));
        bytes.extend(packet(0x101, 10, false, None, false, Some(&[1; 184])));
        let t = parse(&bytes);
        assert_eq!((t.stats().duplicates, t.stats().cc_errors), (2, 1));
    }

    #[test]
    fn null_packets_ignored() {
        let mut bytes = pat_pmt();
        for cc in [0, 7, 3] {
            bytes.extend(packet(PID_NULL, cc, false, None, false, Some(&[0; 184])));
        }
        let t = parse(&bytes);
        assert_eq!(t.stats().null_packets, 3);
        assert_eq!(t.stats().cc_errors, 0);
    }

    #[test]
    fn lost_sync_then_resync_and_packets_cut_anywhere() {
        let mut bytes = pat_pmt();
        for cc in 0..4u8 {
            bytes.extend(packet(0x101, cc, false, None, false, Some(&[0x11; 184])));
        }
        // Garbage in the middle (no 0x47 at a packet's stride), then the stream goes on.
        bytes.extend([1, 2, 3, 0x47, 5, 6, 7]);
        for cc in 4..10u8 {
            bytes.extend(packet(0x101, cc, false, None, false, Some(&[0x11; 184])));
        }
        for cut in [1usize, 7, 100, 187, 188, 189, 1000] {
            let mut t = TsParser::new();
            for chunk in bytes.chunks(cut) {
                t.push(0, chunk, &mut ());
            }
            let s = t.stats();
            assert_eq!(s.packets, 2 + 10, "cut {cut}");
            assert_eq!(s.sync_losses, 1, "cut {cut}");
            assert_eq!(s.skipped_bytes, 7, "cut {cut}");
            assert_eq!(s.cc_errors, 0, "cut {cut}");
        }
    }

    #[test]
    fn gap_counts_packet_slots_and_keeps_alignment() {
        let mut t = TsParser::new();
        let mut c = Clock::default();
        t.push(0, &pat_pmt(), &mut c);
        t.push(
            0,
            &packet(0x101, 0, false, None, false, Some(&[0; 184])),
            &mut c,
        );
        let p = packet(0x101, 5, false, None, false, Some(&[0; 184]));
        t.push(0, &p[..50], &mut c);
        t.gap(138 + 3 * 188); // rest of that packet and three more
        t.push(
            0,
            &packet(0x101, 9, false, None, false, Some(&[0; 184])),
            &mut c,
        );
        let s = t.stats();
        assert_eq!(s.lost_in_gaps, 4);
        assert_eq!(s.cc_errors, 0, "the counters restart after a gap");
        assert_eq!(s.packets, 4);
        assert_eq!(s.skipped_bytes, 0);
    }

    #[test]
    fn pcr_rate_and_pts() {
        let mut bytes = pat_pmt();
        // 10 packets per 27 000 ticks (1 ms): 1880 bytes per ms = 15.04 Mb/s.
        let mut pes = vec![0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5];
        let pts = 90_000u64;
        pes.extend([
            0x21 | (((pts >> 30) as u8 & 7) << 1),
            (pts >> 22) as u8,
            ((pts >> 14) as u8) | 1,
            (pts >> 7) as u8,
            ((pts << 1) as u8) | 1,
        ]);
        for k in 0..100u64 {
            let pcr = (k % 10 == 0).then_some(k / 10 * 27_000);
            let pusi = k == 0;
            let pl = if pusi { &pes[..] } else { &[0u8; 100][..] };
            bytes.extend(packet(0x100, k as u8, pusi, pcr, false, Some(pl)));
        }
        let t = parse(&bytes);
        let tl = t.timeline();
        assert_eq!(tl.ticks(), 9 * 27_000);
        assert_eq!(tl.bytes(), 90 * TS_PACKET as u64);
        assert_eq!(t.pts_span_s(), Some(0.0));
        assert_eq!(t.stats().cc_errors, 0);
    }

    #[test]
    fn pcr_jump_starts_a_new_segment() {
        let mut tl = PcrTimeline::default();
        tl.push(0, false, 0);
        tl.push(27_000_000, false, 1000);
        tl.push(27_000_000 * 100, false, 2000); // 99 s jump: discontinuity
        tl.push(27_000_000 * 101, false, 3000);
        tl.push(27_000_000 * 50, true, 4000); // flagged
        tl.push(27_000_000 * 51, false, 5000);
        assert_eq!(tl.discontinuities(), 2);
        assert_eq!(tl.ticks(), 3 * 27_000_000);
        assert_eq!(tl.bytes(), 3000);
    }
}
