//! The bounded per-flow evidence accumulator: [`Identifier::ingest`] takes every decoded
//! packet; the payload of only the first [`INSPECT`] payload-carrying packets of each flow is
//! read by the matchers ([`rules::classify_all`]), after that the flow keeps counters. [`Identifier::finish`] turns the
//! flows into [`Findings`]: one [`FlowIdent`] per flow that some rule confirmed, and the
//! [`Evidence`] totals per (application, rule) that [`super::identify`] weighs.
//!
//! A flow is one UDP or TCP 5-tuple, both directions in one entry (canonical key: the smaller
//! endpoint first). Infrastructure ports (DNS, DHCP, NTP, mDNS, SSDP: SPEC §2 "Peers
//! contacted") and loopback are left out — they are not peer traffic. The table holds at most
//! [`MAX_FLOWS`] flows; packets of flows beyond it are counted in `untracked_packets`.
//!
//! When a flow counts as an application's (the flow tests, on the rule counts of its
//! inspected packets):
//! - one packet suffices for the strong signatures: BitTorrent handshake, UDP tracker, HTTP
//!   announce, DHT, SopCast, PPStream control, SRT handshake, QUIC long / gQUIC headers;
//! - uTP: at least 2 packets with the same connection id per direction (BEP 29: one id each
//!   way, the two differing by one), and half of the inspected packets uTP;
//! - PPStream peer pattern: at least 3 packets and 80 % of the inspected ones;
//! - RTP: at least 3 packets with one SSRC and a sequence number advancing by 1–512, and half
//!   of the inspected packets RTP; SRT control: 3 packets to one socket id;
//! - webrtc: STUN with the magic cookie on the same 5-tuple as DTLS or confirmed RTP (the
//!   RFC 7983 demultiplexing: one port carries all three); STUN alone names nothing.

use std::net::IpAddr;

use crate::hash::FastMap;

use super::rules::{self, Match, PacketView, Proto, Rule};
use super::{AppName, Evidence};
use crate::decode::{Packet, Transport};
use crate::flow::is_infra_port;

/// Payload-carrying packets of a flow whose payload the matchers read.
pub const INSPECT: u16 = 24;
/// Most flows tracked (about 190 bytes each: some 12 MB at the cap).
pub const MAX_FLOWS: usize = 65_536;

/// A canonical flow key: the smaller (address, port) first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub proto: Proto,
    pub a: (IpAddr, u16),
    pub b: (IpAddr, u16),
}

impl FlowKey {
    /// The key and whether the packet goes from `a` to `b`.
    fn of(proto: Proto, src: (IpAddr, u16), dst: (IpAddr, u16)) -> (Self, usize) {
        if src <= dst {
            (
                FlowKey {
                    proto,
                    a: src,
                    b: dst,
                },
                0,
            )
        } else {
            (
                FlowKey {
                    proto,
                    a: dst,
                    b: src,
                },
                1,
            )
        }
    }
}

/// Rules whose flow test follows a key per direction.
const KEYED: [Rule; 3] = [Rule::Utp, Rule::Rtp, Rule::SrtControl];

fn keyed_slot(rule: Rule) -> Option<usize> {
    KEYED.iter().position(|&r| r == rule)
}

/// The key of a keyed rule in one direction: the first key seen and the last sequence number
/// seen with it, and how many packets kept that key.
#[derive(Debug, Clone, Copy, Default)]
struct KeyTrack {
    first: Option<(u32, u16)>,
    consistent: u16,
}

#[derive(Debug, Clone, Default)]
struct FlowState {
    packets: u64,
    ip_bytes: u64,
    inspected: u16,
    hits: [u16; Rule::COUNT],
    keys: [[KeyTrack; 2]; KEYED.len()],
    quic_seen: bool,
}

impl FlowState {
    fn record(&mut self, m: Match, dir: usize) {
        let i = m.rule.index();
        self.hits[i] = self.hits[i].saturating_add(1);
        let Some(slot) = keyed_slot(m.rule) else {
            return;
        };
        let t = &mut self.keys[slot][dir];
        match t.first {
            None => {
                t.first = Some((m.key, m.seq));
                t.consistent = 1;
            }
            Some((key, last)) if key == m.key => {
                let advancing =
                    m.rule != Rule::Rtp || (1..=512).contains(&m.seq.wrapping_sub(last));
                if advancing {
                    t.consistent = t.consistent.saturating_add(1);
                }
                t.first = Some((key, m.seq));
            }
            Some(_) => {}
        }
    }

    fn hits(&self, r: Rule) -> u16 {
        self.hits[r.index()]
    }

    /// Packets with a consistent key, both directions; uTP also accepts the two directions'
    /// ids differing by one (BEP 29) — each direction is tracked on its own, which covers it.
    fn consistent(&self, r: Rule) -> u16 {
        keyed_slot(r).map_or(0, |s| {
            self.keys[s][0]
                .consistent
                .saturating_add(self.keys[s][1].consistent)
        })
    }

    fn most(&self, n: u16) -> bool {
        2 * u32::from(n) >= u32::from(self.inspected)
    }

    /// The rules this flow's counts confirm.
    fn confirmed(&self) -> RuleSet {
        let mut set = RuleSet::default();
        for r in [
            Rule::BtHandshake,
            Rule::UdpTracker,
            Rule::HttpAnnounce,
            Rule::Dht,
            Rule::Sopcast,
            Rule::PpsControl,
            Rule::SrtHandshake,
            Rule::QuicLong,
            Rule::GQuic,
            Rule::Stun,
            Rule::Dtls,
        ] {
            if self.hits(r) >= 1 {
                set.insert(r);
            }
        }
        let utp = self.consistent(Rule::Utp);
        if utp >= 2 && self.most(utp) {
            set.insert(Rule::Utp);
        }
        let pps = self.hits(Rule::PpsPeer);
        if pps >= 3 && 5 * u32::from(pps) >= 4 * u32::from(self.inspected) {
            set.insert(Rule::PpsPeer);
        }
        let rtp = self.consistent(Rule::Rtp);
        if rtp >= 3 && self.most(rtp) {
            set.insert(Rule::Rtp);
            if self.hits(Rule::Rtcp) > 0 {
                set.insert(Rule::Rtcp);
            }
        }
        if self.consistent(Rule::SrtControl) >= 3 {
            set.insert(Rule::SrtControl);
        }
        if self.quic_seen && self.hits(Rule::QuicShort) > 0 {
            set.insert(Rule::QuicShort);
        }
        set
    }
}

/// A small set of rules (one bit each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RuleSet(u32);

impl RuleSet {
    pub fn insert(&mut self, r: Rule) {
        self.0 |= 1 << r.index();
    }
    pub fn contains(self, r: Rule) -> bool {
        self.0 & (1 << r.index()) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The rules in the set, in [`Rule::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.into_iter().filter(move |&r| self.contains(r))
    }
}

/// The application a flow's confirmed rules name (strongest claim first).
pub fn app_of(rules: RuleSet) -> AppName {
    let any = |rs: &[Rule]| rs.iter().any(|&r| rules.contains(r));
    if any(&[
        Rule::BtHandshake,
        Rule::UdpTracker,
        Rule::HttpAnnounce,
        Rule::Dht,
        Rule::Utp,
    ]) {
        AppName::Bittorrent
    } else if any(&[Rule::Sopcast]) {
        AppName::Sopcast
    } else if any(&[Rule::PpsControl, Rule::PpsPeer]) {
        AppName::Ppstream
    } else if any(&[Rule::SrtHandshake, Rule::SrtControl]) {
        AppName::Srt
    } else if any(&[Rule::QuicLong, Rule::GQuic]) {
        AppName::Quic
    } else if (rules.contains(Rule::Stun) && any(&[Rule::Dtls, Rule::Rtp]))
        || (rules.contains(Rule::Dtls) && rules.contains(Rule::Rtp))
    {
        AppName::Webrtc
    } else if rules.contains(Rule::Rtp) {
        AppName::Rtp
    } else {
        AppName::Unknown
    }
}

/// One flow and what identified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowIdent {
    pub key: FlowKey,
    pub app: AppName,
    pub rules: RuleSet,
    pub packets: u64,
    pub ip_bytes: u64,
}

/// What the accumulator found over a whole capture.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Per (application, rule): the flows of that application confirmed by that rule.
    pub evidence: Vec<Evidence>,
    /// Every flow with an application other than `unknown`, sorted by key.
    pub flows: Vec<FlowIdent>,
    /// All tracked peer flows (infrastructure and loopback left out), and their IP bytes.
    pub total_flows: u64,
    pub total_ip_bytes: u64,
    /// Packets of flows beyond [`MAX_FLOWS`].
    pub untracked_packets: u64,
}

impl Findings {
    /// Both endpoints of every flow that spoke a tracker protocol (BitTorrent's HTTP announce,
    /// BEP 15): the tracker is the one that is not the local host.
    pub fn tracker_endpoints(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = self
            .flows
            .iter()
            .filter(|f| f.rules.contains(Rule::HttpAnnounce) || f.rules.contains(Rule::UdpTracker))
            .flat_map(|f| [f.key.a.0, f.key.b.0])
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The accumulator. Feed it every decoded packet with [`Identifier::ingest`].
#[derive(Debug, Default)]
pub struct Identifier {
    flows: FastMap<FlowKey, FlowState>,
    untracked: u64,
}

impl Identifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one decoded packet. Packets without ports (later fragments, other protocols),
    /// loopback and infrastructure traffic are ignored.
    pub fn ingest(&mut self, p: &Packet<'_>) {
        let proto = match p.transport {
            Transport::Udp => Proto::Udp,
            Transport::Tcp { .. } => Proto::Tcp,
            Transport::Other(_) => return,
        };
        if p.src.is_loopback() || p.dst.is_loopback() {
            return;
        }
        if is_infra_port(p.sport) || is_infra_port(p.dport) {
            return;
        }
        let (key, dir) = FlowKey::of(proto, (p.src, p.sport), (p.dst, p.dport));
        if self.flows.len() >= MAX_FLOWS && !self.flows.contains_key(&key) {
            self.untracked += 1;
            return;
        }
        let st = self.flows.entry(key).or_default();
        st.packets += 1;
        st.ip_bytes += u64::from(p.ip_len);
        if p.payload_len == 0 || p.payload.is_empty() || st.inspected >= INSPECT {
            return;
        }
        st.inspected += 1;
        let view = PacketView {
            proto,
            payload: p.payload,
            wire_len: p.payload_len as usize,
        };
        let found = rules::classify_all(&view);
        for m in found.iter() {
            if matches!(m.rule, Rule::QuicLong | Rule::GQuic) {
                st.quic_seen = true;
            }
            st.record(m, dir);
        }
        if found.is_empty()
            && st.quic_seen
            && proto == Proto::Udp
            && rules::quic_unversioned(p.payload)
        {
            st.record(
                Match {
                    rule: Rule::QuicShort,
                    key: 0,
                    seq: 0,
                },
                dir,
            );
        }
    }

    /// Adds another accumulator's flows (another file, another thread's share of one): counts
    /// add up, a flow's first keys are kept and the other's consistent packets count only
    /// when their key is the same; the inspection limit still holds per flow.
    pub fn merge(&mut self, other: Identifier) {
        self.untracked += other.untracked;
        for (key, theirs) in other.flows {
            if self.flows.len() >= MAX_FLOWS && !self.flows.contains_key(&key) {
                self.untracked += theirs.packets;
                continue;
            }
            let st = self.flows.entry(key).or_default();
            st.packets += theirs.packets;
            st.ip_bytes += theirs.ip_bytes;
            st.inspected = st.inspected.saturating_add(theirs.inspected);
            for (a, b) in st.hits.iter_mut().zip(theirs.hits) {
                *a = a.saturating_add(b);
            }
            for (mine, t) in st
                .keys
                .iter_mut()
                .flatten()
                .zip(theirs.keys.into_iter().flatten())
            {
                match (mine.first, t.first) {
                    (None, _) => *mine = t,
                    (Some((k, _)), Some((k2, _))) if k == k2 => {
                        mine.consistent = mine.consistent.saturating_add(t.consistent);
                    }
                    _ => {}
                }
            }
            st.quic_seen |= theirs.quic_seen;
        }
    }

    /// Number of flows tracked so far.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Confirms each flow's rules and sums the evidence.
    pub fn finish(&self) -> Findings {
        let mut out = Findings {
            untracked_packets: self.untracked,
            ..Findings::default()
        };
        let mut sums: FastMap<(AppName, Rule), Evidence> = FastMap::default();
        for (key, st) in &self.flows {
            out.total_flows += 1;
            out.total_ip_bytes += st.ip_bytes;
            let rules = st.confirmed();
            let app = app_of(rules);
            if app == AppName::Unknown {
                continue;
            }
            out.flows.push(FlowIdent {
                key: *key,
                app,
                rules,
                packets: st.packets,
                ip_bytes: st.ip_bytes,
            });
            for rule in rules.iter() {
                let e = sums.entry((app, rule)).or_insert(Evidence {
                    app,
                    rule,
                    flows: 0,
                    packets: 0,
                    ip_bytes: 0,
                });
                e.flows += 1;
                e.packets += u64::from(st.hits(rule));
                e.ip_bytes += st.ip_bytes;
            }
        }
        out.flows.sort_by_key(|f| f.key);
        out.evidence = sums.into_values().collect();
        out.evidence.sort_by_key(|e| (e.app, e.rule));
        out
    }
}

impl std::ops::AddAssign for Identifier {
    fn add_assign(&mut self, other: Identifier) {
        self.merge(other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Frag;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

    /// A UDP packet between A:`a_port` and B:`b_port`, from A when `out`.
    fn pkt<'a>(out: bool, a_port: u16, b_port: u16, payload: &'a [u8]) -> Packet<'a> {
        let (src, dst) = if out { (A, B) } else { (B, A) };
        let (sport, dport) = if out {
            (a_port, b_port)
        } else {
            (b_port, a_port)
        };
        Packet {
            ts: crate::time::Timestamp::EPOCH,
            src,
            dst,
            ttl: 64,
            ip_len: 28 + payload.len() as u32,
            transport: Transport::Udp,
            sport,
            dport,
            payload_len: payload.len() as u32,
            payload,
            frag: Frag::Whole,
            anomaly: None,
            link: crate::decode::LinkMeta::default(),
            utp: None,
            stun: None,
        }
    }

    fn utp(t: u8, conn: u16, seq: u16) -> Vec<u8> {
        let mut h = vec![(t << 4) | 1, 0];
        h.extend_from_slice(&conn.to_be_bytes());
        h.extend_from_slice(&[0; 12]);
        h.extend_from_slice(&seq.to_be_bytes());
        h.extend_from_slice(&[0, 0]);
        if t == 0 {
            h.extend_from_slice(&[0x77; 1000]);
        }
        h
    }

    fn one_app(id: &Identifier) -> AppName {
        let f = id.finish();
        assert!(f.flows.len() <= 1);
        f.flows.first().map_or(AppName::Unknown, |f| f.app)
    }

    #[test]
    fn utp_needs_a_connection_id_that_holds() {
        let mut id = Identifier::new();
        // Initiator sends id+1 after the SYN (BEP 29), the responder id.
        id.ingest(&pkt(true, 6881, 51413, &utp(4, 100, 1)));
        assert_eq!(one_app(&id), AppName::Unknown);
        id.ingest(&pkt(false, 6881, 51413, &utp(2, 100, 50)));
        id.ingest(&pkt(true, 6881, 51413, &utp(0, 101, 2)));
        id.ingest(&pkt(true, 6881, 51413, &utp(0, 101, 3)));
        id.ingest(&pkt(false, 6881, 51413, &utp(2, 100, 50)));
        assert_eq!(one_app(&id), AppName::Bittorrent);
        // A flow whose "uTP" packets change connection id every time is not uTP.
        let mut id = Identifier::new();
        for (i, c) in [5u16, 900, 17, 4242].iter().enumerate() {
            id.ingest(&pkt(true, 1000, 2000, &utp(2, *c, i as u16)));
        }
        assert_eq!(one_app(&id), AppName::Unknown);
    }

    fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 111];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0x11; 120]);
        p
    }

    fn stun() -> Vec<u8> {
        let mut s = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        s.extend_from_slice(&[9; 12]);
        s
    }

    #[test]
    fn rtp_webrtc_and_stun_alone() {
        let mut id = Identifier::new();
        for s in 0..5 {
            id.ingest(&pkt(false, 5004, 5004, &rtp(1000 + s, 0xCAFE)));
        }
        assert_eq!(one_app(&id), AppName::Rtp);
        // The same RTP with STUN on the 5-tuple: WebRTC (RFC 7983 demultiplexing).
        id.ingest(&pkt(true, 5004, 5004, &stun()));
        assert_eq!(one_app(&id), AppName::Webrtc);
        // STUN alone names nothing; RTP whose SSRC keeps changing is not RTP.
        let mut id = Identifier::new();
        id.ingest(&pkt(true, 40000, 3478, &stun()));
        assert_eq!(one_app(&id), AppName::Unknown);
        for s in 0..6u16 {
            id.ingest(&pkt(false, 40000, 3478, &rtp(s, u32::from(s) * 7919)));
        }
        assert_eq!(one_app(&id), AppName::Unknown);
    }

    #[test]
    fn quic_short_counts_only_after_a_long_header() {
        let short = [0x43u8; 60];
        let mut id = Identifier::new();
        for _ in 0..4 {
            id.ingest(&pkt(false, 50000, 443, &short));
        }
        assert_eq!(one_app(&id), AppName::Unknown);
        let mut long = vec![0xC3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0];
        long.resize(1200, 0);
        id.ingest(&pkt(true, 50000, 443, &long));
        id.ingest(&pkt(false, 50000, 443, &short));
        let f = id.finish();
        assert_eq!(f.flows[0].app, AppName::Quic);
        assert!(f.flows[0].rules.contains(Rule::QuicShort));
        let e: Vec<Rule> = f.evidence.iter().map(|e| e.rule).collect();
        assert_eq!(e, vec![Rule::QuicLong, Rule::QuicShort]);
    }

    #[test]
    fn inspection_is_bounded_and_infrastructure_left_out() {
        let mut id = Identifier::new();
        // The handshake-like payload arrives after INSPECT packets: never read.
        let filler = [0x5Au8; 40];
        for _ in 0..INSPECT {
            id.ingest(&pkt(true, 7000, 7001, &filler));
        }
        let dht = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec();
        id.ingest(&pkt(true, 7000, 7001, &dht));
        let f = id.finish();
        assert!(f.flows.is_empty());
        assert_eq!(f.total_flows, 1);
        assert_eq!(
            f.total_ip_bytes,
            u64::from(INSPECT) * 68 + 28 + dht.len() as u64
        );
        // DNS and loopback are not tracked at all.
        let mut id = Identifier::new();
        id.ingest(&pkt(true, 53, 40000, &dht));
        let mut lo = pkt(true, 7000, 7001, &dht);
        lo.dst = IpAddr::V4(Ipv4Addr::LOCALHOST);
        id.ingest(&lo);
        assert_eq!(id.flow_count(), 0);
        // A DHT message on a fresh flow is enough.
        id.ingest(&pkt(false, 6881, 6881, &dht));
        assert_eq!(one_app(&id), AppName::Bittorrent);
    }

    #[test]
    fn merged_halves_equal_the_whole() {
        let packets: Vec<Vec<u8>> = (0..6)
            .map(|i| utp(if i % 2 == 0 { 0 } else { 2 }, 77, i))
            .collect();
        let mut whole = Identifier::new();
        let (mut first, mut second) = (Identifier::new(), Identifier::new());
        for (i, p) in packets.iter().enumerate() {
            whole.ingest(&pkt(true, 6881, 6881, p));
            if i < 3 {
                first.ingest(&pkt(true, 6881, 6881, p));
            } else {
                second.ingest(&pkt(true, 6881, 6881, p));
            }
        }
        first += second;
        let (a, b) = (whole.finish(), first.finish());
        assert_eq!(a.flows, b.flows);
        assert_eq!(a.evidence, b.evidence);
        assert_eq!(b.flows[0].app, AppName::Bittorrent);
        assert_eq!(b.flows[0].packets, 6);
    }

    #[test]
    fn both_directions_share_one_flow() {
        let (k1, d1) = FlowKey::of(Proto::Udp, (A, 1), (B, 2));
        let (k2, d2) = FlowKey::of(Proto::Udp, (B, 2), (A, 1));
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
    }
}
