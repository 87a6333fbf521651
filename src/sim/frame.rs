//! Frame assembly: link header (Ethernet II, Linux SLL2 or none), IPv4, UDP and TCP, with
//! valid checksums, written into a caller-owned buffer so the hot path allocates nothing.
//!
//! The layout written is exactly what `tcpdump` stores: for SLL2 (LINKTYPE 276) the 20-byte
//! header is protocol (u16 BE), reserved (u16), interface index (u32 BE), ARPHRD type (u16 BE),
//! packet type (u8), address length (u8) and 8 address bytes.

use std::net::Ipv4Addr;

/// ARPHRD_ETHER (linux/if_arp.h).
pub const ARPHRD_ETHER: u16 = 1;
/// ARPHRD_LOOPBACK (linux/if_arp.h).
pub const ARPHRD_LOOPBACK: u16 = 772;
/// PACKET_HOST: addressed to this host (linux/if_packet.h).
pub const PACKET_HOST: u8 = 0;
/// PACKET_OUTGOING: sent by this host (linux/if_packet.h).
pub const PACKET_OUTGOING: u8 = 4;
/// EtherType of IPv4 (IEEE 802).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// IP protocol numbers (IANA).
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// TCP flag bits (RFC 9293 §3.1).
pub mod tcp_flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
}

/// The link-layer header put in front of the IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkHeader {
    /// No link header (LINKTYPE_RAW / LINKTYPE_IPV4).
    None,
    /// Ethernet II carrying IPv4.
    Ethernet {
        /// Destination MAC.
        dst: [u8; 6],
        /// Source MAC.
        src: [u8; 6],
    },
    /// Linux cooked capture v2 carrying IPv4.
    Sll2 {
        /// Interface index (1 is `lo` on Linux).
        ifindex: u32,
        /// ARPHRD_* hardware type.
        arphrd: u16,
        /// PACKET_* direction type.
        packet_type: u8,
        /// Link-layer source address (6 bytes used, padded to 8).
        addr: [u8; 6],
    },
}

impl LinkHeader {
    /// Bytes this header occupies.
    pub fn len(&self) -> usize {
        match self {
            LinkHeader::None => 0,
            LinkHeader::Ethernet { .. } => 14,
            LinkHeader::Sll2 { .. } => 20,
        }
    }

    /// True for [`LinkHeader::None`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self, buf: &mut Vec<u8>) {
        match *self {
            LinkHeader::None => {}
            LinkHeader::Ethernet { dst, src } => {
                buf.extend_from_slice(&dst);
                buf.extend_from_slice(&src);
                buf.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            }
            LinkHeader::Sll2 {
                ifindex,
                arphrd,
                packet_type,
                addr,
            } => {
                buf.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
                buf.extend_from_slice(&[0, 0]);
                buf.extend_from_slice(&ifindex.to_be_bytes());
                buf.extend_from_slice(&arphrd.to_be_bytes());
                buf.push(packet_type);
                buf.push(6);
                buf.extend_from_slice(&addr);
                buf.extend_from_slice(&[0, 0]);
            }
        }
    }
}

/// The IPv4 header fields that vary between packets (RFC 791). DF is always set, no options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Fields {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live as seen on the capture point.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
}

/// TCP header fields (RFC 9293). `mss` adds the MSS option (SYN segments only, normally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFields {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits, see [`tcp_flags`].
    pub flags: u8,
    /// Receive window.
    pub window: u16,
    /// Maximum segment size option.
    pub mss: Option<u16>,
}

/// The IP packet would exceed 65535 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("IP packet of {len} bytes exceeds 65535")]
pub struct FrameTooLarge {
    /// The length it would have had.
    pub len: usize,
}

const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;

/// Ones-complement sum of `data` (RFC 1071), added to `acc`, not folded. Summing 32-bit
/// big-endian words is equivalent to summing 16-bit words once folded, because
/// 2^16 ≡ 1 (mod 2^16 − 1).
fn sum_words(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 32) + (w & 0xFFFF_FFFF);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum of `data` (RFC 1071): the complement of the folded sum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum_words(data, 0))
}

fn write_ipv4(buf: &mut Vec<u8>, ip: &Ipv4Fields, proto: u8, total: u16) -> usize {
    let start = buf.len();
    let id = ip.id.to_be_bytes();
    let len = total.to_be_bytes();
    buf.extend_from_slice(&[
        0x45, 0, len[0], len[1], id[0], id[1], 0x40, 0, ip.ttl, proto, 0, 0,
    ]);
    buf.extend_from_slice(&ip.src.octets());
    buf.extend_from_slice(&ip.dst.octets());
    let csum = internet_checksum(&buf[start..start + IPV4_HEADER]);
    buf[start + 10..start + 12].copy_from_slice(&csum.to_be_bytes());
    start
}

fn pseudo_header_sum(ip: &Ipv4Fields, proto: u8, l4_len: usize) -> u64 {
    let mut acc = sum_words(&ip.src.octets(), 0);
    acc = sum_words(&ip.dst.octets(), acc);
    acc + u64::from(proto) + l4_len as u64
}

/// Clears `buf` and writes link header + IPv4 + UDP + `payload` into it.
pub fn build_udp(
    buf: &mut Vec<u8>,
    link: &LinkHeader,
    ip: &Ipv4Fields,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Result<(), FrameTooLarge> {
    let l4_len = UDP_HEADER + payload.len();
    let total = IPV4_HEADER + l4_len;
    let total16 = u16::try_from(total).map_err(|_| FrameTooLarge { len: total })?;
    buf.clear();
    link.write(buf);
    write_ipv4(buf, ip, IPPROTO_UDP, total16);
    let udp_at = buf.len();
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    buf.extend_from_slice(&(l4_len as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
    let acc = sum_words(&buf[udp_at..], pseudo_header_sum(ip, IPPROTO_UDP, l4_len));
    // RFC 768: a computed checksum of zero is transmitted as all ones.
    let csum = match !fold(acc) {
        0 => 0xFFFF,
        c => c,
    };
    buf[udp_at + 6..udp_at + 8].copy_from_slice(&csum.to_be_bytes());
    Ok(())
}

/// Clears `buf` and writes link header + IPv4 + TCP (+ MSS option) + `payload` into it.
pub fn build_tcp(
    buf: &mut Vec<u8>,
    link: &LinkHeader,
    ip: &Ipv4Fields,
    tcp: &TcpFields,
    payload: &[u8],
) -> Result<(), FrameTooLarge> {
    let header = if tcp.mss.is_some() { 24 } else { 20 };
    let l4_len = header + payload.len();
    let total = IPV4_HEADER + l4_len;
    let total16 = u16::try_from(total).map_err(|_| FrameTooLarge { len: total })?;
    buf.clear();
    link.write(buf);
    write_ipv4(buf, ip, IPPROTO_TCP, total16);
    let tcp_at = buf.len();
    buf.extend_from_slice(&tcp.sport.to_be_bytes());
    buf.extend_from_slice(&tcp.dport.to_be_bytes());
    buf.extend_from_slice(&tcp.seq.to_be_bytes());
    buf.extend_from_slice(&tcp.ack.to_be_bytes());
    buf.push(((header / 4) as u8) << 4);
    buf.push(tcp.flags);
    buf.extend_from_slice(&tcp.window.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    if let Some(mss) = tcp.mss {
        let m = mss.to_be_bytes();
        buf.extend_from_slice(&[2, 4, m[0], m[1]]);
    }
    buf.extend_from_slice(payload);
    let acc = sum_words(&buf[tcp_at..], pseudo_header_sum(ip, IPPROTO_TCP, l4_len));
    let csum = !fold(acc);
    buf[tcp_at + 16..tcp_at + 18].copy_from_slice(&csum.to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn ip() -> Ipv4Fields {
        Ipv4Fields {
            src: Ipv4Addr::new(192, 0, 2, 10),
            dst: Ipv4Addr::new(203, 0, 113, 5),
            ttl: 64,
            id: 0x1234,
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example words: 0001 f203 f4f5 f6f7 → sum ddf2, checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
        // Odd length: the last byte is padded with zero on the right.
        assert_eq!(internet_checksum(&[0x01]), !0x0100);
    }

    #[test]
    fn udp_over_ethernet_reparses_with_valid_checksums() {
        let mut buf = Vec::new();
        let link = LinkHeader::Ethernet {
            dst: [2, 0, 0, 0, 0, 1],
            src: [2, 0, 0, 0, 0, 10],
        };
        let payload: Vec<u8> = (0..1321u32).map(|i| (i * 7) as u8).collect();
        build_udp(&mut buf, &link, &ip(), 3908, 40001, &payload).unwrap();
        assert_eq!(buf.len(), 14 + 20 + 8 + 1321);
        let p = SlicedPacket::from_ethernet(&buf).unwrap();
        let Some(NetSlice::Ipv4(v4)) = p.net else {
            panic!("not ipv4")
        };
        assert_eq!(v4.header().total_len(), 20 + 8 + 1321);
        assert_eq!(v4.header().ttl(), 64);
        assert_eq!(internet_checksum(&buf[14..34]), 0);
        let Some(TransportSlice::Udp(udp)) = p.transport else {
            panic!("not udp")
        };
        assert_eq!(udp.length(), 8 + 1321);
        assert_eq!(udp.payload(), &payload[..]);
        let expected = udp
            .to_header()
            .calc_checksum_ipv4(&v4.header().to_header(), &payload)
            .unwrap();
        assert_eq!(udp.checksum(), expected);
    }

    #[test]
    fn tcp_over_sll2_reparses_with_valid_checksums() {
        let mut buf = Vec::new();
        let link = LinkHeader::Sll2 {
            ifindex: 1,
            arphrd: ARPHRD_LOOPBACK,
            packet_type: PACKET_HOST,
            addr: [0; 6],
        };
        let tcp = TcpFields {
            sport: 8902,
            dport: 51000,
            seq: 1000,
            ack: 77,
            flags: tcp_flags::SYN | tcp_flags::ACK,
            window: 65535,
            mss: Some(65495),
        };
        build_tcp(&mut buf, &link, &ip(), &tcp, b"hello").unwrap();
        assert_eq!(&buf[0..2], &[0x08, 0x00]);
        assert_eq!(&buf[4..8], &[0, 0, 0, 1]);
        assert_eq!(&buf[8..10], &772u16.to_be_bytes());
        let p = SlicedPacket::from_ether_type(etherparse::EtherType::IPV4, &buf[20..]).unwrap();
        let Some(NetSlice::Ipv4(v4)) = p.net else {
            panic!("not ipv4")
        };
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("not tcp")
        };
        assert!(t.syn() && t.ack());
        assert_eq!(t.payload(), b"hello");
        let expected = t
            .to_header()
            .calc_checksum_ipv4(&v4.header().to_header(), b"hello")
            .unwrap();
        assert_eq!(t.checksum(), expected);
    }

    #[test]
    fn oversized_is_refused() {
        let mut buf = Vec::new();
        let big = vec![0u8; 65_535];
        assert!(build_udp(&mut buf, &LinkHeader::None, &ip(), 1, 2, &big).is_err());
    }
}
