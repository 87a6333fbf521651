//! Playback delay across vantage points (SPEC §2 "Playback delay"): how long after the source
//! sent a piece of video each node received it, with clocks in sync.
//!
//! The principal type is [`Matcher`]. It is fed, in time order across all captures (a k-way
//! merge), the video packets the source sent ([`Matcher::source_sent`]) and the video packets
//! each node received ([`Matcher::node_received`]), and [`Matcher::finish`] gives one
//! [`NodeDelay`] per node:
//!
//! - **payload match**: a video packet is known by a [`fingerprint`] of its UDP payload past a
//!   small per-hop header. Every offset of [`OFFSETS`] is tried at once; each node keeps the
//!   offset that matches most of its packets (ties go to the offset that matches most over all
//!   nodes, then to the smallest). Delay = first time the node received a fingerprint − first
//!   time the source sent it; its median, p10 and p90 come from a histogram with three
//!   significant digits (1 ms at 1 s).
//! - **rate cross-correlation** ([`xcorr_lag`]): when too few packets match (payloads
//!   rewritten per hop, or encrypted), the lag that best aligns a node's video download series
//!   with the source's video upload series, both binned on one time grid ([`Binner`]).
//!
//! Memory bound: per offset, a sliding window maps fingerprints to the first time the source
//! sent them, and entries older than `horizon_ns` before the newest packet are evicted; the
//! window also holds at most `max_entries` entries (the oldest go first, counted in
//! `evicted_early`). The window is therefore bounded by min(`max_entries`, source video packets
//! within the horizon) × [`OFFSETS`]`.len()` entries of about 40 bytes, whatever the capture's
//! length. A node's reception can only match a source packet still in the window, so a delay
//! longer than the horizon is not seen, nor is one where the node's clock runs ahead of the
//! source's (negative delay). Per node and offset, a delay histogram of about 80 KiB is
//! allocated on its first match. The rate series take 8 bytes per bin of the captures' span.

use std::collections::VecDeque;

use crate::hash::FastMap;
use hdrhistogram::Histogram;

/// Offsets into the UDP payload where fingerprints start (bytes of a per-hop header skipped).
pub const OFFSETS: [usize; 7] = [0, 4, 8, 12, 16, 24, 32];
/// Payload bytes hashed into a fingerprint (fewer when the payload is shorter).
pub const FINGERPRINT_BYTES: usize = 64;
/// Fewest payload bytes past the offset for a fingerprint to be taken.
pub const MIN_FINGERPRINT_BYTES: usize = 16;
/// Most nodes one matcher follows (a bit per node in each window entry).
pub const MAX_NODES: usize = 64;
/// Largest delay the histograms hold, µs (longer delays are clamped to it).
const MAX_DELAY_US: u64 = 86_400_000_000;

/// A 64-bit fingerprint of `payload[offset..]` (at most [`FINGERPRINT_BYTES`] of it, the
/// count hashed in), or `None` when fewer than [`MIN_FINGERPRINT_BYTES`] bytes are left.
pub fn fingerprint(payload: &[u8], offset: usize) -> Option<u64> {
    let end = payload.len().min(offset.saturating_add(FINGERPRINT_BYTES));
    let bytes = payload.get(offset..end)?;
    if bytes.len() < MIN_FINGERPRINT_BYTES {
        return None;
    }
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = mix(h ^ u64::from_le_bytes(b));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = mix(h ^ u64::from_le_bytes(b));
    }
    Some(mix(h))
}

/// The finaliser of MurmurHash3 / SplitMix64: every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Settings of a [`Matcher`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    /// Source packets older than this (before the newest packet seen) leave the window.
    pub horizon_ns: i64,
    /// Most entries per offset's window.
    pub max_entries: usize,
    /// Width of a rate-series bin, ns.
    pub bin_ns: i64,
    /// Most bins per rate series (later packets are not binned).
    pub max_bins: usize,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            horizon_ns: 300 * 1_000_000_000,
            max_entries: 1 << 20,
            bin_ns: 100_000_000,
            max_bins: 2_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    t_ns: i64,
    /// Nodes that already received this payload (bit per node).
    seen: u64,
}

/// One offset's sliding window of source fingerprints.
#[derive(Debug, Default)]
struct Window {
    map: FastMap<u64, Slot>,
    order: VecDeque<(i64, u64)>,
    peak: usize,
    evicted_early: u64,
}

impl Window {
    fn evict(&mut self, before_ns: i64) {
        while let Some(&(t, fp)) = self.order.front() {
            if t >= before_ns {
                break;
            }
            self.order.pop_front();
            if self.map.get(&fp).is_some_and(|s| s.t_ns == t) {
                self.map.remove(&fp);
            }
        }
    }

    fn insert(&mut self, fp: u64, t_ns: i64, max_entries: usize) {
        if self.map.contains_key(&fp) {
            return;
        }
        while self.map.len() >= max_entries.max(1) {
            let Some((t, old)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old).is_some_and(|s| s.t_ns == t) {
                self.map.remove(&old);
                self.evicted_early += 1;
            }
        }
        self.map.insert(fp, Slot { t_ns, seen: 0 });
        self.order.push_back((t_ns, fp));
        self.peak = self.peak.max(self.map.len());
    }
}

/// Per node and offset: matches and their delays.
#[derive(Debug, Default)]
struct NodeOffset {
    matched: u64,
    delays_us: Option<Histogram<u32>>,
}

#[derive(Debug)]
struct NodeAcc {
    received: u64,
    per_offset: Vec<NodeOffset>,
    series: Binner,
}

/// Video bytes per time bin on a grid shared by every series, plus the span of the capture
/// the series comes from.
#[derive(Debug, Clone)]
pub struct Binner {
    bin_ns: i64,
    max_bins: usize,
    bins: Vec<f64>,
    span: Option<(i64, i64)>,
    dropped: u64,
}

impl Binner {
    /// An empty series of `bin_ns` bins, at most `max_bins` of them.
    pub fn new(bin_ns: i64, max_bins: usize) -> Self {
        Binner {
            bin_ns: bin_ns.max(1),
            max_bins,
            bins: Vec::new(),
            span: None,
            dropped: 0,
        }
    }

    /// Notes that the capture behind this series covers `t_ns` (relative to the grid origin).
    pub fn cover(&mut self, t_ns: i64) {
        self.span = Some(match self.span {
            None => (t_ns, t_ns),
            Some((a, b)) => (a.min(t_ns), b.max(t_ns)),
        });
    }

    /// Adds `bytes` at `t_ns` (relative to the grid origin).
    pub fn add(&mut self, t_ns: i64, bytes: f64) {
        self.cover(t_ns);
        if t_ns < 0 {
            self.dropped += 1;
            return;
        }
        let i = (t_ns / self.bin_ns) as usize;
        if i >= self.max_bins {
            self.dropped += 1;
            return;
        }
        if self.bins.len() <= i {
            self.bins.resize(i + 1, 0.0);
        }
        self.bins[i] += bytes;
    }

    /// Bins the capture covers, `[first, last]`, and the values (zero outside those added).
    pub fn active(&self) -> Option<(usize, usize)> {
        let (a, b) = self.span?;
        let first = (a.max(0) / self.bin_ns) as usize;
        let last = ((b.max(0) / self.bin_ns) as usize).min(self.max_bins.saturating_sub(1));
        (first <= last).then_some((first, last))
    }

    /// The value of bin `i` (0 beyond the stored bins).
    pub fn get(&self, i: usize) -> f64 {
        self.bins.get(i).copied().unwrap_or(0.0)
    }
}

/// Delay of one node behind the source.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDelay {
    /// Video packets the node received.
    pub video_received: u64,
    /// Of those, packets whose fingerprint the source had sent (at the chosen offset).
    pub matched: u64,
    /// The offset chosen for this node; `None` when nothing matched at any offset.
    pub offset: Option<usize>,
    /// Percentiles of the delay, seconds (`None` without matches).
    pub median_s: Option<f64>,
    pub p10_s: Option<f64>,
    pub p90_s: Option<f64>,
    /// Rate cross-correlation: lag in seconds and the Pearson correlation at that lag
    /// (`None` when the series are too short or flat).
    pub xcorr: Option<(f64, f64)>,
}

impl NodeDelay {
    /// matched / received, `None` without video.
    pub fn matched_share(&self) -> Option<f64> {
        (self.video_received > 0).then(|| self.matched as f64 / self.video_received as f64)
    }
}

/// What the whole matching saw.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchSummary {
    pub nodes: Vec<NodeDelay>,
    /// The offset that matched most over all nodes.
    pub best_offset: Option<usize>,
    /// Video packets the source sent.
    pub source_video_packets: u64,
    /// Most entries any offset's window held at once.
    pub peak_window_entries: usize,
    /// Entries pushed out by the `max_entries` cap before the horizon.
    pub evicted_early: u64,
    /// Packets outside the rate series' grid.
    pub unbinned: u64,
}

/// Matches the video packets of nodes against the source's, in time order.
#[derive(Debug)]
pub struct Matcher {
    cfg: MatchConfig,
    windows: Vec<Window>,
    nodes: Vec<NodeAcc>,
    source_series: Binner,
    source_sent: u64,
    origin_ns: Option<i64>,
    newest_ns: i64,
}

impl Matcher {
    /// A matcher for `nodes` receivers (at most [`MAX_NODES`]; more are ignored).
    pub fn new(nodes: usize, cfg: MatchConfig) -> Self {
        let nodes = nodes.min(MAX_NODES);
        Matcher {
            cfg,
            windows: OFFSETS.iter().map(|_| Window::default()).collect(),
            nodes: (0..nodes)
                .map(|_| NodeAcc {
                    received: 0,
                    per_offset: OFFSETS.iter().map(|_| NodeOffset::default()).collect(),
                    series: Binner::new(cfg.bin_ns, cfg.max_bins),
                })
                .collect(),
            source_series: Binner::new(cfg.bin_ns, cfg.max_bins),
            source_sent: 0,
            origin_ns: None,
            newest_ns: i64::MIN,
        }
    }

    fn rel(&mut self, ts_ns: i64) -> i64 {
        let origin = *self.origin_ns.get_or_insert(ts_ns);
        ts_ns - origin
    }

    fn advance(&mut self, ts_ns: i64) {
        if ts_ns > self.newest_ns {
            self.newest_ns = ts_ns;
            let before = ts_ns.saturating_sub(self.cfg.horizon_ns);
            for w in &mut self.windows {
                w.evict(before);
            }
        }
    }

    /// Notes any packet of the source's capture (`node = None`) or a node's, so the rate
    /// series know the span each capture covers.
    pub fn cover(&mut self, node: Option<usize>, ts_ns: i64) {
        let t = self.rel(ts_ns);
        match node {
            None => self.source_series.cover(t),
            Some(k) => {
                if let Some(n) = self.nodes.get_mut(k) {
                    n.series.cover(t);
                }
            }
        }
    }

    /// A video packet the source sent at `ts_ns`: its UDP payload and IP length.
    pub fn source_sent(&mut self, ts_ns: i64, payload: &[u8], ip_len: u32) {
        self.advance(ts_ns);
        let t = self.rel(ts_ns);
        self.source_series.add(t, f64::from(ip_len));
        self.source_sent += 1;
        let max = self.cfg.max_entries;
        for (w, &off) in self.windows.iter_mut().zip(OFFSETS.iter()) {
            if let Some(fp) = fingerprint(payload, off) {
                w.insert(fp, ts_ns, max);
            }
        }
    }

    /// A video packet node `node` received at `ts_ns`.
    pub fn node_received(&mut self, node: usize, ts_ns: i64, payload: &[u8], ip_len: u32) {
        if node >= self.nodes.len() {
            return;
        }
        self.advance(ts_ns);
        let t = self.rel(ts_ns);
        let acc = &mut self.nodes[node];
        acc.series.add(t, f64::from(ip_len));
        acc.received += 1;
        let bit = 1u64 << node;
        for ((w, &off), per) in self
            .windows
            .iter_mut()
            .zip(OFFSETS.iter())
            .zip(acc.per_offset.iter_mut())
        {
            let Some(fp) = fingerprint(payload, off) else {
                continue;
            };
            let Some(slot) = w.map.get_mut(&fp) else {
                continue;
            };
            per.matched += 1;
            if slot.seen & bit != 0 {
                continue;
            }
            slot.seen |= bit;
            let delay_us = ((ts_ns - slot.t_ns).max(0) / 1_000) as u64;
            if per.delays_us.is_none() {
                per.delays_us = Histogram::new_with_max(MAX_DELAY_US, 3).ok();
            }
            if let Some(h) = per.delays_us.as_mut() {
                h.saturating_record(delay_us.min(MAX_DELAY_US));
            }
        }
    }

    /// The delays of every node. `max_lag_s` bounds the cross-correlation's search (both ways).
    pub fn finish(self, max_lag_s: f64) -> MatchSummary {
        let totals: Vec<u64> = (0..OFFSETS.len())
            .map(|i| self.nodes.iter().map(|n| n.per_offset[i].matched).sum())
            .collect();
        let best = best_index(&totals, None);
        let bin_s = self.cfg.bin_ns as f64 / 1e9;
        let max_lag_bins = (max_lag_s / bin_s).round().max(0.0) as usize;
        let mut unbinned = self.source_series.dropped;
        let mut out = Vec::with_capacity(self.nodes.len());
        for n in &self.nodes {
            unbinned += n.series.dropped;
            let counts: Vec<u64> = n.per_offset.iter().map(|p| p.matched).collect();
            let chosen = best_index(&counts, best);
            let (median_s, p10_s, p90_s) = chosen
                .and_then(|i| n.per_offset[i].delays_us.as_ref())
                .filter(|h| !h.is_empty())
                .map(|h| {
                    let q = |x: f64| h.median_equivalent(h.value_at_quantile(x)) as f64 / 1e6;
                    (Some(q(0.5)), Some(q(0.1)), Some(q(0.9)))
                })
                .unwrap_or((None, None, None));
            let xcorr = xcorr_lag(&self.source_series, &n.series, max_lag_bins)
                .map(|(lag, r)| (lag * bin_s, r));
            out.push(NodeDelay {
                video_received: n.received,
                matched: chosen.map_or(0, |i| n.per_offset[i].matched),
                offset: chosen.map(|i| OFFSETS[i]),
                median_s,
                p10_s,
                p90_s,
                xcorr,
            });
        }
        MatchSummary {
            nodes: out,
            best_offset: best.map(|i| OFFSETS[i]),
            source_video_packets: self.source_sent,
            peak_window_entries: self.windows.iter().map(|w| w.peak).max().unwrap_or(0),
            evicted_early: self.windows.iter().map(|w| w.evicted_early).sum(),
            unbinned,
        }
    }
}

/// Index of the largest count (> 0); ties go to `prefer` when it is among them, else to the
/// first.
fn best_index(counts: &[u64], prefer: Option<usize>) -> Option<usize> {
    let max = counts.iter().copied().max().filter(|&m| m > 0)?;
    if let Some(p) = prefer {
        if counts.get(p) == Some(&max) {
            return Some(p);
        }
    }
    counts.iter().position(|&c| c == max)
}

/// The `q` quantile of sorted values, interpolated linearly between ranks; `None` when empty.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// The lag, in bins (refined between bins by a parabola through the peak), at which `node`'s
/// series best follows `source`'s, and the Pearson correlation there. Only the bins each
/// capture covers take part; lags from `-max_lag` to `+max_lag` are searched, each needing an
/// overlap of at least half the shorter series (and 20 bins). `None` when no lag qualifies or
/// a series is flat.
pub fn xcorr_lag(source: &Binner, node: &Binner, max_lag: usize) -> Option<(f64, f64)> {
    let (s0, s1) = source.active()?;
    let (n0, n1) = node.active()?;
    let shorter = (s1 - s0 + 1).min(n1 - n0 + 1);
    let min_overlap = (shorter / 2).max(20);
    let lag_max = max_lag as i64;
    let mut scores: Vec<(i64, f64)> = Vec::new();
    for lag in -lag_max..=lag_max {
        // Pairs (source[i], node[i + lag]) for i in both spans.
        let lo = (s0 as i64).max(n0 as i64 - lag);
        let hi = (s1 as i64).min(n1 as i64 - lag);
        if hi < lo || ((hi - lo + 1) as usize) < min_overlap {
            continue;
        }
        let r = pearson((lo..=hi).map(|i| (source.get(i as usize), node.get((i + lag) as usize))));
        if let Some(r) = r {
            scores.push((lag, r));
        }
    }
    let (k, &(lag, r)) = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))?;
    // Parabolic refinement when both neighbours are adjacent lags.
    let mut refined = lag as f64;
    if k > 0 && k + 1 < scores.len() {
        let (l0, y0) = scores[k - 1];
        let (l2, y2) = scores[k + 1];
        if l0 == lag - 1 && l2 == lag + 1 {
            let denom = y0 - 2.0 * r + y2;
            if denom < 0.0 {
                refined += (0.5 * (y0 - y2) / denom).clamp(-0.5, 0.5);
            }
        }
    }
    Some((refined, r))
}

/// Pearson correlation of pairs; `None` when either side is constant or there are < 2 pairs.
fn pearson(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in pairs {
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    if n < 2.0 {
        return None;
    }
    let vx = sxx - sx * sx / n;
    let vy = syy - sy * sy / n;
    if vx <= 1e-12 || vy <= 1e-12 {
        return None;
    }
    Some((sxy - sx * sy / n) / (vx * vy).sqrt())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::sim::rng::Rng;

    const S: i64 = 1_000_000_000;

    /// A payload: an 8-byte header that changes per hop, then chunk bytes from `chunk`.
    fn payload(chunk: u64, hop: u8) -> Vec<u8> {
        let mut p = vec![hop, hop.wrapping_mul(7), 0, 0, hop, hop, hop, hop];
        let mut r = Rng::new(chunk, 99);
        while p.len() < 200 {
            p.extend_from_slice(&r.next_u64().to_le_bytes());
        }
        p
    }

    #[test]
    fn fingerprints_need_bytes_and_differ() {
        let a = payload(1, 1);
        assert!(fingerprint(&a, 0).is_some());
        assert_eq!(fingerprint(&a[..20], 8), None);
        assert_ne!(fingerprint(&a, 8), fingerprint(&payload(2, 1), 8));
        assert_eq!(fingerprint(&a, 8), fingerprint(&payload(1, 2), 8));
        assert_ne!(fingerprint(&a, 0), fingerprint(&payload(1, 2), 0));
    }

    #[test]
    fn payload_match_recovers_delay_and_offset() {
        let mut m = Matcher::new(2, MatchConfig::default());
        for k in 0..200u64 {
            let t = 10 * S + k as i64 * S / 20;
            m.source_sent(t, &payload(k, 1), 228);
        }
        // Node 0 is one hop away (same packet), node 1 two hops (new header), 2.5 s later.
        for k in 0..200u64 {
            let t = 10 * S + k as i64 * S / 20;
            m.node_received(0, t + S / 50, &payload(k, 1), 228);
        }
        let mut late = Matcher::new(2, MatchConfig::default());
        for k in 0..400u64 {
            let t = k as i64 * S / 20;
            late.source_sent(t, &payload(k, 1), 228);
            if k >= 50 {
                // Received 2.5 s after it was sent: chunk k − 50 (ordered by time).
                let j = k - 50;
                late.node_received(1, t, &payload(j, 2), 228);
                late.node_received(0, t, &payload(k, 1), 228);
            }
        }
        let d = m.finish(60.0);
        assert_eq!(d.nodes[0].matched, 200);
        assert!((d.nodes[0].median_s.unwrap() - 0.02).abs() < 0.001);
        let d = late.finish(60.0);
        assert_eq!(d.best_offset, Some(8));
        assert_eq!(d.nodes[0].offset, Some(8), "ties go to the overall best");
        assert_eq!(d.nodes[1].offset, Some(8));
        assert_eq!(d.nodes[1].matched, 350);
        assert!((d.nodes[1].median_s.unwrap() - 2.5).abs() < 0.005);
        assert!((d.nodes[1].p10_s.unwrap() - 2.5).abs() < 0.005);
        assert_eq!(d.nodes[1].matched_share(), Some(1.0));
    }

    #[test]
    fn window_is_bounded_by_horizon_and_cap() {
        let cfg = MatchConfig {
            horizon_ns: S,
            max_entries: 1_000,
            ..MatchConfig::default()
        };
        let mut m = Matcher::new(1, cfg);
        for k in 0..5_000u64 {
            m.source_sent(k as i64 * S / 100, &payload(k, 1), 228);
        }
        // 100 packets per second, 1 s horizon: about 100 entries, never the cap.
        let d = m.finish(1.0);
        assert!(d.peak_window_entries <= 102, "{}", d.peak_window_entries);
        assert_eq!(d.evicted_early, 0);
        let cfg = MatchConfig {
            horizon_ns: 1_000 * S,
            max_entries: 50,
            ..MatchConfig::default()
        };
        let mut m = Matcher::new(1, cfg);
        for k in 0..500u64 {
            m.source_sent(k as i64 * S / 100, &payload(k, 1), 228);
        }
        // An old payload is gone, a recent one still matches.
        m.node_received(0, 5 * S, &payload(3, 1), 228);
        m.node_received(0, 5 * S, &payload(499, 1), 228);
        let d = m.finish(1.0);
        assert_eq!(d.peak_window_entries, 50);
        assert_eq!(d.evicted_early, 450 * OFFSETS.len() as u64);
        assert_eq!(d.nodes[0].matched, 1);
    }

    #[test]
    fn duplicates_count_as_matched_but_delay_once() {
        let mut m = Matcher::new(1, MatchConfig::default());
        m.source_sent(0, &payload(1, 1), 228);
        m.node_received(0, S, &payload(1, 2), 228);
        m.node_received(0, 3 * S, &payload(1, 3), 228);
        let d = m.finish(1.0);
        assert_eq!(d.nodes[0].matched, 2);
        assert!((d.nodes[0].median_s.unwrap() - 1.0).abs() < 0.002);
    }

    #[test]
    fn xcorr_finds_a_shift() {
        let mut src = Binner::new(S / 10, 10_000);
        let mut node = Binner::new(S / 10, 10_000);
        let mut r = Rng::new(5, 1);
        for i in 0..600i64 {
            let v = r.uniform(0.0, 1000.0);
            src.add(i * S / 10, v);
            // 2.3 s later.
            node.add(i * S / 10 + 23 * S / 10, v);
        }
        let (lag, corr) = xcorr_lag(&src, &node, 1200).unwrap();
        assert!((lag - 23.0).abs() < 0.5, "{lag}");
        assert!(corr > 0.9);
        let flat = Binner::new(S / 10, 10);
        assert_eq!(xcorr_lag(&src, &flat, 10), None);
    }

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert_eq!(percentile(&v, 0.1), Some(1.4));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
