//! The two decisions every metric depends on — which address is the vantage point (the local
//! host) and which UDP payload size separates control from video (the threshold) — and the
//! warm-up that makes them while the packets stream by.
//!
//! One rule, [`settle`], makes both decisions from the exact pair statistics, in the order
//! SPEC §2 gives: what the user gave (`--local`, `--video-min`), else what a first pass pinned
//! (a second pass never re-decides), else what the data says (the address exchanging peer UDP
//! with the most distinct partners; Otsu's threshold on its size histogram). The flow table and
//! `compare`'s matcher both classify through here ([`Decision::is_video`]).
//!
//! The timeline needs a decision before the end of the capture, so [`Warmup`] buffers compact
//! records until a provisional decision is clear, replays them and streams on. At the end the
//! table settles again over the whole capture; if the provisional decision would have put a
//! packet in another class, a second pass is needed (see `flow`).

use std::net::IpAddr;

use crate::hash::FastMap;

use super::pairs::PairStats;
use super::sizes::{self, SizeHist};
use super::{Rec, WarmBuffer};

/// What the user fixed on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    /// `--local`.
    pub local: Option<IpAddr>,
    /// `--video-min`.
    pub video_min: Option<u32>,
}

/// The transports peer traffic is classified on, each with its own size distribution and
/// threshold (SPEC §2 "Size classes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerTransport {
    /// UDP that is not uTP: the payload size.
    Udp,
    /// uTP (BEP 29) over UDP: the data past the uTP header.
    Utp,
    /// TCP between peer ports: the payload of each segment (pure ACKs are size 0).
    Tcp,
}

impl PeerTransport {
    /// Every transport, in report order.
    pub const ALL: [PeerTransport; 3] =
        [PeerTransport::Udp, PeerTransport::Utp, PeerTransport::Tcp];

    /// The report's word: `udp`, `utp`, `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerTransport::Udp => "udp",
            PeerTransport::Utp => "utp",
            PeerTransport::Tcp => "tcp",
        }
    }
}

impl std::fmt::Display for PeerTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The smallest video size of each transport (`None`: no video on it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thresholds {
    pub udp: Option<u32>,
    pub utp: Option<u32>,
    pub tcp: Option<u32>,
}

impl Thresholds {
    /// The threshold of one transport.
    #[inline]
    pub fn of(&self, t: PeerTransport) -> Option<u32> {
        match t {
            PeerTransport::Udp => self.udp,
            PeerTransport::Utp => self.utp,
            PeerTransport::Tcp => self.tcp,
        }
    }
}

/// A local host and its thresholds: how every packet of the local host is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub local: IpAddr,
    /// Smallest video UDP payload; `None` when video and control could not be separated.
    pub threshold: Option<u32>,
    /// The uTP and TCP thresholds (the UDP one is `threshold`).
    pub utp_threshold: Option<u32>,
    pub tcp_threshold: Option<u32>,
}

impl Decision {
    /// True for a UDP payload of `size` bytes counted as video.
    #[inline]
    pub fn is_video(&self, size: u32) -> bool {
        is_video(self.threshold, size)
    }

    /// Every transport's threshold.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            udp: self.threshold,
            utp: self.utp_threshold,
            tcp: self.tcp_threshold,
        }
    }
}

/// True for a UDP payload of `size` bytes counted as video under `threshold` (SPEC §2: video
/// is a payload at or above the threshold; without a threshold nothing is video).
#[inline]
pub fn is_video(threshold: Option<u32>, size: u32) -> bool {
    threshold.is_some_and(|t| size >= t)
}

/// How the local host was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalHow {
    /// `--local`.
    Given,
    /// A first pass decided it.
    Pinned,
    /// Linux cooked capture: the sender of the packets marked outgoing.
    CookedOutgoing { packets: u64 },
    /// Ethernet: the address behind the one MAC on (nearly) every unicast frame.
    EthernetMac {
        mac: [u8; 6],
        frames: u64,
        unicast: u64,
    },
    /// The distinct-partner rule.
    Partners,
    /// No local host.
    Unknown,
}

/// The outcome of [`settle`].
#[derive(Debug, Clone)]
pub struct Settled {
    pub local: Option<IpAddr>,
    pub how: LocalHow,
    pub threshold: Option<u32>,
    /// Ranked local-host candidates with their number of distinct partners.
    pub candidates: Vec<(IpAddr, u64)>,
    /// Peer UDP payload sizes of the local host, both directions.
    pub hist: SizeHist,
    /// The local host's uTP data sizes and TCP payload sizes, with their thresholds.
    pub utp: (SizeHist, Option<u32>),
    pub tcp: (SizeHist, Option<u32>),
}

impl Default for Settled {
    fn default() -> Self {
        Settled {
            local: None,
            how: LocalHow::Unknown,
            threshold: None,
            candidates: Vec::new(),
            hist: SizeHist::default(),
            utp: Default::default(),
            tcp: Default::default(),
        }
    }
}

impl Settled {
    /// The decision, when there is a local host.
    pub fn decision(&self) -> Option<Decision> {
        self.local.map(|local| Decision {
            local,
            threshold: self.threshold,
            utp_threshold: self.utp.1,
            tcp_threshold: self.tcp.1,
        })
    }

    /// Every transport's threshold.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            udp: self.threshold,
            utp: self.utp.1,
            tcp: self.tcp.1,
        }
    }

    /// The local host's size histogram of one transport.
    pub fn hist_of(&self, t: PeerTransport) -> &SizeHist {
        match t {
            PeerTransport::Udp => &self.hist,
            PeerTransport::Utp => &self.utp.0,
            PeerTransport::Tcp => &self.tcp.0,
        }
    }
}

/// Makes both decisions from the pairs and the link layer's evidence: given, else pinned,
/// else what the link layer says (cooked packet types, the Ethernet MAC on every unicast
/// frame), else the distinct-partner rule.
pub fn settle(
    pairs: &[PairStats],
    link: &LinkEvidence,
    given: Given,
    pinned: Option<Decision>,
) -> Settled {
    let candidates = candidates(pairs);
    let inferred = || match link.vantage(&candidates) {
        Some((l, how)) => (Some(l), how),
        None => match candidates.first() {
            Some((ip, _)) => (Some(*ip), LocalHow::Partners),
            None => (None, LocalHow::Unknown),
        },
    };
    let (local, how) = if let Some(l) = given.local {
        (Some(l), LocalHow::Given)
    } else if let Some(p) = pinned {
        // A second pass sees the same evidence as the first: report it, not the pinning.
        match inferred() {
            (Some(l), how) if l == p.local => (Some(l), how),
            _ => (Some(p.local), LocalHow::Pinned),
        }
    } else {
        inferred()
    };
    let hist_of = |t: PeerTransport| local.map(|l| local_sizes(pairs, l, t)).unwrap_or_default();
    let hist = hist_of(PeerTransport::Udp);
    let threshold = match (given.video_min, pinned) {
        (Some(t), _) => Some(t),
        (None, Some(p)) => p.threshold,
        (None, None) => sizes::otsu_threshold(&hist),
    };
    let other = |t: PeerTransport, pinned_t: Option<Option<u32>>| {
        let h = hist_of(t);
        let th = pinned_t.unwrap_or_else(|| {
            // A few segments to a tracker or a web server make no size distribution.
            if h.packets() < MIN_TRANSPORT_PACKETS {
                None
            } else {
                sizes::log_gap_threshold(&h)
            }
        });
        (h, th)
    };
    let utp = other(PeerTransport::Utp, pinned.map(|p| p.utp_threshold));
    let tcp = other(PeerTransport::Tcp, pinned.map(|p| p.tcp_threshold));
    // Beside a transport that carries the stream, a few stray UDP packets (the first of each
    // uTP connection, before it is confirmed) make no distribution of their own.
    let threshold = if given.video_min.is_none()
        && pinned.is_none()
        && hist.packets() < MIN_TRANSPORT_PACKETS
        && (utp.1.is_some() || tcp.1.is_some())
    {
        None
    } else {
        threshold
    };
    Settled {
        local,
        how,
        threshold,
        candidates,
        hist,
        utp,
        tcp,
    }
}

/// Fewest uTP or TCP packets of the local host for that transport to get a threshold of its
/// own (below it, all of it is control).
pub const MIN_TRANSPORT_PACKETS: u64 = 200;
/// Bytes received beyond those sent that make a candidate the receiving side of a tie.
pub const MIN_NET_RECEIVED: i64 = 10_000;
/// Fewest unicast Ethernet frames for the MAC evidence to count.
const MIN_MAC_FRAMES: u64 = 10;

/// Most source addresses remembered behind one MAC.
const MAX_IPS_PER_MAC: usize = 8;
/// Share of unicast frames a MAC must appear on to be the capturing host's.
const MAC_ON_EVERY_FRAME: f64 = 0.98;

/// What one MAC was seen doing.
#[derive(Debug, Clone, Default)]
struct MacStats {
    mac: [u8; 6],
    /// Unicast frames with this MAC as source or destination.
    frames: u64,
    /// Of those, frames it received.
    received: u64,
    /// Source addresses of the frames it sent, with counts (the first few).
    ips: Vec<(IpAddr, u64)>,
    /// More distinct source addresses than `ips` keeps.
    more_ips: bool,
}

/// Most MACs followed: a capture on a host sees its own, its gateway's and a few neighbours';
/// a mirror port with more is not one host's vantage point.
const MAX_MACS: usize = 64;
/// Most addresses followed as senders of outgoing packets.
const MAX_SENDERS: usize = 64;

/// Evidence from the link layer about which host captured (SPEC §2 "Local host"): Linux
/// cooked captures mark the packets the host sent (`outgoing`); on Ethernet the capturing
/// host's MAC is on every unicast frame. Bounded: a few dozen MACs and senders, kept in small
/// vectors (a handful in any real capture, so a linear search beats hashing).
#[derive(Debug, Clone, Default)]
pub struct LinkEvidence {
    outgoing: Vec<(IpAddr, u64)>,
    macs: Vec<MacStats>,
    unicast: u64,
    /// Packets offered.
    seen: u64,
}

/// Packets of a capture whose link-layer facts are all taken (see [`LinkEvidence::add`]).
pub const LINK_FULL: u64 = 1 << 18;
/// Beyond [`LINK_FULL`], one packet in this many is taken.
pub const LINK_SAMPLE: u64 = 64;

impl LinkEvidence {
    /// Takes one packet's link-layer facts: every packet of the first [`LINK_FULL`], then one
    /// in [`LINK_SAMPLE`] (shares and the addresses behind a MAC are what count, and a long
    /// capture would otherwise pay for them on every packet).
    #[inline]
    pub fn add(&mut self, p: &crate::decode::Packet<'_>) {
        use crate::decode::LinkDir;
        self.seen += 1;
        if self.seen > LINK_FULL && self.seen % LINK_SAMPLE != 0 {
            return;
        }
        if p.link.dir == LinkDir::Outgoing {
            if let Some((_, n)) = self.outgoing.iter_mut().find(|(ip, _)| *ip == p.src) {
                *n += 1;
            } else if self.outgoing.len() < MAX_SENDERS {
                self.outgoing.push((p.src, 1));
            }
        }
        if let Some((src, dst)) = p.link.macs {
            if p.link.unicast() {
                self.unicast += 1;
                if let Some(m) = self.mac(src) {
                    m.frames += 1;
                    if !m.more_ips {
                        if let Some((_, c)) = m.ips.iter_mut().find(|(a, _)| *a == p.src) {
                            *c += 1;
                        } else if m.ips.len() < MAX_IPS_PER_MAC {
                            m.ips.push((p.src, 1));
                        } else {
                            m.more_ips = true;
                        }
                    }
                }
                if let Some(m) = self.mac(dst) {
                    m.frames += 1;
                    m.received += 1;
                }
            }
        }
    }

    fn mac(&mut self, mac: [u8; 6]) -> Option<&mut MacStats> {
        match self.macs.iter().position(|m| m.mac == mac) {
            Some(i) => self.macs.get_mut(i),
            None if self.macs.len() < MAX_MACS => {
                self.macs.push(MacStats {
                    mac,
                    ..MacStats::default()
                });
                self.macs.last_mut()
            }
            None => None,
        }
    }

    /// The vantage point the link layer points to, among `candidates` (ranked by partners).
    pub fn vantage(&self, candidates: &[(IpAddr, u64)]) -> Option<(IpAddr, LocalHow)> {
        let e = self;
        let rank = |ip: &IpAddr| candidates.iter().position(|(c, _)| c == ip);
        // Cooked captures: the sender of outgoing packets (of several, the best-ranked).
        let senders: Vec<(IpAddr, u64)> = e
            .outgoing
            .iter()
            .filter(|(ip, _)| is_unicast_host(*ip))
            .copied()
            .collect();
        if let Some(&(ip, n)) = senders
            .iter()
            .filter(|(ip, _)| rank(ip).is_some())
            .min_by_key(|(ip, n)| (rank(ip), std::cmp::Reverse(*n)))
        {
            return Some((ip, LocalHow::CookedOutgoing { packets: n }));
        }
        // Ethernet: MACs on (nearly) every unicast frame; the host's is the one with a single
        // address behind it (a gateway's MAC carries every remote address).
        if e.unicast < MIN_MAC_FRAMES {
            return None;
        }
        let single: Vec<&MacStats> = e
            .macs
            .iter()
            .filter(|m| m.frames as f64 >= MAC_ON_EVERY_FRAME * e.unicast as f64)
            // It must have sent and received: one frame's sender is not yet a vantage point.
            .filter(|m| !m.more_ips && m.ips.len() == 1 && m.received > 0)
            .collect();
        // Two hosts talking only to each other both qualify: the MAC does not decide.
        if single.len() != 1 {
            return None;
        }
        let m = single[0];
        let (ip, _) = m.ips.first()?;
        (rank(ip).is_some() && is_unicast_host(*ip)).then_some((
            *ip,
            LocalHow::EthernetMac {
                mac: m.mac,
                frames: m.frames,
                unicast: e.unicast,
            },
        ))
    }
}

/// Whether an address can be a vantage point or peer (not loopback, multicast, broadcast or
/// unspecified).
pub fn is_unicast_host(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified())
        }
        IpAddr::V6(v6) => !(v6.is_loopback() || v6.is_multicast() || v6.is_unspecified()),
    }
}

/// Local-host candidates: addresses ranked by the number of distinct remote addresses they
/// exchange peer traffic with (UDP, uTP, peer TCP; infrastructure ports excluded); ties go to
/// a private address over a public one (a viewer behind a home router), then to the address
/// that receives a stream rather than sends it (more than [`MIN_NET_RECEIVED`] bytes more in
/// than out: a leaf, not its parent in a tree), then to more packets. Falls back to any IP traffic
/// when no peer traffic exists. Returns (address, distinct partners).
pub fn candidates(pairs: &[PairStats]) -> Vec<(IpAddr, u64)> {
    // (partners, receives more than it sends, private, packets)
    let mut degree: FastMap<IpAddr, (u64, i64, u64)> = FastMap::default();
    let udp_exists = pairs.iter().any(PairStats::has_peer_traffic);
    // Loopback addresses are candidates only in a capture with no other host.
    let only_loopback = pairs.iter().all(|p| p.a.is_loopback() && p.b.is_loopback());
    for pair in pairs {
        if udp_exists && !pair.has_peer_traffic() {
            continue;
        }
        let packets = pair.dir[0].packets + pair.dir[1].packets;
        for (side, ip) in [pair.a, pair.b].into_iter().enumerate() {
            if is_unicast_host(ip) || (only_loopback && ip.is_loopback()) {
                let received = pair.dir[1 - side].ip_bytes as i64;
                let sent = pair.dir[side].ip_bytes as i64;
                let e = degree.entry(ip).or_insert((0, 0, 0));
                e.0 += 1;
                e.1 = e.1.saturating_add(received - sent);
                e.2 += packets;
            }
        }
    }
    let mut ranked: Vec<(IpAddr, (u64, i64, u64))> = degree.into_iter().collect();
    ranked.sort_by(|x, y| {
        let key = |(ip, (d, net, packets)): &(IpAddr, (u64, i64, u64))| {
            (*d, is_private(*ip), *net > MIN_NET_RECEIVED, *packets)
        };
        key(y).cmp(&key(x)).then(x.0.cmp(&y.0))
    });
    ranked.into_iter().map(|(ip, (d, _, _))| (ip, d)).collect()
}

/// True for an address of a private or local range: RFC 1918, RFC 6598 shared, link-local,
/// IPv6 unique-local (RFC 4193) and link-local. A viewer usually sits behind such an address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || v4.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

/// The exact histogram of one transport's peer sizes sent and received by `local`.
pub fn local_sizes(pairs: &[PairStats], local: IpAddr, t: PeerTransport) -> SizeHist {
    let mut hist = SizeHist::default();
    for pair in pairs.iter().filter(|p| p.a == local || p.b == local) {
        hist.merge(pair.dir[0].sizes(t));
        hist.merge(pair.dir[1].sizes(t));
    }
    hist
}

/// Where the warm-up is.
#[derive(Debug, Clone)]
enum Stage {
    /// Records wait for a decision; the warm-up ends by `limit` records at the latest.
    Buffering { records: WarmBuffer, limit: usize },
    /// Decided: records are classified as they come.
    Streaming(Decision),
}

/// The warm-up state machine: buffering until a provisional decision, then streaming.
#[derive(Debug, Clone)]
pub struct Warmup {
    given: Given,
    pinned: Option<Decision>,
    stage: Stage,
}

/// Records to classify now, and the decision to classify them with.
pub(crate) type Release = (Decision, WarmBuffer);

impl Warmup {
    /// A warm-up that needs no buffering when a first pass pinned the decision.
    pub fn new(given: Given, pinned: Option<Decision>, limit: usize) -> Self {
        // The user's values fix the local host and the UDP threshold, but the uTP and TCP
        // thresholds still come from the data: only a first pass's decision skips the warm-up.
        let decided = pinned.map(|p| Decision {
            local: given.local.unwrap_or(p.local),
            threshold: given.video_min.or(p.threshold),
            ..p
        });
        let stage = match decided {
            Some(d) => Stage::Streaming(d),
            None => Stage::Buffering {
                records: WarmBuffer::default(),
                limit,
            },
        };
        Warmup {
            given,
            pinned,
            stage,
        }
    }

    /// What the user gave.
    pub fn given(&self) -> Given {
        self.given
    }

    /// What a first pass pinned.
    pub fn pinned(&self) -> Option<Decision> {
        self.pinned
    }

    /// The decision records are classified with, once the warm-up has ended.
    #[inline]
    pub fn decision(&self) -> Option<Decision> {
        match self.stage {
            Stage::Streaming(d) => Some(d),
            Stage::Buffering { .. } => None,
        }
    }

    /// Takes a record while buffering; returns the buffer to replay when this record ends the
    /// warm-up. Call only when [`Warmup::decision`] is `None`.
    pub(crate) fn offer(
        &mut self,
        rec: Rec,
        pair: Option<u32>,
        pairs: &[PairStats],
        link: &LinkEvidence,
    ) -> Option<Release> {
        let Stage::Buffering { records, limit } = &mut self.stage else {
            return None;
        };
        records.push(rec, pair, pairs);
        let full = records.len() >= *limit;
        if !full && !Self::ready(records.len(), pairs, link, self.given) {
            return None;
        }
        let Some(d) = settle(pairs, link, self.given, None).decision() else {
            // No candidate yet (no IP traffic at all): keep buffering, bounded by doubling.
            if full {
                *limit = limit.saturating_mul(2);
            }
            return None;
        };
        Some(self.start_streaming(d))
    }

    /// The warm-up can end early once the provisional local host has a clear two-class size
    /// distribution with enough packets.
    fn ready(buffered: usize, pairs: &[PairStats], link: &LinkEvidence, given: Given) -> bool {
        if buffered % 8192 != 0 || buffered < 20_000 {
            return false;
        }
        let s = settle(
            pairs,
            link,
            Given {
                local: None,
                ..given
            },
            None,
        );
        let Some(t) = s.threshold else {
            return false;
        };
        if s.local.is_none() {
            return false;
        }
        let (ctrl, video) = s.hist.split(Some(t));
        ctrl.packets >= 2_000 && video.packets >= 2_000
    }

    /// Ends a warm-up that never ended by itself, with the final decision.
    pub(crate) fn end(&mut self, settled: &Settled) -> Option<Release> {
        match self.stage {
            Stage::Streaming(_) => None,
            Stage::Buffering { .. } => settled.decision().map(|d| self.start_streaming(d)),
        }
    }

    fn start_streaming(&mut self, d: Decision) -> Release {
        let old = std::mem::replace(&mut self.stage, Stage::Streaming(d));
        match old {
            Stage::Buffering { records, .. } => (d, records),
            Stage::Streaming(_) => (d, WarmBuffer::default()),
        }
    }
}
