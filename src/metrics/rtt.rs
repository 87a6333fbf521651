//! Passive RTT per peer (issue 18): `peers.list[].rtt_ms {min, median, samples, how}` from the
//! pair's samples ([`crate::flow::rtt`]). Of the methods that produced samples, the most
//! direct is reported: the TCP handshake, then uTP's timestamps, then UDP request/response
//! (which includes the peer's processing time); `how` names it and the sample counts of the
//! others.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::flow::rtt::{RttMethod, RttSamples};
use crate::flow::PairStats;

use super::round;

/// `peers.list[].rtt_ms`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RttOut {
    /// Smallest sample, milliseconds (exact).
    pub min: f64,
    /// Median, milliseconds: exact up to 16 samples, else from a log-bucket histogram (within
    /// about 2.2 %).
    pub median: f64,
    pub samples: u64,
    /// `tcp-handshake`, `stun-transaction`, `utp-timestamps` or `udp-request-response`.
    pub method: String,
    /// The method and, when others also gave samples, their counts.
    pub how: String,
}

/// The RTT between `local` and the other side of `pair`, from the best method.
pub fn rtt_of(pair: &PairStats, local: IpAddr) -> Option<RttOut> {
    let s: &RttSamples = pair.rtt.samples()?;
    let side = usize::from(local != pair.a);
    // Handshakes the local host opened and the peer refused time the path too.
    let mut tcp = s.of(RttMethod::TcpHandshake, side).clone();
    tcp.merge(s.refused(side));
    let of = |m: RttMethod| {
        if m == RttMethod::TcpHandshake {
            &tcp
        } else {
            s.of(m, side)
        }
    };
    let best = RttMethod::ALL.into_iter().find(|&m| of(m).count() > 0)?;
    let k = of(best);
    let others: Vec<String> = RttMethod::ALL
        .into_iter()
        .filter(|&m| m != best && of(m).count() > 0)
        .map(|m| format!("{} {}", of(m).count(), m.as_str()))
        .collect();
    let what = match best {
        RttMethod::TcpHandshake => {
            "SYN to the ACK completing the handshake (or to the RST/ACK refusing one the local host opened)"
        }
        RttMethod::Stun => "STUN request to the response with its transaction id",
        RttMethod::Utp => "sum of both sides' uTP timestamp differences",
        RttMethod::UdpRequest => {
            "request after ≥ 1 s of silence to the first packet back (includes the peer's processing)"
        }
    };
    let mut how = format!("{}: {what}", best.as_str());
    if !others.is_empty() {
        how.push_str(&format!("; also {}", others.join(", ")));
    }
    Some(RttOut {
        min: round(f64::from(k.min_us()?) / 1000.0, 3),
        median: round(k.median_us()? / 1000.0, 3),
        samples: k.count(),
        method: best.as_str().to_string(),
        how,
    })
}
