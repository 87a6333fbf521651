//! Per-packet matchers: each [`Rule`] is a stateless test on one packet's transport, captured
//! payload prefix and payload length on the wire ([`PacketView`]). [`classify`] tries them in
//! a fixed order (strong signatures first) and returns the first [`Match`];
//! [`classify_all`] adds the weak patterns that can share a packet with it.
//!
//! Ports are never part of a rule: they are kept in the view only for the flow key. What a
//! single packet cannot show — that RTP keeps one SSRC, that uTP keeps one connection id, that a
//! QUIC short header follows a long one — is checked by the flow accumulator
//! ([`super::accumulator`]) from the match's `key` and `seq`.
//!
//! Every rule's doc says what it is, where it comes from and how it was tested: each has unit
//! tests on byte arrays below (a positive and near-miss negatives); the real-capture tests are
//! in `tests/identify.rs`.

use crate::decode::utp::{self, UtpType};

/// The transport of a packet as the matchers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Udp,
    Tcp,
}

/// What the matchers read of one packet.
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    pub proto: Proto,
    /// The captured part of the transport payload.
    pub payload: &'a [u8],
    /// The transport payload length on the wire (≥ `payload.len()` when the snaplen cut it).
    pub wire_len: usize,
}

/// One identification rule. Fieldless and `Copy`: the accumulator counts matches per rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// BitTorrent peer wire handshake (BEP 3): a TCP (or uTP `ST_DATA`) payload that opens
    /// with the byte 19 and `BitTorrent protocol`. Tested on the handshakes of
    /// `ndpi__bittorrent_transmission.pcapng`.
    BtHandshake,
    /// uTP header (BEP 29), by [`utp::parse_with_len`]; a flow counts when its connection id
    /// holds across packets. Tested on the uTP of `ndpi__bittorrent_transmission.pcapng`; its
    /// false-positive rate on the other captures is measured in `tests/identify.rs`.
    Utp,
    /// UDP tracker connect request (BEP 15): 16 bytes, the 64-bit protocol id
    /// 0x41727101980, action 0.
    UdpTracker,
    /// HTTP tracker announce (BEP 3): a TCP payload `GET /…announce?…info_hash=…` on its
    /// request line.
    HttpAnnounce,
    /// Mainline DHT message (BEP 5): a bencoded dictionary (`d…e`) with a transaction id key
    /// `1:t` and a message type `1:y1:q`, `1:y1:r` or `1:y1:e`. Tested on the DHT of
    /// `ndpi__bittorrent_transmission.pcapng`.
    Dht,
    /// SopCast UDP header, Tstat's `udp_search_sopcast` (ipp2p_tstat.c) in payload offsets:
    /// length > 14; either `payload[0]` = 0x00, `payload[2]` = 0x01, bytes 8–9 one of (06 01),
    /// (01 01), (01 FF), (03 FF) and bytes 10–11 (big-endian) = length − 8; or `payload[0..3]` =
    /// FF FF 01, `payload[10]` = 0 and `payload[11]` = length − 8. Tested on byte arrays built from
    /// the rule (no real SopCast capture is bundled); the simulated SopCast-like captures do not
    /// carry this header (their video starts with `V`, 0x01).
    Sopcast,
    /// PPStream tracker/control message, nDPI's `ndpi_search_ppstream` (ppstream.c, the UDP
    /// branch it applied on port 17788; the port condition is dropped here): length > 14, a
    /// little-endian length at 0 equal to the payload length, or to it minus 4 or 6, and one of
    /// nDPI's byte patterns after it (0x43 …; 0x44 B1 71 …; 0x44 73 17 …; 0x44 74 71 … with
    /// `PPStream` at 94; 0x55 …). nDPI's nesting made its 0x44 patterns unreachable (they sit
    /// in the else of a branch already taken on byte 2 = 0x43); here they are reachable. Tested
    /// on the tracker messages of `ndpi__pps.pcap`.
    PpsControl,
    /// PPStream peer message, nDPI's second UDP pattern: length > 17 and either `payload[1]` is
    /// 0x80 or 0x84 with `payload[3]` = `payload[4]`, or `payload[1]` = 0x53, `payload[3]` = 0 and
    /// `payload[0]` is 0x08 or 0x0C. Weak on one packet (about 1 in 30,000 random payloads), so a
    /// flow counts only when most of its inspected packets match. Tested on `ndpi__pps.pcap`
    /// (978 of its 990 non-SSDP UDP packets match, all of them on the peer flows).
    PpsPeer,
    /// STUN message with the RFC 5389 magic cookie (RFC 7983 first byte 0–3): top two bits 0,
    /// cookie 0x2112A442 at 4, message length = payload length − 20, a multiple of 4. Tested
    /// on the ICE checks of `tests/fixtures/webrtc-aiortc.pcap` (a real aiortc call).
    Stun,
    /// DTLS record (RFC 6347 §4.1; RFC 7983 first byte 20–63): content type 20–25, version
    /// FE FF or FE FD, record length fitting the datagram. Tested on the DTLS handshake of
    /// `tests/fixtures/webrtc-aiortc.pcap`.
    Dtls,
    /// RTP (RFC 3550 §5.1; RFC 7983 first byte 128–191): version 2, payload type outside the
    /// RTCP range 64–95 (RFC 5761 §4), CSRC list within the payload; the flow accumulator asks
    /// for one SSRC with advancing sequence numbers. Tested on the SRTP of
    /// `tests/fixtures/webrtc-aiortc.pcap` and the voice of `ndpi__KakaoTalk_talk.pcap`.
    Rtp,
    /// RTCP (RFC 3550 §6.4): version 2, packet type 200–204, length fitting the datagram.
    Rtcp,
    /// SRT handshake (draft-sharabayko-srt §3.2.1): control packet of type 0, subtype 0, at
    /// least 64 bytes, handshake version 4 or 5, MTU 576–9216, handshake type induction,
    /// wave-a-hand, conclusion, agreement or done. Tested on the four handshake packets of
    /// `tests/fixtures/srt-live-transmit.pcap` (a real SRT 1.5.1 session).
    SrtHandshake,
    /// SRT control packet (draft-sharabayko-srt §3.2): keep-alive, ACK, NAK, shutdown or ACKACK,
    /// subtype 0; the flow accumulator asks for one destination socket id. Tested on the 42
    /// control packets of `tests/fixtures/srt-live-transmit.pcap`.
    SrtControl,
    /// QUIC long header (RFC 8999 §5.1, RFC 9000 §17.2): form bit, fixed bit (except version
    /// negotiation), a known version (1, 2, drafts 0xFF0000xx, Google Q0xx/T0xx, 0 for version
    /// negotiation, which must then list whole 4-byte versions, each known or greased),
    /// connection id lengths ≤ 20 within the payload. Tested on `tcpdump__quic_vn.pcap`.
    QuicLong,
    /// Google QUIC public header with version (Chromium's pre-IETF QUIC): flags with the
    /// version bit and without the reserved bit 0x80, then (with the 8-byte connection id flag)
    /// a version tag `Q` and three digits. Tested on `ndpi__youtube_quic.pcap`.
    GQuic,
    /// A QUIC packet without version (IETF short header, or gQUIC without the version flag) on
    /// a flow that has shown a long header: only the accumulator assigns it.
    QuicShort,
}

impl Rule {
    /// Every rule, in index order.
    pub const ALL: [Rule; 17] = [
        Rule::BtHandshake,
        Rule::Utp,
        Rule::UdpTracker,
        Rule::HttpAnnounce,
        Rule::Dht,
        Rule::Sopcast,
        Rule::PpsControl,
        Rule::PpsPeer,
        Rule::Stun,
        Rule::Dtls,
        Rule::Rtp,
        Rule::Rtcp,
        Rule::SrtHandshake,
        Rule::SrtControl,
        Rule::QuicLong,
        Rule::GQuic,
        Rule::QuicShort,
    ];
    /// Number of rules.
    pub const COUNT: usize = Rule::ALL.len();

    /// This rule's index in [`Rule::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A stable short key, e.g. `utp`, `pps_peer`.
    pub fn key(self) -> &'static str {
        match self {
            Rule::BtHandshake => "bt_handshake",
            Rule::Utp => "utp",
            Rule::UdpTracker => "udp_tracker",
            Rule::HttpAnnounce => "http_announce",
            Rule::Dht => "dht",
            Rule::Sopcast => "sopcast_header",
            Rule::PpsControl => "pps_control",
            Rule::PpsPeer => "pps_peer",
            Rule::Stun => "stun",
            Rule::Dtls => "dtls",
            Rule::Rtp => "rtp",
            Rule::Rtcp => "rtcp",
            Rule::SrtHandshake => "srt_handshake",
            Rule::SrtControl => "srt_control",
            Rule::QuicLong => "quic_long",
            Rule::GQuic => "gquic",
            Rule::QuicShort => "quic_short",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rule::BtHandshake => "BitTorrent handshake (BEP 3)",
            Rule::Utp => "uTP header (BEP 29)",
            Rule::UdpTracker => "UDP tracker connect (BEP 15)",
            Rule::HttpAnnounce => "HTTP tracker announce",
            Rule::Dht => "DHT message (BEP 5)",
            Rule::Sopcast => "SopCast header (Tstat ipp2p)",
            Rule::PpsControl => "PPStream control message (nDPI)",
            Rule::PpsPeer => "PPStream peer message (nDPI)",
            Rule::Stun => "STUN with magic cookie (RFC 5389)",
            Rule::Dtls => "DTLS record (RFC 6347)",
            Rule::Rtp => "RTP (RFC 3550)",
            Rule::Rtcp => "RTCP (RFC 3550)",
            Rule::SrtHandshake => "SRT handshake",
            Rule::SrtControl => "SRT control packet",
            Rule::QuicLong => "QUIC long header (RFC 9000)",
            Rule::GQuic => "Google QUIC versioned header",
            Rule::QuicShort => "QUIC short header after a long one",
        })
    }
}

/// One packet's match: the rule, and for the rules whose flow test needs it, a key that must
/// stay the same on a flow (uTP connection id, RTP SSRC, SRT destination socket) and a
/// sequence number (RTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub rule: Rule,
    pub key: u32,
    pub seq: u16,
}

impl Match {
    fn plain(rule: Rule) -> Self {
        Match {
            rule,
            key: 0,
            seq: 0,
        }
    }
}

fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(p.get(at..at + 2)?.try_into().ok()?))
}

fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Tries every rule on one packet, strongest first; `None` when none matches.
pub fn classify(v: &PacketView<'_>) -> Option<Match> {
    match v.proto {
        Proto::Tcp => {
            if bt_handshake(v.payload) {
                Some(Match::plain(Rule::BtHandshake))
            } else if http_announce(v.payload) {
                Some(Match::plain(Rule::HttpAnnounce))
            } else {
                None
            }
        }
        Proto::Udp => classify_udp(v.payload, v.wire_len.max(v.payload.len())),
    }
}

/// Every match of one packet: [`classify`]'s first, then — when that is none or a weak
/// pattern — the other weak patterns that also match ([`Rule::SrtControl`], [`Rule::Rtcp`],
/// [`Rule::Rtp`], [`Rule::PpsPeer`]). They are not exclusive: a PPStream peer message whose
/// first byte is 0x80–0xBF also looks like RTP, and only the flow tests (one SSRC, most
/// packets) tell which it is.
pub fn classify_all(v: &PacketView<'_>) -> Matches {
    let mut out = Matches::default();
    let first = classify(v);
    let weak = |r: Rule| matches!(r, Rule::SrtControl | Rule::Rtcp | Rule::Rtp | Rule::PpsPeer);
    if let Some(m) = first {
        out.push(m);
        if !weak(m.rule) {
            return out;
        }
    }
    if v.proto != Proto::Udp {
        return out;
    }
    let (p, len) = (v.payload, v.wire_len.max(v.payload.len()));
    let taken = first.map(|m| m.rule);
    if taken != Some(Rule::SrtControl) {
        if let Some(socket) = srt_control(p, len) {
            out.push(Match {
                rule: Rule::SrtControl,
                key: socket,
                seq: 0,
            });
        }
    }
    if taken != Some(Rule::Rtcp) && rtcp(p, len) {
        out.push(Match::plain(Rule::Rtcp));
    }
    if taken != Some(Rule::Rtp) {
        if let Some((ssrc, seq)) = rtp(p, len) {
            out.push(Match {
                rule: Rule::Rtp,
                key: ssrc,
                seq,
            });
        }
    }
    if taken != Some(Rule::PpsPeer) && pps_peer(p, len) {
        out.push(Match::plain(Rule::PpsPeer));
    }
    out
}

/// The matches of one packet (at most four: the first and the weak patterns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Matches {
    items: [Option<Match>; 4],
}

impl Matches {
    fn push(&mut self, m: Match) {
        if let Some(slot) = self.items.iter_mut().find(|s| s.is_none()) {
            *slot = Some(m);
        }
    }

    /// The matches, first one first.
    pub fn iter(&self) -> impl Iterator<Item = Match> + '_ {
        self.items.iter().flatten().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.items[0].is_none()
    }
}

fn classify_udp(p: &[u8], len: usize) -> Option<Match> {
    let plain = |r| Some(Match::plain(r));
    if udp_tracker(p, len) {
        return plain(Rule::UdpTracker);
    }
    if stun(p, len) {
        return plain(Rule::Stun);
    }
    if sopcast(p, len) {
        return plain(Rule::Sopcast);
    }
    if pps_control(p, len) {
        return plain(Rule::PpsControl);
    }
    if srt_handshake(p, len) {
        return plain(Rule::SrtHandshake);
    }
    if quic_long(p) {
        return plain(Rule::QuicLong);
    }
    if gquic(p) {
        return plain(Rule::GQuic);
    }
    if dht(p, len) {
        return plain(Rule::Dht);
    }
    if let Some(h) = utp::parse_with_len(p, len) {
        let data = p.get(h.header_len..).unwrap_or(&[]);
        if h.kind == UtpType::Data && bt_handshake(data) {
            return plain(Rule::BtHandshake);
        }
        return Some(Match {
            rule: Rule::Utp,
            key: u32::from(h.connection_id),
            seq: h.seq_nr,
        });
    }
    if dtls(p, len) {
        return plain(Rule::Dtls);
    }
    if let Some(socket) = srt_control(p, len) {
        return Some(Match {
            rule: Rule::SrtControl,
            key: socket,
            seq: 0,
        });
    }
    if rtcp(p, len) {
        return plain(Rule::Rtcp);
    }
    if let Some((ssrc, seq)) = rtp(p, len) {
        return Some(Match {
            rule: Rule::Rtp,
            key: ssrc,
            seq,
        });
    }
    if pps_peer(p, len) {
        return plain(Rule::PpsPeer);
    }
    None
}

/// BEP 3: `<pstrlen=19><pstr="BitTorrent protocol">`.
pub const BT_HANDSHAKE: &[u8; 20] = b"\x13BitTorrent protocol";

/// [`Rule::BtHandshake`].
pub fn bt_handshake(p: &[u8]) -> bool {
    p.starts_with(BT_HANDSHAKE)
}

/// [`Rule::HttpAnnounce`]: on the request line (up to CR LF, or the first 1024 captured bytes).
pub fn http_announce(p: &[u8]) -> bool {
    if !p.starts_with(b"GET /") {
        return false;
    }
    let line = &p[..p.len().min(1024)];
    let line = match line.windows(2).position(|w| w == b"\r\n") {
        Some(end) => &line[..end],
        None => line,
    };
    contains(line, b"announce") && contains(line, b"info_hash=")
}

/// BEP 15: the protocol id of a connect request.
pub const BEP15_PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// [`Rule::UdpTracker`].
pub fn udp_tracker(p: &[u8], len: usize) -> bool {
    let Some(id) = p.get(..8) else {
        return false;
    };
    let id = u64::from_be_bytes([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]]);
    len == 16 && id == BEP15_PROTOCOL_ID && be32(p, 8) == Some(0)
}

/// [`Rule::Dht`]. The whole datagram must be captured (the dictionary's closing `e`).
pub fn dht(p: &[u8], len: usize) -> bool {
    if p.len() != len || len < 12 || p.first() != Some(&b'd') || p.last() != Some(&b'e') {
        return false;
    }
    let typed = [b"1:y1:q", b"1:y1:r", b"1:y1:e"]
        .iter()
        .any(|n| contains(p, &n[..]));
    typed && contains(p, b"1:t")
}

/// Tstat ipp2p: the pairs allowed at bytes 8–9 of the 0x00 variant.
const SOPCAST_PAIRS: [[u8; 2]; 4] = [[0x06, 0x01], [0x01, 0x01], [0x01, 0xFF], [0x03, 0xFF]];

/// [`Rule::Sopcast`]. Tstat passes the UDP length with its header (`uh_ulen`) and reads from
/// the UDP header: its "byte 11–12 + 16 = packet length" is "payload bytes 10–11 = length − 8".
pub fn sopcast(p: &[u8], len: usize) -> bool {
    // Tstat's udp_list entry: UDP length > 22, i.e. payload > 14.
    if len <= 14 || p.len() < 12 {
        return false;
    }
    match p[0] {
        0x00 => {
            p[2] == 0x01
                && SOPCAST_PAIRS.contains(&[p[8], p[9]])
                && usize::from(u16::from_be_bytes([p[10], p[11]])) + 8 == len
        }
        0xFF => p[1] == 0xFF && p[2] == 0x01 && p[10] == 0 && usize::from(p[11]) + 8 == len,
        _ => false,
    }
}

/// [`Rule::PpsControl`].
pub fn pps_control(p: &[u8], len: usize) -> bool {
    if len <= 14 || p.len() < 21 {
        return false;
    }
    let declared = usize::from(u16::from_le_bytes([p[0], p[1]]));
    if !(declared == len || declared + 4 == len || declared + 6 == len) {
        return false;
    }
    let zeros = |r: std::ops::Range<usize>| p.get(r).is_some_and(|s| s.iter().all(|&b| b == 0));
    match (p[2], p[3], p[4]) {
        (0x43, _, _) => p[5..15] == [0xFF, 0, 1, 0, 0, 0, 0, 0, 0, 0],
        (0x44, 0xB1, 0x71) => {
            p[13..17] == [0, 0, 1, 0]
                && (((2..=5).contains(&p[17]) && zeros(18..21)) || p[17..21] == [0xFF; 4])
        }
        (0x44, 0x73, 0x17) => zeros(5..9) && zeros(14..21),
        (0x44, 0x74, 0x71) => len == 113 && p.get(94..102) == Some(&b"PPStream"[..]),
        (0x55, _, _) => {
            (p[13] == 0x1B && p[14] == 0xA0 && zeros(15..21))
                || (p[1] == 0 && zeros(5..9) && zeros(14..21))
        }
        _ => false,
    }
}

/// [`Rule::PpsPeer`].
pub fn pps_peer(p: &[u8], len: usize) -> bool {
    if len <= 17 || p.len() < 5 {
        return false;
    }
    ((p[1] == 0x80 || p[1] == 0x84) && p[3] == p[4])
        || (p[1] == 0x53 && p[3] == 0 && (p[0] == 0x08 || p[0] == 0x0C))
}

/// RFC 5389 §6: the magic cookie.
pub const STUN_MAGIC_COOKIE: u32 = 0x2112_A442;

/// [`Rule::Stun`].
pub fn stun(p: &[u8], len: usize) -> bool {
    let (Some(first), Some(msg_len), Some(cookie)) = (p.first(), be16(p, 2), be32(p, 4)) else {
        return false;
    };
    len >= 20
        && first & 0xC0 == 0
        && cookie == STUN_MAGIC_COOKIE
        && usize::from(msg_len) + 20 == len
        && msg_len % 4 == 0
}

/// [`Rule::Dtls`].
pub fn dtls(p: &[u8], len: usize) -> bool {
    let (Some(&ct), Some(version), Some(rec_len)) = (p.first(), be16(p, 1), be16(p, 11)) else {
        return false;
    };
    // RFC 6347 §4.1: DTLS 1.0 is {254, 255}, DTLS 1.2 {254, 253}; content types 20–23,
    // 24 heartbeat (RFC 6520), 25 tls12_cid (RFC 9146).
    (20..=25).contains(&ct)
        && (version == 0xFEFF || version == 0xFEFD)
        && usize::from(rec_len) + 13 <= len
        && rec_len > 0
}

/// [`Rule::Rtp`]: returns (SSRC, sequence number).
pub fn rtp(p: &[u8], len: usize) -> Option<(u32, u16)> {
    let b0 = *p.first()?;
    let b1 = *p.get(1)?;
    if b0 >> 6 != 2 || (64..=95).contains(&(b1 & 0x7F)) {
        return None;
    }
    let header = 12 + 4 * usize::from(b0 & 0x0F);
    if header > len {
        return None;
    }
    if b0 & 0x20 != 0 && p.len() == len {
        // Padding: the last byte counts the padding bytes, itself included (RFC 3550 §5.1).
        let pad = usize::from(*p.last()?);
        if pad == 0 || header + pad > len {
            return None;
        }
    }
    Some((be32(p, 8)?, be16(p, 2)?))
}

/// [`Rule::Rtcp`].
pub fn rtcp(p: &[u8], len: usize) -> bool {
    let (Some(&b0), Some(&pt), Some(words)) = (p.first(), p.get(1), be16(p, 2)) else {
        return false;
    };
    b0 >> 6 == 2 && (200..=204).contains(&pt) && (usize::from(words) + 1) * 4 <= len && len >= 8
}

/// SRT handshake types (draft-sharabayko-srt §3.2.1): induction 1, wave-a-hand 0, conclusion
/// 0xFFFFFFFF, agreement 0xFFFFFFFE, done 0xFFFFFFFD.
const SRT_HANDSHAKE_TYPES: [u32; 5] = [1, 0, 0xFFFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FFFD];

/// [`Rule::SrtHandshake`]. The CIF starts after the 16-byte header: version at 16, MTU at 28,
/// handshake type at 36.
pub fn srt_handshake(p: &[u8], len: usize) -> bool {
    let (Some(head), Some(version), Some(mtu), Some(kind)) =
        (be32(p, 0), be32(p, 16), be32(p, 28), be32(p, 36))
    else {
        return false;
    };
    head == 0x8000_0000
        && len >= 64
        && (version == 4 || version == 5)
        && (576..=9216).contains(&mtu)
        && SRT_HANDSHAKE_TYPES.contains(&kind)
}

/// [`Rule::SrtControl`]: returns the destination socket id.
pub fn srt_control(p: &[u8], len: usize) -> Option<u32> {
    let head = be32(p, 0)?;
    let kind = (head >> 16) & 0x7FFF;
    let subtype = head & 0xFFFF;
    // keep-alive 1, ACK 2, NAK 3, shutdown 5, ACKACK 6.
    let known = matches!(kind, 1 | 2 | 3 | 5 | 6);
    (head & 0x8000_0000 != 0 && known && subtype == 0 && len >= 16).then_some(())?;
    be32(p, 12)
}

/// [`Rule::QuicLong`].
pub fn quic_long(p: &[u8]) -> bool {
    let (Some(&b0), Some(version), Some(&dcid)) = (p.first(), be32(p, 1), p.get(5)) else {
        return false;
    };
    if b0 & 0x80 == 0 {
        return false;
    }
    let known = match version {
        // Version negotiation: the fixed bit is unused (RFC 9000 §17.2.1); the versions listed
        // after the connection ids are checked below.
        0 => true,
        v => known_quic_version(v) && b0 & 0x40 != 0,
    };
    if !known || dcid > 20 {
        return false;
    }
    let scid_at = 6 + usize::from(dcid);
    let Some(&scid) = p.get(scid_at) else {
        return false;
    };
    let end = scid_at + 1 + usize::from(scid);
    if scid > 20 || end > p.len() {
        return false;
    }
    if version != 0 {
        return true;
    }
    // A version negotiation packet lists the server's versions: a whole number of 4-byte
    // versions, each one known or reserved for greasing (0x?a?a?a?a, RFC 9000 §15). An RTP
    // packet with payload type 0 and sequence number and timestamp near 0 (audio at the start
    // of a call) has the same first five bytes, but not this.
    let versions = p.get(end..).unwrap_or(&[]);
    !versions.is_empty()
        && versions.len() % 4 == 0
        && versions.chunks_exact(4).all(|v| {
            let v = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            known_quic_version(v) || v & 0x0F0F_0F0F == 0x0A0A_0A0A
        })
}

/// A QUIC version peerscope knows: RFC 9000 (1), RFC 9369 (v2), IETF drafts 0xFF0000xx,
/// Google QUIC over the invariant header (Q046–Q099, T0xx).
fn known_quic_version(v: u32) -> bool {
    matches!(v, 1 | 0x6B33_43CF)
        || v >> 8 == 0x00FF_0000
        || ((v >> 16 == 0x5130 || v >> 16 == 0x5430) && ascii_digits(v))
}

fn ascii_digits(v: u32) -> bool {
    v.to_be_bytes()[1..].iter().all(u8::is_ascii_digit)
}

/// [`Rule::GQuic`].
pub fn gquic(p: &[u8]) -> bool {
    let Some(&flags) = p.first() else {
        return false;
    };
    // Public flags: 0x01 version, 0x08 8-byte connection id, 0x80 reserved (must be 0).
    if flags & 0x80 != 0 || flags & 0x01 == 0 {
        return false;
    }
    let at = if flags & 0x08 != 0 { 9 } else { 1 };
    match p.get(at..at + 4) {
        Some(tag) => tag[0] == b'Q' && tag[1..].iter().all(u8::is_ascii_digit),
        None => false,
    }
}

/// A QUIC packet without a version: an IETF short header (form 0, fixed bit 1) or a gQUIC
/// public header without the version and reset flags. Only meaningful on a QUIC flow.
pub fn quic_unversioned(p: &[u8]) -> bool {
    match p.first() {
        Some(&b) => (b & 0xC0 == 0x40) || (b & 0x83 == 0),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(p: &[u8]) -> Option<Rule> {
        classify(&PacketView {
            proto: Proto::Udp,
            payload: p,
            wire_len: p.len(),
        })
        .map(|m| m.rule)
    }

    fn tcp(p: &[u8]) -> Option<Rule> {
        classify(&PacketView {
            proto: Proto::Tcp,
            payload: p,
            wire_len: p.len(),
        })
        .map(|m| m.rule)
    }

    #[test]
    fn bittorrent_handshake_and_announce() {
        let mut hs = BT_HANDSHAKE.to_vec();
        hs.extend_from_slice(&[0; 48]);
        assert_eq!(tcp(&hs), Some(Rule::BtHandshake));
        hs[0] = 0x14;
        assert_eq!(tcp(&hs), None);
        assert_eq!(tcp(b"\x13BitTorrent protocoX"), None);
        let get =
            b"GET /announce?info_hash=%12%34&peer_id=-TR2940-&port=51413 HTTP/1.1\r\nHost: t\r\n";
        assert_eq!(tcp(get), Some(Rule::HttpAnnounce));
        assert_eq!(tcp(b"GET /index.html?info_hash=1 HTTP/1.1\r\n"), None);
        // info_hash only in a later header line is not on the request line.
        assert_eq!(tcp(b"GET /announce HTTP/1.1\r\nX: info_hash=1\r\n"), None);
        assert_eq!(tcp(b"POST /announce?info_hash=1 HTTP/1.1\r\n"), None);
    }

    #[test]
    fn udp_tracker_connect() {
        let mut p = BEP15_PROTOCOL_ID.to_be_bytes().to_vec();
        p.extend_from_slice(&[0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(udp(&p), Some(Rule::UdpTracker));
        let mut announce = p.clone();
        announce[11] = 1;
        assert_ne!(udp(&announce), Some(Rule::UdpTracker));
        p.push(0);
        assert_ne!(udp(&p), Some(Rule::UdpTracker));
    }

    #[test]
    fn dht_messages() {
        let q = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        assert_eq!(udp(q), Some(Rule::Dht));
        let r = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
        assert_eq!(udp(r), Some(Rule::Dht));
        // Not closed, no type, truncated capture.
        assert_eq!(udp(&q[..q.len() - 1]), None);
        assert_eq!(udp(b"d1:ad2:id20:abcdefghij0123456789e1:t2:aae"), None);
        assert!(!dht(q, q.len() + 10));
    }

    fn sopcast_a(len: usize, pair: [u8; 2]) -> Vec<u8> {
        let mut p = vec![0x5A; len];
        p[0] = 0x00;
        p[2] = 0x01;
        p[8..10].copy_from_slice(&pair);
        p[10..12].copy_from_slice(&((len - 8) as u16).to_be_bytes());
        p
    }

    #[test]
    fn sopcast_signature() {
        for pair in SOPCAST_PAIRS {
            assert_eq!(udp(&sopcast_a(1320, pair)), Some(Rule::Sopcast));
        }
        assert_eq!(udp(&sopcast_a(42, [0x06, 0x01])), Some(Rule::Sopcast));
        // Wrong pair, wrong length field, wrong byte 2, too short.
        assert_ne!(udp(&sopcast_a(1320, [0x02, 0x01])), Some(Rule::Sopcast));
        let mut p = sopcast_a(1320, [0x06, 0x01]);
        p[11] ^= 1;
        assert!(!sopcast(&p, p.len()));
        let mut p = sopcast_a(1320, [0x06, 0x01]);
        p[2] = 0x02;
        assert!(!sopcast(&p, p.len()));
        assert!(!sopcast(&sopcast_a(14, [0x06, 0x01]), 14));
        // The FF FF 01 variant: byte 11 = length − 8.
        let mut p = vec![0x11; 60];
        p[..3].copy_from_slice(&[0xFF, 0xFF, 0x01]);
        p[10] = 0;
        p[11] = 52;
        assert_eq!(udp(&p), Some(Rule::Sopcast));
        p[11] = 53;
        assert!(!sopcast(&p, p.len()));
    }

    #[test]
    fn ppstream_patterns() {
        // The tracker message of ndpi__pps.pcap (first 24 bytes, padded to its 108 bytes).
        let mut p = vec![0u8; 108];
        let head = [
            0x6c, 0x00, 0x44, 0xb1, 0x71, 0x22, 0x50, 0x28, 0x3a, 0xc7, 0x66, 0xe7, 0x36, 0x00,
            0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0xc0,
        ];
        p[..head.len()].copy_from_slice(&head);
        assert_eq!(udp(&p), Some(Rule::PpsControl));
        // Length prefix off by one; byte 17 out of 2–5.
        let mut q = p.clone();
        q[0] = 0x6d;
        assert!(!pps_control(&q, q.len()));
        let mut q = p.clone();
        q[17] = 0x07;
        assert!(!pps_control(&q, q.len()));
        // The 0x55 message (88 bytes).
        let mut p = vec![0u8; 88];
        p[..5].copy_from_slice(&[0x58, 0x00, 0x55, 0x72, 0x71]);
        p[9..14].copy_from_slice(&[0xc7, 0x66, 0xe7, 0x36, 0x07]);
        p[21] = 0x14;
        assert_eq!(udp(&p), Some(Rule::PpsControl));
        p[16] = 1;
        assert!(!pps_control(&p, p.len()));
        // Peer messages: 37-byte control and 1065-byte video of the capture.
        let ctl = [
            0xda, 0x80, 0x9e, 0xbb, 0xbb, 0x99, 0xc9, 0xe1, 0xdb, 0x1c, 0x7a, 0x9d, 0xab, 0xab,
            0xab, 0xaa, 0xae, 0xa7, 0xfe, 0x7b, 0x7e, 0x7e, 0x7e, 0x7e, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0,
        ];
        assert_eq!(udp(&ctl), Some(Rule::PpsPeer));
        let mut video = vec![0x33; 1065];
        video[..5].copy_from_slice(&[0xc0, 0x84, 0x95, 0xb3, 0xb3]);
        assert_eq!(udp(&video), Some(Rule::PpsPeer));
        video[4] = 0xb4;
        assert!(!pps_peer(&video, video.len()));
        assert!(!pps_peer(&ctl[..17], 17));
    }

    #[test]
    fn webrtc_demux() {
        // STUN binding request, no attributes.
        let mut s = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        s.extend_from_slice(&[7; 12]);
        assert_eq!(udp(&s), Some(Rule::Stun));
        s[4] = 0x22;
        assert_ne!(udp(&s), Some(Rule::Stun));
        let mut s2 = vec![0x01, 0x01, 0x00, 0x04, 0x21, 0x12, 0xA4, 0x42];
        s2.extend_from_slice(&[7; 16]);
        assert_eq!(udp(&s2), Some(Rule::Stun));
        s2.push(0);
        assert_ne!(udp(&s2), Some(Rule::Stun));
        // DTLS 1.2 handshake record of 100 bytes.
        let mut d = vec![22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, 0, 100];
        d.extend_from_slice(&[0; 100]);
        assert_eq!(udp(&d), Some(Rule::Dtls));
        d[2] = 0x03;
        assert_ne!(udp(&d), Some(Rule::Dtls));
        // RTP, PT 96, SSRC 0xCAFEBABE, seq 1000.
        let mut r = vec![0x80, 96, 0x03, 0xE8, 0, 0, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE];
        r.extend_from_slice(&[0x55; 160]);
        let m = classify(&PacketView {
            proto: Proto::Udp,
            payload: &r,
            wire_len: r.len(),
        });
        assert_eq!(
            m,
            Some(Match {
                rule: Rule::Rtp,
                key: 0xCAFE_BABE,
                seq: 1000
            })
        );
        // Version 1, CSRC count beyond the packet, RTCP payload types.
        r[0] = 0x40;
        assert_eq!(udp(&r), None);
        assert!(rtp(&[0x8F, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 12).is_none());
        let rr = [
            0x81, 201, 0x00, 0x07, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(udp(&rr), Some(Rule::Rtcp));
        assert!(!rtcp(&rr[..20], 20));
    }

    fn srt_hs(version: u32, kind: u32) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&version.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 2]);
        p.extend_from_slice(&12345u32.to_be_bytes());
        p.extend_from_slice(&1500u32.to_be_bytes());
        p.extend_from_slice(&8192u32.to_be_bytes());
        p.extend_from_slice(&kind.to_be_bytes());
        p.extend_from_slice(&[0; 24]);
        p
    }

    #[test]
    fn srt_packets() {
        assert_eq!(udp(&srt_hs(4, 1)), Some(Rule::SrtHandshake));
        assert_eq!(udp(&srt_hs(5, 0xFFFF_FFFF)), Some(Rule::SrtHandshake));
        assert_ne!(udp(&srt_hs(3, 1)), Some(Rule::SrtHandshake));
        assert_ne!(udp(&srt_hs(5, 7)), Some(Rule::SrtHandshake));
        assert!(!srt_handshake(&srt_hs(5, 1)[..63], 63));
        // ACKACK to socket 0x0102_0304; a non-zero subtype is not SRT control.
        let ackack = [0x80, 0x06, 0, 0, 0, 0, 0, 1, 0, 0, 0x10, 0, 1, 2, 3, 4];
        assert_eq!(srt_control(&ackack, 16), Some(0x0102_0304));
        assert_eq!(udp(&ackack), Some(Rule::SrtControl));
        let mut odd = ackack;
        odd[3] = 1;
        assert_eq!(srt_control(&odd, 16), None);
    }

    #[test]
    fn quic_headers() {
        // v1 Initial with 8-byte DCID, empty SCID.
        let mut p = vec![0xC3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0];
        p.extend_from_slice(&[0; 1185]);
        assert_eq!(udp(&p), Some(Rule::QuicLong));
        // Fixed bit clear on a v1 packet; unknown version; DCID length 21.
        let mut q = p.clone();
        q[0] = 0x83;
        assert!(!quic_long(&q));
        let mut q = p.clone();
        q[4] = 9;
        assert!(!quic_long(&q));
        let mut q = p.clone();
        q[5] = 21;
        assert!(!quic_long(&q));
        // Version negotiation: version 0, 8-byte DCID and SCID, then v1, v2 and a grease
        // version; without a version list, or with an unknown one, it is not QUIC.
        let mut vn = vec![0x80 | 0x2a, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 8];
        vn.extend_from_slice(&[9, 9, 9, 9, 9, 9, 9, 9]);
        vn.extend_from_slice(&[0, 0, 0, 1, 0x6B, 0x33, 0x43, 0xCF, 0x1A, 0x2A, 0x3A, 0x4A]);
        assert!(quic_long(&vn));
        assert!(!quic_long(&vn[..vn.len() - 12]));
        assert!(!quic_long(&vn[..vn.len() - 2]));
        let mut odd = vn.clone();
        odd[vn.len() - 1] = 0x4B;
        assert!(!quic_long(&odd));
        // RTP audio at the start of a call (PT 0, sequence 0, timestamp 160): not QUIC.
        let mut rtp_start = vec![0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xA0];
        rtp_start.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        rtp_start.extend_from_slice(&[0xFF; 160]);
        assert!(!quic_long(&rtp_start));
        // gQUIC Q035 client hello (the first bytes of ndpi__youtube_quic.pcap).
        let g = [
            0x0d, 0x93, 0x70, 0xe1, 0x5e, 0x7c, 0x44, 0x6d, 0x08, 0x51, 0x30, 0x33, 0x35, 0x01,
        ];
        assert_eq!(udp(&g), Some(Rule::GQuic));
        let mut h = g;
        h[9] = b'X';
        assert!(!gquic(&h));
        h[9] = b'Q';
        h[0] = 0x8d;
        assert!(!gquic(&h));
        assert!(quic_unversioned(&[0x0c, 1, 2]));
        assert!(quic_unversioned(&[0x43, 1, 2]));
        assert!(!quic_unversioned(&[0xC3]));
    }

    #[test]
    fn utp_wins_over_nothing_and_carries_the_connection_id() {
        let mut h = vec![0x21, 0, 0xAB, 0xCD];
        h.extend_from_slice(&[0; 12]);
        h.extend_from_slice(&[0, 9, 0, 8]);
        let m = classify(&PacketView {
            proto: Proto::Udp,
            payload: &h,
            wire_len: 20,
        });
        assert_eq!(
            m,
            Some(Match {
                rule: Rule::Utp,
                key: 0xABCD,
                seq: 9
            })
        );
        // The handshake inside a uTP ST_DATA packet.
        let mut d = h.clone();
        d[0] = 0x01;
        d.extend_from_slice(BT_HANDSHAKE);
        assert_eq!(udp(&d), Some(Rule::BtHandshake));
    }

    #[test]
    fn weak_patterns_are_not_exclusive() {
        // A PPStream-like peer message whose first byte makes it RTP-like too.
        let mut p = vec![0x9a, 0x84, 0x10, 0x77, 0x77];
        p.extend_from_slice(&[0x42; 1060]);
        let v = PacketView {
            proto: Proto::Udp,
            payload: &p,
            wire_len: p.len(),
        };
        let rules: Vec<Rule> = classify_all(&v).iter().map(|m| m.rule).collect();
        assert_eq!(rules, vec![Rule::Rtp, Rule::PpsPeer]);
        // A strong match stands alone.
        let mut s = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        s.extend_from_slice(&[7; 12]);
        let v = PacketView {
            proto: Proto::Udp,
            payload: &s,
            wire_len: s.len(),
        };
        let rules: Vec<Rule> = classify_all(&v).iter().map(|m| m.rule).collect();
        assert_eq!(rules, vec![Rule::Stun]);
        let none = PacketView {
            proto: Proto::Tcp,
            payload: b"hello",
            wire_len: 5,
        };
        assert!(classify_all(&none).is_empty());
    }

    /// Pseudo-random payloads of every length up to 1500 bytes (a fixed LCG): no panic, and
    /// the strong signatures never fire; the weak patterns fire at about their expected rate.
    #[test]
    fn random_payloads() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = vec![0u8; 1500];
        let mut hits = [0u32; Rule::COUNT];
        let n: u32 = 60_000;
        for i in 0..n {
            for b in buf.iter_mut() {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                *b = (x >> 56) as u8;
            }
            let len = (i % 1500) as usize;
            for proto in [Proto::Udp, Proto::Tcp] {
                let v = PacketView {
                    proto,
                    payload: &buf[..len],
                    wire_len: len + (i % 3) as usize * 100,
                };
                for m in classify_all(&v).iter() {
                    hits[m.rule.index()] += 1;
                }
            }
        }
        for r in Rule::ALL {
            eprintln!("{}: {} of {n}", r.key(), hits[r.index()]);
        }
        for r in [
            Rule::BtHandshake,
            Rule::UdpTracker,
            Rule::HttpAnnounce,
            Rule::Dht,
            Rule::Sopcast,
            Rule::PpsControl,
            Rule::SrtHandshake,
            Rule::Stun,
        ] {
            assert_eq!(hits[r.index()], 0, "{r:?}");
        }
        // RTP: a quarter of first bytes have version 2 (minus the RTCP range and CSRC bounds).
        let rtp = f64::from(hits[Rule::Rtp.index()]) / f64::from(n);
        assert!((0.15..0.26).contains(&rtp), "{rtp}");
        // uTP: 5 of 256 first bytes, then the extension byte and the length rules.
        assert!(
            hits[Rule::Utp.index()] < n / 1000,
            "{}",
            hits[Rule::Utp.index()]
        );
    }

    #[test]
    fn rules_have_distinct_indices_and_keys() {
        for (i, r) in Rule::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(!r.to_string().is_empty());
        }
        let mut keys: Vec<_> = Rule::ALL.iter().map(|r| r.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Rule::COUNT);
    }
}
