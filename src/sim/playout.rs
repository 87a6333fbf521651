//! The fluid playout model used for the truth's continuity, stalls and buffer median.
//!
//! [`fluid_playout`] is event-exact: between two arrivals the queue drains linearly at the
//! stream rate, so played bytes and stall boundaries are computed in closed form.
//!
//! Definition (shared with the analyser, implemented independently there): from playback start
//! `t0` the player demands the stream rate `R` until the capture end. It has a queue `Q` fed by
//! the bytes handed to it. While `Q > 0` it plays at `R`; when `Q` is empty it plays what
//! arrives, up to `R`; demand not met is missed, not made up later. Continuity = bytes played /
//! bytes demanded over `[t0, end]` (1.0 when nothing was demanded). Stalls are the maximal
//! intervals during which demand was missed, merged across gaps shorter than
//! [`STALL_MERGE_GAP_S`], then stalls shorter than [`STALL_MIN_S`] are dropped from the list
//! (they still count in the fraction).

use serde::{Deserialize, Serialize};

/// Stalls separated by less than this many seconds are merged into one.
pub const STALL_MERGE_GAP_S: f64 = 0.2;
/// Merged stalls shorter than this are left out of the list.
pub const STALL_MIN_S: f64 = 0.1;

/// One interval during which the player's demand went unmet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stall {
    /// Start, seconds from the capture start.
    pub start_s: f64,
    /// Length in seconds.
    pub duration_s: f64,
}

/// Outcome of [`fluid_playout`].
#[derive(Debug, Clone, PartialEq)]
pub struct Playout {
    /// Bytes played / bytes demanded; 1.0 when nothing was demanded.
    pub continuity: f64,
    /// 1 − continuity.
    pub stall_fraction: f64,
    /// Stalls after merging and dropping short ones.
    pub stalls: Vec<Stall>,
    /// Bytes played on time.
    pub played_bytes: f64,
    /// Bytes demanded: rate × (end − start).
    pub demanded_bytes: f64,
}

/// Runs the fluid model. `feed` is (time in seconds, bytes) in non-decreasing time order;
/// entries at or before `start_s` fill the initial queue, entries after `end_s` are ignored.
/// `rate` is the demand in bytes per second.
pub fn fluid_playout(feed: &[(f64, f64)], start_s: f64, end_s: f64, rate: f64) -> Playout {
    let span = end_s - start_s;
    if span.is_nan() || span <= 0.0 || rate.is_nan() || rate <= 0.0 {
        return Playout {
            continuity: 1.0,
            stall_fraction: 0.0,
            stalls: Vec::new(),
            played_bytes: 0.0,
            demanded_bytes: 0.0,
        };
    }
    let demanded = rate * span;
    let mut queue = 0.0f64;
    // Missed bytes are summed rather than played ones, so a feed that never runs dry gives
    // exactly 1.0 instead of a sum of rounding errors.
    let mut missed = 0.0f64;
    let mut now = start_s;
    let mut raw: Vec<(f64, f64)> = Vec::new();

    let mut advance = |now: f64, to: f64, queue: &mut f64, missed: &mut f64| {
        let want = rate * (to - now);
        if *queue >= want {
            *queue -= want;
        } else {
            *missed += want - *queue;
            let empty_at = now + *queue / rate;
            *queue = 0.0;
            if to > empty_at {
                raw.push((empty_at, to));
            }
        }
    };

    for &(t, bytes) in feed {
        if t > end_s {
            break;
        }
        if t > now {
            advance(now, t, &mut queue, &mut missed);
            now = t;
        }
        queue += bytes;
    }
    if end_s > now {
        advance(now, end_s, &mut queue, &mut missed);
    }

    let missed = missed.clamp(0.0, demanded);
    let continuity = 1.0 - missed / demanded;
    Playout {
        continuity,
        stall_fraction: 1.0 - continuity,
        stalls: merge_stalls(&raw),
        played_bytes: demanded - missed,
        demanded_bytes: demanded,
    }
}

/// Merges (start, end) intervals closer than [`STALL_MERGE_GAP_S`] and drops those shorter than
/// [`STALL_MIN_S`]. Input in time order.
fn merge_stalls(raw: &[(f64, f64)]) -> Vec<Stall> {
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for &(s, e) in raw {
        match merged.last_mut() {
            Some(last) if s - last.1 < STALL_MERGE_GAP_S => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
        .into_iter()
        .filter(|(s, e)| e - s >= STALL_MIN_S)
        .map(|(s, e)| Stall {
            start_s: s,
            duration_s: e - s,
        })
        .collect()
}

/// Median of `samples` (mean of the middle two for an even count); `None` when empty.
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const R: f64 = 45_000.0;

    /// A feed at `rate` in chunks every `step` seconds from `from` to `to`.
    fn steady(from: f64, to: f64, step: f64, rate: f64) -> Vec<(f64, f64)> {
        let mut v = Vec::new();
        let mut t = from;
        while t < to {
            v.push((t, rate * step));
            t += step;
        }
        v
    }

    #[test]
    fn steady_feed_with_burst_has_no_stall() {
        let mut feed = vec![(10.0, 2.0 * R)];
        feed.extend(steady(10.1, 60.0, 0.1, R));
        let p = fluid_playout(&feed, 10.0, 60.0, R);
        assert_eq!(p.continuity, 1.0);
        assert_eq!(p.stall_fraction, 0.0);
        assert!(p.stalls.is_empty());
        assert!((p.demanded_bytes - 50.0 * R).abs() < 1e-6);
    }

    #[test]
    fn a_gap_is_one_stall() {
        // 1 s of stream at t0, nothing until t=15 (stall from 11 to 15), then 5 s at once.
        let feed = vec![(10.0, R), (15.0, 5.0 * R)];
        let p = fluid_playout(&feed, 10.0, 20.0, R);
        assert_eq!(p.stalls.len(), 1);
        assert!((p.stalls[0].start_s - 11.0).abs() < 1e-9);
        assert!((p.stalls[0].duration_s - 4.0).abs() < 1e-9);
        // Played 1 s + 5 s of 10 s demanded.
        assert!((p.continuity - 0.6).abs() < 1e-9);
        assert!((p.stall_fraction - 0.4).abs() < 1e-9);
    }

    #[test]
    fn permanent_half_rate_shortfall_tends_to_half() {
        // 2 s burst then half the rate for 1000 s.
        let mut feed = vec![(0.0, 2.0 * R)];
        feed.extend(steady(0.1, 1000.0, 0.1, 0.5 * R));
        let p = fluid_playout(&feed, 0.0, 1000.0, R);
        assert!((p.continuity - 0.5).abs() < 0.01, "{}", p.continuity);
        // Chunks every 0.1 s each playing for 0.05 s: micro-stalls merge into one long stall
        // starting once the burst has drained (about 4 s in).
        assert_eq!(p.stalls.len(), 1);
        assert!((p.stalls[0].start_s - 4.0).abs() < 0.2, "{:?}", p.stalls);
    }

    #[test]
    fn short_stalls_are_listed_only_when_long_enough() {
        // Queue empties for 0.05 s: counted in the fraction, not listed.
        let feed = vec![(0.0, R), (1.05, 10.0 * R)];
        let p = fluid_playout(&feed, 0.0, 5.0, R);
        assert!(p.stalls.is_empty());
        assert!(p.continuity < 1.0);
        assert!((p.stall_fraction - 0.05 / 5.0).abs() < 1e-9);
    }

    #[test]
    fn stalls_at_the_end_run_to_the_end() {
        let feed = vec![(0.0, R)];
        let p = fluid_playout(&feed, 0.0, 3.0, R);
        assert_eq!(p.stalls.len(), 1);
        assert!((p.stalls[0].start_s - 1.0).abs() < 1e-9);
        assert!((p.stalls[0].duration_s - 2.0).abs() < 1e-9);
    }

    #[test]
    fn zero_length_playback_is_full_continuity() {
        let p = fluid_playout(&[(5.0, 100.0)], 5.0, 5.0, R);
        assert_eq!(p.continuity, 1.0);
        assert!(p.stalls.is_empty());
        let p = fluid_playout(&[], 5.0, 4.0, R);
        assert_eq!(p.continuity, 1.0);
        assert!(!p.stall_fraction.is_nan());
        let p = fluid_playout(&[], 0.0, 4.0, 0.0);
        assert_eq!(p.continuity, 1.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
