//! Time-binned accumulators: the local host's traffic per 100 ms bin, active suppliers per
//! series window, and the payload of loopback TCP flows (the hand-over to a local player).
//!
//! Bins are indexed from the first frame of the capture. Memory follows the capture's duration:
//! a bin is a few counters, and at most `max_bins` exist (packets beyond are counted, not
//! binned).

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::hash::FastMap;

use super::churn::Churn;
use crate::decode::Packet;
use crate::time::Timestamp;

/// Traffic of the local host in one bin. Byte counts are IP bytes unless named `payload`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bin {
    pub down_ip: u64,
    pub up_ip: u64,
    pub video_down_ip: u64,
    pub video_up_ip: u64,
    pub video_down_payload: u64,
    pub video_up_payload: u64,
    pub control_down_ip: u64,
    pub control_up_ip: u64,
    pub video_down_packets: u32,
    pub video_up_packets: u32,
    pub control_down_packets: u32,
    pub control_up_packets: u32,
}

/// A supplier share below this part of a window's video is not counted as active.
const ACTIVE_SUPPLIER_SHARE: f64 = 0.01;

/// The local host's traffic over time.
#[derive(Debug, Clone)]
pub struct Timeline {
    bin_ns: i64,
    window_ns: i64,
    max_bins: usize,
    origin: Timestamp,
    bins: Vec<Bin>,
    /// Packets outside the binned range.
    pub unbinned: u64,
    window: i64,
    window_peers: FastMap<IpAddr, u64>,
    suppliers: Vec<u32>,
    /// Sessions, arrivals, departures, reciprocity and supplier turnover (issue 18).
    churn: Churn,
}

impl Timeline {
    /// An empty timeline.
    pub fn new(bin_ns: i64, window_ns: i64, max_bins: usize) -> Self {
        Timeline {
            bin_ns: bin_ns.max(1),
            window_ns: window_ns.max(1),
            max_bins,
            origin: Timestamp::EPOCH,
            bins: Vec::new(),
            unbinned: 0,
            window: -1,
            window_peers: FastMap::default(),
            suppliers: Vec::new(),
            churn: Churn::new(
                super::churn::DEFAULT_IDLE_TIMEOUT_NS,
                churn_minutes(bin_ns, max_bins),
            ),
        }
    }

    pub(crate) fn set_origin(&mut self, ts: Timestamp) {
        self.origin = ts;
        self.churn.set_origin(ts);
    }

    /// Sets the idle timeout that splits a peer's sessions (before the first packet).
    pub(crate) fn set_idle_timeout(&mut self, idle_ns: i64) {
        self.churn = Churn::new(idle_ns, churn_minutes(self.bin_ns, self.max_bins));
    }

    /// The swarm's dynamics seen so far.
    pub fn churn(&self) -> &Churn {
        &self.churn
    }

    /// Peer traffic (not infrastructure) between the local host and `peer`: `video` is the
    /// video payload of the packet, 0 for control.
    #[inline]
    pub(crate) fn see_peer(&mut self, ts: Timestamp, peer: IpAddr, down: bool, video: u32) {
        self.churn.see(ts, peer, down, video);
    }

    /// Width of a bin in nanoseconds.
    pub fn bin_ns(&self) -> i64 {
        self.bin_ns
    }

    /// Most bins kept: packets later than `max_bins` bins after the first frame are unbinned.
    pub fn max_bins(&self) -> usize {
        self.max_bins
    }

    /// Width of a series window in nanoseconds.
    pub fn window_ns(&self) -> i64 {
        self.window_ns
    }

    /// The bins, from the first frame of the capture.
    pub fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// Active suppliers per window (peers that sent ≥ 1 % of the window's video).
    pub fn suppliers(&self) -> &[u32] {
        &self.suppliers
    }

    #[inline]
    fn bin(&mut self, ts: Timestamp) -> Option<&mut Bin> {
        let idx = (ts.since(self.origin).ns() / self.bin_ns).max(0) as usize;
        if idx >= self.max_bins {
            self.unbinned += 1;
            return None;
        }
        if idx >= self.bins.len() {
            self.bins.resize(idx + 1, Bin::default());
        }
        Some(&mut self.bins[idx])
    }

    pub(crate) fn add_control(&mut self, ts: Timestamp, down: bool, ip_len: u32, packet: bool) {
        if let Some(b) = self.bin(ts) {
            let n = u32::from(packet);
            if down {
                b.down_ip += u64::from(ip_len);
                b.control_down_ip += u64::from(ip_len);
                b.control_down_packets += n;
            } else {
                b.up_ip += u64::from(ip_len);
                b.control_up_ip += u64::from(ip_len);
                b.control_up_packets += n;
            }
        }
    }

    /// Traffic that is neither video nor control (TCP, ICMP, …).
    pub(crate) fn add_other(&mut self, ts: Timestamp, down: bool, ip_len: u32) {
        if let Some(b) = self.bin(ts) {
            if down {
                b.down_ip += u64::from(ip_len);
            } else {
                b.up_ip += u64::from(ip_len);
            }
        }
    }

    pub(crate) fn add_video(
        &mut self,
        ts: Timestamp,
        down: bool,
        ip_len: u32,
        payload: u32,
        packet: bool,
        peer: IpAddr,
    ) {
        if let Some(b) = self.bin(ts) {
            let n = u32::from(packet);
            if down {
                b.down_ip += u64::from(ip_len);
                b.video_down_ip += u64::from(ip_len);
                b.video_down_payload += u64::from(payload);
                b.video_down_packets += n;
            } else {
                b.up_ip += u64::from(ip_len);
                b.video_up_ip += u64::from(ip_len);
                b.video_up_payload += u64::from(payload);
                b.video_up_packets += n;
            }
        }
        if down {
            let w = ts.since(self.origin).ns().max(0) / self.window_ns;
            if w > self.window {
                self.close_window();
                self.window = w;
            }
            if w == self.window {
                *self.window_peers.entry(peer).or_insert(0) += u64::from(ip_len);
            }
        }
    }

    fn close_window(&mut self) {
        if self.window < 0 {
            return;
        }
        let total: u64 = self.window_peers.values().sum();
        let active = self
            .window_peers
            .values()
            .filter(|&&b| b as f64 >= ACTIVE_SUPPLIER_SHARE * total as f64 && b > 0)
            .count() as u32;
        let w = self.window as usize;
        if w < self.max_bins {
            if self.suppliers.len() <= w {
                self.suppliers.resize(w + 1, 0);
            }
            self.suppliers[w] = active;
        }
        self.window_peers.clear();
    }

    pub(crate) fn flush(&mut self) {
        self.close_window();
        self.window = i64::MAX;
    }
}

/// Minutes of churn counters: as many as the bins cover.
fn churn_minutes(bin_ns: i64, max_bins: usize) -> usize {
    let span = i128::from(bin_ns.max(1)) * max_bins as i128;
    (span / i128::from(super::churn::MINUTE_NS) + 1).min(1 << 24) as usize
}

/// Most loopback TCP flows followed.
const MAX_LOOPBACK_FLOWS: usize = 64;

/// One loopback TCP connection: side 0 is the lower (address, port).
#[derive(Debug, Clone)]
pub struct LoopFlow {
    pub addr: [IpAddr; 2],
    pub port: [u16; 2],
    /// Payload bytes sent by each side, per non-empty bin. Sparse: dense vectors of up to
    /// `max_bins` for each of 64 flows let a 17 KB capture (two packets a day apart per flow
    /// and side) take 1 GB. An ordered map, as timestamps may go backwards.
    pub bins: [BTreeMap<u32, u64>; 2],
    /// Total payload bytes sent by each side.
    pub bytes: [u64; 2],
    /// First payload byte sent by each side.
    pub first_payload: [Option<Timestamp>; 2],
}

impl LoopFlow {
    /// Payload bytes sent by `side` per bin, from bin 0 to its last non-empty bin.
    pub fn dense_bins(&self, side: usize) -> Vec<u64> {
        let Some(bins) = self.bins.get(side) else {
            return Vec::new();
        };
        let len = bins.keys().next_back().map_or(0, |&last| last as usize + 1);
        let mut dense = vec![0; len];
        for (&i, &bytes) in bins {
            dense[i as usize] = bytes;
        }
        dense
    }
}

/// The loopback TCP flows of a capture taken on `lo` or `any`.
#[derive(Debug, Clone)]
pub struct LoopbackFlows {
    bin_ns: i64,
    max_bins: usize,
    origin: Timestamp,
    index: FastMap<(IpAddr, u16, IpAddr, u16), usize>,
    flows: Vec<LoopFlow>,
    /// Flows not followed because the cap was reached.
    pub refused: u64,
}

impl LoopbackFlows {
    pub(crate) fn new(bin_ns: i64, max_bins: usize) -> Self {
        LoopbackFlows {
            bin_ns: bin_ns.max(1),
            max_bins,
            origin: Timestamp::EPOCH,
            index: FastMap::default(),
            flows: Vec::new(),
            refused: 0,
        }
    }

    pub(crate) fn set_origin(&mut self, ts: Timestamp) {
        self.origin = ts;
    }

    /// The flows followed.
    pub fn flows(&self) -> &[LoopFlow] {
        &self.flows
    }

    pub(crate) fn add(&mut self, p: &Packet<'_>) {
        let fwd = (p.src, p.sport) <= (p.dst, p.dport);
        let key = if fwd {
            (p.src, p.sport, p.dst, p.dport)
        } else {
            (p.dst, p.dport, p.src, p.sport)
        };
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                if self.flows.len() >= MAX_LOOPBACK_FLOWS {
                    self.refused += 1;
                    return;
                }
                self.flows.push(LoopFlow {
                    addr: [key.0, key.2],
                    port: [key.1, key.3],
                    bins: [BTreeMap::new(), BTreeMap::new()],
                    bytes: [0, 0],
                    first_payload: [None, None],
                });
                self.index.insert(key, self.flows.len() - 1);
                self.flows.len() - 1
            }
        };
        if p.payload_len == 0 {
            return;
        }
        let side = usize::from(!fwd);
        let flow = &mut self.flows[i];
        flow.bytes[side] += u64::from(p.payload_len);
        let first = &mut flow.first_payload[side];
        *first = Some(first.map_or(p.ts, |f| f.min(p.ts)));
        let idx = (p.ts.since(self.origin).ns() / self.bin_ns).max(0) as usize;
        if let Some(idx) = u32::try_from(idx)
            .ok()
            .filter(|&i| (i as usize) < self.max_bins)
        {
            *flow.bins[side].entry(idx).or_insert(0) += u64::from(p.payload_len);
        }
    }
}
