//! The packet-size distribution of the local host's peer UDP traffic, its peaks, and the
//! threshold that separates control (acks, requests) from video.

use serde::{Deserialize, Serialize};

use crate::flow::sizes::{peaks, SizeHist};
use crate::flow::{Finished, PeerTransport};

/// `sizes` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sizes {
    /// Always `udp_payload_bytes`.
    pub unit: String,
    /// Smallest payload counted as video; `null` when no split exists.
    pub threshold: Option<u32>,
    /// How the threshold was found.
    pub threshold_how: String,
    pub peaks: Vec<PeakOut>,
    /// `[size, packets]` for every size seen, ascending.
    pub histogram: Vec<(u32, u64)>,
    /// The same for each other transport with peer traffic: uTP (data past the header) and
    /// TCP (payload per segment), each with its own threshold (absent when there is none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<TransportSizes>,
}

/// `sizes.transports[]`: one transport's distribution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransportSizes {
    /// `utp` or `tcp`.
    pub transport: String,
    /// `utp_data_bytes` or `tcp_payload_bytes`.
    pub unit: String,
    pub threshold: Option<u32>,
    pub threshold_how: String,
    pub peaks: Vec<PeakOut>,
    pub histogram: Vec<(u32, u64)>,
}

/// One peak of the distribution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeakOut {
    /// UDP payload bytes.
    pub size: u32,
    /// IP length of a packet of this size (header included).
    pub ip_bytes: u32,
    pub packets: u64,
    pub share_packets: f64,
    /// `video` or `control`.
    pub class: String,
}

/// Builds the `sizes` section.
pub fn sizes(fin: &Finished) -> Sizes {
    let hist: &SizeHist = &fin.hist;
    let threshold = fin.threshold;
    let threshold_how = match (threshold, fin.threshold_given()) {
        (Some(_), true) => "given (--video-min)".to_string(),
        (Some(_), false) => {
            "Otsu's between-class variance on the packet-size histogram, placed mid-gap".to_string()
        }
        (None, _) => "no threshold: fewer than two distinct UDP payload sizes".to_string(),
    };
    let peaks = peaks_out(hist, threshold);
    let transports = [PeerTransport::Utp, PeerTransport::Tcp]
        .into_iter()
        .filter_map(|t| {
            let (hist, threshold) = fin.transport_sizes(t);
            (hist.packets() > 0).then(|| TransportSizes {
                transport: t.as_str().into(),
                unit: match t {
                    PeerTransport::Utp => "utp_data_bytes",
                    _ => "tcp_payload_bytes",
                }
                .into(),
                threshold,
                threshold_how: match threshold {
                    Some(_) => "Otsu's between-class variance on this transport's size histogram, placed mid-gap".into(),
                    None => "no threshold: fewer than two distinct sizes".into(),
                },
                peaks: peaks_out(hist, threshold),
                histogram: hist.cells().map(|(s, c)| (s, c.packets)).collect(),
            })
        })
        .collect();
    Sizes {
        unit: "udp_payload_bytes".into(),
        threshold,
        threshold_how,
        peaks,
        histogram: hist.cells().map(|(s, c)| (s, c.packets)).collect(),
        transports,
    }
}

/// The peaks of a histogram, each classed by `threshold`.
fn peaks_out(hist: &SizeHist, threshold: Option<u32>) -> Vec<PeakOut> {
    peaks(hist)
        .into_iter()
        .map(|p| {
            let ip_bytes = hist
                .cells()
                .find(|(s, _)| *s == p.size)
                .map(|(_, c)| (c.ip_bytes / c.packets.max(1)) as u32)
                .unwrap_or(0);
            PeakOut {
                size: p.size,
                ip_bytes,
                packets: p.packets,
                share_packets: super::round(p.share, 4),
                class: if threshold.is_some_and(|t| p.size >= t) {
                    "video".into()
                } else {
                    "control".into()
                },
            }
        })
        .collect()
}
