//! LINKTYPE numbers (<https://www.tcpdump.org/linktypes.html>): what kind of frame a capture
//! interface delivers. Owned by the source layer (files and interfaces declare it); the decoder
//! dispatches on it.

/// BSD loopback: 4-byte address family in the capturing host's byte order.
pub const NULL: u16 = 0;
/// Ethernet II, possibly with 802.1Q / 802.1ad tags.
pub const ETHERNET: u16 = 1;
/// Raw IP as written by some systems (DLT_RAW on BSD/OS).
pub const RAW_12: u16 = 12;
/// Raw IP as written by OpenBSD (DLT_RAW 14).
pub const RAW_14: u16 = 14;
/// Raw IP, the portable LINKTYPE_RAW.
pub const RAW: u16 = 101;
/// OpenBSD loopback: 4-byte address family in network byte order.
pub const LOOP: u16 = 108;
/// Linux cooked capture v1 (16-byte header).
pub const LINUX_SLL: u16 = 113;
/// Raw IPv4.
pub const IPV4: u16 = 228;
/// Raw IPv6.
pub const IPV6: u16 = 229;
/// Linux cooked capture v2 (20-byte header), what `-i any` writes.
pub const LINUX_SLL2: u16 = 276;

/// A short name for reports.
pub fn name(link: u16) -> String {
    match link {
        NULL => "NULL".into(),
        ETHERNET => "EN10MB".into(),
        RAW_12 | RAW_14 | RAW => "RAW".into(),
        LOOP => "LOOP".into(),
        LINUX_SLL => "LINUX_SLL".into(),
        IPV4 => "IPV4".into(),
        IPV6 => "IPV6".into(),
        LINUX_SLL2 => "LINUX_SLL2".into(),
        other => format!("LINKTYPE_{other}"),
    }
}

/// 802.1Q, 802.1ad and the older QinQ TPID (IEEE 802.1Q §9.6): a tag of 4 bytes follows.
const VLAN_TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// Where the network layer starts in a frame of this link type (after the Ethernet header and
/// its VLAN tags, the cooked header, the loopback family), or `None` for a link type whose
/// header is not known here or a frame too short for it. Used to recognise one packet seen
/// on two interfaces of different link types (`lo` and `any`).
pub fn network_offset(link: u16, frame: &[u8]) -> Option<usize> {
    let at = match link {
        ETHERNET => {
            // Destination, source, then a type or a tag (IEEE 802.3 §3.1.1).
            let mut at = 12;
            loop {
                let t = frame.get(at..at + 2)?;
                if VLAN_TPIDS.contains(&u16::from_be_bytes([t[0], t[1]])) {
                    at += 4;
                } else {
                    break at + 2;
                }
            }
        }
        LINUX_SLL => 16,
        LINUX_SLL2 => 20,
        NULL | LOOP => 4,
        RAW_12 | RAW_14 | RAW | IPV4 | IPV6 => 0,
        _ => return None,
    };
    (at <= frame.len()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_offsets() {
        let mut eth = vec![0u8; 12];
        eth.extend([0x81, 0x00, 0, 5, 0x08, 0x00, 0x45]);
        assert_eq!(network_offset(ETHERNET, &eth), Some(18));
        assert_eq!(network_offset(ETHERNET, &eth[..13]), None);
        assert_eq!(network_offset(LINUX_SLL2, &[0u8; 20]), Some(20));
        assert_eq!(network_offset(LINUX_SLL2, &[0u8; 19]), None);
        assert_eq!(network_offset(RAW, &[]), Some(0));
        assert_eq!(network_offset(147, &[0u8; 40]), None);
    }
}
