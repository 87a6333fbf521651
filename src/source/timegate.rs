//! Records whose time lies far from the rest of the capture (a packet years away: a host
//! whose clock was reset, two captures concatenated with `cat`-like tools). They are not
//! analysed — the capture's span, rates and series would stretch over the gap — but counted
//! and reported, with their own span, so nothing is lost silently.
//!
//! The gate is streaming: the first record opens the *kept* cluster, and a record within
//! [`FAR_GAP`] of the kept span widens it; any other record is *far*. When the far records
//! outnumber the kept ones, the first record was the odd one out: the file pass reads the
//! input again with the window pinned to the far records' span ([`TimeGate::pinned`]).

use crate::time::{Span, Timestamp};

/// Records more than this outside the kept span are far from it: 7 days. No live capture
/// pauses that long between two packets; rotated files of a campaign follow each other.
pub const FAR_GAP: Span = Span::from_ns(7 * 86_400 * 1_000_000_000);

/// Records and their span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cluster {
    pub records: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl Cluster {
    fn new(ts: Timestamp) -> Self {
        Cluster {
            records: 1,
            first: ts,
            last: ts,
        }
    }

    fn add(&mut self, ts: Timestamp) {
        self.records += 1;
        self.first = self.first.min(ts);
        self.last = self.last.max(ts);
    }
}

/// The gate (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct TimeGate {
    kept: Option<Cluster>,
    far: Option<Cluster>,
    /// Only records inside this window are kept (a second pass).
    window: Option<(Timestamp, Timestamp)>,
}

impl TimeGate {
    /// A gate that keeps exactly the records inside `[first, last]`.
    pub fn pinned(first: Timestamp, last: Timestamp) -> Self {
        TimeGate {
            window: Some((first, last)),
            ..TimeGate::default()
        }
    }

    /// Whether the record at `ts` is analysed.
    #[inline]
    pub fn admit(&mut self, ts: Timestamp) -> bool {
        let keep = match (self.window, self.kept.as_ref()) {
            (Some((lo, hi)), _) => ts >= lo && ts <= hi,
            (None, None) => true,
            (None, Some(k)) => {
                ts.since(k.last).ns() <= FAR_GAP.ns() && k.first.since(ts).ns() <= FAR_GAP.ns()
            }
        };
        let slot = if keep { &mut self.kept } else { &mut self.far };
        match slot {
            Some(c) => c.add(ts),
            None => *slot = Some(Cluster::new(ts)),
        }
        keep
    }

    /// What the gate let through and what it held back.
    pub fn outcome(&self) -> FarRecords {
        FarRecords {
            kept: self.kept,
            far: self.far,
            pinned: self.window.is_some(),
        }
    }
}

/// The gate's outcome, in the source statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FarRecords {
    pub kept: Option<Cluster>,
    pub far: Option<Cluster>,
    /// The window was pinned (a second pass).
    pub pinned: bool,
}

impl FarRecords {
    /// Far records outnumber the kept ones: the window should be theirs (a second pass).
    pub fn far_is_majority(&self) -> Option<Cluster> {
        match (self.kept, self.far) {
            (Some(k), Some(f)) if !self.pinned && f.records > k.records => Some(f),
            (None, Some(f)) if !self.pinned => Some(f),
            _ => None,
        }
    }

    /// Records held back.
    pub fn far_records(&self) -> u64 {
        self.far.map_or(0, |f| f.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: i64) -> Timestamp {
        Timestamp::from_ns(secs * 1_000_000_000)
    }

    const Y2019: i64 = 1_569_520_000;
    const Y2023: i64 = 1_673_444_902;

    #[test]
    fn a_later_capture_years_away_is_held_back() {
        let mut g = TimeGate::default();
        let kept = (0..700).filter(|i| g.admit(s(Y2019 + i))).count();
        let far = (0..81).filter(|i| g.admit(s(Y2023 + i))).count();
        assert_eq!((kept, far), (700, 0));
        let o = g.outcome();
        assert_eq!(o.far_records(), 81);
        assert_eq!(
            o.far.map(|f| (f.first, f.last)),
            Some((s(Y2023), s(Y2023 + 80)))
        );
        assert_eq!(o.far_is_majority(), None);
    }

    #[test]
    fn a_lone_first_record_years_early_is_found_and_the_window_pinned() {
        let mut g = TimeGate::default();
        g.admit(s(86_400));
        for i in 0..50 {
            g.admit(s(Y2023 + i));
        }
        let far = g.outcome().far_is_majority();
        assert_eq!(far.map(|f| f.records), Some(50));
        let f = far.unwrap_or(Cluster::new(s(0)));
        let mut second = TimeGate::pinned(f.first, f.last);
        assert!(!second.admit(s(86_400)));
        assert!((0..50).all(|i| second.admit(s(Y2023 + i))));
        assert_eq!(second.outcome().far_is_majority(), None);
        assert_eq!(second.outcome().far_records(), 1);
    }

    #[test]
    fn a_week_long_capture_with_a_gap_of_days_is_kept_whole() {
        let mut g = TimeGate::default();
        assert!(g.admit(s(Y2023)));
        assert!(g.admit(s(Y2023 + 3 * 86_400)));
        assert!(g.admit(s(Y2023 + 9 * 86_400)));
        // Backwards within the gap of the first record.
        assert!(g.admit(s(Y2023 - 86_400)));
        assert_eq!(g.outcome().far_records(), 0);
    }
}
