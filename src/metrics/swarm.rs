//! Swarm dynamics and reciprocity (issue 18): `swarm` in the report — peer sessions and
//! lifetimes, arrivals and departures per minute, supplier turnover, and whether the local
//! host gives video back to the peers that supply it — and the per-peer `sessions` and
//! `reciprocity`.
//!
//! Built from the timeline's [`Churn`] (sessions split by the idle timeout) and from the
//! `peers` section. Sessions still open at the end of the capture (a packet within the idle
//! timeout of its end) are censored: counted, but not in lifetimes or departures. Sessions
//! under way when the capture began are counted from their first captured packet, so in a
//! capture that starts mid-stream the first minute's arrivals and the lifetimes of those
//! sessions are what the capture saw, not what the peers did.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::flow::churn::{Churn, MINUTE_NS, TURNOVER_WINDOW_NS};
use crate::flow::Finished;

use super::peers::{Peer, PeerRole, Peers};
use super::round;

/// Most points of the lifetime CDF in the report.
pub const CDF_POINTS: usize = 50;

/// `swarm` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// A gap longer than this splits a peer's sessions (`--idle-timeout`).
    pub idle_timeout_s: f64,
    /// Peers that exchanged peer traffic with the local host.
    pub peers: u64,
    /// Sessions begun; of them, ended (silent for the idle timeout before the capture's end)
    /// and still open at the end (censored).
    pub sessions: u64,
    pub sessions_ended: u64,
    pub sessions_open_at_end: u64,
    pub lifetime_s: Lifetime,
    /// The lifetime CDF of ended sessions: [seconds, share of sessions ≤ it], at most 50
    /// points.
    pub lifetime_cdf: Vec<[f64; 2]>,
    /// Sessions begun / ended per minute of capture (the first minute holds the peers already
    /// there; departures by the minute of the session's last packet).
    pub arrivals_per_min: Vec<u32>,
    pub departures_per_min: Vec<u32>,
    pub supplier_turnover: Turnover,
    pub reciprocity: Reciprocity,
    pub how: String,
}

/// `swarm.lifetime_s`: over ended sessions, from first to last packet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lifetime {
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub mean: Option<f64>,
    pub sessions: u64,
    /// True when every lifetime was kept (the first 4096); else quantiles come from a
    /// histogram of 32 buckets per octave (within about 1.1 %).
    pub exact: bool,
}

/// `swarm.supplier_turnover`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Turnover {
    pub window_s: f64,
    /// Mean share of a window's suppliers (≥ 1 % of the window's video) that did not supply
    /// in the window before; `null` without two consecutive windows with suppliers.
    pub new_share: Option<f64>,
    /// 1 − `new_share`: the share that stayed.
    pub retained_share: Option<f64>,
    /// Pairs of consecutive windows counted.
    pub windows: u32,
}

/// `swarm.reciprocity`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reciprocity {
    /// Share of the video the local host uploaded that went to peers that also supplied it
    /// (tit-for-tat); `null` without upload.
    pub tit_for_tat_share: Option<f64>,
    /// Peers that both sent video to and received video from the local host.
    pub reciprocal_peers: u64,
    /// Of them, peers with video both ways within the same minute at least once.
    pub same_minute_peers: u64,
    /// The fewest peers supplying 50 % and 80 % of the video received, largest first.
    pub super_peers_50: Vec<String>,
    pub super_peers_80: Vec<String>,
}

/// `peers.list[].reciprocity`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerReciprocity {
    /// Video sent to the peer / video received from it (`null` when nothing was received).
    pub out_in_ratio: Option<f64>,
    /// Minutes in which video flowed between them, and in which it flowed both ways.
    pub video_minutes: u32,
    pub both_ways_minutes: u32,
}

/// The fewest peers (largest share first) whose shares reach `target`.
fn super_peers(list: &[Peer], target: f64) -> Vec<String> {
    let mut v: Vec<&Peer> = list.iter().filter(|p| p.share_in > 0.0).collect();
    v.sort_by(|a, b| b.share_in.total_cmp(&a.share_in).then(a.ip.cmp(&b.ip)));
    let mut acc = 0.0;
    let mut out = Vec::new();
    for p in v {
        if acc + 1e-9 >= target {
            break;
        }
        acc += p.share_in;
        out.push(p.ip.clone());
    }
    out
}

/// Builds `swarm` and fills each listed peer's `sessions` and `reciprocity`.
pub fn swarm(fin: &Finished, peers: &mut Peers) -> Swarm {
    let churn: &Churn = fin.timeline.churn();
    let idle = churn.idle_ns();
    let mut lifetimes = churn.lifetimes().clone();
    let mut departures = churn.departures().to_vec();
    let (mut sessions, mut open) = (0u64, 0u64);
    let mut by_ip: BTreeMap<IpAddr, (u32, u32, u32)> = BTreeMap::new();
    let mut ended_ns_total: i128 = 0;
    for (ip, p) in churn.peers() {
        sessions += u64::from(p.sessions);
        ended_ns_total += i128::from(p.ended_ns);
        if fin.last.since(p.last).ns() > idle {
            // Ended: silent for the idle timeout before the capture's end.
            lifetimes.add((p.last.since(p.start).ns().max(0) / 1_000_000) as u64);
            ended_ns_total += i128::from(p.last.since(p.start).ns().max(0));
            if let Some(m) = churn.minute_of(p.last) {
                if departures.len() <= m {
                    departures.resize(m + 1, 0);
                }
                departures[m] += 1;
            }
        } else {
            open += 1;
        }
        let (vm, bm) = p.minutes_closed();
        by_ip.insert(*ip, (p.sessions, vm, bm));
    }
    let ended = sessions - open;
    // As many minutes as the capture lasts, within the counters kept (a capture whose
    // timestamps lie a century apart has no million-entry arrays).
    let minutes = ((fin.duration().ns().max(0) / MINUTE_NS + 1) as usize).min(churn.max_minutes());
    let mut arrivals = churn.arrivals().to_vec();
    if !by_ip.is_empty() {
        arrivals.resize(arrivals.len().max(minutes), 0);
        departures.resize(departures.len().max(minutes), 0);
    }
    let q = |x: f64| lifetimes.quantile_ms(x).map(|ms| round(ms / 1000.0, 3));
    let lifetime = Lifetime {
        median: q(0.5),
        p90: q(0.9),
        mean: (ended > 0).then(|| round(ended_ns_total as f64 / 1e9 / ended as f64, 3)),
        sessions: lifetimes.count(),
        exact: lifetimes.is_exact(),
    };
    let cdf = lifetimes
        .cdf_ms(CDF_POINTS)
        .into_iter()
        .map(|(ms, share)| [round(ms / 1000.0, 3), round(share, 4)])
        .collect();
    let (new_share, windows) = churn.turnover();

    // Per peer, and the reciprocity totals.
    let mut reciprocal = 0;
    let mut same_minute = 0;
    for p in &mut peers.list {
        let Ok(ip) = p.ip.parse::<IpAddr>() else {
            continue;
        };
        if let Some(&(s, vm, bm)) = by_ip.get(&ip) {
            p.sessions = Some(s);
            p.reciprocity = Some(PeerReciprocity {
                out_in_ratio: (p.video_in_bytes > 0)
                    .then(|| round(p.video_out_bytes as f64 / p.video_in_bytes as f64, 4)),
                video_minutes: vm,
                both_ways_minutes: bm,
            });
            if p.video_in_bytes > 0 && p.video_out_bytes > 0 {
                reciprocal += 1;
                if bm > 0 {
                    same_minute += 1;
                }
            }
        }
    }
    let up_total: u64 = peers.list.iter().map(|p| p.video_out_bytes).sum();
    let up_to_suppliers: u64 = peers
        .list
        .iter()
        .filter(|p| p.role == PeerRole::Supplier)
        .map(|p| p.video_out_bytes)
        .sum();
    let reciprocity = Reciprocity {
        tit_for_tat_share: (up_total > 0)
            .then(|| round(up_to_suppliers as f64 / up_total as f64, 4)),
        reciprocal_peers: reciprocal,
        same_minute_peers: same_minute,
        super_peers_50: super_peers(&peers.list, 0.5),
        super_peers_80: super_peers(&peers.list, 0.8),
    };
    Swarm {
        idle_timeout_s: round(idle as f64 / 1e9, 3),
        peers: by_ip.len() as u64,
        sessions,
        sessions_ended: ended,
        sessions_open_at_end: open,
        lifetime_s: lifetime,
        lifetime_cdf: cdf,
        arrivals_per_min: arrivals,
        departures_per_min: departures,
        supplier_turnover: Turnover {
            window_s: TURNOVER_WINDOW_NS as f64 / 1e9,
            new_share: new_share.map(|x| round(x, 4)),
            retained_share: new_share.map(|x| round(1.0 - x, 4)),
            windows,
        },
        reciprocity,
        how: format!(
            "a session is a run of peer packets (UDP, uTP, peer TCP) between the local host and one peer with no gap over {} s; sessions still open within that time of the capture's end are censored (left out of lifetimes and departures); supplier turnover over {} s windows",
            round(idle as f64 / 1e9, 3),
            TURNOVER_WINDOW_NS / 1_000_000_000
        ),
    }
}
