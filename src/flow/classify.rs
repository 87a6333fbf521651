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

use rustc_hash::FxHashMap;

use super::pairs::PairStats;
use super::sizes::{self, SizeHist};
use super::Rec;

/// What the user fixed on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    /// `--local`.
    pub local: Option<IpAddr>,
    /// `--video-min`.
    pub video_min: Option<u32>,
}

/// A local host and a threshold: how every packet of the local host is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub local: IpAddr,
    /// Smallest video payload; `None` when video and control could not be separated.
    pub threshold: Option<u32>,
}

impl Decision {
    /// True for a UDP payload of `size` bytes counted as video.
    #[inline]
    pub fn is_video(&self, size: u32) -> bool {
        is_video(self.threshold, size)
    }
}

/// True for a UDP payload of `size` bytes counted as video under `threshold` (SPEC §2: video
/// is a payload at or above the threshold; without a threshold nothing is video).
#[inline]
pub fn is_video(threshold: Option<u32>, size: u32) -> bool {
    threshold.is_some_and(|t| size >= t)
}

/// The outcome of [`settle`].
#[derive(Debug, Clone, Default)]
pub struct Settled {
    pub local: Option<IpAddr>,
    pub threshold: Option<u32>,
    /// Ranked local-host candidates with their number of distinct UDP partners.
    pub candidates: Vec<(IpAddr, u64)>,
    /// Peer UDP payload sizes of the local host, both directions.
    pub hist: SizeHist,
}

impl Settled {
    /// The decision, when there is a local host.
    pub fn decision(&self) -> Option<Decision> {
        self.local.map(|local| Decision {
            local,
            threshold: self.threshold,
        })
    }
}

/// Makes both decisions from the pairs: given, else pinned, else inferred.
pub fn settle(pairs: &[PairStats], given: Given, pinned: Option<Decision>) -> Settled {
    let candidates = candidates(pairs);
    let local = given
        .local
        .or(pinned.map(|p| p.local))
        .or_else(|| candidates.first().map(|(ip, _)| *ip));
    let hist = local.map(|l| local_sizes(pairs, l)).unwrap_or_default();
    let threshold = match (given.video_min, pinned) {
        (Some(t), _) => Some(t),
        (None, Some(p)) => p.threshold,
        (None, None) => sizes::otsu_threshold(&hist),
    };
    Settled {
        local,
        threshold,
        candidates,
        hist,
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
/// exchange peer UDP with (infrastructure ports excluded), then by packets. Falls back to any
/// IP traffic when no peer UDP exists. Returns (address, distinct partners).
pub fn candidates(pairs: &[PairStats]) -> Vec<(IpAddr, u64)> {
    let mut degree: FxHashMap<IpAddr, (u64, u64)> = FxHashMap::default();
    let udp_exists = pairs.iter().any(PairStats::has_peer_udp);
    // Loopback addresses are candidates only in a capture with no other host.
    let only_loopback = pairs.iter().all(|p| p.a.is_loopback() && p.b.is_loopback());
    for pair in pairs {
        if udp_exists && !pair.has_peer_udp() {
            continue;
        }
        let packets = pair.dir[0].packets + pair.dir[1].packets;
        for ip in [pair.a, pair.b] {
            if is_unicast_host(ip) || (only_loopback && ip.is_loopback()) {
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
pub fn local_sizes(pairs: &[PairStats], local: IpAddr) -> SizeHist {
    let mut hist = SizeHist::default();
    for pair in pairs.iter().filter(|p| p.a == local || p.b == local) {
        hist.merge(&pair.dir[0].udp_sizes);
        hist.merge(&pair.dir[1].udp_sizes);
    }
    hist
}

/// Where the warm-up is.
#[derive(Debug, Clone)]
enum Stage {
    /// Records wait for a decision; the warm-up ends by `limit` records at the latest.
    Buffering { records: Vec<Rec>, limit: usize },
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
pub(crate) type Release = (Decision, Vec<Rec>);

impl Warmup {
    /// A warm-up that needs no buffering when the user gave both decisions or a first pass
    /// pinned them.
    pub fn new(given: Given, pinned: Option<Decision>, limit: usize) -> Self {
        let decided = match (given, pinned) {
            (
                Given {
                    local: Some(local),
                    video_min: Some(t),
                },
                _,
            ) => Some(Decision {
                local,
                threshold: Some(t),
            }),
            (_, Some(p)) => Some(Decision {
                local: given.local.unwrap_or(p.local),
                threshold: given.video_min.or(p.threshold),
            }),
            _ => None,
        };
        let stage = match decided {
            Some(d) => Stage::Streaming(d),
            None => Stage::Buffering {
                records: Vec::new(),
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
    pub(crate) fn offer(&mut self, rec: Rec, pairs: &[PairStats]) -> Option<Release> {
        let Stage::Buffering { records, limit } = &mut self.stage else {
            return None;
        };
        records.push(rec);
        let full = records.len() >= *limit;
        if !full && !Self::ready(records.len(), pairs, self.given) {
            return None;
        }
        let Some(d) = settle(pairs, self.given, None).decision() else {
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
    fn ready(buffered: usize, pairs: &[PairStats], given: Given) -> bool {
        if buffered % 8192 != 0 || buffered < 20_000 {
            return false;
        }
        let s = settle(
            pairs,
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
            Stage::Streaming(_) => (d, Vec::new()),
        }
    }
}
