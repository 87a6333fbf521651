//! Download and upload rates of the local host, split into video and control, the overhead
//! P2P adds, and the per-window time series.

use serde::{Deserialize, Serialize};

use crate::flow::Finished;

use super::{kbps, round};

/// `traffic` in the report: kb/s of IP bytes over the capture's duration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub download_kbps: f64,
    pub upload_kbps: f64,
    /// (all IP bytes received − video payload bytes received) / video payload bytes received;
    /// `null` without video.
    pub overhead: Option<f64>,
    pub video: ClassRates,
    pub control: ClassRates,
    /// IP bytes received and sent, all traffic of the local host (loopback excluded).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Video UDP payload bytes received and sent.
    pub video_payload_in: u64,
    pub video_payload_out: u64,
}

/// Rates and packets of one class.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassRates {
    pub download_kbps: f64,
    pub upload_kbps: f64,
    pub packets_in: u64,
    pub packets_out: u64,
}

/// `series` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Series {
    pub window_s: f64,
    pub rows: Vec<SeriesRow>,
}

/// One window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeriesRow {
    /// Window start, seconds from the first packet.
    pub t_s: f64,
    pub down_kbps: f64,
    pub up_kbps: f64,
    pub video_down_kbps: f64,
    pub video_up_kbps: f64,
    /// Peers that sent ≥ 1 % of the window's video.
    pub suppliers: u32,
    /// Client buffer at the window's end in seconds of stream (when measurable).
    pub buffer_s: Option<f64>,
}

/// Capture duration in seconds.
pub fn duration_s(fin: &Finished) -> f64 {
    fin.duration().as_secs_f64()
}

/// Builds `traffic`.
pub fn traffic(fin: &Finished) -> Traffic {
    let secs = duration_s(fin);
    let mut t = Totals::default();
    if let Some(local) = fin.local {
        for pair in fin.pairs_of_local() {
            let remote = pair.other(local);
            let d_in = pair.sent_by(remote);
            let d_out = pair.sent_by(local);
            let th = fin.thresholds();
            let (c_in, v_in) = d_in.split(&th);
            let (c_out, v_out) = d_out.split(&th);
            t.in_ip += d_in.ip_bytes;
            t.out_ip += d_out.ip_bytes;
            t.video_in_ip += v_in.ip_bytes;
            t.video_out_ip += v_out.ip_bytes;
            t.video_in_payload += v_in.payload_bytes;
            t.video_out_payload += v_out.payload_bytes;
            t.video_in_pkts += v_in.packets;
            t.video_out_pkts += v_out.packets;
            t.control_in_ip += c_in.ip_bytes + d_in.infra_ip_bytes + d_in.udp_orphan_fragment_bytes;
            t.control_out_ip +=
                c_out.ip_bytes + d_out.infra_ip_bytes + d_out.udp_orphan_fragment_bytes;
            t.control_in_pkts += c_in.packets + d_in.infra_packets;
            t.control_out_pkts += c_out.packets + d_out.infra_packets;
        }
    }
    let overhead = (t.video_in_payload > 0).then(|| {
        round(
            (t.in_ip as f64 - t.video_in_payload as f64) / t.video_in_payload as f64,
            4,
        )
    });
    Traffic {
        download_kbps: kbps(t.in_ip, secs),
        upload_kbps: kbps(t.out_ip, secs),
        overhead,
        video: ClassRates {
            download_kbps: kbps(t.video_in_ip, secs),
            upload_kbps: kbps(t.video_out_ip, secs),
            packets_in: t.video_in_pkts,
            packets_out: t.video_out_pkts,
        },
        control: ClassRates {
            download_kbps: kbps(t.control_in_ip, secs),
            upload_kbps: kbps(t.control_out_ip, secs),
            packets_in: t.control_in_pkts,
            packets_out: t.control_out_pkts,
        },
        bytes_in: t.in_ip,
        bytes_out: t.out_ip,
        video_payload_in: t.video_in_payload,
        video_payload_out: t.video_out_payload,
    }
}

#[derive(Default)]
struct Totals {
    in_ip: u64,
    out_ip: u64,
    video_in_ip: u64,
    video_out_ip: u64,
    video_in_payload: u64,
    video_out_payload: u64,
    video_in_pkts: u64,
    video_out_pkts: u64,
    control_in_ip: u64,
    control_out_ip: u64,
    control_in_pkts: u64,
    control_out_pkts: u64,
}

/// Builds `series` from the timeline: one row per window from the first packet to the last.
/// `buffer_at` gives the buffer in seconds at a time (seconds from the first packet), when
/// known. The last window's rates are over the part of it the capture covers.
pub fn series(fin: &Finished, buffer_at: &dyn Fn(f64) -> Option<f64>) -> Series {
    let bins = fin.timeline.bins();
    let bin_ns = fin.timeline.bin_ns();
    let window_ns = fin.timeline.window_ns();
    let per_window = (window_ns / bin_ns).max(1) as usize;
    let window_s = window_ns as f64 / 1e9;
    let secs = duration_s(fin);
    let windows = ((secs * 1e9) as i64 / window_ns + 1) as usize;
    let windows = windows.min(bins.len().div_ceil(per_window).max(1));
    let suppliers = fin.timeline.suppliers();
    let mut rows = Vec::with_capacity(windows);
    for w in 0..windows {
        let start = w * per_window;
        let chunk = bins
            .get(start..(start + per_window).min(bins.len()))
            .unwrap_or(&[]);
        let t_s = w as f64 * window_s;
        let span = (secs - t_s).clamp(0.0, window_s);
        let span = if span > 0.0 { span } else { window_s };
        let sum = |f: fn(&crate::flow::timeline::Bin) -> u64| chunk.iter().map(f).sum::<u64>();
        rows.push(SeriesRow {
            t_s: round(t_s, 6),
            down_kbps: kbps(sum(|b| b.down_ip), span),
            up_kbps: kbps(sum(|b| b.up_ip), span),
            video_down_kbps: kbps(sum(|b| b.video_down_ip), span),
            video_up_kbps: kbps(sum(|b| b.video_up_ip), span),
            suppliers: suppliers.get(w).copied().unwrap_or(0),
            buffer_s: buffer_at(t_s + span).map(|b| round(b, 3)),
        });
    }
    Series {
        window_s: round(window_s, 6),
        rows,
    }
}
