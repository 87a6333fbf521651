//! Passive round-trip times per address pair: [`PairRtt`] (the per-pair state, a few words
//! inline, the samples boxed at the first one) and [`RttSketch`] (a bounded summary of the
//! samples: exact minimum, exact median up to [`EXACT_SAMPLES`] samples, a log-bucket
//! histogram beyond).
//!
//! Methods, none of which sends a packet:
//! - **TCP handshake** ([`RttMethod::TcpHandshake`]): SYN → the ACK that completes the
//!   three-way handshake (RFC 9293 §3.5), matched by the SYN's sequence number + 1. At the
//!   vantage point this is the RTT to the peer whichever side opened: when the local host
//!   opened, SYN → SYN/ACK is the RTT and SYN/ACK → ACK the local host's own turnaround;
//!   when the peer opened, SYN → SYN/ACK is the local turnaround and SYN/ACK → ACK the RTT.
//!   It is the interval Wireshark calls `tcp.analysis.initial_rtt`.
//! - **uTP timestamps** ([`RttMethod::Utp`]): BEP 29's `timestamp_difference_microseconds`
//!   is the receiver's clock at receipt minus the sender's timestamp — a one-way delay plus
//!   the clock offset between the two hosts, so alone it is no delay at all. The two
//!   directions carry opposite offsets: the latest difference reported by each side, added
//!   (modulo 2^32, as the fields wrap), is the sum of both one-way delays, the RTT, with the
//!   offset cancelled (clock drift over the second between them is negligible). Queueing
//!   inflates it (that is what LEDBAT reads from it); the minimum is the base RTT.
//! - **STUN transactions** ([`RttMethod::Stun`]): a binding (or any) request and the success
//!   or error response with the same 96-bit transaction id (RFC 5389 §6, §7.3): a request and
//!   its answer, matched exactly; the RTT plus the answering agent's (small) processing time.
//!   Wireshark's `stun.time` is the same interval.
//! - **UDP request/response** ([`RttMethod::UdpRequest`]): a peer UDP packet sent on a pair
//!   idle in both directions for at least [`UDP_IDLE_NS`] is taken as a request, and the other
//!   side's first packet within [`UDP_RESPONSE_NS`] as its response. On a busy pair the next
//!   packet back is no answer (it was already on its way), so only exchanges that start
//!   from silence count. The sample includes the peer's processing time: an upper bound.
//!
//! Memory: a [`PairRtt`] is 48 bytes inline; the sketches (about 1 KB) are allocated once per
//! pair, at its first sample, never per packet.

use crate::decode::{tcp_flags, Packet, StunBrief, StunClass, Transport};
use crate::time::Timestamp;

/// A pair silent in both directions for this long makes the next packet a request (1 s: above
/// the RTT of almost every Internet path, below the 3–10 s keep-alive period of P2P-TV
/// clients).
pub const UDP_IDLE_NS: i64 = 1_000_000_000;
/// The first packet back within this bound answers the request (2 s: a request unanswered for
/// longer is taken as lost).
pub const UDP_RESPONSE_NS: i64 = 2_000_000_000;
/// uTP: the two sides' timestamp differences are added only when both were reported within
/// this span of each other.
pub const UTP_PAIRING_NS: i64 = 1_000_000_000;
/// STUN requests remembered per pair while they wait for their response.
const STUN_PENDING: usize = 4;
/// Samples above this are discarded as no RTT (a handshake that took a minute was retried).
pub const MAX_RTT_US: u32 = 60_000_000;
/// The first samples are kept exactly: their median is exact.
pub const EXACT_SAMPLES: usize = 16;
/// Histogram buckets per octave: a bucket spans a factor 2^(1/16), so a median read from the
/// histogram (the bucket's geometric middle) is within 2^(1/32) − 1 ≈ 2.2 % of a sample in it.
const PER_OCTAVE: f64 = 16.0;
/// Buckets: 1 µs to 2^27 µs (134 s), above [`MAX_RTT_US`].
const BUCKETS: usize = 27 * 16;

/// How an RTT sample was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RttMethod {
    TcpHandshake,
    Stun,
    Utp,
    UdpRequest,
}

impl RttMethod {
    /// Every method, most trustworthy first.
    pub const ALL: [RttMethod; 4] = [
        RttMethod::TcpHandshake,
        RttMethod::Stun,
        RttMethod::Utp,
        RttMethod::UdpRequest,
    ];

    /// The report's word for the method.
    pub fn as_str(self) -> &'static str {
        match self {
            RttMethod::TcpHandshake => "tcp-handshake",
            RttMethod::Stun => "stun-transaction",
            RttMethod::Utp => "utp-timestamps",
            RttMethod::UdpRequest => "udp-request-response",
        }
    }

    fn index(self) -> usize {
        match self {
            RttMethod::TcpHandshake => 0,
            RttMethod::Utp => 1,
            RttMethod::UdpRequest | RttMethod::Stun => 2,
        }
    }
}

/// A bounded summary of RTT samples in microseconds.
#[derive(Debug, Clone)]
pub struct RttSketch {
    count: u64,
    min_us: u32,
    exact: Vec<u32>,
    buckets: Vec<u32>,
}

impl Default for RttSketch {
    fn default() -> Self {
        RttSketch {
            count: 0,
            min_us: u32::MAX,
            exact: Vec::new(),
            buckets: Vec::new(),
        }
    }
}

fn bucket_of(us: u32) -> usize {
    let x = f64::from(us.max(1));
    ((x.log2() * PER_OCTAVE) as usize).min(BUCKETS - 1)
}

impl RttSketch {
    /// Adds a sample. The histogram is allocated only once the exact samples are full (most
    /// pairs never get that many: they cost a few words, not the histogram's 1.7 KB).
    pub fn add(&mut self, us: u32) {
        self.count += 1;
        self.min_us = self.min_us.min(us);
        if self.exact.len() < EXACT_SAMPLES {
            self.exact.push(us);
            return;
        }
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS];
            for &x in &self.exact {
                self.buckets[bucket_of(x)] += 1;
            }
        }
        if let Some(b) = self.buckets.get_mut(bucket_of(us)) {
            *b = b.saturating_add(1);
        }
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest sample, exact.
    pub fn min_us(&self) -> Option<u32> {
        (self.count > 0).then_some(self.min_us)
    }

    /// The median: exact up to [`EXACT_SAMPLES`] samples, else from the histogram (within
    /// about 2.2 %).
    pub fn median_us(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        if self.count as usize <= EXACT_SAMPLES {
            let mut v = self.exact.clone();
            v.sort_unstable();
            let n = v.len();
            let mid = |i: usize| f64::from(v.get(i).copied().unwrap_or(0));
            return Some(if n % 2 == 1 {
                mid(n / 2)
            } else {
                (mid(n / 2 - 1) + mid(n / 2)) / 2.0
            });
        }
        let half = self
            .buckets
            .iter()
            .map(|&c| u64::from(c))
            .sum::<u64>()
            .div_ceil(2);
        let mut acc = 0u64;
        for (i, &c) in self.buckets.iter().enumerate() {
            acc += u64::from(c);
            if acc >= half {
                let mid = 2f64.powf((i as f64 + 0.5) / PER_OCTAVE);
                return Some(mid.max(f64::from(self.min_us)));
            }
        }
        None
    }

    /// Merges another sketch in.
    pub fn merge(&mut self, other: &RttSketch) {
        if other.count == 0 {
            return;
        }
        if other.buckets.is_empty() {
            // Every sample of `other` is exact: add them one by one.
            for &x in &other.exact {
                self.add(x);
            }
            return;
        }
        let exact_before = self.exact.clone();
        let had_buckets = !self.buckets.is_empty();
        self.count += other.count;
        self.min_us = self.min_us.min(other.min_us);
        if !had_buckets {
            self.buckets = vec![0; BUCKETS];
            for &x in &exact_before {
                self.buckets[bucket_of(x)] += 1;
            }
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a = a.saturating_add(*b);
        }
    }
}

/// The samples of one pair, by method. UDP request/response samples are kept by the side
/// that sent the request: only the local host's requests time the path to the peer (the
/// peer's requests time the local host's own turnaround).
#[derive(Debug, Clone, Default)]
pub struct RttSamples {
    by_method: [RttSketch; 3],
    udp_by_side: [RttSketch; 2],
    /// SYN → the RST/ACK refusing it, by the side that sent the SYN: an RTT only when that
    /// side is the local host (else it times the local host's own refusal).
    refused_by_opener: [RttSketch; 2],
    /// STUN transactions, by the side that sent the request.
    stun_by_side: [RttSketch; 2],
    /// STUN requests waiting for their response: transaction, time, requesting side.
    stun_pending: [Option<(u64, Timestamp, u8)>; STUN_PENDING],
    stun_next: usize,
}

impl RttSamples {
    /// The samples of one method; for UDP request/response, of the requests `requester`
    /// (0: the pair's `a`, 1: its `b`) sent.
    pub fn of(&self, m: RttMethod, requester: usize) -> &RttSketch {
        match m {
            RttMethod::UdpRequest => &self.udp_by_side[requester & 1],
            RttMethod::Stun => &self.stun_by_side[requester & 1],
            _ => &self.by_method[m.index()],
        }
    }

    /// Handshakes `opener` began that the other side refused (SYN → RST/ACK).
    pub fn refused(&self, opener: usize) -> &RttSketch {
        &self.refused_by_opener[opener & 1]
    }
}

/// The RTT state of one address pair. Sides are the pair's: 0 is `a`, 1 is `b`.
#[derive(Debug, Clone, Default)]
pub struct PairRtt {
    /// The last SYN (without ACK) seen: time, sender side, sequence number; and whether the
    /// other side answered it with a SYN/ACK.
    syn: Option<(Timestamp, u8, u32, bool)>,
    /// The side and initial sequence number of the last handshake sampled: a SYN repeating it
    /// (a retry of the same connection after a refusal) is not a new handshake.
    sampled_isn: Option<(u8, u32)>,
    /// A UDP request waiting for its response: time and the requesting side.
    request: Option<(Timestamp, u8)>,
    /// uTP: the latest non-zero timestamp difference each side reported, and when.
    utp_diff: [Option<(Timestamp, u32)>; 2],
    samples: Option<Box<RttSamples>>,
}

impl PairRtt {
    /// The samples so far, when there are any.
    pub fn samples(&self) -> Option<&RttSamples> {
        self.samples.as_deref()
    }

    fn sample(&mut self, m: RttMethod, side: u8, since: Timestamp, now: Timestamp) {
        let ns = now.since(since).ns();
        if ns < 0 {
            return;
        }
        let us = (ns + 500) / 1000;
        if let Ok(us) = u32::try_from(us) {
            if us <= MAX_RTT_US {
                self.add(m, side, us);
            }
        }
    }

    fn add(&mut self, m: RttMethod, side: u8, us: u32) {
        let s = self.samples.get_or_insert_with(Box::default);
        match m {
            RttMethod::UdpRequest => s.udp_by_side[usize::from(side & 1)].add(us),
            RttMethod::Stun => s.stun_by_side[usize::from(side & 1)].add(us),
            _ => s.by_method[m.index()].add(us),
        }
    }

    /// Takes a packet of the pair sent by `side`. `last_any` is the pair's last packet in
    /// either direction before this one (`None` for its first); `peer_udp` says the packet is
    /// peer UDP (uTP included).
    pub(crate) fn see(
        &mut self,
        p: &Packet<'_>,
        side: u8,
        last_any: Option<Timestamp>,
        peer_udp: bool,
    ) {
        match p.transport {
            Transport::Tcp { flags, seq } => self.see_tcp(p.ts, side, flags, seq),
            Transport::Udp if peer_udp => {
                if let Some(st) = p.stun {
                    self.see_stun(p.ts, side, st);
                }
                self.see_udp(p.ts, side, last_any);
                if let Some(u) = p.utp {
                    self.see_utp(p.ts, side, u.ts_diff_us);
                }
            }
            _ => {}
        }
    }

    fn see_tcp(&mut self, ts: Timestamp, side: u8, flags: u8, seq: u32) {
        let syn = flags & tcp_flags::SYN != 0;
        let ack = flags & tcp_flags::ACK != 0;
        if flags & tcp_flags::RST != 0 {
            // A refusal (RST/ACK answering the SYN, RFC 9293 §3.10.7.3) comes back after one
            // RTT when the opener is the vantage point.
            if let Some((t0, s, _, false)) = self.syn {
                if s != side && ack {
                    let ns = ts.since(t0).ns();
                    if let Ok(us) = u32::try_from((ns + 500) / 1000) {
                        if ns >= 0 && us <= MAX_RTT_US {
                            let k = self.samples.get_or_insert_with(Box::default);
                            k.refused_by_opener[usize::from(s & 1)].add(us);
                            self.sampled_isn = self.syn.map(|(_, s, isn, _)| (s, isn));
                        }
                    }
                }
            }
            self.syn = None;
            return;
        }
        match (syn, ack) {
            // A SYN (a retransmission restarts the clock: Karn's rule, RFC 6298 §3).
            (true, false) => {
                self.syn = (self.sampled_isn != Some((side, seq))).then_some((ts, side, seq, false))
            }
            (true, true) => {
                if let Some((_, s, _, answered)) = &mut self.syn {
                    if *s != side {
                        *answered = true;
                    }
                }
            }
            (false, true) => {
                if let Some((t0, s, isn, true)) = self.syn {
                    if s == side && seq == isn.wrapping_add(1) {
                        self.sample(RttMethod::TcpHandshake, s, t0, ts);
                        self.sampled_isn = Some((s, isn));
                        self.syn = None;
                    }
                }
            }
            (false, false) => {}
        }
    }

    fn see_udp(&mut self, ts: Timestamp, side: u8, last_any: Option<Timestamp>) {
        if let Some((t0, s)) = self.request {
            if s != side {
                self.request = None;
                if ts.since(t0).ns() <= UDP_RESPONSE_NS {
                    self.sample(RttMethod::UdpRequest, s, t0, ts);
                }
                return;
            }
            if ts.since(t0).ns() <= UDP_RESPONSE_NS {
                // More from the requester before any answer: still the same request.
                return;
            }
        }
        let idle = last_any.is_none_or(|l| ts.since(l).ns() >= UDP_IDLE_NS);
        self.request = idle.then_some((ts, side));
    }

    fn see_stun(&mut self, ts: Timestamp, side: u8, st: StunBrief) {
        match st.class {
            StunClass::Request => {
                let s = self.samples.get_or_insert_with(Box::default);
                // A retransmission (RFC 5389 §7.2.1) keeps the first request's time.
                if s.stun_pending
                    .iter()
                    .flatten()
                    .any(|&(id, _, sd)| id == st.transaction && sd == side)
                {
                    return;
                }
                let i = s.stun_next % STUN_PENDING;
                s.stun_pending[i] = Some((st.transaction, ts, side));
                s.stun_next = i + 1;
            }
            StunClass::Success | StunClass::Error => {
                let Some(s) = self.samples.as_deref_mut() else {
                    return;
                };
                let found = s
                    .stun_pending
                    .iter_mut()
                    .find(|e| e.is_some_and(|(id, _, sd)| id == st.transaction && sd != side));
                let Some(slot) = found else {
                    return;
                };
                let Some((_, t0, requester)) = slot.take() else {
                    return;
                };
                self.sample(RttMethod::Stun, requester, t0, ts);
            }
            StunClass::Indication => {}
        }
    }

    fn see_utp(&mut self, ts: Timestamp, side: u8, diff: u32) {
        if diff == 0 {
            // BEP 29: 0 until the sender has received a packet.
            return;
        }
        let me = usize::from(side & 1);
        self.utp_diff[me] = Some((ts, diff));
        if let Some((t_other, d_other)) = self.utp_diff[1 - me] {
            if ts.since(t_other).ns() <= UTP_PAIRING_NS {
                let rtt = diff.wrapping_add(d_other);
                if rtt <= MAX_RTT_US {
                    self.add(RttMethod::Utp, side, rtt);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketch_median_is_exact_then_close() {
        let mut s = RttSketch::default();
        assert_eq!(s.median_us(), None);
        for us in [30_000, 10_000, 20_000] {
            s.add(us);
        }
        assert_eq!(s.median_us(), Some(20_000.0));
        assert_eq!(s.min_us(), Some(10_000));
        let mut big = RttSketch::default();
        for i in 0..10_001u32 {
            big.add(40_000 + i);
        }
        let m = big.median_us().unwrap_or(0.0);
        assert!((m - 45_000.0).abs() / 45_000.0 < 0.03, "{m}");
        assert_eq!(big.count(), 10_001);
    }

    #[test]
    fn sketch_merges() {
        let mut a = RttSketch::default();
        let mut b = RttSketch::default();
        a.add(5);
        b.add(3);
        b.add(9);
        a.merge(&b);
        assert_eq!(
            (a.count(), a.min_us(), a.median_us()),
            (3, Some(3), Some(5.0))
        );
    }

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_ns(ms * 1_000_000)
    }

    #[test]
    fn tcp_handshake_from_syn_to_ack() {
        let mut r = PairRtt::default();
        r.see_tcp(ts(0), 0, tcp_flags::SYN, 100);
        r.see_tcp(ts(40), 1, tcp_flags::SYN | tcp_flags::ACK, 900);
        // An ACK from the wrong side or with another sequence number is not the third step.
        r.see_tcp(ts(41), 1, tcp_flags::ACK, 901);
        r.see_tcp(ts(41), 0, tcp_flags::ACK, 100);
        assert!(r.samples().is_none());
        r.see_tcp(ts(42), 0, tcp_flags::ACK, 101);
        let s = r
            .samples()
            .map(|s| s.of(RttMethod::TcpHandshake, 0).clone());
        assert_eq!(s.and_then(|s| s.min_us()), Some(42_000));
        // No SYN/ACK: no sample.
        let mut r = PairRtt::default();
        r.see_tcp(ts(0), 0, tcp_flags::SYN, 100);
        r.see_tcp(ts(42), 0, tcp_flags::ACK, 101);
        assert!(r.samples().is_none());
    }

    #[test]
    fn udp_requests_start_from_silence() {
        let mut r = PairRtt::default();
        // First packet of the pair: a request; the answer 30 ms later.
        r.see_udp(ts(0), 0, None);
        r.see_udp(ts(30), 1, Some(ts(0)));
        // A busy pair: no request.
        r.see_udp(ts(100), 0, Some(ts(30)));
        r.see_udp(ts(105), 1, Some(ts(100)));
        // After 5 s of silence: a request, a second packet, then the answer.
        r.see_udp(ts(5_105), 0, Some(ts(105)));
        r.see_udp(ts(5_110), 0, Some(ts(5_105)));
        r.see_udp(ts(5_140), 1, Some(ts(5_110)));
        // A response later than the bound is no sample.
        r.see_udp(ts(10_000), 1, Some(ts(5_140)));
        r.see_udp(ts(12_500), 0, Some(ts(10_000)));
        let s = r.samples().map(|s| s.of(RttMethod::UdpRequest, 0).clone());
        let s = s.unwrap_or_default();
        assert_eq!(
            (s.count(), s.min_us(), s.median_us()),
            (2, Some(30_000), Some(32_500.0))
        );
    }

    #[test]
    fn stun_transactions_match_by_id() {
        let mut r = PairRtt::default();
        let req = |id| StunBrief {
            class: StunClass::Request,
            transaction: id,
        };
        let ok = |id| StunBrief {
            class: StunClass::Success,
            transaction: id,
        };
        r.see_stun(ts(0), 0, req(7));
        r.see_stun(ts(5), 0, req(8));
        // A retransmission of 7 keeps its first time.
        r.see_stun(ts(10), 0, req(7));
        r.see_stun(ts(25), 1, ok(8));
        r.see_stun(ts(31), 1, ok(7));
        // An answer to nothing, and a second answer, are no samples.
        r.see_stun(ts(40), 1, ok(9));
        r.see_stun(ts(41), 1, ok(7));
        let s = r
            .samples()
            .map(|s| s.of(RttMethod::Stun, 0).clone())
            .unwrap_or_default();
        assert_eq!(
            (s.count(), s.min_us(), s.median_us()),
            (2, Some(20_000), Some(25_500.0))
        );
    }

    #[test]
    fn utp_differences_add_up_to_the_rtt() {
        let mut r = PairRtt::default();
        // Clocks 7 s apart; one-way delays 20 ms and 30 ms.
        let offset: u32 = 7_000_000;
        r.see_utp(ts(0), 0, 0);
        r.see_utp(ts(10), 1, offset.wrapping_add(20_000));
        r.see_utp(ts(50), 0, 0u32.wrapping_sub(offset).wrapping_add(30_000));
        let s = r.samples().map(|s| s.of(RttMethod::Utp, 0).clone());
        assert_eq!(s.and_then(|s| s.min_us()), Some(50_000));
    }
}
