//! The flow table: everything the metrics need, accumulated in one pass over decoded packets.
//!
//! [`Table::ingest`] takes each [`Packet`] once. What it keeps is bounded by the number of
//! address pairs (capped, see [`TableConfig::max_pairs`]) and by the capture's duration (the
//! [`timeline`] of 100 ms bins), never by the number of packets:
//!
//! - per canonical address pair ([`PairStats`], both directions in one entry): packets and IP
//!   bytes by protocol, an exact histogram of UDP payload sizes with the first time each size
//!   was seen, ports, TTLs, first and last time;
//! - names learnt from DNS answers (parsed by the caller, see [`Table::learn_name`]: packets
//!   reach the table without their payload);
//! - per loopback TCP flow, bytes per bin (the hand-over to a local media player);
//! - the timeline of the local host's traffic, split into video and control.
//!
//! The timeline is the only part that needs the local host and the size threshold while the
//! packets stream by. Unless both are given, the table buffers compact records for a warm-up,
//! picks provisional values from the exact pair statistics, replays the buffer and goes on. At
//! [`Table::finish`] the provisional choice is checked against the whole capture: if the final
//! local host differs, or a packet size lies between the provisional and final thresholds, the
//! timeline is not exact and [`Finished::needs_second_pass`] says so (the caller re-reads the
//! files with both values fixed, or warns when the input cannot be read twice).

pub mod sizes;
pub mod timeline;

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::decode::{Anomaly, Frag, Malformed, Packet, Transport};
use sizes::SizeHist;
use timeline::{LoopbackFlows, Timeline};

/// UDP ports of infrastructure services, whose partners are not peers: DNS, DHCP, NTP, mDNS,
/// SSDP (SPEC §2 "Peers contacted").
pub const INFRA_PORTS: [u16; 6] = [53, 67, 68, 123, 5353, 1900];

/// True for a port in [`INFRA_PORTS`] (a match compiles to a few compares).
#[inline]
pub fn is_infra_port(port: u16) -> bool {
    matches!(port, 53 | 67 | 68 | 123 | 5353 | 1900)
}

/// Most names kept from DNS answers.
const MAX_NAMES: usize = 65_536;
/// Most ports remembered per side of a pair.
const MAX_PORTS: usize = 16;
/// Most outstanding fragmented datagrams remembered.
const MAX_FRAGMENTS: usize = 4_096;
/// IP protocol number of UDP (RFC 768).
const UDP: u8 = 17;

/// Settings of a table.
#[derive(Debug, Clone)]
pub struct TableConfig {
    /// The vantage point, when the user named it.
    pub local: Option<IpAddr>,
    /// Smallest video payload, when the user fixed it.
    pub video_min: Option<u32>,
    /// Width of a timeline bin, nanoseconds.
    pub bin_ns: i64,
    /// Width of a series window, nanoseconds (a multiple of `bin_ns`).
    pub window_ns: i64,
    /// TCP ports on which the client serves its local player.
    pub player_ports: Vec<u16>,
    /// Most address pairs tracked; beyond, packets of new pairs go to an overflow bucket.
    pub max_pairs: usize,
    /// Records buffered before the provisional local host and threshold are chosen.
    pub warmup_records: usize,
    /// Most timeline bins (bounds memory when timestamps are far apart).
    pub max_bins: usize,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            local: None,
            video_min: None,
            bin_ns: 100_000_000,
            window_ns: 1_000_000_000,
            player_ports: vec![8902],
            max_pairs: 262_144,
            warmup_records: 200_000,
            max_bins: 1_000_000,
        }
    }
}

/// One direction of a pair.
#[derive(Debug, Clone, Default)]
pub struct DirStats {
    pub packets: u64,
    pub ip_bytes: u64,
    /// UDP payload sizes of peer traffic (infrastructure ports excluded).
    pub udp_sizes: SizeHist,
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
    pub first_ns: i64,
    pub last_ns: i64,
}

impl DirStats {
    fn touch(&mut self, ts: i64) {
        if self.packets == 0 {
            self.first_ns = ts;
            self.last_ns = ts;
        } else {
            self.first_ns = self.first_ns.min(ts);
            self.last_ns = self.last_ns.max(ts);
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
    pub ports: [Vec<u16>; 2],
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
            &self.ports[0]
        } else {
            &self.ports[1]
        }
    }
    /// True when non-infrastructure UDP crossed this pair.
    pub fn has_peer_udp(&self) -> bool {
        self.dir.iter().any(|d| d.udp_sizes.packets() > 0)
    }
    /// First and last packet in either direction.
    pub fn span(&self) -> (i64, i64) {
        let live = self.dir.iter().filter(|d| d.packets > 0);
        let first = live.clone().map(|d| d.first_ns).min().unwrap_or(0);
        let last = live.map(|d| d.last_ns).max().unwrap_or(0);
        (first, last)
    }
}

/// Adds a port to a side's short list; the common case (the port seen last) costs one compare.
#[inline]
fn remember_port(ports: &mut Vec<u16>, port: u16) {
    if ports.last() == Some(&port) || ports.len() >= MAX_PORTS || ports.contains(&port) {
        return;
    }
    ports.push(port);
}

/// The vantage point's running totals (see [`Table::live`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Live {
    pub local: Option<IpAddr>,
    /// IP bytes received and sent by the local host.
    pub down_ip_bytes: u64,
    pub up_ip_bytes: u64,
    /// IP bytes of the video received.
    pub video_down_ip_bytes: u64,
    /// Remote addresses that exchanged peer UDP with the local host.
    pub peers: u64,
    /// Peers that sent at least the given share of the video received.
    pub suppliers: u64,
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
struct DistinctSketch {
    registers: Vec<u8>,
}

impl DistinctSketch {
    const BITS: u32 = 12;

    fn add(&mut self, key: &(IpAddr, IpAddr)) {
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

    fn estimate(&self) -> u64 {
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

/// What the local host's classification needs while streaming.
#[derive(Debug, Clone, Copy)]
struct Classifier {
    local: IpAddr,
    threshold: Option<u32>,
}

/// A buffered record for the warm-up replay: only what the timeline needs.
#[derive(Debug, Clone, Copy)]
struct Rec {
    ts_ns: i64,
    src: IpAddr,
    dst: IpAddr,
    ip_len: u32,
    kind: RecKind,
}

#[derive(Debug, Clone, Copy)]
enum RecKind {
    /// A peer UDP datagram (or its first fragment) with this payload size.
    PeerUdp(u32),
    /// A later fragment of a peer datagram of this payload size.
    PeerUdpCont(u32),
    /// A UDP datagram to or from an infrastructure port (a control packet, never video).
    InfraUdp,
    /// A later UDP fragment whose first fragment was not seen (control bytes, no packet).
    UdpOrphan,
    /// Anything else.
    Other,
}

/// Counts of what the decoder made of the frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    pub decoded: u64,
    pub not_ip: u64,
    pub malformed: FxHashMap<Malformed, u64>,
    pub anomalies: FxHashMap<Anomaly, u64>,
    pub fragments: u64,
    pub filtered_out: u64,
}

impl DecodeCounts {
    /// All malformed frames.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().sum()
    }
}

/// The flow table. `Clone` so a long live capture can finish a copy for a snapshot report.
#[derive(Debug, Clone)]
pub struct Table {
    cfg: TableConfig,
    first_ns: Option<i64>,
    last_ns: i64,
    index: FxHashMap<(IpAddr, IpAddr), u32>,
    pairs: Vec<PairStats>,
    overflow: Overflow,
    overflow_pairs: DistinctSketch,
    names: FxHashMap<IpAddr, String>,
    fragments: FxHashMap<(IpAddr, IpAddr, u32), u32>,
    pub counts: DecodeCounts,
    classifier: Option<Classifier>,
    warmup: Vec<Rec>,
    timeline: Timeline,
    loopback: LoopbackFlows,
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

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

impl Table {
    /// An empty table.
    pub fn new(cfg: TableConfig) -> Self {
        let classifier = match (cfg.local, cfg.video_min) {
            (Some(local), Some(t)) => Some(Classifier {
                local,
                threshold: Some(t),
            }),
            _ => None,
        };
        let timeline = Timeline::new(cfg.bin_ns, cfg.window_ns, cfg.max_bins);
        let loopback = LoopbackFlows::new(cfg.bin_ns, cfg.max_bins);
        Table {
            cfg,
            first_ns: None,
            last_ns: i64::MIN,
            index: FxHashMap::default(),
            pairs: Vec::new(),
            overflow: Overflow::default(),
            overflow_pairs: DistinctSketch::default(),
            names: FxHashMap::default(),
            fragments: FxHashMap::default(),
            counts: DecodeCounts::default(),
            classifier,
            warmup: Vec::new(),
            timeline,
            loopback,
        }
    }

    /// Counts a frame that the decoder refused.
    pub fn malformed(&mut self, why: Malformed) {
        *self.counts.malformed.entry(why).or_insert(0) += 1;
    }

    /// Remembers a name from a DNS answer parsed elsewhere (the reading thread).
    pub fn learn_name(&mut self, ip: IpAddr, name: &str) {
        if self.names.len() < MAX_NAMES {
            self.names.entry(ip).or_insert_with(|| name.to_string());
        }
    }

    /// Counts a frame that carries no IP.
    pub fn not_ip(&mut self) {
        self.counts.not_ip += 1;
    }

    /// Counts a frame that a capture filter rejected.
    pub fn filtered_out(&mut self) {
        self.counts.filtered_out += 1;
    }

    /// Notes a timestamp of a frame that was read (decoded or not), so the capture's span
    /// covers every record.
    #[inline]
    pub fn saw_frame(&mut self, ts_ns: i64) {
        match self.first_ns {
            None => {
                self.first_ns = Some(ts_ns);
                self.timeline.set_origin(ts_ns);
                self.loopback.set_origin(ts_ns);
            }
            Some(first) if ts_ns < first => self.first_ns = Some(ts_ns),
            _ => {}
        }
        self.last_ns = self.last_ns.max(ts_ns);
    }

    /// Takes one decoded packet.
    pub fn ingest(&mut self, p: &Packet<'_>) {
        self.saw_frame(p.ts_ns);
        self.counts.decoded += 1;
        if let Some(a) = p.anomaly {
            *self.counts.anomalies.entry(a).or_insert(0) += 1;
        }
        if !matches!(p.frag, Frag::Whole) {
            self.counts.fragments += 1;
        }
        if is_loopback(p.src) && is_loopback(p.dst) {
            if let Transport::Tcp { .. } = p.transport {
                self.loopback.add(p);
            }
            // A host talking to itself (the player hand-over on 127.0.0.1) is no exchange
            // between hosts; distinct loopback addresses (test swarms on 127.0.0.0/8) are.
            if p.src == p.dst {
                return;
            }
        }
        let is_udp = p.is_udp();
        let infra = is_udp && (is_infra_port(p.sport) || is_infra_port(p.dport));
        let kind = self.rec_kind(p, is_udp, infra);
        self.pair_add(p, kind);
        let rec = Rec {
            ts_ns: p.ts_ns,
            src: p.src,
            dst: p.dst,
            ip_len: p.ip_len,
            kind,
        };
        match self.classifier {
            Some(c) => self.timeline_add(&rec, c),
            None => {
                self.warmup.push(rec);
                if self.warmup.len() >= self.cfg.warmup_records || self.warmup_ready() {
                    self.end_warmup();
                }
            }
        }
    }

    fn rec_kind(&mut self, p: &Packet<'_>, is_udp: bool, infra: bool) -> RecKind {
        match p.frag {
            Frag::First { id } if is_udp && !infra => {
                if self.fragments.len() >= MAX_FRAGMENTS {
                    self.fragments.clear();
                }
                self.fragments.insert((p.src, p.dst, id), p.payload_len);
                RecKind::PeerUdp(p.payload_len)
            }
            Frag::Later { id } => match self.fragments.get(&(p.src, p.dst, id)) {
                Some(&size) => RecKind::PeerUdpCont(size),
                None if p.transport == Transport::Other(UDP) => RecKind::UdpOrphan,
                None => RecKind::Other,
            },
            _ if is_udp && !infra => RecKind::PeerUdp(p.payload_len),
            _ if infra => RecKind::InfraUdp,
            _ => RecKind::Other,
        }
    }

    fn pair_add(&mut self, p: &Packet<'_>, kind: RecKind) {
        let (key, forward) = if p.src <= p.dst {
            ((p.src, p.dst), true)
        } else {
            ((p.dst, p.src), false)
        };
        let idx = match self.index.get(&key) {
            Some(&i) => i as usize,
            None => {
                if self.pairs.len() >= self.cfg.max_pairs {
                    self.overflow.packets += 1;
                    self.overflow.ip_bytes += u64::from(p.ip_len);
                    self.overflow.pairs_refused += 1;
                    self.overflow_pairs.add(&key);
                    return;
                }
                self.index.insert(key, self.pairs.len() as u32);
                self.pairs.push(PairStats {
                    a: key.0,
                    b: key.1,
                    dir: [DirStats::default(), DirStats::default()],
                    ports: [Vec::new(), Vec::new()],
                });
                self.pairs.len() - 1
            }
        };
        let pair = &mut self.pairs[idx];
        let (d, src_side) = if forward { (0, 0) } else { (1, 1) };
        if p.sport != 0 || p.dport != 0 {
            remember_port(&mut pair.ports[src_side], p.sport);
            remember_port(&mut pair.ports[1 - src_side], p.dport);
        }
        let dir = &mut pair.dir[d];
        dir.touch(p.ts_ns);
        dir.packets += 1;
        dir.ip_bytes += u64::from(p.ip_len);
        dir.ttl_max = dir.ttl_max.max(p.ttl);
        match kind {
            RecKind::PeerUdp(size) => dir.udp_sizes.add(size, p.ip_len, p.ts_ns),
            RecKind::PeerUdpCont(size) => dir.udp_sizes.add_bytes(size, p.ip_len),
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
    }

    fn timeline_add(&mut self, rec: &Rec, c: Classifier) {
        let down = rec.dst == c.local;
        if !down && rec.src != c.local {
            return;
        }
        let peer = if down { rec.src } else { rec.dst };
        let is_video = |size: u32| c.threshold.is_some_and(|t| size >= t);
        match rec.kind {
            RecKind::PeerUdp(size) if is_video(size) => self
                .timeline
                .add_video(rec.ts_ns, down, rec.ip_len, size, true, peer),
            RecKind::PeerUdpCont(size) if is_video(size) => self
                .timeline
                .add_video(rec.ts_ns, down, rec.ip_len, 0, false, peer),
            RecKind::PeerUdp(_) | RecKind::InfraUdp => {
                self.timeline.add_control(rec.ts_ns, down, rec.ip_len, true)
            }
            RecKind::PeerUdpCont(_) | RecKind::UdpOrphan => self
                .timeline
                .add_control(rec.ts_ns, down, rec.ip_len, false),
            RecKind::Other => self.timeline.add_other(rec.ts_ns, down, rec.ip_len),
        }
    }

    /// The warm-up can end early once the provisional local host has a clear two-class
    /// size distribution with enough packets.
    fn warmup_ready(&self) -> bool {
        if self.warmup.len() % 8192 != 0 || self.warmup.len() < 20_000 {
            return false;
        }
        let Some((local, _)) = self.infer_local().first().copied() else {
            return false;
        };
        let hist = self.local_sizes(local);
        let Some(t) = self.cfg.video_min.or_else(|| sizes::otsu_threshold(&hist)) else {
            return false;
        };
        let (ctrl, video) = hist.split(Some(t));
        ctrl.packets >= 2_000 && video.packets >= 2_000
    }

    fn end_warmup(&mut self) {
        let local = match self.cfg.local {
            Some(l) => Some(l),
            None => self.infer_local().first().map(|(ip, _)| *ip),
        };
        let Some(local) = local else {
            // No candidate yet (no IP traffic at all): keep buffering, bounded by doubling.
            if self.warmup.len() >= self.cfg.warmup_records {
                self.cfg.warmup_records = self.cfg.warmup_records.saturating_mul(2);
            }
            return;
        };
        let threshold = self
            .cfg
            .video_min
            .or_else(|| sizes::otsu_threshold(&self.local_sizes(local)));
        let c = Classifier { local, threshold };
        self.classifier = Some(c);
        let buffered = std::mem::take(&mut self.warmup);
        for rec in &buffered {
            self.timeline_add(rec, c);
        }
    }

    /// Local-host candidates: addresses ranked by the number of distinct remote addresses they
    /// exchange peer UDP with (infrastructure ports excluded), then by packets. Falls back to
    /// any IP traffic when no peer UDP exists. Returns (address, distinct partners).
    pub fn infer_local(&self) -> Vec<(IpAddr, u64)> {
        let mut degree: FxHashMap<IpAddr, (u64, u64)> = FxHashMap::default();
        let udp_exists = self.pairs.iter().any(PairStats::has_peer_udp);
        // Loopback addresses are candidates only in a capture with no other host.
        let only_loopback = self
            .pairs
            .iter()
            .all(|p| is_loopback(p.a) && is_loopback(p.b));
        for pair in &self.pairs {
            if udp_exists && !pair.has_peer_udp() {
                continue;
            }
            let packets = pair.dir[0].packets + pair.dir[1].packets;
            for ip in [pair.a, pair.b] {
                if is_unicast_host(ip) || (only_loopback && is_loopback(ip)) {
                    let e = degree.entry(ip).or_insert((0, 0));
                    e.0 += 1;
                    e.1 += packets;
                }
            }
        }
        let mut ranked: Vec<(IpAddr, (u64, u64))> = degree.into_iter().collect();
        ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        ranked.into_iter().map(|(ip, (d, _))| (ip, d)).collect()
    }

    /// The exact histogram of peer UDP payload sizes sent and received by `local`.
    pub fn local_sizes(&self, local: IpAddr) -> SizeHist {
        let mut hist = SizeHist::default();
        for pair in self.pairs_of(local) {
            hist.merge(&pair.dir[0].udp_sizes);
            hist.merge(&pair.dir[1].udp_sizes);
        }
        hist
    }

    /// Pairs in which `local` takes part.
    pub fn pairs_of(&self, local: IpAddr) -> impl Iterator<Item = &PairStats> {
        self.pairs
            .iter()
            .filter(move |p| p.a == local || p.b == local)
    }

    /// Running totals of the vantage point so far, for a live status line: the local host and
    /// threshold are the provisional ones (or the best guess before the warm-up ends). Costs a
    /// walk over the pairs, so call it about once a second, not per packet. A supplier is a peer
    /// that sent at least `supplier_share` of the video received (the metrics layer's rule).
    pub fn live(&self, supplier_share: f64) -> Live {
        let local = self
            .classifier
            .map(|c| c.local)
            .or(self.cfg.local)
            .or_else(|| self.infer_local().first().map(|(ip, _)| *ip));
        let Some(local) = local else {
            return Live::default();
        };
        let threshold = match self.classifier {
            Some(c) => c.threshold,
            None => self
                .cfg
                .video_min
                .or_else(|| sizes::otsu_threshold(&self.local_sizes(local))),
        };
        let mut live = Live {
            local: Some(local),
            ..Live::default()
        };
        let mut video_in = Vec::new();
        for pair in self.pairs_of(local) {
            let other = pair.other(local);
            let down = pair.sent_by(other);
            live.down_ip_bytes += down.ip_bytes;
            live.up_ip_bytes += pair.sent_by(local).ip_bytes;
            if pair.has_peer_udp() {
                live.peers += 1;
            }
            let (_, video) = down.udp_sizes.split(threshold);
            live.video_down_ip_bytes += video.ip_bytes;
            video_in.push(video.payload_bytes);
        }
        let total: u64 = video_in.iter().sum();
        live.suppliers = video_in
            .iter()
            .filter(|&&b| b > 0 && b as f64 >= supplier_share * total as f64)
            .count() as u64;
        live
    }

    /// Ends the pass: settles the local host and threshold and checks the provisional ones.
    pub fn finish(mut self) -> Finished {
        let candidates = self.infer_local();
        let local = self
            .cfg
            .local
            .or_else(|| candidates.first().map(|(ip, _)| *ip));
        let hist = local.map(|l| self.local_sizes(l)).unwrap_or_default();
        let threshold = self.cfg.video_min.or_else(|| sizes::otsu_threshold(&hist));
        if self.classifier.is_none() {
            if let Some(local) = local {
                // The warm-up never ended: classify the buffer with the final values.
                let c = Classifier { local, threshold };
                self.classifier = Some(c);
                let buffered = std::mem::take(&mut self.warmup);
                for rec in &buffered {
                    self.timeline_add(rec, c);
                }
            }
        }
        self.timeline.flush();
        let provisional = self.classifier;
        let needs_second_pass = match (provisional, local) {
            (Some(p), Some(l)) => {
                p.local != l
                    || match (p.threshold, threshold) {
                        (Some(a), Some(b)) => hist.any_in(a.min(b), a.max(b)),
                        (None, None) => false,
                        _ => hist.packets() > 0,
                    }
            }
            _ => false,
        };
        Finished {
            first_ns: self.first_ns.unwrap_or(0),
            last_ns: if self.first_ns.is_some() {
                self.last_ns
            } else {
                0
            },
            local,
            local_given: self.cfg.local.is_some(),
            candidates,
            threshold,
            threshold_given: self.cfg.video_min.is_some(),
            hist,
            pairs: self.pairs,
            overflow: Overflow {
                pairs: self.overflow_pairs.estimate(),
                ..self.overflow
            },
            names: self.names,
            counts: self.counts,
            timeline: self.timeline,
            loopback: self.loopback,
            player_ports: self.cfg.player_ports,
            provisional_local: provisional.map(|p| p.local),
            needs_second_pass,
        }
    }
}

impl Finished {
    /// Pairs in which the local host takes part (none without a local host).
    pub fn pairs_of_local(&self) -> impl Iterator<Item = &PairStats> {
        let local = self.local;
        self.pairs
            .iter()
            .filter(move |p| local.is_some_and(|l| p.a == l || p.b == l))
    }
}

/// The table after the last packet: what the metrics read.
#[derive(Debug)]
pub struct Finished {
    pub first_ns: i64,
    pub last_ns: i64,
    pub local: Option<IpAddr>,
    pub local_given: bool,
    /// Ranked candidates with their number of distinct UDP partners.
    pub candidates: Vec<(IpAddr, u64)>,
    pub threshold: Option<u32>,
    pub threshold_given: bool,
    /// Peer UDP payload sizes of the local host, both directions.
    pub hist: SizeHist,
    pub pairs: Vec<PairStats>,
    pub overflow: Overflow,
    pub names: FxHashMap<IpAddr, String>,
    pub counts: DecodeCounts,
    pub timeline: Timeline,
    pub loopback: LoopbackFlows,
    pub player_ports: Vec<u16>,
    pub provisional_local: Option<IpAddr>,
    /// The timeline was classified with a provisional local host or threshold that the whole
    /// capture contradicts; it is exact only after a second pass with both fixed.
    pub needs_second_pass: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Transport;

    fn udp(ts_ns: i64, src: [u8; 4], dst: [u8; 4], payload_len: u32) -> Packet<'static> {
        Packet {
            ts_ns,
            src: IpAddr::from(src),
            dst: IpAddr::from(dst),
            ttl: 64,
            ip_len: payload_len + 28,
            transport: Transport::Udp,
            sport: 40_000,
            dport: 40_001,
            payload_len,
            payload: &[],
            frag: Frag::Whole,
            anomaly: None,
        }
    }

    /// Two suppliers (3:1) send 1320-byte video to 192.0.2.10, which acks every packet.
    fn exchange(t: &mut Table, packets: std::ops::Range<i64>) {
        let client = [192, 0, 2, 10];
        for i in packets {
            let from = if i % 4 == 3 {
                [192, 0, 2, 3]
            } else {
                [192, 0, 2, 2]
            };
            t.ingest(&udp(i * 1_000_000, from, client, 1320));
            t.ingest(&udp(i * 1_000_000 + 500, client, from, 28));
        }
    }

    #[test]
    fn live_counts_the_vantage_point() {
        let mut t = Table::new(TableConfig::default());
        assert_eq!(t.live(0.01), Live::default());
        exchange(&mut t, 0..400);
        let live = t.live(0.01);
        assert_eq!(live.local, Some(IpAddr::from([192, 0, 2, 10])));
        assert_eq!(live.down_ip_bytes, 400 * 1348);
        assert_eq!(live.up_ip_bytes, 400 * 56);
        assert_eq!(live.video_down_ip_bytes, 400 * 1348);
        assert_eq!(live.peers, 2);
        assert_eq!(live.suppliers, 2);
        // A supplier below the share is a peer but not a supplier.
        assert_eq!(t.live(0.3).suppliers, 1);
    }

    #[test]
    fn finishing_a_copy_leaves_the_table_as_it_was() {
        let mut a = Table::new(TableConfig::default());
        let mut b = Table::new(TableConfig::default());
        exchange(&mut a, 0..300);
        exchange(&mut b, 0..300);
        let snap = a.clone().finish();
        assert_eq!(snap.counts.decoded, 600);
        exchange(&mut a, 300..600);
        exchange(&mut b, 300..600);
        let (fa, fb) = (a.finish(), b.finish());
        assert_eq!(fa.counts, fb.counts);
        assert_eq!(fa.local, fb.local);
        assert_eq!(fa.threshold, fb.threshold);
        assert_eq!(fa.timeline.bins(), fb.timeline.bins());
        assert_eq!(fa.timeline.suppliers(), fb.timeline.suppliers());
    }
}

#[cfg(test)]
mod sketch_tests {
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
