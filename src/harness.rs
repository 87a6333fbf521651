//! Entry points for fuzzing: each takes arbitrary bytes and drives one attack surface through
//! the same code the `analyze` command runs. The cargo-fuzz targets in `fuzz/` call these, and
//! the test suite replays saved crashing inputs (`tests/fuzz-regressions/`) through them, so a
//! fixed crash stays fixed. None of them may panic, whatever the input.
//!
//! - [`decode_frame`]: one frame through [`decode::decode`], on a link type chosen by the first
//!   input byte (every supported one and a few unsupported ones);
//! - [`read_capture`]: the bytes as a capture file through [`CaptureFile`], every record through
//!   the [`Analyzer`], then [`build_report`] and the JSON writer;
//! - [`dns_answers`]: the bytes as a DNS message through [`dns::answers`].

use std::io::Cursor;

use crate::decode::{self, dns, link::linktype, Decoded};
use crate::pipeline::{build_report, AnalysisConfig, Analyzer, Warning};
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
    let warnings = pass
        .filter_warnings
        .into_iter()
        .map(Warning::Filter)
        .collect();
    let report = build_report(
        pass.fin,
        &pass.findings,
        &stats,
        &["fuzz.pcap".into()],
        &cfg,
        warnings,
        1,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_empty_inputs() {
        for data in [&[][..], &[0], &[1, 0], &[200, 1, 2, 3]] {
            decode_frame(data);
            read_capture(data);
            dns_answers(data);
        }
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
