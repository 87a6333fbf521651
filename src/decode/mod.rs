//! Decoding: from a captured frame to one [`Packet`] record — addresses, ports, lengths on the
//! wire, TTL, fragment position and the captured transport payload.
//!
//! The principal entry point is [`decode`]. It never panics and never allocates: a frame that
//! cannot be decoded comes back as [`Decoded::Malformed`] with a small `Copy` reason to be
//! counted, a frame that is fine but not IP as [`Decoded::NotIp`]. A packet that decodes but
//! whose headers disagree with each other (an IP length beyond the frame, a UDP length that
//! lies) is kept, using the most trustworthy length, and carries an [`Anomaly`] to be counted.
//!
//! Lengths are what crossed the network, not what the snaplen kept: `ip_len` is the IP header
//! plus payload, `payload_len` the transport payload. The first fragment of an IP datagram
//! carries the UDP/TCP header and gives the whole datagram's payload length; later fragments
//! carry no ports and are marked [`Frag::Later`].

pub mod dns;
pub mod link;
pub mod utp;

use std::net::IpAddr;

use etherparse::{err, IpNumber, LaxIpSlice};

use crate::source::RawPacket;
use crate::time::Timestamp;
use link::LinkPayload;
pub use link::{LinkDir, LinkMeta};

/// The layer at which decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Link,
    Vlan,
    Ip,
    IpExtension,
    Udp,
    Tcp,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformed {
    /// A link type this decoder does not know.
    UnsupportedLinkType(u16),
    /// The frame ends inside a header of this layer.
    Truncated(Layer),
    /// More stacked VLAN tags than any real network uses.
    TooManyVlanTags,
    /// An IP version other than 4 or 6.
    BadIpVersion(u8),
    /// A header length field smaller than the header itself (IPv4 IHL < 5, TCP offset < 5).
    BadHeaderLen(Layer),
}

impl Malformed {
    /// A stable key for reports, e.g. `truncated_ip`, `unsupported_link_type_147`.
    pub fn key(&self) -> String {
        match self {
            Malformed::UnsupportedLinkType(lt) => format!("unsupported_link_type_{lt}"),
            Malformed::Truncated(layer) => format!("truncated_{}", layer_key(*layer)),
            Malformed::TooManyVlanTags => "too_many_vlan_tags".into(),
            Malformed::BadIpVersion(v) => format!("bad_ip_version_{v}"),
            Malformed::BadHeaderLen(layer) => format!("bad_header_len_{}", layer_key(*layer)),
        }
    }
}

fn layer_key(layer: Layer) -> &'static str {
    match layer {
        Layer::Link => "link",
        Layer::Vlan => "vlan",
        Layer::Ip => "ip",
        Layer::IpExtension => "ip_extension",
        Layer::Udp => "udp",
        Layer::Tcp => "tcp",
    }
}

/// A decoded packet whose headers disagree; it is still used, with the length noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anomaly {
    /// The IP length field claims more bytes than the frame had on the wire; the frame's
    /// length is used.
    IpLenBeyondFrame,
    /// The IP length field is smaller than the IP header (or zero, as with TSO); the frame's
    /// length is used.
    IpLenTooSmall,
    /// The UDP length field disagrees with the IP payload length; the IP length is used.
    UdpLengthMismatch,
    /// An IPv6 extension header could not be parsed; the transport is unknown.
    BadIpExtension,
    /// The transport header is cut short (snaplen or damage); ports are unknown.
    TruncatedTransport,
}

impl Anomaly {
    /// A stable key for reports.
    pub fn key(&self) -> &'static str {
        match self {
            Anomaly::IpLenBeyondFrame => "ip_len_beyond_frame",
            Anomaly::IpLenTooSmall => "ip_len_too_small",
            Anomaly::UdpLengthMismatch => "udp_length_mismatch",
            Anomaly::BadIpExtension => "bad_ip_extension",
            Anomaly::TruncatedTransport => "truncated_transport",
        }
    }
}

/// The transport protocol of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP; ports are valid.
    Udp,
    /// TCP; ports are valid.
    Tcp { flags: u8, seq: u32 },
    /// Any other IP protocol, or a later fragment / cut header where ports are unknown.
    Other(u8),
}

/// TCP flag bits (RFC 9293 §3.1).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Where a packet sits in an IP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frag {
    /// Not fragmented.
    Whole,
    /// First fragment: carries the transport header; `payload_len` is the whole datagram's.
    First { id: u32 },
    /// A later fragment: no transport header.
    Later { id: u32 },
}

/// One decoded packet. Borrowed from the frame; copy out what must outlive it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Capture time.
    pub ts: Timestamp,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) as received.
    pub ttl: u8,
    /// IP header plus payload, as on the wire.
    pub ip_len: u32,
    pub transport: Transport,
    /// Source port (0 when unknown).
    pub sport: u16,
    /// Destination port (0 when unknown).
    pub dport: u16,
    /// Transport payload length on the wire (UDP: the datagram's payload, all fragments).
    pub payload_len: u32,
    /// The captured part of the transport payload (may be shorter than `payload_len`).
    pub payload: &'a [u8],
    pub frag: Frag,
    pub anomaly: Option<Anomaly>,
    /// Direction and MAC addresses, where the link layer gives them.
    pub link: LinkMeta,
    /// The uTP header (BEP 29) the UDP payload parses as, strictly, if any.
    pub utp: Option<UtpBrief>,
    /// The STUN header (RFC 5389) the UDP payload parses as, if any (read by `flow::rtt`).
    pub stun: Option<StunBrief>,
}

/// The class of a STUN message (RFC 5389 §6: bits C1 and C0 of the message type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunClass {
    Request,
    Indication,
    Success,
    Error,
}

/// What the RTT needs of a STUN message: its class and its transaction id (96 bits, folded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunBrief {
    pub class: StunClass,
    /// The 96-bit transaction id folded to 64 bits (xor of its high 32 and low 64 bits).
    pub transaction: u64,
}

/// The magic cookie of RFC 5389 §6.
pub const STUN_MAGIC_COOKIE: u32 = 0x2112_A442;

/// Parses a STUN header: the top two bits zero, the magic cookie, a message length that is a
/// multiple of 4 and matches the datagram (RFC 5389 §6). `None` for anything else.
pub fn parse_stun(payload: &[u8], payload_len: u32) -> Option<StunBrief> {
    let h = payload.get(..20)?;
    let ty = u16::from_be_bytes([h[0], h[1]]);
    let len = u16::from_be_bytes([h[2], h[3]]);
    let cookie = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if ty & 0xC000 != 0
        || cookie != STUN_MAGIC_COOKIE
        || len % 4 != 0
        || u32::from(len) + 20 != payload_len
    {
        return None;
    }
    let class = match ((ty >> 8) & 1, (ty >> 4) & 1) {
        (0, 0) => StunClass::Request,
        (0, _) => StunClass::Indication,
        (_, 0) => StunClass::Success,
        _ => StunClass::Error,
    };
    let hi = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    let lo = u64::from_be_bytes([h[12], h[13], h[14], h[15], h[16], h[17], h[18], h[19]]);
    Some(StunBrief {
        class,
        transaction: lo ^ (u64::from(hi) << 16),
    })
}

/// What the flow table needs of a uTP header: its type and the data behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtpBrief {
    pub kind: utp::UtpType,
    /// Payload bytes past the header (with extensions), on the wire.
    pub data_len: u32,
    pub connection_id: u16,
    pub seq_nr: u16,
    /// `timestamp_difference_microseconds` (BEP 29): the sender's clock at its last receipt
    /// minus that packet's timestamp; 0 before it received any (read by `flow::rtt`).
    pub ts_diff_us: u32,
}

impl Packet<'_> {
    /// True for a UDP packet with known ports (whole datagram or first fragment).
    pub fn is_udp(&self) -> bool {
        matches!(self.transport, Transport::Udp)
    }
}

/// The outcome of decoding one frame.
#[derive(Debug)]
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    /// A well-formed frame that carries no IP (EtherType or address family).
    NotIp(u16),
    Malformed(Malformed),
}

/// Decodes one captured frame.
pub fn decode<'a>(raw: &RawPacket<'a>) -> Decoded<'a> {
    let (ip, meta) = match link::strip(raw.link_type, raw.data) {
        Ok(LinkPayload::Ip(ip, meta)) => (ip, meta),
        Ok(LinkPayload::NotIp(t)) => return Decoded::NotIp(t),
        Err(m) => return Decoded::Malformed(m),
    };
    // Bytes of IP the frame had on the wire: the original length minus the link header.
    let link_hdr = raw.data.len() - ip.len();
    let ip_wire = (raw.orig_len as usize).saturating_sub(link_hdr);
    match decode_ip(ip, ip_wire, raw.ts) {
        Ok(p) => Decoded::Packet(Packet { link: meta, ..p }),
        Err(m) => Decoded::Malformed(m),
    }
}

fn decode_ip(ip: &[u8], ip_wire: usize, ts: Timestamp) -> Result<Packet<'_>, Malformed> {
    let (slice, ext_err) = LaxIpSlice::from_slice(ip).map_err(|e| match e {
        err::ip::LaxHeaderSliceError::Len(_) => Malformed::Truncated(Layer::Ip),
        err::ip::LaxHeaderSliceError::Content(c) => match c {
            err::ip::HeaderError::UnsupportedIpVersion { version_number } => {
                Malformed::BadIpVersion(version_number)
            }
            _ => Malformed::BadHeaderLen(Layer::Ip),
        },
    })?;
    let ext_failed = ext_err.is_some();
    let mut anomaly = ext_failed.then_some(Anomaly::BadIpExtension);
    let (src, dst, ttl, claimed_len, frag) = match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let offset = h.fragments_offset().value();
            let id = u32::from(h.identification());
            let frag = if offset > 0 {
                Frag::Later { id }
            } else if h.more_fragments() {
                Frag::First { id }
            } else {
                Frag::Whole
            };
            let total = usize::from(h.total_len());
            let claimed = (total >= h.slice().len()).then_some(total);
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.ttl(),
                claimed,
                frag,
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let exts = v6.extensions();
            let frag = ipv6_frag(exts.first_header(), exts.slice());
            let payload_len = usize::from(h.payload_length());
            let claimed = (payload_len > 0).then_some(40 + payload_len);
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.hop_limit(),
                claimed,
                frag,
            )
        }
    };
    // The IP length as on the wire: the header's claim when the frame can hold it.
    let ip_len = match claimed_len {
        Some(len) if len <= ip_wire.max(ip.len()) => len,
        Some(_) => {
            anomaly = Some(Anomaly::IpLenBeyondFrame);
            ip_wire.max(ip.len())
        }
        None => {
            anomaly = Some(Anomaly::IpLenTooSmall);
            ip_wire.max(ip.len())
        }
    };
    let payload = slice.payload();
    let hdr_len = (payload.payload.as_ptr() as usize).saturating_sub(ip.as_ptr() as usize);
    let ip_payload_wire = ip_len.saturating_sub(hdr_len);
    let proto = payload.ip_number;
    let mut packet = Packet {
        ts,
        src,
        dst,
        ttl,
        ip_len: ip_len as u32,
        transport: Transport::Other(proto.0),
        sport: 0,
        dport: 0,
        payload_len: ip_payload_wire as u32,
        payload: payload.payload,
        frag,
        anomaly,
        link: LinkMeta::default(),
        utp: None,
        stun: None,
    };
    if matches!(frag, Frag::Later { .. }) || ext_failed {
        return Ok(packet);
    }
    let data = payload.payload;
    match proto {
        IpNumber::UDP => {
            let Some(h) = data.get(..8) else {
                packet.anomaly = Some(Anomaly::TruncatedTransport);
                return Ok(packet);
            };
            let udp_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            packet.transport = Transport::Udp;
            packet.sport = u16::from_be_bytes([h[0], h[1]]);
            packet.dport = u16::from_be_bytes([h[2], h[3]]);
            packet.payload = &data[8..];
            packet.payload_len = if matches!(frag, Frag::First { .. }) {
                // The datagram continues in later fragments: only UDP knows its length.
                if udp_len < 8 {
                    packet.anomaly = Some(Anomaly::UdpLengthMismatch);
                }
                udp_len.saturating_sub(8) as u32
            } else {
                if udp_len != ip_payload_wire {
                    packet.anomaly = Some(Anomaly::UdpLengthMismatch);
                }
                ip_payload_wire.saturating_sub(8) as u32
            };
            if let Some(cut) = usize::try_from(packet.payload_len)
                .ok()
                .filter(|&n| n < packet.payload.len())
            {
                packet.payload = &packet.payload[..cut];
            }
            packet.stun = parse_stun(packet.payload, packet.payload_len);
            packet.utp =
                utp::parse_with_len(packet.payload, packet.payload_len as usize).map(|h| {
                    UtpBrief {
                        kind: h.kind,
                        data_len: h.data_len(packet.payload_len),
                        connection_id: h.connection_id,
                        seq_nr: h.seq_nr,
                        ts_diff_us: h.timestamp_difference_us,
                    }
                });
        }
        IpNumber::TCP => {
            let Some(h) = data.get(..20) else {
                packet.anomaly = Some(Anomaly::TruncatedTransport);
                return Ok(packet);
            };
            let offset = usize::from(h[12] >> 4) * 4;
            if offset < 20 {
                return Err(Malformed::BadHeaderLen(Layer::Tcp));
            }
            packet.transport = Transport::Tcp {
                flags: h[13],
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            };
            packet.sport = u16::from_be_bytes([h[0], h[1]]);
            packet.dport = u16::from_be_bytes([h[2], h[3]]);
            packet.payload = data.get(offset..).unwrap_or(&[]);
            packet.payload_len = if matches!(frag, Frag::First { .. }) {
                (data.len().max(ip_payload_wire)).saturating_sub(offset) as u32
            } else {
                ip_payload_wire.saturating_sub(offset) as u32
            };
        }
        _ => {}
    }
    Ok(packet)
}

/// IPv6 extension header numbers (RFC 8200 §4; Authentication Header RFC 4302).
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTE: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AUTH: u8 = 51;
const IPV6_DEST_OPTIONS: u8 = 60;

/// Where an IPv6 packet sits in its datagram, from the extension headers etherparse accepted
/// (`exts`, starting with header type `first`); the last Fragment header wins.
///
/// Walked by hand with checked slicing rather than with etherparse's extension iterator: in
/// etherparse 0.21, when the lax parser stopped at a broken header (a second Hop-by-Hop, a
/// header cut short), the last accepted header names another extension and the iterator reads
/// it from past the end of the slice (out of bounds, found by fuzzing).
fn ipv6_frag(first: Option<IpNumber>, exts: &[u8]) -> Frag {
    let Some(mut next) = first.map(|n| n.0) else {
        return Frag::Whole;
    };
    let mut rest = exts;
    let mut frag = Frag::Whole;
    loop {
        // RFC 8200 §4.3–4.6: length in 8-octet units not counting the first 8; RFC 4302 §2.2:
        // in 4-octet units minus 2; the Fragment header is always 8 octets.
        let len = match next {
            IPV6_HOP_BY_HOP | IPV6_ROUTE | IPV6_DEST_OPTIONS => match rest.get(1) {
                Some(&n) => (usize::from(n) + 1) * 8,
                None => break,
            },
            IPV6_AUTH => match rest.get(1) {
                Some(&n) => (usize::from(n) + 2) * 4,
                None => break,
            },
            IPV6_FRAGMENT => 8,
            _ => break,
        };
        let Some(hdr) = rest.get(..len) else {
            break;
        };
        if next == IPV6_FRAGMENT {
            // next(1) reserved(1) offset(13 bits) res(2) M(1) identification(4)
            let offset_flags = u16::from_be_bytes([hdr[2], hdr[3]]);
            let id = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
            if offset_flags >> 3 > 0 {
                frag = Frag::Later { id };
            } else if offset_flags & 1 == 1 {
                frag = Frag::First { id };
            }
        }
        next = hdr[0];
        rest = &rest[len..];
    }
    frag
}

#[cfg(test)]
mod tests {

    #[test]
    fn stun_headers() {
        // RFC 5769 §2.1-like binding request: type 0x0001, length 0, cookie, transaction id.
        let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        m.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let b = parse_stun(&m, 20).unwrap();
        assert_eq!(b.class, StunClass::Request);
        let mut ok = m.clone();
        ok[0] = 0x01; // 0x0101: binding success response
        assert_eq!(parse_stun(&ok, 20).unwrap().class, StunClass::Success);
        assert_eq!(parse_stun(&ok, 20).unwrap().transaction, b.transaction);
        ok[1] = 0x11; // 0x0111: error response
        assert_eq!(parse_stun(&ok, 20).unwrap().class, StunClass::Error);
        // Wrong length, wrong cookie, top bits set, cut short: not STUN.
        assert!(parse_stun(&m, 24).is_none());
        let mut bad = m.clone();
        bad[4] = 0;
        assert!(parse_stun(&bad, 20).is_none());
        bad = m.clone();
        bad[0] = 0x40;
        assert!(parse_stun(&bad, 20).is_none());
        assert!(parse_stun(&m[..19], 20).is_none());
    }

    use super::*;

    fn ipv4_udp(payload: usize, udp_len_override: Option<u16>) -> Vec<u8> {
        let total = 20 + 8 + payload;
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0,
            0,
            61,
            17,
            0,
            0,
            192,
            0,
            2,
            1,
            198,
            51,
            100,
            2,
        ];
        let udp_len = udp_len_override.unwrap_or((8 + payload) as u16);
        p.extend_from_slice(&[0x0f, 0xa0, 0x1f, 0x90]);
        p.extend_from_slice(&udp_len.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend(std::iter::repeat_n(0xab, payload));
        p
    }

    fn raw(data: &[u8], orig: usize) -> RawPacket<'_> {
        RawPacket {
            ts: Timestamp::from_ns(5),
            link_type: link::linktype::RAW,
            orig_len: orig as u32,
            data,
        }
    }

    #[test]
    fn udp_lengths_and_ports() {
        let frame = ipv4_udp(70, None);
        let Decoded::Packet(p) = decode(&raw(&frame, frame.len())) else {
            panic!("decodes")
        };
        assert!(p.is_udp());
        assert_eq!((p.sport, p.dport, p.ttl), (4000, 8080, 61));
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (98, 70, 70));
        assert_eq!(p.anomaly, None);
    }

    #[test]
    fn snaplen_cut_keeps_wire_lengths() {
        let frame = ipv4_udp(1362, None);
        let Decoded::Packet(p) = decode(&raw(&frame[..60], frame.len())) else {
            panic!("decodes")
        };
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (1390, 1362, 32));
        assert_eq!(p.anomaly, None);
    }

    #[test]
    fn udp_length_lie_uses_ip_length() {
        let frame = ipv4_udp(100, Some(5000));
        let Decoded::Packet(p) = decode(&raw(&frame, frame.len())) else {
            panic!("decodes")
        };
        assert_eq!(p.payload_len, 100);
        assert_eq!(p.anomaly, Some(Anomaly::UdpLengthMismatch));
    }

    #[test]
    fn ip_length_beyond_frame() {
        let mut frame = ipv4_udp(10, None);
        frame[2] = 0x10; // total length 4096+
        let Decoded::Packet(p) = decode(&raw(&frame, frame.len())) else {
            panic!("decodes")
        };
        assert_eq!(p.ip_len as usize, frame.len());
        assert_eq!(p.anomaly, Some(Anomaly::IpLenBeyondFrame));
    }

    #[test]
    fn ihl_below_five_is_malformed() {
        let mut frame = ipv4_udp(10, None);
        frame[0] = 0x44;
        assert!(matches!(
            decode(&raw(&frame, frame.len())),
            Decoded::Malformed(Malformed::BadHeaderLen(Layer::Ip))
        ));
    }

    #[test]
    fn truncated_and_wrong_version() {
        let frame = ipv4_udp(10, None);
        assert!(matches!(
            decode(&raw(&frame[..12], 12)),
            Decoded::Malformed(Malformed::Truncated(Layer::Ip))
        ));
        let mut v7 = frame.clone();
        v7[0] = 0x75;
        assert!(matches!(
            decode(&raw(&v7, v7.len())),
            Decoded::Malformed(Malformed::BadIpVersion(7))
        ));
        assert!(matches!(
            decode(&raw(&[], 0)),
            Decoded::Malformed(Malformed::Truncated(Layer::Ip))
        ));
    }

    #[test]
    fn fragments() {
        // First fragment: MF set, offset 0, UDP length names the whole datagram.
        let mut first = ipv4_udp(100, Some(8 + 3000));
        first[6] = 0x20;
        let Decoded::Packet(p) = decode(&raw(&first, first.len())) else {
            panic!("decodes")
        };
        assert_eq!(p.frag, Frag::First { id: 1 });
        assert!(p.is_udp());
        assert_eq!(p.payload_len, 3000);
        let mut later = ipv4_udp(100, None);
        later[6] = 0x00;
        later[7] = 0x10; // offset 16 * 8 bytes
        let Decoded::Packet(p) = decode(&raw(&later, later.len())) else {
            panic!("decodes")
        };
        assert_eq!(p.frag, Frag::Later { id: 1 });
        assert_eq!(p.transport, Transport::Other(17));
        assert_eq!(p.ip_len, 128);
    }

    /// IPv6 UDP with a Hop-by-Hop header naming a second Hop-by-Hop (illegal, RFC 8200 §4.1):
    /// the fuzzer's first find, which made etherparse's extension iterator read out of bounds.
    #[test]
    fn ipv6_second_hop_by_hop_is_an_anomaly_not_a_crash() {
        let mut p = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[0, 0, 1, 4, 0, 0, 0, 0]); // HBH, next = HBH again
        p.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        let Decoded::Packet(d) = decode(&raw(&p, p.len())) else {
            panic!("decodes")
        };
        assert_eq!(d.anomaly, Some(Anomaly::BadIpExtension));
        assert_eq!(d.frag, Frag::Whole);
    }

    #[test]
    fn ipv6_fragment_headers_by_hand() {
        // Destination options, then a first fragment of datagram 7.
        let exts = [44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 7];
        assert_eq!(ipv6_frag(Some(IpNumber(60)), &exts), Frag::First { id: 7 });
        // A later fragment (offset 1), and a chain cut short.
        let later = [17, 0, 0, 8, 0, 0, 0, 9];
        assert_eq!(ipv6_frag(Some(IpNumber(44)), &later), Frag::Later { id: 9 });
        assert_eq!(ipv6_frag(Some(IpNumber(44)), &later[..5]), Frag::Whole);
        assert_eq!(ipv6_frag(None, &later), Frag::Whole);
    }

    #[test]
    fn tcp_payload_len() {
        let mut p = vec![
            0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        p.extend_from_slice(&[0x22, 0xc6, 0xc0, 0x00, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, 0x18]);
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[b'x'; 20]);
        let Decoded::Packet(d) = decode(&raw(&p, p.len())) else {
            panic!("decodes")
        };
        assert_eq!(d.sport, 8902);
        assert_eq!(d.payload_len, 20);
        assert_eq!(
            d.transport,
            Transport::Tcp {
                flags: 0x18,
                seq: 7
            }
        );
    }
}
