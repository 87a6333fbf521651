//! uTP, the Micro Transport Protocol of BitTorrent (BEP 29): a strict recogniser for its
//! 20-byte header and extension chain, carried in a UDP payload.
//!
//! The principal entry points are [`parse`] (the captured payload is taken as the whole
//! datagram) and [`parse_with_len`] (the captured payload plus the payload length on the wire,
//! for snaplen-cut captures). Both return a [`UtpHeader`] or `None`; neither allocates nor
//! panics. [`UtpHeader::data_len`] is the payload length past the header and its extensions:
//! on `ST_DATA` packets, the size of the piece data (or of the BitTorrent messages) carried.
//!
//! ```text
//!  0       4       8               16              24              32
//! +-------+-------+---------------+---------------+---------------+
//! | type  | ver   | extension     | connection_id                 |
//! +-------+-------+---------------+---------------+---------------+
//! | timestamp_microseconds                                        |
//! | timestamp_difference_microseconds                             |
//! | wnd_size                                                      |
//! | seq_nr                        | ack_nr                        |
//! +---------------+---------------+---------------+---------------+
//! then, while `extension` ≠ 0: [next extension u8][length u8][length bytes]
//! ```
//!
//! Strictness, because uTP has no magic number and any UDP payload could start with `0x01`:
//! version 1 only; type 0–4; the extension chain is walked with bounds checks and must end
//! inside the captured bytes, name only known extensions (1 selective ACK, 2 extension bits,
//! 3 libtorrent's close reason), with the lengths they require, at most
//! [`MAX_EXTENSIONS`] of them; `ST_STATE`, `ST_SYN` and `ST_RESET` carry no data and `ST_DATA`
//! carries some. Measured false-positive rate on the UDP of the non-BitTorrent captures in
//! `tests/data/real/` and `captures/` (SopCast-like simulated sessions, PPStream, Zoom, Skype,
//! KakaoTalk, YouTube gQUIC, QUIC version negotiation, Gnutella, Kontiki;
//! `tests/identify.rs::utp_false_positive_rate`): 3 of 28,145 UDP payloads (0.011 %, all in
//! the Zoom capture) parse as uTP, and no flow has two with the same connection id. On the
//! Transmission capture 5,222 of its 5,260 UDP payloads that are not DHT parse as uTP.

/// uTP packet types (BEP 29, "type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UtpType {
    /// `ST_DATA` (0): a data packet; the payload follows the header.
    Data,
    /// `ST_FIN` (1): the last packet of a connection.
    Fin,
    /// `ST_STATE` (2): a state packet (a pure ACK), no data.
    State,
    /// `ST_RESET` (3): terminates the connection forcefully.
    Reset,
    /// `ST_SYN` (4): opens a connection.
    Syn,
}

impl UtpType {
    fn from_nibble(n: u8) -> Option<Self> {
        match n {
            0 => Some(UtpType::Data),
            1 => Some(UtpType::Fin),
            2 => Some(UtpType::State),
            3 => Some(UtpType::Reset),
            4 => Some(UtpType::Syn),
            _ => None,
        }
    }
}

impl std::fmt::Display for UtpType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UtpType::Data => "ST_DATA",
            UtpType::Fin => "ST_FIN",
            UtpType::State => "ST_STATE",
            UtpType::Reset => "ST_RESET",
            UtpType::Syn => "ST_SYN",
        })
    }
}

/// The fixed header length (BEP 29).
pub const HEADER_LEN: usize = 20;
/// The only protocol version (BEP 29: "This document describes version 1").
pub const VERSION: u8 = 1;
/// Extension numbers: 1 selective ACK and 2 extension bits (BEP 29), 3 the close reason
/// (libtorrent, `utp_stream.cpp`, `utp_close_reason`).
pub const EXT_SELECTIVE_ACK: u8 = 1;
pub const EXT_EXTENSION_BITS: u8 = 2;
pub const EXT_CLOSE_REASON: u8 = 3;
/// Longest extension chain accepted; real implementations send at most two.
pub const MAX_EXTENSIONS: usize = 4;

/// A parsed uTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtpHeader {
    pub kind: UtpType,
    /// The first extension's number (0: none).
    pub extension: u8,
    pub connection_id: u16,
    pub timestamp_us: u32,
    pub timestamp_difference_us: u32,
    pub wnd_size: u32,
    pub seq_nr: u16,
    pub ack_nr: u16,
    /// Header plus extensions, in bytes (≥ 20).
    pub header_len: usize,
    /// Number of extensions in the chain.
    pub extensions: u8,
    /// Whether a selective ACK extension is present.
    pub selective_ack: bool,
}

impl UtpHeader {
    /// Payload bytes past the header and its extensions, given the UDP payload length on the
    /// wire: the data carried by an `ST_DATA` packet.
    pub fn data_len(&self, wire_payload_len: u32) -> u32 {
        wire_payload_len.saturating_sub(self.header_len as u32)
    }
}

/// Parses a uTP header from a whole captured UDP payload (its length is the wire length).
pub fn parse(payload: &[u8]) -> Option<UtpHeader> {
    parse_with_len(payload, payload.len())
}

/// Parses a uTP header from the captured part of a UDP payload whose length on the wire is
/// `wire_len` (≥ the captured length; a smaller value is taken as the captured length). The
/// header and its extensions must be captured; the data need not be.
pub fn parse_with_len(payload: &[u8], wire_len: usize) -> Option<UtpHeader> {
    let wire_len = wire_len.max(payload.len());
    let h = payload.get(..HEADER_LEN)?;
    if h[0] & 0x0f != VERSION {
        return None;
    }
    let kind = UtpType::from_nibble(h[0] >> 4)?;
    let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let extension = h[1];
    let (header_len, extensions, selective_ack) = walk_extensions(payload, extension)?;
    let data = wire_len - header_len;
    let data_ok = match kind {
        UtpType::State | UtpType::Syn | UtpType::Reset => data == 0,
        UtpType::Data => data > 0,
        UtpType::Fin => true,
    };
    if !data_ok {
        return None;
    }
    Some(UtpHeader {
        kind,
        extension,
        connection_id: be16(2),
        timestamp_us: be32(4),
        timestamp_difference_us: be32(8),
        wnd_size: be32(12),
        seq_nr: be16(16),
        ack_nr: be16(18),
        header_len,
        extensions,
        selective_ack,
    })
}

/// Walks the extension chain starting with extension `first` after the fixed header.
/// Returns (header length with extensions, number of extensions, selective ACK present).
fn walk_extensions(payload: &[u8], first: u8) -> Option<(usize, u8, bool)> {
    let mut at = HEADER_LEN;
    let mut ext = first;
    let mut count = 0u8;
    let mut sack = false;
    while ext != 0 {
        if usize::from(count) == MAX_EXTENSIONS {
            return None;
        }
        let next = *payload.get(at)?;
        let len = usize::from(*payload.get(at + 1)?);
        let ok = match ext {
            // BEP 29: the selective ACK bitmask is at least 32 bits, a multiple of 32 bits.
            EXT_SELECTIVE_ACK => len >= 4 && len % 4 == 0,
            // BEP 29 (deprecated): 8 bytes of extension bits.
            EXT_EXTENSION_BITS => len == 8,
            // libtorrent: a 16-bit reserved field and a 16-bit close reason.
            EXT_CLOSE_REASON => len == 4,
            _ => false,
        };
        if !ok {
            return None;
        }
        sack |= ext == EXT_SELECTIVE_ACK;
        at = at.checked_add(2 + len)?;
        if at > payload.len() {
            return None;
        }
        ext = next;
        count += 1;
    }
    Some((at, count, sack))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header of type `t` with extension byte `ext`, connection id 0x1234, seq 7, ack 6.
    fn header(t: u8, ext: u8) -> Vec<u8> {
        let mut h = vec![(t << 4) | 1, ext, 0x12, 0x34];
        h.extend_from_slice(&1_000_000u32.to_be_bytes());
        h.extend_from_slice(&250u32.to_be_bytes());
        h.extend_from_slice(&65_536u32.to_be_bytes());
        h.extend_from_slice(&7u16.to_be_bytes());
        h.extend_from_slice(&6u16.to_be_bytes());
        h
    }

    #[test]
    fn state_packet_fields() {
        let h = parse(&header(2, 0)).unwrap();
        assert_eq!(h.kind, UtpType::State);
        assert_eq!(h.connection_id, 0x1234);
        assert_eq!(h.timestamp_us, 1_000_000);
        assert_eq!(h.timestamp_difference_us, 250);
        assert_eq!(h.wnd_size, 65_536);
        assert_eq!((h.seq_nr, h.ack_nr), (7, 6));
        assert_eq!(h.header_len, 20);
        assert_eq!(h.data_len(20), 0);
        assert_eq!(h.kind.to_string(), "ST_STATE");
    }

    #[test]
    fn data_packet_length_past_header() {
        let mut p = header(0, 0);
        p.extend_from_slice(&[0xAB; 1382]);
        let h = parse(&p).unwrap();
        assert_eq!(h.kind, UtpType::Data);
        assert_eq!(h.data_len(p.len() as u32), 1382);
        // Snaplen cut: only the header captured, the wire length says 1402.
        let h = parse_with_len(&p[..20], 1402).unwrap();
        assert_eq!(h.data_len(1402), 1382);
    }

    #[test]
    fn selective_ack_chain() {
        let mut p = header(2, EXT_SELECTIVE_ACK);
        p.extend_from_slice(&[0, 4, 0xff, 0, 0, 0]);
        let h = parse(&p).unwrap();
        assert!(h.selective_ack);
        assert_eq!((h.header_len, h.extensions), (26, 1));
        // Two extensions: SACK then close reason.
        let mut p = header(1, EXT_SELECTIVE_ACK);
        p.extend_from_slice(&[EXT_CLOSE_REASON, 4, 1, 2, 3, 4, 0, 4, 0, 0, 0, 0]);
        let h = parse(&p).unwrap();
        assert_eq!((h.header_len, h.extensions), (32, 2));
    }

    #[test]
    fn rejects_near_misses() {
        // Version 2, type 5, too short.
        let mut v2 = header(2, 0);
        v2[0] = 0x22;
        assert!(parse(&v2).is_none());
        assert!(parse(&header(5, 0)).is_none());
        assert!(parse(&header(2, 0)[..19]).is_none());
        // ST_STATE / ST_SYN / ST_RESET with data, ST_DATA without.
        for t in [2, 3, 4] {
            let mut p = header(t, 0);
            p.push(0);
            assert!(parse(&p).is_none(), "type {t} with data");
        }
        assert!(parse(&header(0, 0)).is_none());
        // Snaplen: a state packet whose wire length says there is more.
        assert!(parse_with_len(&header(2, 0), 30).is_none());
        // Unknown extension, SACK of 3 bytes, extension bits of 4, chain cut short.
        let mut p = header(2, 9);
        p.extend_from_slice(&[0, 4, 0, 0, 0, 0]);
        assert!(parse(&p).is_none());
        let mut p = header(2, 1);
        p.extend_from_slice(&[0, 3, 0, 0, 0]);
        assert!(parse(&p).is_none());
        let mut p = header(2, 2);
        p.extend_from_slice(&[0, 4, 0, 0, 0, 0]);
        assert!(parse(&p).is_none());
        let mut p = header(2, 1);
        p.extend_from_slice(&[0, 8, 0, 0]);
        assert!(parse(&p).is_none());
        // An endless chain (each SACK naming another) is cut at MAX_EXTENSIONS.
        let mut p = header(2, 1);
        for _ in 0..6 {
            p.extend_from_slice(&[1, 4, 0, 0, 0, 0]);
        }
        assert!(parse(&p).is_none());
    }

    #[test]
    fn never_panics_on_short_or_odd_input() {
        for len in 0..40 {
            let p: Vec<u8> = (0..len).map(|i| (i * 37 + 1) as u8).collect();
            let _ = parse(&p);
            let _ = parse_with_len(&p, 0);
            let _ = parse_with_len(&p, usize::MAX);
        }
    }
}
