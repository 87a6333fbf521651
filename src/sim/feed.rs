//! The player feed as a real MPEG-TS (`simulate --feed mpegts`): [`TsFeed`] produces, for any
//! byte range of the feed, the bytes of a constant-rate transport stream (ISO/IEC 13818-1) —
//! PAT and PMT every cycle of about 100 ms, a video PID that carries the PCR twice a cycle
//! and an audio PID, continuity counters per PID — minus the packets chosen as lost
//! (`--ts-loss N`: N video packets spread evenly over the expected feed; the counters skip
//! them, as they would in a stream that lost packets before the client forwarded it).
//!
//! The stream is a pure function of the byte offset (no random draws), so the rest of the
//! simulation draws exactly what it draws with the default random payload. PCR of the packet
//! with original index k: `PCR0 + k × 188 × 8 / rate × 27 MHz`, with `PCR0` ten seconds
//! before the 33-bit wrap so that every feed longer than that crosses it.

use crate::media::ts::{PCR_HZ, PCR_MODULUS, PID_PAT, SYNC, TS_PACKET};

/// PID of the programme map table.
pub const PMT_PID: u16 = 0x1000;
/// PID of the video stream (H.264 in the PMT), which carries the PCR.
pub const VIDEO_PID: u16 = 0x100;
/// PID of the audio stream (AAC in the PMT).
pub const AUDIO_PID: u16 = 0x101;
/// First PCR: ten seconds before the wrap (2^33 × 300).
pub const PCR0: u64 = PCR_MODULUS - 10 * PCR_HZ;
/// Every eighth packet after PAT and PMT in a cycle is audio.
const AUDIO_EVERY: u64 = 8;

const CRC_MPEG2: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_MPEG_2);

/// What a packet slot of the stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Pat,
    Pmt,
    Video { pcr: bool },
    Audio,
}

/// A constant-rate MPEG-TS feed with optional losses.
#[derive(Debug, Clone)]
pub struct TsFeed {
    /// Mux rate, bit/s.
    rate_bps: f64,
    /// Packets per cycle (PAT, PMT, then video and audio).
    cycle: u64,
    /// Original packet indices dropped from the feed, ascending.
    lost: Vec<u64>,
    pat: [u8; TS_PACKET],
    pmt: [u8; TS_PACKET],
}

impl TsFeed {
    /// A feed at `rate_kbps` (kb/s of TS bytes) from which `losses` video packets are dropped,
    /// spread evenly over the first `expected_bytes` of the feed.
    pub fn new(rate_kbps: f64, losses: u64, expected_bytes: u64) -> Self {
        let rate_bps = rate_kbps * 1000.0;
        // About 100 ms of packets per cycle (PSI repetition, ISO/IEC 13818-1 §2.4.4), at least
        // room for PAT, PMT, two PCR packets and an audio packet.
        let cycle = ((rate_bps * 0.1 / (TS_PACKET as f64 * 8.0)).round() as u64).max(12);
        let mut feed = TsFeed {
            rate_bps,
            cycle,
            lost: Vec::new(),
            pat: psi_packet(PID_PAT, &pat_section()),
            pmt: psi_packet(PMT_PID, &pmt_section()),
        };
        let packets = expected_bytes / TS_PACKET as u64;
        let videos = packets / cycle * feed.videos_per_cycle();
        if losses > 0 && videos > 2 * losses {
            let step = videos / (losses + 1);
            feed.lost = (1..=losses).map(|i| feed.video_index(i * step)).collect();
        }
        feed
    }

    fn videos_per_cycle(&self) -> u64 {
        let rest = self.cycle - 2;
        rest - rest / AUDIO_EVERY
    }

    /// Original index of the `v`-th video packet (from 0).
    fn video_index(&self, v: u64) -> u64 {
        let per = self.videos_per_cycle();
        let (q, r) = (v / per, v % per);
        // Within a cycle, after PAT and PMT, every eighth slot is audio: seven videos, then one.
        q * self.cycle + 2 + r + r / (AUDIO_EVERY - 1)
    }

    fn slot(&self, k: u64) -> Slot {
        let j = k % self.cycle;
        match j {
            0 => Slot::Pat,
            1 => Slot::Pmt,
            _ if (j - 2) % AUDIO_EVERY == AUDIO_EVERY - 1 => Slot::Audio,
            _ => {
                // Two PCRs a cycle: at its first video slot and half-way.
                let half = 2 + (self.cycle - 2) / 2;
                let half = if (half - 2) % AUDIO_EVERY == AUDIO_EVERY - 1 {
                    half + 1
                } else {
                    half
                };
                Slot::Video {
                    pcr: j == 2 || j == half,
                }
            }
        }
    }

    /// Packets on the slot's PID before original index k (its continuity counter).
    fn count_before(&self, k: u64) -> u64 {
        let (q, j) = (k / self.cycle, k % self.cycle);
        let rest = self.cycle - 2;
        let audio_per = rest / AUDIO_EVERY;
        match self.slot(k) {
            Slot::Pat | Slot::Pmt => q,
            Slot::Audio => q * audio_per + (j - 2) / AUDIO_EVERY,
            Slot::Video { .. } => {
                let i = j - 2;
                q * (rest - audio_per) + i - i / AUDIO_EVERY
            }
        }
    }

    /// PCR of original packet k (27 MHz, wrapped).
    pub fn pcr(&self, k: u64) -> u64 {
        let ticks = (k as f64 * (TS_PACKET as f64 * 8.0) / self.rate_bps * PCR_HZ as f64).round();
        (PCR0 + ticks as u64) % PCR_MODULUS
    }

    /// Original index of the m-th packet of the feed (losses skipped).
    fn original(&self, m: u64) -> u64 {
        let mut c = self.lost.partition_point(|&l| l <= m) as u64;
        loop {
            let n = self.lost.partition_point(|&l| l <= m + c) as u64;
            if n == c {
                return m + c;
            }
            c = n;
        }
    }

    /// Appends the feed's bytes `[offset, offset + len)` to `out`.
    pub fn fill(&self, offset: u64, len: usize, out: &mut Vec<u8>) {
        let mut o = offset;
        let end = offset + len as u64;
        let mut pkt = [0u8; TS_PACKET];
        while o < end {
            let m = o / TS_PACKET as u64;
            let from = (o % TS_PACKET as u64) as usize;
            let to = ((end - m * TS_PACKET as u64) as usize).min(TS_PACKET);
            self.packet(self.original(m), &mut pkt);
            out.extend_from_slice(&pkt[from..to]);
            o = (m + 1) * TS_PACKET as u64;
        }
    }

    /// Builds original packet k.
    fn packet(&self, k: u64, p: &mut [u8; TS_PACKET]) {
        let cc = (self.count_before(k) % 16) as u8;
        match self.slot(k) {
            Slot::Pat => *p = self.pat,
            Slot::Pmt => *p = self.pmt,
            Slot::Audio => payload_packet(p, AUDIO_PID, None, k),
            Slot::Video { pcr } => payload_packet(p, VIDEO_PID, pcr.then(|| self.pcr(k)), k),
        }
        p[3] = (p[3] & 0xF0) | cc;
    }

    /// Truth of a feed of which `bytes` were handed to the player.
    pub fn truth(&self, bytes: u64) -> FeedTruth {
        let packets = bytes / TS_PACKET as u64;
        // The last original packet handed whole, and the last video packet among those: a loss
        // shows only when a later packet of its PID arrived.
        let last = packets.checked_sub(1).map(|m| self.original(m));
        let last_video = last.and_then(|k| {
            (0..=k.min(self.cycle * 2))
                .map(|d| k - d)
                .find(|&i| matches!(self.slot(i), Slot::Video { .. }) && !self.is_lost(i))
        });
        let lost = last_video.map_or(0, |v| self.lost.partition_point(|&l| l < v) as u64);
        // PCRs handed: first is original packet 2; the last is the last PCR slot handed.
        let last_pcr = last.and_then(|k| {
            (0..=k.min(self.cycle * 2))
                .map(|d| k - d)
                .find(|&i| self.slot(i) == Slot::Video { pcr: true } && !self.is_lost(i))
        });
        let pcr_span_s = last_pcr
            .filter(|&k| k > 2)
            .map(|k| (k - 2) as f64 * (TS_PACKET as f64 * 8.0) / self.rate_bps);
        FeedTruth {
            container: "mpegts".into(),
            nominal_kbps: self.rate_bps / 1000.0,
            ts_packets: packets,
            lost_ts_packets: lost,
            expected_ts_packets: packets + lost,
            pcr_span_s,
            pcr_pid: VIDEO_PID,
            first_pcr: self.pcr(2),
        }
    }

    fn is_lost(&self, k: u64) -> bool {
        self.lost.binary_search(&k).is_ok()
    }
}

/// A payload packet: adaptation field with the PCR when given (§2.4.3.4), filler payload.
fn payload_packet(p: &mut [u8; TS_PACKET], pid: u16, pcr: Option<u64>, k: u64) {
    p[0] = SYNC;
    p[1] = (pid >> 8) as u8 & 0x1F;
    p[2] = pid as u8;
    let mut off = 4;
    if let Some(pcr) = pcr {
        p[3] = 0x30;
        p[4] = 7;
        p[5] = 0x10;
        let base = pcr / 300;
        let ext = pcr % 300;
        p[6] = (base >> 25) as u8;
        p[7] = (base >> 17) as u8;
        p[8] = (base >> 9) as u8;
        p[9] = (base >> 1) as u8;
        p[10] = (((base & 1) as u8) << 7) | 0x7E | ((ext >> 8) as u8 & 0x01);
        p[11] = ext as u8;
        off = 12;
    } else {
        p[3] = 0x10;
    }
    // Filler that is not a sync byte at any stride: the packet index, then a ramp.
    let tag = k.to_be_bytes();
    for (i, b) in p[off..].iter_mut().enumerate() {
        *b = tag.get(i).copied().unwrap_or((i as u8) | 0x80) & 0xBF;
    }
}

/// PAT: programme 1 → PMT_PID (§2.4.4.3).
fn pat_section() -> Vec<u8> {
    let body = [0x00, 0x01, 0xE0 | (PMT_PID >> 8) as u8, PMT_PID as u8];
    section(0x00, 1, &body)
}

/// PMT: PCR on the video PID, H.264 video and AAC audio (§2.4.4.8).
fn pmt_section() -> Vec<u8> {
    let body = [
        0xE0 | (VIDEO_PID >> 8) as u8,
        VIDEO_PID as u8,
        0xF0,
        0x00,
        0x1B,
        0xE0 | (VIDEO_PID >> 8) as u8,
        VIDEO_PID as u8,
        0xF0,
        0x00,
        0x0F,
        0xE0 | (AUDIO_PID >> 8) as u8,
        AUDIO_PID as u8,
        0xF0,
        0x00,
    ];
    section(0x02, 1, &body)
}

/// A PSI section (ISO/IEC 13818-1 §2.4.4) with its CRC-32/MPEG-2.
pub(crate) fn section(table: u8, ext: u16, body: &[u8]) -> Vec<u8> {
    let len = 5 + body.len() + 4;
    let mut s = vec![
        table,
        0xB0 | ((len >> 8) as u8 & 0x0F),
        len as u8,
        (ext >> 8) as u8,
        ext as u8,
        0xC1,
        0,
        0,
    ];
    s.extend_from_slice(body);
    let crc = CRC_MPEG2.checksum(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// A PSI packet: pointer field 0, the section, stuffing 0xFF.
fn psi_packet(pid: u16, section: &[u8]) -> [u8; TS_PACKET] {
    let mut p = [0xFFu8; TS_PACKET];
    p[0] = SYNC;
    p[1] = 0x40 | ((pid >> 8) as u8 & 0x1F);
    p[2] = pid as u8;
    p[3] = 0x10;
    p[4] = 0;
    let n = section.len().min(TS_PACKET - 5);
    p[5..5 + n].copy_from_slice(&section[..n]);
    p
}

/// Truth of the MPEG-TS feed (`feed` in the truth file, only with `--feed mpegts`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedTruth {
    /// Always `"mpegts"`.
    pub container: String,
    /// Mux rate: kb/s of TS bytes (= the stream rate).
    pub nominal_kbps: f64,
    /// Whole TS packets handed to the player.
    pub ts_packets: u64,
    /// Packets dropped before a later packet of their PID was handed (what the continuity
    /// counters can show).
    pub lost_ts_packets: u64,
    /// ts_packets + lost_ts_packets.
    pub expected_ts_packets: u64,
    /// Media seconds from the first to the last PCR handed.
    pub pcr_span_s: Option<f64>,
    /// PID carrying the PCR.
    pub pcr_pid: u16,
    /// The first PCR value (27 MHz), ten seconds before the 33-bit wrap.
    pub first_pcr: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ts::TsParser;

    #[test]
    fn parser_reads_the_feed_it_was_made_to_be() {
        let rate = 360.0;
        let bytes = 45_000 * 30; // 30 s at 360 kb/s
        let feed = TsFeed::new(rate, 7, bytes);
        assert_eq!(feed.lost.len(), 7);
        let mut out = Vec::new();
        // In odd pieces, as the player segments cut it.
        let mut o = 0u64;
        let mut k = 0usize;
        while o < bytes {
            let n = [1000usize, 16_384, 1, 187, 4_000][k % 5].min((bytes - o) as usize);
            feed.fill(o, n, &mut out);
            o += n as u64;
            k += 1;
        }
        assert_eq!(out.len() as u64, bytes);
        let mut t = TsParser::new();
        t.push(0, &out, &mut ());
        let truth = feed.truth(bytes);
        let s = t.stats();
        assert_eq!(s.packets, truth.ts_packets);
        assert_eq!(s.lost(), truth.lost_ts_packets);
        assert_eq!(truth.lost_ts_packets, 7);
        assert_eq!(s.cc_errors, 7);
        assert_eq!(s.crc_errors, 0);
        let tl = t.timeline();
        assert_eq!(tl.discontinuities(), 0, "the wrap is not a discontinuity");
        let span = tl.ticks() as f64 / PCR_HZ as f64;
        assert!((span - truth.pcr_span_s.unwrap()).abs() < 1e-6);
        let kbps = tl.bytes() as f64 * 8.0 / span / 1000.0;
        assert!((kbps - rate).abs() < 0.01, "{kbps}");
        let p = t.programme().unwrap();
        assert_eq!(p.pcr_pid, Some(VIDEO_PID));
        // PCRs at most 100 ms apart (two per ~100 ms cycle).
        assert!(feed.cycle as f64 * 188.0 * 8.0 / (rate * 1000.0) <= 0.11);
    }

    /// The whole path: `simulate --feed mpegts --ts-loss 25` written as a capture, read back,
    /// decoded, and the player flow run through the feed tracker, against the truth.
    #[test]
    fn simulated_capture_feed_matches_its_truth() {
        use crate::decode::{decode, Decoded};
        use crate::media::{Clock, Container, FeedSegment, FeedTracker};
        use crate::sim::{generate, Feed, Link, SimConfig, PLAYER_PORT};
        use crate::source::CaptureFile;

        let cfg = SimConfig {
            link: Link::Sll2,
            duration_s: 40.0,
            feed: Feed::MpegTs,
            ts_loss: 25,
            ..SimConfig::default()
        };
        let mut bytes = Vec::new();
        let truth = generate(&cfg, &mut bytes).unwrap();
        let ft = truth.feed.clone().unwrap();
        assert_eq!(ft.lost_ts_packets, 25);
        let mut file =
            CaptureFile::from_reader("sim", Box::new(std::io::Cursor::new(bytes)), None).unwrap();
        let mut tracker = FeedTracker::new();
        while file.next_packet(|raw| {
            if let Decoded::Packet(p) = decode(&raw) {
                if let Some(seg) = FeedSegment::from_packet(&p, PLAYER_PORT) {
                    tracker.segment(&seg);
                }
            }
        }) {}
        let s = tracker.finish();
        assert_eq!(s.container, Container::MpegTs);
        assert_eq!(s.clock, Some(Clock::MpegTsPcr));
        assert_eq!(s.ts.packets, ft.ts_packets);
        assert_eq!(s.lost_ts_packets, ft.lost_ts_packets);
        assert_eq!(s.expected_ts_packets, ft.expected_ts_packets);
        assert_eq!(s.reassembly.gaps, 0);
        let rate = s.nominal_kbps.unwrap();
        assert!(
            (rate - ft.nominal_kbps).abs() / ft.nominal_kbps < 0.001,
            "{rate}"
        );
        let span = s.pcr_span_s.unwrap();
        assert!((span - ft.pcr_span_s.unwrap()).abs() < 1e-6, "{span}");
        assert_eq!(
            s.pcr_discontinuities, 0,
            "the 2^33 wrap is crossed, not a jump"
        );
        let http = s.http.unwrap();
        assert_eq!(http.path.as_deref(), Some("/"));
        assert_eq!(http.content_type.as_deref(), Some("video/mp2t"));
        // Body bytes = what the truth says was handed, minus the response head.
        let head = super::super::session::HTTP_HEADER_TS_LEN as u64;
        assert_eq!(s.body_bytes + head, truth.player_bytes.unwrap());
    }

    #[test]
    fn no_loss_feed_has_no_counter_errors() {
        let feed = TsFeed::new(2000.0, 0, 1 << 20);
        let mut out = Vec::new();
        feed.fill(0, 1 << 20, &mut out);
        let mut t = TsParser::new();
        t.push(0, &out, &mut ());
        assert_eq!(t.stats().cc_errors, 0);
        assert_eq!(t.stats().packets, (1 << 20) / 188);
        assert_eq!(feed.truth(1 << 20).lost_ts_packets, 0);
    }
}
