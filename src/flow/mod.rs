//! The flow table: everything the metrics need, accumulated in one pass over decoded packets.
//!
//! Its parts, one concern each: [`pairs`] (per address pair, capped, with the overflow
//! sketch), `fragments` (IP fragments attributed to their datagram), `names` (from DNS
//! answers), [`classify`] (the local host and the video threshold, and the warm-up that decides
//! them while streaming), [`timeline`] (the local host's traffic per 100 ms bin, and the
//! loopback flows of the player hand-over) and [`sizes`] (exact payload-size histograms).
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

pub mod churn;
pub mod classify;
pub mod conns;
pub(crate) mod fragments;
pub(crate) mod names;
pub mod pairs;
pub mod rtt;
pub mod sizes;
pub mod timeline;
pub mod timing;

use std::net::IpAddr;

use crate::hash::FastMap;

use crate::decode::{Anomaly, Frag, Malformed, Packet, Transport};
use crate::time::Timestamp;
pub use classify::{
    is_unicast_host, is_video, Decision, Given, PeerTransport, Settled, Thresholds,
};
use classify::{LinkEvidence, Warmup};
use fragments::Fragments;
use names::Names;
use pairs::PairTable;
pub use pairs::{DirStats, Overflow, PairStats};
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

/// Below this, a TCP port is a well-known service's (IANA system ports, RFC 6335 §6): TCP with
/// such a port on either side (web, mail, DNS over TCP) is not peer traffic. P2P clients
/// (BitTorrent, PPLive, TVAnts, Ace Stream) listen on registered or dynamic ports.
pub const FIRST_PEER_TCP_PORT: u16 = 1024;

/// True for a TCP segment between two peer ports (see [`FIRST_PEER_TCP_PORT`]).
#[inline]
pub fn is_peer_tcp(sport: u16, dport: u16) -> bool {
    sport >= FIRST_PEER_TCP_PORT && dport >= FIRST_PEER_TCP_PORT
}

/// Settings of a table.
#[derive(Debug, Clone)]
pub struct TableConfig {
    /// What the user fixed: the vantage point (`--local`) and the smallest video payload
    /// (`--video-min`).
    pub given: Given,
    /// The decision a first pass settled on: a second pass classifies with it from the first
    /// packet instead of deciding again (kept apart from `given`: the report still says what
    /// was given and what was inferred).
    pub pinned: Option<Decision>,
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
    /// Most 5-tuple flows tracked for `--flows` ([`conns`]); 0 (the default) tracks none.
    pub max_conns: usize,
    /// A peer silent for longer than this ends its session ([`churn`]; `--idle-timeout`).
    pub idle_timeout_ns: i64,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            given: Given::default(),
            pinned: None,
            bin_ns: 100_000_000,
            window_ns: 1_000_000_000,
            player_ports: vec![8902, 6878],
            max_pairs: 262_144,
            warmup_records: 200_000,
            max_bins: 1_000_000,
            max_conns: 0,
            idle_timeout_ns: churn::DEFAULT_IDLE_TIMEOUT_NS,
        }
    }
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

/// A record of what the timeline needs of a packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec {
    ts: Timestamp,
    src: IpAddr,
    dst: IpAddr,
    ip_len: u32,
    kind: RecKind,
}

impl Rec {
    /// The record of packet `p`, of final kind `kind`.
    #[inline]
    fn of(p: &Packet<'_>, kind: RecKind) -> Self {
        Rec {
            ts: p.ts,
            src: p.src,
            dst: p.dst,
            ip_len: p.ip_len,
            kind,
        }
    }
}

/// A [`Rec`] as the warm-up buffers it: its addresses are those of its pair, named by index
/// (32 bytes instead of 64: the warm-up buffer of each client in gateway mode is most of its
/// memory). A record whose pair was not tracked (the table was full) keeps its addresses
/// beside the buffer ([`WarmBuffer::loose`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WarmRec {
    ts: Timestamp,
    ip_len: u32,
    /// The pair's index, or [`WarmRec::LOOSE`] plus an index into the loose addresses.
    who: u32,
    /// The packet went from the pair's `a` to its `b`.
    forward: bool,
    kind: RecKind,
}

impl WarmRec {
    const LOOSE: u32 = 1 << 31;
}

/// The records of a warm-up, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct WarmBuffer {
    records: Vec<WarmRec>,
    /// (source, destination) of the records whose pair was not tracked.
    loose: Vec<(IpAddr, IpAddr)>,
}

impl WarmBuffer {
    /// Buffered records.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Buffers `rec`, of pair `pair` (`None`: not tracked).
    pub(crate) fn push(&mut self, rec: Rec, pair: Option<u32>, pairs: &[PairStats]) {
        let tracked = pair
            .filter(|&i| i < WarmRec::LOOSE)
            .and_then(|i| Some((i, pairs.get(i as usize)?)));
        let (who, forward) = match tracked {
            Some((i, p)) if (p.a, p.b) == (rec.src, rec.dst) => (i, true),
            Some((i, p)) if (p.b, p.a) == (rec.src, rec.dst) => (i, false),
            _ => {
                // 2^31 loose records would be 64 GB of buffer: the warm-up's own limit
                // (`--max-pairs` is at most 2^26, and records are bounded) ends long before.
                let i = u32::try_from(self.loose.len())
                    .unwrap_or(u32::MAX)
                    .min(WarmRec::LOOSE - 1);
                self.loose.push((rec.src, rec.dst));
                (WarmRec::LOOSE | i, true)
            }
        };
        self.records.push(WarmRec {
            ts: rec.ts,
            ip_len: rec.ip_len,
            who,
            forward,
            kind: rec.kind,
        });
    }

    /// The records, with their addresses again (`pairs`: the table the indices name).
    pub(crate) fn replay<'a>(&'a self, pairs: &'a [PairStats]) -> impl Iterator<Item = Rec> + 'a {
        self.records.iter().filter_map(move |w| {
            let (src, dst) = if w.who & WarmRec::LOOSE != 0 {
                *self.loose.get((w.who & !WarmRec::LOOSE) as usize)?
            } else {
                let p = pairs.get(w.who as usize)?;
                if w.forward {
                    (p.a, p.b)
                } else {
                    (p.b, p.a)
                }
            };
            Some(Rec {
                ts: w.ts,
                src,
                dst,
                ip_len: w.ip_len,
                kind: w.kind,
            })
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum RecKind {
    /// A peer UDP datagram (or its first fragment) with this payload size.
    PeerUdp(u32),
    /// A later fragment of a peer datagram of this payload size.
    PeerUdpCont(u32),
    /// A uTP packet (on a peer UDP port) with this much data past its header, and its
    /// connection id and sequence number.
    PeerUtp(u32, u16, u16),
    /// A peer TCP segment with this much payload.
    PeerTcp(u32),
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
    pub malformed: FastMap<Malformed, u64>,
    pub anomalies: FastMap<Anomaly, u64>,
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
    /// First and last timestamp of any frame read.
    span: Option<(Timestamp, Timestamp)>,
    pairs: PairTable,
    names: Names,
    fragments: Fragments,
    pub counts: DecodeCounts,
    warmup: Warmup,
    link: LinkEvidence,
    self_traffic: SelfTraffic,
    timeline: Timeline,
    timing: timing::MessageTiming,
    loopback: LoopbackFlows,
    conns: conns::Conns,
}

/// Packets and IP bytes of a host's traffic with itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelfTraffic {
    pub packets: u64,
    pub ip_bytes: u64,
}

impl Table {
    /// An empty table.
    pub fn new(cfg: TableConfig) -> Self {
        let warmup = Warmup::new(cfg.given, cfg.pinned, cfg.warmup_records);
        let mut timeline = Timeline::new(cfg.bin_ns, cfg.window_ns, cfg.max_bins);
        timeline.set_idle_timeout(cfg.idle_timeout_ns);
        let loopback = LoopbackFlows::new(cfg.bin_ns, cfg.max_bins);
        let conns = conns::Conns::new(cfg.max_conns);
        Table {
            cfg,
            span: None,
            pairs: PairTable::default(),
            names: Names::default(),
            fragments: Fragments::default(),
            counts: DecodeCounts::default(),
            warmup,
            link: LinkEvidence::default(),
            self_traffic: SelfTraffic::default(),
            timeline,
            timing: timing::MessageTiming::default(),
            loopback,
            conns,
        }
    }

    /// Address pairs tracked so far (gateway mode draws every client's table from one budget).
    #[inline]
    pub fn pairs_tracked(&self) -> usize {
        self.pairs.pairs.len()
    }

    /// Sets the most address pairs the table may hold from now on; pairs already tracked stay
    /// (gateway mode lowers it as the shared budget is drawn down).
    #[inline]
    pub fn set_max_pairs(&mut self, max_pairs: usize) {
        self.cfg.max_pairs = max_pairs;
    }

    /// Counts a frame that the decoder refused.
    pub fn malformed(&mut self, why: Malformed) {
        *self.counts.malformed.entry(why).or_insert(0) += 1;
    }

    /// Remembers a name from a DNS answer parsed elsewhere (the reading thread).
    pub fn learn_name(&mut self, ip: IpAddr, name: &str) {
        self.names.learn(ip, name);
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
    pub fn saw_frame(&mut self, ts: Timestamp) {
        match &mut self.span {
            None => {
                self.span = Some((ts, ts));
                self.timeline.set_origin(ts);
                self.loopback.set_origin(ts);
            }
            Some((first, last)) => {
                *first = (*first).min(ts);
                *last = (*last).max(ts);
            }
        }
    }

    /// Takes one decoded packet.
    pub fn ingest(&mut self, p: &Packet<'_>) {
        self.saw_frame(p.ts);
        self.counts.decoded += 1;
        if let Some(a) = p.anomaly {
            *self.counts.anomalies.entry(a).or_insert(0) += 1;
        }
        if !matches!(p.frag, Frag::Whole) {
            self.counts.fragments += 1;
        }
        self.conns.add(p);
        let (lo_src, lo_dst) = (p.src.is_loopback(), p.dst.is_loopback());
        if lo_src && lo_dst {
            if let Transport::Tcp { .. } = p.transport {
                self.loopback.add(p);
            }
        }
        // A host talking to itself — the player hand-over on 127.0.0.1, a client dialling its
        // own address (webtorrent and libtorrent do, over lo), loopback to one of its own
        // addresses — is no exchange between hosts; distinct loopback addresses (test swarms
        // on 127.0.0.0/8) are.
        if p.src == p.dst || lo_src != lo_dst {
            if !(lo_src && lo_dst) {
                self.self_traffic.packets += 1;
                self.self_traffic.ip_bytes += u64::from(p.ip_len);
            }
            return;
        }
        self.link.add(p);
        let udp = p.is_udp();
        let infra = udp && (is_infra_port(p.sport) || is_infra_port(p.dport));
        let kind = self.fragments.kind(p, udp, infra);
        let (kind, pair) = self.pairs.add(p, kind, self.cfg.max_pairs);
        let rec = Rec::of(p, kind);
        match self.warmup.decision() {
            Some(d) => timeline_add(&mut self.timeline, &mut self.timing, &rec, d),
            None => {
                if let Some((d, buffered)) =
                    self.warmup.offer(rec, pair, &self.pairs.pairs, &self.link)
                {
                    for rec in buffered.replay(&self.pairs.pairs) {
                        timeline_add(&mut self.timeline, &mut self.timing, &rec, d);
                    }
                }
            }
        }
    }

    /// Running totals of the vantage point so far, for a live status line: the local host and
    /// threshold are the provisional ones (or the best guess before the warm-up ends). Costs a
    /// walk over the pairs, so call it about once a second, not per packet. A supplier is a peer
    /// that sent at least `supplier_share` of the video received (the metrics layer's rule).
    pub fn live(&self, supplier_share: f64) -> Live {
        let decision = self.warmup.decision().or_else(|| {
            classify::settle(
                &self.pairs.pairs,
                &self.link,
                self.cfg.given,
                self.cfg.pinned,
            )
            .decision()
        });
        let Some(d) = decision else {
            return Live::default();
        };
        let local = d.local;
        let thresholds = d.thresholds();
        let mut live = Live {
            local: Some(local),
            ..Live::default()
        };
        let mut video_in = Vec::new();
        for pair in self.pairs.pairs_of(local) {
            let other = pair.other(local);
            let down = pair.sent_by(other);
            live.down_ip_bytes += down.ip_bytes;
            live.up_ip_bytes += pair.sent_by(local).ip_bytes;
            if pair.has_peer_traffic() {
                live.peers += 1;
            }
            let (_, video) = down.split(&thresholds);
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

    /// Ends the pass: settles the local host and threshold over the whole capture and checks
    /// the provisional ones.
    pub fn finish(mut self) -> Finished {
        let settled = classify::settle(
            &self.pairs.pairs,
            &self.link,
            self.cfg.given,
            self.cfg.pinned,
        );
        if let Some((d, buffered)) = self.warmup.end(&settled) {
            // The warm-up never ended: classify the buffer with the final decision.
            for rec in buffered.replay(&self.pairs.pairs) {
                timeline_add(&mut self.timeline, &mut self.timing, &rec, d);
            }
        }
        self.timeline.flush();
        let provisional = self.warmup.decision();
        let needs_second_pass = match (provisional, settled.local) {
            (Some(p), Some(l)) => {
                let (was, is) = (p.thresholds(), settled.thresholds());
                p.local != l
                    || PeerTransport::ALL.into_iter().any(|t| {
                        let hist = settled.hist_of(t);
                        match (was.of(t), is.of(t)) {
                            (Some(a), Some(b)) => hist.any_in(a.min(b), a.max(b)),
                            (None, None) => false,
                            _ => hist.packets() > 0,
                        }
                    })
            }
            _ => false,
        };
        let (first, last) = self.span.unwrap_or_default();
        let overflow = self.pairs.overflow();
        Finished {
            first,
            last,
            local: settled.local,
            given: self.cfg.given,
            local_how: settled.how,
            candidates: settled.candidates,
            threshold: settled.threshold,
            hist: settled.hist,
            utp: settled.utp,
            tcp: settled.tcp,
            self_traffic: self.self_traffic,
            pairs: self.pairs.pairs,
            overflow,
            names: self.names.into_map(),
            counts: self.counts,
            timeline: self.timeline,
            timing: self.timing,
            loopback: self.loopback,
            player_ports: self.cfg.player_ports,
            provisional_local: provisional.map(|p| p.local),
            needs_second_pass,
            conns: self.conns.finish(),
        }
    }
}

/// Puts a record of the local host's traffic on the timeline, classified by `d`, and its
/// peer messages on the message timing.
fn timeline_add(
    timeline: &mut Timeline,
    timing: &mut timing::MessageTiming,
    rec: &Rec,
    d: Decision,
) {
    let down = rec.dst == d.local;
    if !down && rec.src != d.local {
        return;
    }
    let peer = if down { rec.src } else { rec.dst };
    let video = match rec.kind {
        RecKind::PeerUdp(size) | RecKind::PeerUdpCont(size) => d.is_video(size),
        RecKind::PeerUtp(len, ..) => is_video(d.utp_threshold, len),
        RecKind::PeerTcp(len) => is_video(d.tcp_threshold, len),
        _ => false,
    };
    // Message timing: whole packets of peer traffic only.
    match (rec.kind, down, video) {
        (RecKind::PeerUdp(_) | RecKind::PeerUtp(..) | RecKind::PeerTcp(_), true, true) => {
            timing.video_in(peer, rec.ts)
        }
        (RecKind::PeerUtp(0, ..) | RecKind::PeerTcp(0), false, _) => {
            timing.sent(peer, rec.ts, timing::Sent::TransportAck)
        }
        (RecKind::PeerUdp(_) | RecKind::PeerUtp(..) | RecKind::PeerTcp(_), false, false) => {
            timing.sent(peer, rec.ts, timing::Sent::Control)
        }
        _ => {}
    }
    // Sessions and reciprocity (issue 18): peer traffic only, its video by the same rule.
    let peer_video = match rec.kind {
        RecKind::PeerUdp(size) if video => Some(size),
        RecKind::PeerUtp(len, ..) | RecKind::PeerTcp(len) if video => Some(len),
        RecKind::PeerUdp(_) | RecKind::PeerUtp(..) | RecKind::PeerTcp(_) => Some(0),
        _ => None,
    };
    if let Some(v) = peer_video {
        timeline.see_peer(rec.ts, peer, down, v);
    }
    match rec.kind {
        RecKind::PeerUdp(size) if video => {
            timeline.add_video(rec.ts, down, rec.ip_len, size, true, peer)
        }
        RecKind::PeerUdpCont(_) if video => {
            timeline.add_video(rec.ts, down, rec.ip_len, 0, false, peer)
        }
        RecKind::PeerUtp(len, ..) | RecKind::PeerTcp(len) if video => {
            timeline.add_video(rec.ts, down, rec.ip_len, len, true, peer)
        }
        RecKind::PeerUdp(_) | RecKind::PeerUtp(..) | RecKind::PeerTcp(_) | RecKind::InfraUdp => {
            timeline.add_control(rec.ts, down, rec.ip_len, true)
        }
        RecKind::PeerUdpCont(_) | RecKind::UdpOrphan => {
            timeline.add_control(rec.ts, down, rec.ip_len, false)
        }
        RecKind::Other => timeline.add_other(rec.ts, down, rec.ip_len),
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

    /// The decision the metrics classify with, when there is a local host.
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

    /// The local host's size histogram and threshold of one transport.
    pub fn transport_sizes(&self, t: PeerTransport) -> (&SizeHist, Option<u32>) {
        match t {
            PeerTransport::Udp => (&self.hist, self.threshold),
            PeerTransport::Utp => (&self.utp.0, self.utp.1),
            PeerTransport::Tcp => (&self.tcp.0, self.tcp.1),
        }
    }

    /// True when the user gave the local host.
    pub fn local_given(&self) -> bool {
        self.given.local.is_some()
    }

    /// True when the user gave the threshold.
    pub fn threshold_given(&self) -> bool {
        self.given.video_min.is_some()
    }

    /// The capture's duration (zero for an empty one).
    pub fn duration(&self) -> crate::time::Span {
        self.last.since(self.first).non_negative()
    }
}

/// The table after the last packet: what the metrics read.
#[derive(Debug)]
pub struct Finished {
    /// First and last timestamp of any frame read (the epoch for an empty capture).
    pub first: Timestamp,
    pub last: Timestamp,
    pub local: Option<IpAddr>,
    /// What the user gave.
    pub given: Given,
    /// Ranked candidates with their number of distinct UDP partners.
    pub candidates: Vec<(IpAddr, u64)>,
    pub threshold: Option<u32>,
    /// How the local host was found.
    pub local_how: classify::LocalHow,
    /// Peer UDP payload sizes of the local host, both directions.
    pub hist: SizeHist,
    /// The local host's uTP data sizes and TCP payload sizes, with their thresholds.
    pub utp: (SizeHist, Option<u32>),
    pub tcp: (SizeHist, Option<u32>),
    /// The host's traffic with itself (own address to own address, loopback to a non-loopback
    /// address): never peer traffic.
    pub self_traffic: SelfTraffic,
    pub pairs: Vec<PairStats>,
    pub overflow: Overflow,
    pub names: FastMap<IpAddr, String>,
    pub counts: DecodeCounts,
    pub timeline: Timeline,
    /// The local host's message timing with each peer (pull or push).
    pub timing: timing::MessageTiming,
    pub loopback: LoopbackFlows,
    pub player_ports: Vec<u16>,
    pub provisional_local: Option<IpAddr>,
    /// The timeline was classified with a provisional local host or threshold that the whole
    /// capture contradicts; it is exact only after a second pass with both fixed.
    pub needs_second_pass: bool,
    /// The 5-tuple flows, when `TableConfig::max_conns` asked for them.
    pub conns: conns::ConnsFinished,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Transport;

    fn udp(ts_ns: i64, src: [u8; 4], dst: [u8; 4], payload_len: u32) -> Packet<'static> {
        Packet {
            ts: Timestamp::from_ns(ts_ns),
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
            link: crate::decode::LinkMeta::default(),
            utp: None,
            stun: None,
        }
    }

    #[test]
    fn warm_up_records_replay_with_their_addresses() {
        // One pair tracked (both directions), the other refused by the cap: its records keep
        // their own addresses.
        let mut pairs = pairs::PairTable::default();
        let mut buf = WarmBuffer::default();
        let (a, b, c) = ([192, 0, 2, 10], [198, 51, 100, 7], [203, 0, 113, 9]);
        let packets = [
            udp(1, b, a, 1320),
            udp(2, a, b, 28),
            udp(3, c, a, 1320),
            udp(4, a, c, 40),
            udp(5, b, a, 1320),
        ];
        let mut want = Vec::new();
        for p in &packets {
            let (kind, pair) = pairs.add(p, RecKind::PeerUdp(p.payload_len), 1);
            let rec = Rec::of(p, kind);
            buf.push(rec, pair, &pairs.pairs);
            want.push((rec.ts, rec.src, rec.dst, rec.ip_len, pair.is_some()));
        }
        assert_eq!(buf.len(), 5);
        assert_eq!(buf.loose.len(), 2);
        let got: Vec<_> = buf
            .replay(&pairs.pairs)
            .zip(&want)
            .map(|(r, w)| (r.ts, r.src, r.dst, r.ip_len, w.4))
            .collect();
        assert_eq!(got, want);
        assert_eq!(std::mem::size_of::<WarmRec>(), 32);
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
