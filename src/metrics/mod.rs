//! Metrics: the numbers of a measurement study, computed from a finished flow table.
//!
//! Each submodule owns one concern and the serde types of its part of the report:
//! [`sizes`] (the video/control split), [`peers`] (who the client talks to, the tracker),
//! [`traffic`] (rates, overhead, the time series) and [`playback`] (stream rate, start-up
//! delay, buffer, continuity and the study's summary row); [`delay`] matches video across
//! several captures for the playback delay behind a source. Definitions follow SPEC §2: rates
//! in kb/s of IP bytes, packet sizes in UDP payload bytes, times in seconds from the first
//! packet of the capture.

use crate::time::Timestamp;

pub mod delay;
pub mod locality;
pub mod peers;
pub mod playback;
pub mod rtt;
pub mod sizes;
pub mod swarm;
pub mod traffic;

/// Rounds to `digits` decimals so reports are byte-stable across platforms.
pub fn round(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let f = 10f64.powi(digits);
    let r = (x * f).round() / f;
    // Sums of no terms are -0.0 in Rust; a report says 0.
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// kb/s (1000 bit/s) of `bytes` over `seconds`; 0 when the span is empty.
pub fn kbps(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        round(bytes as f64 * 8.0 / 1000.0 / seconds, 3)
    } else {
        0.0
    }
}

/// Seconds from `origin` to `ts`, rounded to microseconds.
pub fn rel_s(ts: Timestamp, origin: Timestamp) -> f64 {
    round(ts.secs_since(origin), 6)
}
