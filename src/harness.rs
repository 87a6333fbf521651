//! Entry points for fuzzing: each takes arbitrary bytes and drives one attack surface through
//! the same code the `analyze` command runs. The cargo-fuzz targets in `fuzz/` call these, and
//! the test suite replays saved crashing inputs (`tests/fuzz-regressions/`) through them, so a
//! fixed crash stays fixed. None of them may panic, whatever the input.
//!
//! - [`decode_frame`]: one frame through [`decode::decode`], on a link type chosen by the first
//!   input byte (every supported one and a few unsupported ones);
//! - [`read_capture`]: the bytes as a capture file through [`CaptureFile`], every record through
//!   the [`Analyzer`], then [`build_report`] and the JSON writer;
//! - [`dns_answers`]: the bytes as a DNS message through [`dns::answers`];
//! - [`media_feed`]: the bytes as a series of TCP segments of player connections through
//!   [`FeedTracker`] (reassembly, HTTP, container sniffing, MPEG-TS), then its summary.

use std::io::Cursor;

use crate::decode::{self, dns, link::linktype, Decoded};
use crate::media::{FeedSegment, FeedSummary, FeedTracker};
use crate::pipeline::{build_report, AnalysisConfig, Analyzer};
use crate::report;
use crate::source::{CaptureFile, RawPacket};
use crate::time::Timestamp;

/// Link types [`decode_frame`] picks from: the supported ones, then unsupported ones
/// (IEEE 802.11, USER0, radiotap, a number beyond any assigned).
pub const FUZZ_LINK_TYPES: [u16; 14] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::RAW_12,
    linktype::RAW_14,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    105,
    147,
    127,
    65_000,
];

/// Bytes before the frame in a [`decode_frame`] input: link selector, then a little-endian
/// u16 added to the frame's length to form its original length (a snaplen cut).
pub const FRAME_PREFIX: usize = 3;

/// The input for [`decode_frame`] that decodes `raw` as it was read (for seed corpora).
/// `None` when its link type is not in [`FUZZ_LINK_TYPES`].
pub fn frame_input(raw: &RawPacket<'_>) -> Option<Vec<u8>> {
    let selector = FUZZ_LINK_TYPES.iter().position(|&l| l == raw.link_type)?;
    let cut = u16::try_from(
        (raw.orig_len as usize)
            .saturating_sub(raw.data.len())
            .min(usize::from(u16::MAX)),
    )
    .ok()?;
    let mut input = Vec::with_capacity(FRAME_PREFIX + raw.data.len());
    input.push(u8::try_from(selector).ok()?);
    input.extend_from_slice(&cut.to_le_bytes());
    input.extend_from_slice(raw.data);
    Some(input)
}

/// Decodes one frame: `data[0]` picks the link type from [`FUZZ_LINK_TYPES`], `data[1..3]`
/// (little-endian) is how many bytes the snaplen cut, the rest is the frame.
pub fn decode_frame(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let link = FUZZ_LINK_TYPES[usize::from(selector) % FUZZ_LINK_TYPES.len()];
    let (cut, frame) = match rest {
        [a, b, frame @ ..] => (u32::from(u16::from_le_bytes([*a, *b])), frame),
        _ => (0, rest),
    };
    let orig_len = u32::try_from(frame.len())
        .unwrap_or(u32::MAX)
        .saturating_add(cut);
    let raw = RawPacket {
        ts: Timestamp::from_ns(1_700_000_000_000_000_000),
        link_type: link,
        orig_len,
        data: frame,
    };
    check_decoded(&raw, &decode::decode(&raw));
}

/// What must hold for any decoded frame; a violation is a bug, reported as a panic so that the
/// fuzzer keeps the input.
#[allow(clippy::panic)]
fn check_decoded(raw: &RawPacket<'_>, decoded: &Decoded<'_>) {
    match decoded {
        Decoded::Packet(p) => {
            let frame = raw.data.as_ptr_range();
            let payload = p.payload.as_ptr_range();
            // The payload is a slice of the frame (or empty).
            if !p.payload.is_empty() && (payload.start < frame.start || payload.end > frame.end) {
                panic!("payload outside the frame");
            }
            // Lengths on the wire: the IP packet holds its payload, and no more than the
            // frame's original length (or what was captured, when that is longer).
            if p.payload_len > p.ip_len && !matches!(p.frag, decode::Frag::First { .. }) {
                panic!("payload_len {} > ip_len {}", p.payload_len, p.ip_len);
            }
            if p.ip_len as usize > (raw.orig_len as usize).max(raw.data.len()) {
                panic!("ip_len {} beyond the frame ({})", p.ip_len, raw.orig_len);
            }
        }
        Decoded::Malformed(m) => {
            if m.key().is_empty() {
                panic!("empty malformed key");
            }
        }
        Decoded::NotIp(_) => {}
    }
}

/// Reads `data` as a capture file the way `analyze` does, runs every record through the
/// analyzer, builds the report and writes it as JSON (to a sink).
pub fn read_capture(data: &[u8]) {
    let Ok(mut file) = CaptureFile::from_reader(
        "fuzz.pcap",
        Box::new(Cursor::new(data.to_vec())),
        Some(data.len() as u64),
    ) else {
        return;
    };
    let cfg = AnalysisConfig::default();
    let Ok(mut analyzer) = Analyzer::new(&cfg) else {
        return;
    };
    while file.next_packet(|raw| analyzer.push(&raw)) {}
    let stats = file.stats().clone();
    let pass = analyzer.finish();
    let report = build_report(pass, &stats, &["fuzz.pcap".into()], &cfg, Vec::new(), 1);
    let _ = report::json::write(&report, std::io::sink());
}

/// Extracts the names of a DNS message's A/AAAA answers.
#[allow(clippy::panic)]
pub fn dns_answers(data: &[u8]) {
    dns::answers(data, |_, name| {
        if name.is_empty() || name.len() > 253 {
            panic!("name of {} bytes", name.len());
        }
    });
}

/// Bytes before each segment's payload in a [`media_feed`] input: control (bit 0 server →
/// player, bit 1 SYN, bit 2 FIN, bit 3 RST, bits 4–6 the connection), a little-endian i16
/// added to the direction's next sequence number, a little-endian u16 payload length, and the
/// bytes the snaplen cut (wire length = payload + 4 × this).
pub const SEGMENT_PREFIX: usize = 6;

/// One segment for [`media_feed_input`]: (connection 0–7, server → player, TCP flags, offset
/// from the direction's next sequence number, payload, snaplen cut in units of 4 bytes).
pub type SeedSegment<'a> = (u8, bool, u8, i16, &'a [u8], u8);

/// Encodes segments for [`media_feed`] (for seed corpora).
pub fn media_feed_input(segments: &[SeedSegment<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(conn, to_player, flags, offset, payload, cut) in segments {
        let fl = u8::from(to_player)
            | if flags & 0x02 != 0 { 0x02 } else { 0 }
            | if flags & 0x01 != 0 { 0x04 } else { 0 }
            | if flags & 0x04 != 0 { 0x08 } else { 0 };
        out.push(fl | ((conn & 0x07) << 4));
        out.extend_from_slice(&offset.to_le_bytes());
        let len = payload.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.push(cut);
        out.extend_from_slice(&payload[..len]);
    }
    out
}

/// Runs `data` (see [`SEGMENT_PREFIX`]) through a [`FeedTracker`] as the segments of up to
/// eight player connections, and checks the summary's invariants.
pub fn media_feed(data: &[u8]) {
    check_feed(&feed_summary(data));
}

/// The summary of a [`media_feed`] input.
pub fn feed_summary(data: &[u8]) -> FeedSummary {
    let mut tracker = FeedTracker::new();
    // Next sequence number per connection and direction; initial ones differ and sit near
    // the wrap so that it is crossed.
    let mut next = [[0u32; 2]; 8];
    for (i, n) in next.iter_mut().enumerate() {
        *n = [u32::MAX - 1000 * i as u32, 0x8000_0000 + i as u32];
    }
    let mut rest = data;
    let mut ts_ns = 1_700_000_000_000_000_000i64;
    while let Some((head, tail)) = rest.split_at_checked(SEGMENT_PREFIX) {
        let ctl = head[0];
        let offset = i16::from_le_bytes([head[1], head[2]]);
        let len = usize::from(u16::from_le_bytes([head[3], head[4]])).min(tail.len());
        let cut = u32::from(head[5]) * 4;
        let (payload, after) = tail.split_at(len);
        rest = after;
        let conn = usize::from((ctl >> 4) & 0x07);
        let to_player = ctl & 0x01 != 0;
        let mut flags = 0x10;
        if ctl & 0x02 != 0 {
            flags |= 0x02;
        }
        if ctl & 0x04 != 0 {
            flags |= 0x01;
        }
        if ctl & 0x08 != 0 {
            flags |= 0x04;
        }
        let dir = usize::from(to_player);
        let seq = next[conn][dir].wrapping_add(i32::from(offset) as u32);
        let wire = len as u32 + cut;
        next[conn][dir] = seq
            .wrapping_add(wire)
            .wrapping_add(u32::from(flags & 0x02 != 0));
        let port = 40_000 + conn as u16;
        tracker.segment(&FeedSegment {
            ts_ns,
            client: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            server: std::net::SocketAddr::from(([127, 0, 0, 1], 8902)),
            to_player,
            seq,
            flags,
            payload,
            wire_payload_len: wire,
        });
        ts_ns += 1_000_000;
    }
    tracker.finish()
}

/// What must hold for any feed summary.
#[allow(clippy::panic)]
fn check_feed(s: &FeedSummary) {
    if s.lost_ts_packets > s.expected_ts_packets {
        panic!(
            "lost {} > expected {}",
            s.lost_ts_packets, s.expected_ts_packets
        );
    }
    if s.body_bytes > s.reassembly.delivered_bytes {
        panic!(
            "body {} > delivered {}",
            s.body_bytes, s.reassembly.delivered_bytes
        );
    }
    if s.ts.packets * 188 > s.body_bytes {
        panic!("{} TS packets in {} body bytes", s.ts.packets, s.body_bytes);
    }
    if let Some(r) = s.nominal_kbps {
        if !(r.is_finite() && r >= 0.0) {
            panic!("nominal rate {r}");
        }
    }
    if s.media_time.windows(2).any(|w| w[1].media_s < w[0].media_s) {
        panic!("media time goes back");
    }
    if s.media_time.len() > crate::media::MEDIA_POINTS_MAX {
        panic!("{} media points", s.media_time.len());
    }
    if s.clock.is_some() != s.media_time_s.is_some() {
        panic!("clock without media time or the reverse");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_empty_inputs() {
        for data in [&[][..], &[0], &[1, 0], &[200, 1, 2, 3]] {
            decode_frame(data);
            read_capture(data);
            dns_answers(data);
            media_feed(data);
        }
    }

    #[test]
    fn media_feed_input_round_trips() {
        use crate::media::ts::tests::packet;
        let ts: Vec<u8> = (0..10u8)
            .flat_map(|k| {
                let pcr = Some(u64::from(k) * 2_700_000);
                packet(0x100, k, false, pcr, false, Some(&[0; 100]))
            })
            .collect();
        let resp = [&b"HTTP/1.1 200 OK\r\n\r\n"[..], &ts].concat();
        let (a, b) = resp.split_at(700);
        let input = media_feed_input(&[
            (3, false, 0x02, 0, &[], 0),
            (3, true, 0x02, 0, &[], 0),
            (3, false, 0, 0, b"GET /x.ts HTTP/1.1\r\n\r\n", 0),
            (3, true, 0, 700, b, 0), // ahead of the hole
            (3, true, 0, -(resp.len() as i16), a, 0),
        ]);
        let s = feed_summary(&input);
        assert_eq!(s.ts.packets, 10);
        assert_eq!(s.reassembly.out_of_order_segments, 1);
        assert_eq!(s.pcr_span_s, Some(0.9));
        assert_eq!(s.http.and_then(|h| h.path).as_deref(), Some("/x.ts"));
        media_feed(&input);
    }

    #[test]
    fn frame_input_round_trips_the_link() {
        let mut raw = RawPacket {
            ts: Timestamp::EPOCH,
            link_type: linktype::LINUX_SLL2,
            orig_len: 300,
            data: &[1, 2],
        };
        let input = frame_input(&raw).unwrap_or_default();
        assert_eq!(FUZZ_LINK_TYPES[usize::from(input[0])], linktype::LINUX_SLL2);
        assert_eq!(&input[1..FRAME_PREFIX], &298u16.to_le_bytes());
        assert_eq!(&input[FRAME_PREFIX..], &[1, 2]);
        raw.link_type = 4242;
        assert!(frame_input(&raw).is_none());
    }
}
