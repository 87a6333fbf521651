//! Time as the capture gives it: [`Timestamp`] (an instant, nanoseconds since the Unix epoch)
//! and [`Span`] (a signed length of time, nanoseconds). The lowest layer: every other module
//! takes its instants from here.
//!
//! Timestamps come from files and packets, so they can be anything: arithmetic on them
//! saturates instead of overflowing (a debug build never panics on a capture, a release build
//! never wraps into 1677). Whether an instant is believable is [`Timestamp::is_plausible`]:
//! the sources count implausible ones as bad timestamps and keep them off the timeline.

use std::fmt;

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// An instant: nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A length of time in nanoseconds; negative when the end comes before the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

impl Timestamp {
    /// The earliest plausible capture time: the Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The latest plausible capture time: 2^33 s after the epoch (year 2242), twice what a
    /// classic pcap record (32-bit seconds) can hold.
    pub const LATEST_PLAUSIBLE: Timestamp = Timestamp((1i64 << 33) * NANOS_PER_SEC);

    /// From nanoseconds since the epoch.
    #[inline]
    pub const fn from_ns(ns: i64) -> Self {
        Timestamp(ns)
    }

    /// From whole seconds and nanoseconds since the epoch, saturating.
    #[inline]
    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(i64::from(nanos)),
        )
    }

    /// Nanoseconds since the epoch.
    #[inline]
    pub const fn ns(self) -> i64 {
        self.0
    }

    /// The time from `earlier` to `self` (negative when `earlier` is later), saturating.
    #[inline]
    pub fn since(self, earlier: Timestamp) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }

    /// Seconds from `origin` to `self`.
    #[inline]
    pub fn secs_since(self, origin: Timestamp) -> f64 {
        self.since(origin).as_secs_f64()
    }

    /// Within the range a real capture can have ([`Timestamp::EPOCH`] to
    /// [`Timestamp::LATEST_PLAUSIBLE`]).
    #[inline]
    pub fn is_plausible(self) -> bool {
        self >= Self::EPOCH && self <= Self::LATEST_PLAUSIBLE
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-12-01T09:00:00.000000Z`; `None` outside
    /// what a calendar date can show.
    pub fn rfc3339(self) -> Option<String> {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let sub = self.0.rem_euclid(NANOS_PER_SEC) as u32;
        chrono::DateTime::from_timestamp(secs, sub)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }

    /// Parses an RFC 3339 time.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()?
            .timestamp_nanos_opt()
            .map(Timestamp)
    }
}

impl Span {
    /// No time.
    pub const ZERO: Span = Span(0);

    /// From nanoseconds.
    #[inline]
    pub const fn from_ns(ns: i64) -> Self {
        Span(ns)
    }

    /// From seconds, saturating (NaN gives zero).
    #[inline]
    pub fn from_secs_f64(secs: f64) -> Self {
        // `as` saturates at the bounds and maps NaN to 0.
        Span((secs * 1e9) as i64)
    }

    /// Nanoseconds.
    #[inline]
    pub const fn ns(self) -> i64 {
        self.0
    }

    /// Seconds.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The span, or zero when negative.
    #[inline]
    #[must_use]
    pub fn non_negative(self) -> Span {
        Span(self.0.max(0))
    }
}

/// `t + span`: `t` moved by `span`, saturating.
impl std::ops::Add<Span> for Timestamp {
    type Output = Timestamp;
    #[inline]
    fn add(self, span: Span) -> Timestamp {
        Timestamp(self.0.saturating_add(span.0))
    }
}

/// `t - span`: `t` moved back by `span`, saturating.
impl std::ops::Sub<Span> for Timestamp {
    type Output = Timestamp;
    #[inline]
    fn sub(self, span: Span) -> Timestamp {
        Timestamp(self.0.saturating_sub(span.0))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} s", self.as_secs_f64())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rfc3339() {
            Some(t) => f.write_str(&t),
            None => write!(f, "{} ns since the epoch", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let lo = Timestamp::from_ns(i64::MIN);
        let hi = Timestamp::from_ns(i64::MAX);
        assert_eq!(hi.since(lo).ns(), i64::MAX);
        assert_eq!(lo.since(hi).ns(), i64::MIN);
        assert_eq!(hi + Span::from_ns(5), hi);
        assert_eq!(lo - Span::from_ns(5), lo);
        assert_eq!(Timestamp::from_secs_nanos(i64::MAX, 5), hi);
        assert_eq!(Span::from_secs_f64(f64::NAN), Span::ZERO);
        assert_eq!(Span::from_secs_f64(1e300).ns(), i64::MAX);
    }

    #[test]
    fn plausible_range_and_formatting() {
        let t = Timestamp::from_secs_nanos(1_700_000_000, 123_456_789);
        assert!(t.is_plausible());
        assert!(!Timestamp::from_ns(-1).is_plausible());
        assert!(!Timestamp::from_ns(i64::MAX).is_plausible());
        assert_eq!(t.rfc3339().as_deref(), Some("2023-11-14T22:13:20.123456Z"));
        assert_eq!(
            Timestamp::parse_rfc3339("2023-11-14T22:13:20.123456789Z"),
            Some(t)
        );
        assert!(
            (t.secs_since(Timestamp::from_secs_nanos(1_700_000_000, 0)) - 0.123456789).abs()
                < 1e-12
        );
        assert_eq!(t.since(t + Span::from_ns(7)).non_negative(), Span::ZERO);
    }
}
