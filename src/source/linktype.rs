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
