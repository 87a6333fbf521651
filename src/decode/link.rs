//! Link layers: from a frame of a given link type to the network-layer bytes it carries.
//!
//! Dispatch is on the capture's link type, never on the first bytes of the frame. Headers are
//! stripped by hand where etherparse has no parser that accepts them (SLL with ARPHRD loopback,
//! SLL2, BSD NULL/LOOP); every offset is read with checked slicing.

use super::{Layer, Malformed};

pub use crate::source::linktype;

/// EtherType values (IEEE 802.3, IANA).
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// Most VLAN tags we peel before calling the frame malformed.
const MAX_VLAN_TAGS: usize = 8;

/// BSD address families that mean IPv6 (Linux 10, BSDs 24, FreeBSD 28, macOS 30).
const AF_INET: u32 = 2;
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

/// Which way a frame went, as the link layer says (Linux cooked captures' packet type,
/// `linux/if_packet.h`); `Unknown` on link types that do not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LinkDir {
    #[default]
    Unknown,
    /// PACKET_OUTGOING (4): sent by the capturing host.
    Outgoing,
    /// PACKET_HOST (0): addressed to the capturing host.
    ToUs,
    /// PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST (1–3) and anything else.
    Other,
}

impl LinkDir {
    fn from_pkttype(t: u16) -> Self {
        match t {
            0 => LinkDir::ToUs,
            4 => LinkDir::Outgoing,
            _ => LinkDir::Other,
        }
    }
}

/// What the link layer tells about a frame besides its payload: its direction (cooked
/// captures) and its MAC addresses (Ethernet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkMeta {
    pub dir: LinkDir,
    /// Source and destination MAC addresses (Ethernet only).
    pub macs: Option<([u8; 6], [u8; 6])>,
}

impl LinkMeta {
    /// True when the destination MAC is unicast (the I/G bit clear).
    pub fn unicast(&self) -> bool {
        self.macs.is_some_and(|(_, dst)| dst[0] & 1 == 0)
    }
}

/// What a link layer carried.
pub enum LinkPayload<'a> {
    /// IPv4 or IPv6 bytes (version still to be checked by the IP decoder), with what the link
    /// layer said about the frame.
    Ip(&'a [u8], LinkMeta),
    /// Something that is not IP (ARP, LLDP, …), by EtherType.
    NotIp(u16),
}

fn be16(data: &[u8], at: usize, layer: Layer) -> Result<u16, Malformed> {
    data.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(Malformed::Truncated(layer))
}

fn by_ethertype(ether_type: u16, rest: &[u8], meta: LinkMeta) -> LinkPayload<'_> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => LinkPayload::Ip(rest, meta),
        other => LinkPayload::NotIp(other),
    }
}

/// Strips the link header of `data` captured on a `link` interface.
pub fn strip(link: u16, data: &[u8]) -> Result<LinkPayload<'_>, Malformed> {
    match link {
        linktype::ETHERNET => ethernet(data),
        linktype::LINUX_SLL => {
            // pkttype(2) arphrd(2) addrlen(2) addr(8) protocol(2)
            let proto = be16(data, 14, Layer::Link)?;
            let meta = LinkMeta {
                dir: LinkDir::from_pkttype(be16(data, 0, Layer::Link)?),
                macs: None,
            };
            Ok(by_ethertype(proto, data.get(16..).unwrap_or(&[]), meta))
        }
        linktype::LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) addrlen(1) addr(8)
            let proto = be16(data, 0, Layer::Link)?;
            if data.len() < 20 {
                return Err(Malformed::Truncated(Layer::Link));
            }
            let meta = LinkMeta {
                dir: LinkDir::from_pkttype(u16::from(data[10])),
                macs: None,
            };
            Ok(by_ethertype(proto, &data[20..], meta))
        }
        linktype::NULL | linktype::LOOP => {
            let b = data.get(..4).ok_or(Malformed::Truncated(Layer::Link))?;
            let family = if link == linktype::LOOP {
                u32::from_be_bytes([b[0], b[1], b[2], b[3]])
            } else {
                // Host byte order of the machine that captured: accept either.
                let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if le > 0xffff {
                    le.swap_bytes()
                } else {
                    le
                }
            };
            if family == AF_INET || AF_INET6.contains(&family) {
                Ok(LinkPayload::Ip(&data[4..], LinkMeta::default()))
            } else {
                Ok(LinkPayload::NotIp(family as u16))
            }
        }
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 | linktype::IPV6 => {
            Ok(LinkPayload::Ip(data, LinkMeta::default()))
        }
        other => Err(Malformed::UnsupportedLinkType(other)),
    }
}

fn ethernet(data: &[u8]) -> Result<LinkPayload<'_>, Malformed> {
    // dst(6) src(6) type(2), then any number of 4-byte tags: TPID(2) TCI(2) with the
    // encapsulated EtherType after each.
    let mut ether_type = be16(data, 12, Layer::Link)?;
    let mut at = 14;
    let mut tags = 0;
    while matches!(
        ether_type,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(Malformed::TooManyVlanTags);
        }
        ether_type = be16(data, at + 2, Layer::Vlan)?;
        at += 4;
    }
    let mac = |at: usize| -> Option<[u8; 6]> { data.get(at..at + 6)?.try_into().ok() };
    let meta = LinkMeta {
        dir: LinkDir::Unknown,
        macs: mac(6).zip(mac(0)),
    };
    Ok(by_ethertype(
        ether_type,
        data.get(at..).unwrap_or(&[]),
        meta,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_with_three_tags() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3]);
        frame.extend_from_slice(&[0x08, 0x00, 0x45]);
        match strip(linktype::ETHERNET, &frame) {
            Ok(LinkPayload::Ip(ip, meta)) => {
                assert_eq!(ip, &[0x45]);
                assert!(meta.unicast());
            }
            _ => panic!("expected IP"),
        }
    }

    #[test]
    fn truncated_ethernet_and_vlan() {
        assert!(matches!(
            strip(linktype::ETHERNET, &[0u8; 10]),
            Err(Malformed::Truncated(Layer::Link))
        ));
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x81, 0x00, 0]);
        assert!(matches!(
            strip(linktype::ETHERNET, &frame),
            Err(Malformed::Truncated(Layer::Vlan))
        ));
    }

    #[test]
    fn null_either_byte_order_and_loop() {
        let le = [2u8, 0, 0, 0, 0x45];
        let be = [0u8, 0, 0, 2, 0x45];
        let v6 = [0u8, 0, 0, 30, 0x60];
        for frame in [&le[..], &be[..]] {
            assert!(matches!(
                strip(linktype::NULL, frame),
                Ok(LinkPayload::Ip(..))
            ));
        }
        assert!(matches!(
            strip(linktype::NULL, &v6),
            Ok(LinkPayload::Ip(..))
        ));
        assert!(matches!(
            strip(linktype::LOOP, &be),
            Ok(LinkPayload::Ip(..))
        ));
        assert!(matches!(
            strip(linktype::LOOP, &[0u8, 0, 0, 7]),
            Ok(LinkPayload::NotIp(7))
        ));
    }

    #[test]
    fn sll_and_sll2() {
        let mut sll = vec![0u8, 0, 0x03, 0x04, 0, 0];
        sll.extend_from_slice(&[0; 8]);
        sll.extend_from_slice(&[0x08, 0x00, 0x45]);
        assert!(matches!(
            strip(linktype::LINUX_SLL, &sll),
            Ok(LinkPayload::Ip(..))
        ));
        let mut sll2 = vec![0x86u8, 0xdd, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 0];
        sll2.extend_from_slice(&[0; 8]);
        sll2.push(0x60);
        assert!(matches!(
            strip(linktype::LINUX_SLL2, &sll2),
            Ok(LinkPayload::Ip(..))
        ));
        assert!(matches!(
            strip(linktype::LINUX_SLL2, &sll2[..12]),
            Err(Malformed::Truncated(Layer::Link))
        ));
    }

    #[test]
    fn unknown_link_type() {
        assert!(matches!(
            strip(147, &[1, 2, 3]),
            Err(Malformed::UnsupportedLinkType(147))
        ));
    }
}
