//! The pair table: one entry per canonical address pair ([`PairStats`], both directions in one
//! entry, direction in the stats), capped at `max_pairs`; traffic of pairs beyond the cap goes
//! to an [`Overflow`] bucket whose distinct pairs are estimated by a HyperLogLog sketch.

use std::net::IpAddr;

use crate::hash::FastMap;

use super::classify::{PeerTransport, Thresholds};
use super::rtt::PairRtt;
use super::sizes::{SizeHist, Totals};
use super::RecKind;
use crate::decode::{Packet, Transport};
use crate::time::Timestamp;

/// Largest step between two sequence numbers of one side for them to confirm a uTP
/// connection (`ST_STATE` repeats the number, `ST_DATA` adds one; a few may be lost).
pub const UTP_SEQ_WINDOW: u16 = 16;

/// Most ports remembered per side of a pair.
const MAX_PORTS: usize = 16;

/// One direction of a pair.
#[derive(Debug, Clone, Default)]
pub struct DirStats {
    pub packets: u64,
    pub ip_bytes: u64,
    /// UDP payload sizes of peer traffic (infrastructure ports and uTP excluded).
    pub udp_sizes: SizeHist,
    /// uTP (BEP 29) data lengths of peer uTP packets: the payload past the uTP header (0 for
    /// `ST_STATE` and the other packets without data).
    pub utp_sizes: SizeHist,
    /// TCP payload sizes of peer TCP segments (0 for pure ACKs).
    pub tcp_sizes: SizeHist,
    /// IP bytes of later fragments whose datagram's size was not seen.
    pub udp_orphan_fragment_bytes: u64,
    /// UDP to or from infrastructure ports.
    pub infra_packets: u64,
    pub infra_ip_bytes: u64,
    pub tcp_packets: u64,
    pub tcp_ip_bytes: u64,
    pub tcp_payload_bytes: u64,
    pub other_packets: u64,
    pub other_ip_bytes: u64,
    /// Largest TTL received in this direction (fewest hops).
    pub ttl_max: u8,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl DirStats {
    /// The size histogram of one transport's peer traffic.
    pub fn sizes(&self, t: PeerTransport) -> &SizeHist {
        match t {
            PeerTransport::Udp => &self.udp_sizes,
            PeerTransport::Utp => &self.utp_sizes,
            PeerTransport::Tcp => &self.tcp_sizes,
        }
    }

    /// Control and video of this direction's peer traffic over every transport, each
    /// classified by its own threshold.
    pub fn split(&self, d: &Thresholds) -> (Totals, Totals) {
        let mut ctrl = Totals::default();
        let mut video = Totals::default();
        for t in PeerTransport::ALL {
            let (c, v) = self.sizes(t).split(d.of(t));
            ctrl += c;
            video += v;
        }
        (ctrl, video)
    }

    fn touch(&mut self, ts: Timestamp) {
        if self.packets == 0 {
            self.first = ts;
            self.last = ts;
        } else {
            self.first = self.first.min(ts);
            self.last = self.last.max(ts);
        }
    }
}

/// Both directions between two addresses: `dir[0]` is from `a` to `b`, `dir[1]` from `b` to `a`.
#[derive(Debug, Clone)]
pub struct PairStats {
    pub a: IpAddr,
    pub b: IpAddr,
    pub dir: [DirStats; 2],
    /// Ports used on `a`'s side and on `b`'s side (first few).
    pub ports: [PortList; 2],
    /// uTP as seen on this pair: the last (connection id, sequence number) each side sent,
    /// and whether a connection was confirmed.
    pub utp: UtpTrack,
    /// Passive RTT samples of this pair (issue 18; `flow::rtt`).
    pub rtt: PairRtt,
}

/// Whether a pair carries uTP (BEP 29): a payload that parses as a uTP header is taken as uTP
/// only once the same side sent two headers with the same connection id and sequence numbers
/// at most [`UTP_SEQ_WINDOW`] apart — what a connection does and a stray payload almost never
/// does (1 in 2^32 · 17/2^16 for independent random bytes).
#[derive(Debug, Clone, Copy, Default)]
pub struct UtpTrack {
    last: [Option<(u16, u16)>; 2],
    pub confirmed: bool,
}

impl UtpTrack {
    fn see(&mut self, side: usize, conn: u16, seq: u16) -> bool {
        if let Some(Some((c, s))) = self.last.get(side) {
            if *c == conn && seq.wrapping_sub(*s) <= UTP_SEQ_WINDOW {
                self.confirmed = true;
            }
        }
        if let Some(slot) = self.last.get_mut(side) {
            *slot = Some((conn, seq));
        }
        self.confirmed
    }
}

impl PairStats {
    /// The statistics of traffic sent by `from` (which must be `a` or `b`).
    pub fn sent_by(&self, from: IpAddr) -> &DirStats {
        if from == self.a {
            &self.dir[0]
        } else {
            &self.dir[1]
        }
    }
    /// The other address of the pair.
    pub fn other(&self, me: IpAddr) -> IpAddr {
        if me == self.a {
            self.b
        } else {
            self.a
        }
    }
    /// Ports used by `who`.
    pub fn ports_of(&self, who: IpAddr) -> &[u16] {
        if who == self.a {
            self.ports[0].as_slice()
        } else {
            self.ports[1].as_slice()
        }
    }
    /// True when non-infrastructure UDP (uTP included) crossed this pair.
    pub fn has_peer_udp(&self) -> bool {
        self.dir
            .iter()
            .any(|d| d.udp_sizes.packets() > 0 || d.utp_sizes.packets() > 0)
    }

    /// True when peer traffic of any transport (UDP, uTP, peer TCP) crossed this pair.
    pub fn has_peer_traffic(&self) -> bool {
        self.has_peer_udp() || self.dir.iter().any(|d| d.tcp_sizes.packets() > 0)
    }

    /// The transports of the peer traffic on this pair.
    pub fn transports(&self) -> Vec<PeerTransport> {
        PeerTransport::ALL
            .into_iter()
            .filter(|&t| self.dir.iter().any(|d| d.sizes(t).packets() > 0))
            .collect()
    }
    /// First and last packet in either direction.
    pub fn span(&self) -> (Timestamp, Timestamp) {
        let live = self.dir.iter().filter(|d| d.packets > 0);
        let first = live.clone().map(|d| d.first).min().unwrap_or_default();
        let last = live.map(|d| d.last).max().unwrap_or_default();
        (first, last)
    }
}

/// The first 16 ports (`MAX_PORTS`) one side of a pair used, in order of first use. Held inline
/// in the pair: one fewer allocation per side, and no cache line of its own to fetch per packet
/// when many pairs are live (gateway mode).
#[derive(Debug, Clone, Copy, Default)]
pub struct PortList {
    len: u8,
    ports: [u16; MAX_PORTS],
}

impl PortList {
    /// The ports, in order of first use.
    pub fn as_slice(&self) -> &[u16] {
        &self.ports[..usize::from(self.len)]
    }

    /// Adds a port; the common case (the port seen last) costs one compare.
    #[inline]
    fn remember(&mut self, port: u16) {
        let n = usize::from(self.len);
        if (n > 0 && self.ports[n - 1] == port) || n >= MAX_PORTS || self.as_slice().contains(&port)
        {
            return;
        }
        self.ports[n] = port;
        self.len += 1;
    }
}

/// Traffic of pairs that did not fit in the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflow {
    pub packets: u64,
    pub ip_bytes: u64,
    /// Packets that would have opened a new pair.
    pub pairs_refused: u64,
    /// Distinct address pairs refused, estimated (HyperLogLog, about ±2 %): counting them
    /// exactly would take the memory the cap saves.
    pub pairs: u64,
}

/// A HyperLogLog sketch (Flajolet et al. 2007) of distinct address pairs: 4 KiB, allocated at
/// the first pair refused, relative error about 1.04/√4096 ≈ 1.6 %.
#[derive(Debug, Clone, Default)]
pub(crate) struct DistinctSketch {
    registers: Vec<u8>,
}

impl DistinctSketch {
    const BITS: u32 = 12;

    pub(crate) fn add(&mut self, key: &(IpAddr, IpAddr)) {
        use std::hash::{Hash, Hasher};
        if self.registers.is_empty() {
            self.registers = vec![0; 1 << Self::BITS];
        }
        let mut hasher = rustc_hash::FxHasher::default();
        key.hash(&mut hasher);
        // FxHash mixes weakly; the splitmix64 finaliser spreads every input bit over the word.
        let mut h = hasher.finish();
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let index = (h >> (64 - Self::BITS)) as usize;
        let rank = ((h << Self::BITS) | (1 << (Self::BITS - 1))).leading_zeros() as u8 + 1;
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
    }

    pub(crate) fn estimate(&self) -> u64 {
        if self.registers.is_empty() {
            return 0;
        }
        let m = self.registers.len() as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self
            .registers
            .iter()
            .map(|&r| 2f64.powi(-i32::from(r)))
            .sum();
        let raw = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        // Small range: linear counting is the better estimate (HLL paper, §4).
        let est = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        est.round() as u64
    }
}

/// The pairs seen so far, and what did not fit.
#[derive(Debug, Clone, Default)]
pub(crate) struct PairTable {
    index: FastMap<(IpAddr, IpAddr), u32>,
    pub(crate) pairs: Vec<PairStats>,
    overflow: Overflow,
    overflow_pairs: DistinctSketch,
}

impl PairTable {
    /// Counts a packet in its pair (opening the pair unless the table holds `max_pairs`) and
    /// returns its final kind: a packet that parses as uTP counts as uTP only on a pair where
    /// a uTP connection is confirmed ([`UtpTrack`]), so that a stray payload that happens to
    /// parse stays plain UDP.
    /// Also returns the pair's index (`None` when the packet went to the overflow bucket).
    pub(crate) fn add(
        &mut self,
        p: &Packet<'_>,
        kind: RecKind,
        max_pairs: usize,
    ) -> (RecKind, Option<u32>) {
        let (key, forward) = if p.src <= p.dst {
            ((p.src, p.dst), true)
        } else {
            ((p.dst, p.src), false)
        };
        let idx = match self.index.get(&key) {
            Some(&i) => i as usize,
            None => {
                if self.pairs.len() >= max_pairs {
                    self.overflow.packets += 1;
                    self.overflow.ip_bytes += u64::from(p.ip_len);
                    self.overflow.pairs_refused += 1;
                    self.overflow_pairs.add(&key);
                    let kind = match kind {
                        RecKind::PeerUtp(..) => RecKind::PeerUdp(p.payload_len),
                        k => k,
                    };
                    return (kind, None);
                }
                self.index.insert(key, self.pairs.len() as u32);
                self.pairs.push(PairStats {
                    a: key.0,
                    b: key.1,
                    dir: [DirStats::default(), DirStats::default()],
                    ports: [PortList::default(); 2],
                    utp: UtpTrack::default(),
                    rtt: PairRtt::default(),
                });
                self.pairs.len() - 1
            }
        };
        let pair = &mut self.pairs[idx];
        let (d, src_side) = if forward { (0, 0) } else { (1, 1) };
        let kind = match kind {
            RecKind::PeerUtp(len, conn, seq) if pair.utp.see(d, conn, seq) => {
                RecKind::PeerUtp(len, conn, seq)
            }
            RecKind::PeerUtp(..) => RecKind::PeerUdp(p.payload_len),
            k => k,
        };
        if p.sport != 0 || p.dport != 0 {
            pair.ports[src_side].remember(p.sport);
            pair.ports[1 - src_side].remember(p.dport);
        }
        // RTT (issue 18): before this packet moves the pair's last-packet times.
        let last_any = pair
            .dir
            .iter()
            .filter(|d| d.packets > 0)
            .map(|d| d.last)
            .max();
        let peer_udp = matches!(kind, RecKind::PeerUdp(_) | RecKind::PeerUtp(..));
        pair.rtt.see(p, d as u8, last_any, peer_udp);
        let dir = &mut pair.dir[d];
        dir.touch(p.ts);
        dir.packets += 1;
        dir.ip_bytes += u64::from(p.ip_len);
        dir.ttl_max = dir.ttl_max.max(p.ttl);
        match kind {
            RecKind::PeerUdp(size) => dir.udp_sizes.add(size, p.ip_len, p.ts),
            RecKind::PeerUdpCont(size) => dir.udp_sizes.add_bytes(size, p.ip_len),
            RecKind::PeerUtp(len, ..) => dir.utp_sizes.add(len, p.ip_len, p.ts),
            RecKind::PeerTcp(len) => {
                dir.tcp_sizes.add(len, p.ip_len, p.ts);
                dir.tcp_packets += 1;
                dir.tcp_ip_bytes += u64::from(p.ip_len);
                dir.tcp_payload_bytes += u64::from(p.payload_len);
            }
            RecKind::InfraUdp => {
                dir.infra_packets += 1;
                dir.infra_ip_bytes += u64::from(p.ip_len);
            }
            RecKind::UdpOrphan => dir.udp_orphan_fragment_bytes += u64::from(p.ip_len),
            RecKind::Other => {
                if let Transport::Tcp { .. } = p.transport {
                    dir.tcp_packets += 1;
                    dir.tcp_ip_bytes += u64::from(p.ip_len);
                    dir.tcp_payload_bytes += u64::from(p.payload_len);
                } else {
                    dir.other_packets += 1;
                    dir.other_ip_bytes += u64::from(p.ip_len);
                }
            }
        }
        (kind, u32::try_from(idx).ok())
    }

    /// Pairs in which `host` takes part.
    pub(crate) fn pairs_of(&self, host: IpAddr) -> impl Iterator<Item = &PairStats> {
        self.pairs
            .iter()
            .filter(move |p| p.a == host || p.b == host)
    }

    /// The overflow bucket, with the distinct refused pairs estimated.
    pub(crate) fn overflow(&self) -> Overflow {
        Overflow {
            pairs: self.overflow_pairs.estimate(),
            ..self.overflow
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_pairs_are_estimated_within_a_few_percent() {
        let local = IpAddr::from([192, 0, 2, 1]);
        for n in [0u32, 1, 10, 1_000, 100_000, 1_000_000] {
            let mut sketch = DistinctSketch::default();
            for i in 0..n {
                let key = (
                    local,
                    IpAddr::from(std::net::Ipv6Addr::from(
                        (0x2001_0db8_u128 << 96) | u128::from(i),
                    )),
                );
                // Every pair twice: repeats must not count.
                sketch.add(&key);
                sketch.add(&key);
            }
            let est = sketch.estimate() as f64;
            let err = (est - f64::from(n)).abs() / f64::from(n.max(1));
            assert!(err < 0.05, "{n}: estimated {est}");
        }
    }
}
