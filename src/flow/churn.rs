//! Swarm dynamics from the local host's side (issue 18): per peer its sessions ([`Presence`]:
//! the current session and counts, never a list), arrivals and departures per minute, the
//! lifetimes of ended sessions ([`LifetimeHist`]), whether a peer's video flows both ways in
//! the same minute, and the turnover of suppliers between consecutive windows.
//!
//! Fed by the [`super::timeline::Timeline`] with the local host's peer traffic (UDP, uTP and
//! peer TCP; not infrastructure), in capture order. A session is a run of packets between the
//! local host and one peer with no gap longer than the idle timeout (`--idle-timeout`,
//! default [`DEFAULT_IDLE_TIMEOUT_NS`]); a gap splits it. A session ends at its last packet;
//! it is known to have ended once the idle timeout has passed after it, so sessions whose last
//! packet lies within the idle timeout of the capture's end are still open (censored) and
//! are left out of lifetimes and departures — the metrics layer closes the others.
//!
//! Memory: one [`Presence`] per peer, counters per minute of capture (capped like the
//! timeline's bins), and a fixed-size lifetime histogram.

use std::net::IpAddr;

use crate::hash::FastMap;

use crate::time::Timestamp;

/// Default idle timeout: 30 s. P2P-TV clients keep their neighbours alive with messages every
/// few seconds (SopCast, PPLive: 3–10 s); 30 s of silence is several missed keep-alives, the
/// neighbour was dropped. Shorter timeouts split sessions of idle-but-kept neighbours.
pub const DEFAULT_IDLE_TIMEOUT_NS: i64 = 30_000_000_000;
/// Width of the arrival/departure counters.
pub const MINUTE_NS: i64 = 60_000_000_000;
/// Width of a supplier-turnover window: 10 s, long enough that a steady supplier sends in
/// every window (a supplier of 1 % of a 300 kb/s stream sends a packet every 3 s or so).
pub const TURNOVER_WINDOW_NS: i64 = 10_000_000_000;
/// A peer that sent less than this share of a turnover window's video is no supplier of it
/// (the supplier rule of SPEC §2).
const SUPPLIER_SHARE: f64 = 0.01;

/// Lifetimes kept exactly before the histogram alone answers.
const EXACT_LIFETIMES: usize = 4096;
/// Histogram buckets per octave of milliseconds: 2^(1/32) wide, a quantile read from it is
/// within about 1.1 % of the true one.
const PER_OCTAVE: f64 = 32.0;
/// 1 ms to 2^36 ms (two years).
const LIFETIME_BUCKETS: usize = 36 * 32;

/// The lifetimes of ended sessions, in milliseconds: exact for the first
/// 4096, a log-bucket histogram for all.
#[derive(Debug, Clone, Default)]
pub struct LifetimeHist {
    count: u64,
    exact: Vec<u64>,
    buckets: Vec<u32>,
}

impl LifetimeHist {
    /// Adds a lifetime.
    pub fn add(&mut self, ms: u64) {
        self.count += 1;
        if self.exact.len() < EXACT_LIFETIMES {
            self.exact.push(ms);
        }
        if self.buckets.is_empty() {
            self.buckets = vec![0; LIFETIME_BUCKETS];
        }
        let i = ((ms.max(1) as f64).log2() * PER_OCTAVE) as usize;
        if let Some(b) = self.buckets.get_mut(i.min(LIFETIME_BUCKETS - 1)) {
            *b = b.saturating_add(1);
        }
    }

    /// Lifetimes added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// True when every lifetime is kept exactly.
    pub fn is_exact(&self) -> bool {
        self.count as usize == self.exact.len()
    }

    /// The `q` quantile (0–1) in milliseconds: nearest rank on the exact values, else the
    /// geometric middle of the histogram bucket holding that rank.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if self.is_exact() {
            let mut v = self.exact.clone();
            v.sort_unstable();
            return v.get(rank as usize - 1).map(|&x| x as f64);
        }
        let mut acc = 0u64;
        for (i, &c) in self.buckets.iter().enumerate() {
            acc += u64::from(c);
            if acc >= rank {
                return Some(2f64.powf((i as f64 + 0.5) / PER_OCTAVE));
            }
        }
        None
    }

    /// The empirical CDF as (lifetime ms, share of sessions ≤ it), at most `points` points.
    pub fn cdf_ms(&self, points: usize) -> Vec<(f64, f64)> {
        let n = self.count as f64;
        if self.count == 0 || points == 0 {
            return Vec::new();
        }
        if self.is_exact() {
            let mut v = self.exact.clone();
            v.sort_unstable();
            let step = (v.len() / points).max(1);
            let mut out: Vec<(f64, f64)> = v
                .iter()
                .enumerate()
                .filter(|(i, _)| (i + 1) % step == 0 || i + 1 == v.len())
                .map(|(i, &x)| (x as f64, (i + 1) as f64 / n))
                .collect();
            out.dedup_by(|b, a| {
                a.0 == b.0 && {
                    a.1 = b.1;
                    true
                }
            });
            return out;
        }
        let mut acc = 0u64;
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| {
                acc += u64::from(c);
                (2f64.powf((i as f64 + 1.0) / PER_OCTAVE), acc as f64 / n)
            })
            .collect()
    }
}

/// One peer as the local host saw it.
#[derive(Debug, Clone, Copy)]
pub struct Presence {
    /// Start and last packet of the current (latest) session.
    pub start: Timestamp,
    pub last: Timestamp,
    /// Sessions begun, the current one included.
    pub sessions: u32,
    /// Total length of the ended sessions (the current one excluded), nanoseconds.
    pub ended_ns: i64,
    /// Minutes in which video flowed in either direction, and in both.
    pub video_minutes: u32,
    pub both_minutes: u32,
    minute: i64,
    video_in: bool,
    video_out: bool,
}

impl Presence {
    /// The open minute's video counted into the minute totals (call once, at the end).
    pub fn minutes_closed(&self) -> (u32, u32) {
        let mut v = *self;
        v.close_minute();
        (v.video_minutes, v.both_minutes)
    }

    fn close_minute(&mut self) {
        if self.video_in || self.video_out {
            self.video_minutes += 1;
        }
        if self.video_in && self.video_out {
            self.both_minutes += 1;
        }
        self.video_in = false;
        self.video_out = false;
    }
}

/// The swarm's dynamics as seen from the local host.
#[derive(Debug, Clone)]
pub struct Churn {
    idle_ns: i64,
    origin: Timestamp,
    max_minutes: usize,
    peers: FastMap<IpAddr, Presence>,
    arrivals: Vec<u32>,
    departures: Vec<u32>,
    lifetimes: LifetimeHist,
    turn_window: i64,
    turn_bytes: FastMap<IpAddr, u64>,
    prev_suppliers: Vec<IpAddr>,
    turnover_sum: f64,
    turnover_windows: u32,
}

impl Churn {
    /// An empty accumulator with this idle timeout and at most `max_minutes` per-minute
    /// counters.
    pub fn new(idle_ns: i64, max_minutes: usize) -> Self {
        Churn {
            idle_ns: idle_ns.max(1),
            origin: Timestamp::EPOCH,
            max_minutes: max_minutes.max(1),
            peers: FastMap::default(),
            arrivals: Vec::new(),
            departures: Vec::new(),
            lifetimes: LifetimeHist::default(),
            turn_window: -1,
            turn_bytes: FastMap::default(),
            prev_suppliers: Vec::new(),
            turnover_sum: 0.0,
            turnover_windows: 0,
        }
    }

    pub(crate) fn set_origin(&mut self, ts: Timestamp) {
        self.origin = ts;
    }

    /// Most per-minute counters kept.
    pub fn max_minutes(&self) -> usize {
        self.max_minutes
    }

    /// The idle timeout, nanoseconds.
    pub fn idle_ns(&self) -> i64 {
        self.idle_ns
    }

    /// The peers seen, with their presence.
    pub fn peers(&self) -> &FastMap<IpAddr, Presence> {
        &self.peers
    }

    /// Sessions begun per minute of capture (the first minute holds the peers already there).
    pub fn arrivals(&self) -> &[u32] {
        &self.arrivals
    }

    /// Sessions ended per minute (by the minute of their last packet), among those known to
    /// have ended so far.
    pub fn departures(&self) -> &[u32] {
        &self.departures
    }

    /// Lifetimes of the sessions known to have ended so far.
    pub fn lifetimes(&self) -> &LifetimeHist {
        &self.lifetimes
    }

    /// Mean share of a turnover window's suppliers that did not supply in the window before,
    /// over the windows whose predecessor had suppliers too, and the number of such windows.
    pub fn turnover(&self) -> (Option<f64>, u32) {
        let n = self.turnover_windows;
        ((n > 0).then(|| self.turnover_sum / f64::from(n)), n)
    }

    /// The minute index of `ts`, when it has a counter.
    pub fn minute_of(&self, ts: Timestamp) -> Option<usize> {
        let m = (ts.since(self.origin).ns().max(0) / MINUTE_NS) as usize;
        (m < self.max_minutes).then_some(m)
    }

    fn bump(v: &mut Vec<u32>, m: Option<usize>) {
        if let Some(m) = m {
            if v.len() <= m {
                v.resize(m + 1, 0);
            }
            v[m] += 1;
        }
    }

    /// Ends a session (lifetime from its first to its last packet).
    pub fn end_session(&mut self, start: Timestamp, last: Timestamp) {
        let m = self.minute_of(last);
        Self::bump(&mut self.departures, m);
        let ms = last.since(start).ns().max(0) / 1_000_000;
        self.lifetimes.add(ms as u64);
    }

    /// Takes one packet of peer traffic between the local host and `peer`; `video` is its
    /// video payload (0 for control), `down` whether the peer sent it.
    pub(crate) fn see(&mut self, ts: Timestamp, peer: IpAddr, down: bool, video: u32) {
        let minute = ts.since(self.origin).ns().max(0) / MINUTE_NS;
        let idle = self.idle_ns;
        let mut ended = None;
        let mut arrived = false;
        match self.peers.get_mut(&peer) {
            None => {
                self.peers.insert(
                    peer,
                    Presence {
                        start: ts,
                        last: ts,
                        sessions: 1,
                        ended_ns: 0,
                        video_minutes: 0,
                        both_minutes: 0,
                        minute,
                        video_in: false,
                        video_out: false,
                    },
                );
                arrived = true;
            }
            Some(p) => {
                if ts.since(p.last).ns() > idle {
                    ended = Some((p.start, p.last));
                    p.ended_ns += p.last.since(p.start).ns().max(0);
                    p.sessions += 1;
                    p.start = ts;
                    arrived = true;
                }
                p.last = p.last.max(ts);
            }
        }
        if let Some((s, l)) = ended {
            self.end_session(s, l);
        }
        if arrived {
            let m = self.minute_of(ts);
            Self::bump(&mut self.arrivals, m);
        }
        if video > 0 {
            if let Some(p) = self.peers.get_mut(&peer) {
                if minute != p.minute {
                    p.close_minute();
                    p.minute = minute;
                }
                if down {
                    p.video_in = true;
                } else {
                    p.video_out = true;
                }
            }
            if down {
                self.supply(ts, peer, video);
            }
        }
    }

    fn supply(&mut self, ts: Timestamp, peer: IpAddr, video: u32) {
        let w = ts.since(self.origin).ns().max(0) / TURNOVER_WINDOW_NS;
        if w > self.turn_window {
            self.close_turnover_window(w == self.turn_window + 1);
            self.turn_window = w;
        }
        if w == self.turn_window {
            *self.turn_bytes.entry(peer).or_insert(0) += u64::from(video);
        }
    }

    /// Closes the current turnover window; `adjacent` says the next window follows it
    /// directly (after a window without video the previous suppliers are forgotten).
    fn close_turnover_window(&mut self, adjacent: bool) {
        let total: u64 = self.turn_bytes.values().sum();
        let mut now: Vec<IpAddr> = self
            .turn_bytes
            .iter()
            .filter(|&(_, &b)| b > 0 && b as f64 >= SUPPLIER_SHARE * total as f64)
            .map(|(&ip, _)| ip)
            .collect();
        now.sort_unstable();
        if !now.is_empty() && !self.prev_suppliers.is_empty() {
            let new = now
                .iter()
                .filter(|ip| self.prev_suppliers.binary_search(ip).is_err())
                .count();
            self.turnover_sum += new as f64 / now.len() as f64;
            self.turnover_windows += 1;
        }
        self.prev_suppliers = if adjacent { now } else { Vec::new() };
        self.turn_bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: f64) -> Timestamp {
        Timestamp::from_ns((s * 1e9) as i64)
    }

    #[test]
    fn gaps_split_sessions() {
        let mut c = Churn::new(DEFAULT_IDLE_TIMEOUT_NS, 100);
        let a = IpAddr::from([198, 51, 100, 1]);
        for s in [0.0, 10.0, 20.0, 100.0, 110.0] {
            c.see(ts(s), a, true, 0);
        }
        let p = c.peers()[&a];
        assert_eq!(p.sessions, 2);
        assert_eq!(p.ended_ns, 20_000_000_000);
        assert_eq!(c.arrivals(), &[1, 1]);
        assert_eq!(c.departures(), &[1]);
        assert_eq!(c.lifetimes().quantile_ms(0.5), Some(20_000.0));
    }

    #[test]
    fn lifetime_quantiles_beyond_the_exact_part() {
        let mut h = LifetimeHist::default();
        for i in 1..=10_000u64 {
            h.add(i * 10);
        }
        assert!(!h.is_exact());
        let m = h.quantile_ms(0.5).unwrap_or(0.0);
        assert!((m - 50_000.0).abs() / 50_000.0 < 0.02, "{m}");
        let p90 = h.quantile_ms(0.9).unwrap_or(0.0);
        assert!((p90 - 90_000.0).abs() / 90_000.0 < 0.02, "{p90}");
        let cdf = h.cdf_ms(50);
        assert!(cdf.last().is_some_and(|&(_, s)| (s - 1.0).abs() < 1e-9));
    }

    #[test]
    fn both_directions_in_a_minute_and_turnover() {
        let mut c = Churn::new(DEFAULT_IDLE_TIMEOUT_NS, 100);
        let (a, b, d) = (
            IpAddr::from([198, 51, 100, 1]),
            IpAddr::from([198, 51, 100, 2]),
            IpAddr::from([198, 51, 100, 3]),
        );
        // Minute 0: a sends and receives video; minute 1: a only sends.
        c.see(ts(1.0), a, true, 1000);
        c.see(ts(2.0), a, false, 1000);
        c.see(ts(61.0), a, true, 1000);
        assert_eq!(c.peers()[&a].minutes_closed(), (2, 1));
        // Windows: [a] (0–10 s), then 60–70 s [a] not adjacent to 0–10 s: no turnover counted;
        // 70–80 s: a and b: half new; 80–90 s: d only: all new.
        c.see(ts(71.0), a, true, 1000);
        c.see(ts(72.0), b, true, 1000);
        c.see(ts(81.0), d, true, 1000);
        c.see(ts(91.0), d, true, 1000);
        let (mean, n) = c.turnover();
        assert_eq!(n, 2);
        assert_eq!(mean, Some(0.75));
    }
}
