//! IP fragments of peer UDP datagrams: the first fragment carries the UDP header and gives the
//! datagram's payload size; later fragments are attributed to it by (source, destination, IP
//! identification). Bounded: the map is cleared when it holds too many outstanding datagrams.
//! The same place gives every packet its kind for the table ([`RecKind`]): peer UDP, uTP, peer
//! TCP, infrastructure, or other.

use std::net::IpAddr;

use crate::hash::FastMap;

use super::{is_peer_tcp, RecKind};
use crate::decode::{Frag, Packet, Transport};

/// Most outstanding fragmented datagrams remembered.
const MAX_FRAGMENTS: usize = 4_096;
/// IP protocol number of UDP (RFC 768).
const UDP: u8 = 17;

/// Datagram sizes of the first fragments seen, by (source, destination, IP id).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fragments {
    sizes: FastMap<(IpAddr, IpAddr, u32), u32>,
}

impl Fragments {
    /// What a packet counts as: `udp` (ports known) and `infra` (to or from an
    /// infrastructure port) as the caller found them.
    pub(crate) fn kind(&mut self, p: &Packet<'_>, udp: bool, infra: bool) -> RecKind {
        match p.frag {
            Frag::First { id } if udp && !infra => {
                if self.sizes.len() >= MAX_FRAGMENTS {
                    self.sizes.clear();
                }
                self.sizes.insert((p.src, p.dst, id), p.payload_len);
                RecKind::PeerUdp(p.payload_len)
            }
            Frag::Later { id } => match self.sizes.get(&(p.src, p.dst, id)) {
                Some(&size) => RecKind::PeerUdpCont(size),
                None if p.transport == Transport::Other(UDP) => RecKind::UdpOrphan,
                None => RecKind::Other,
            },
            Frag::Whole if udp && !infra => match p.utp {
                Some(u) => RecKind::PeerUtp(u.data_len, u.connection_id, u.seq_nr),
                None => RecKind::PeerUdp(p.payload_len),
            },
            _ if udp && !infra => RecKind::PeerUdp(p.payload_len),
            _ if infra => RecKind::InfraUdp,
            _ if matches!(p.transport, Transport::Tcp { .. }) && is_peer_tcp(p.sport, p.dport) => {
                RecKind::PeerTcp(p.payload_len)
            }
            _ => RecKind::Other,
        }
    }
}
