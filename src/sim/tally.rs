//! Counting what was written: every emitted packet passes through [`Tally::record`], and
//! [`Tally::finish`] turns the counts into the [`Truth`]. Nothing in the truth restates a
//! parameter when it can be counted instead.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::hash::FastMap;

use super::frame::IPPROTO_UDP;
use super::playout::{fluid_playout, median};
use super::truth::{PeerTruth, SizePeak, SupplierTruth, TrackerTruth, Truth, TRUTH_SCHEMA};
use super::INFRA_PORTS;

/// Buffer samples are taken this often during playback (ns).
const BUFFER_SAMPLE_NS: u64 = 100_000_000;
/// A peer is a supplier when it sent at least this share of the video payload (SPEC.md).
const SUPPLIER_MIN_SHARE: f64 = 0.01;
/// A size is a peak when it holds at least this share of the UDP packets (SPEC.md).
const PEAK_MIN_SHARE: f64 = 0.01;

/// Which way a packet crossed the capture point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Received by the client from the network.
    In,
    /// Sent by the client to the network.
    Out,
    /// On the loopback interface (player traffic).
    Loop,
}

/// What the tally needs to know about one written packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketInfo {
    pub t_ns: u64,
    pub dir: Dir,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// IP total length.
    pub ip_len: u32,
    /// Transport payload bytes.
    pub payload_len: u32,
    /// A TCP segment between the client and a peer (`--peer-transport tcp`): peer traffic,
    /// classified by its payload size as UDP datagrams are.
    pub peer_tcp: bool,
}

#[derive(Debug, Default, Clone)]
struct RemoteStats {
    first_ns: u64,
    last_ns: u64,
    /// Exchanged peer traffic: UDP on non-infrastructure ports, or peer TCP.
    peer_udp: bool,
    ports: Vec<u16>,
    video_in_bytes: u64,
    video_out_bytes: u64,
    video_in_packets: u64,
    video_out_packets: u64,
    control_in_packets: u64,
    control_out_packets: u64,
}

/// Static facts the truth needs beside the counts.
#[derive(Debug, Clone)]
pub(crate) struct TruthContext {
    pub seed: u64,
    pub link: &'static str,
    pub format: &'static str,
    pub capture_start: String,
    pub local_ip: Ipv4Addr,
    pub ack_size: u16,
    pub stream_rate_kbps: f64,
    pub tracker_ip: Ipv4Addr,
    pub tracker_name: String,
    pub tracker_port: u16,
    pub tracker_hops: u8,
    /// (address, initial TTL, hops) of every simulated peer.
    pub peers: Vec<(Ipv4Addr, u8, u8)>,
}

/// Running counts over the written packets.
#[derive(Debug)]
pub(crate) struct Tally {
    video_size: u16,
    player_port: Option<u16>,
    packets: u64,
    loopback_packets: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    remotes: FastMap<Ipv4Addr, RemoteStats>,
    ip_in: u64,
    ip_out: u64,
    video_ip_in: u64,
    video_ip_out: u64,
    control_ip_in: u64,
    control_ip_out: u64,
    other_ip_in: u64,
    other_ip_out: u64,
    video_payload_in: u64,
    video_payload_out: u64,
    video_packets_in: u64,
    video_packets_out: u64,
    control_packets_in: u64,
    control_packets_out: u64,
    udp_packets: u64,
    size_hist: Vec<u64>,
    control_max_size: u16,
    first_video_ns: Option<u64>,
    player_handed: u64,
    feed: Vec<(u64, u64)>,
    next_sample_ns: Option<u64>,
    buffer_samples: Vec<f64>,
}

impl Tally {
    pub(crate) fn new(video_size: u16, player_port: Option<u16>) -> Self {
        Tally {
            video_size,
            player_port,
            packets: 0,
            loopback_packets: 0,
            first_ns: None,
            last_ns: 0,
            remotes: FastMap::default(),
            ip_in: 0,
            ip_out: 0,
            video_ip_in: 0,
            video_ip_out: 0,
            control_ip_in: 0,
            control_ip_out: 0,
            other_ip_in: 0,
            other_ip_out: 0,
            video_payload_in: 0,
            video_payload_out: 0,
            video_packets_in: 0,
            video_packets_out: 0,
            control_packets_in: 0,
            control_packets_out: 0,
            udp_packets: 0,
            size_hist: vec![0; 65_536],
            control_max_size: 0,
            first_video_ns: None,
            player_handed: 0,
            feed: Vec::new(),
            next_sample_ns: None,
            buffer_samples: Vec::new(),
        }
    }

    /// Video payload bytes received so far.
    pub(crate) fn video_payload_in(&self) -> u64 {
        self.video_payload_in
    }

    /// Player payload bytes handed so far.
    pub(crate) fn player_handed(&self) -> u64 {
        self.player_handed
    }

    fn buffer_now(&self) -> f64 {
        self.video_payload_in as f64 - self.player_handed as f64
    }

    /// Takes the buffer samples due strictly before `t_ns` (a sample at s counts packets at
    /// times ≤ s, so it is taken once a later packet comes, or at the end).
    fn sample_until(&mut self, t_ns: u64) {
        while let Some(s) = self.next_sample_ns {
            if s >= t_ns {
                break;
            }
            self.buffer_samples.push(self.buffer_now());
            self.next_sample_ns = Some(s + BUFFER_SAMPLE_NS);
        }
    }

    /// Counts one written packet. Packets come in non-decreasing time order.
    pub(crate) fn record(&mut self, p: &PacketInfo) {
        self.sample_until(p.t_ns);
        self.packets += 1;
        if self.first_ns.is_none() {
            self.first_ns = Some(p.t_ns);
        }
        self.last_ns = p.t_ns;

        if p.dir == Dir::Loop {
            self.loopback_packets += 1;
            if p.payload_len > 0 && Some(p.sport) == self.player_port {
                if self.feed.is_empty() {
                    self.next_sample_ns = Some(p.t_ns);
                }
                self.player_handed += u64::from(p.payload_len);
                self.feed.push((p.t_ns, u64::from(p.payload_len)));
            }
            return;
        }

        let inbound = p.dir == Dir::In;
        let remote = if inbound { p.src } else { p.dst };
        let ip_len = u64::from(p.ip_len);
        let udp = p.proto == IPPROTO_UDP;
        let size = p.payload_len.min(65_535) as u16;
        // Peer traffic whose sizes say video or control: UDP datagrams and peer TCP segments.
        let sized = udp || p.peer_tcp;
        let video = sized && size == self.video_size;
        let infra = INFRA_PORTS.contains(&p.sport) || INFRA_PORTS.contains(&p.dport);

        if inbound {
            self.ip_in += ip_len;
        } else {
            self.ip_out += ip_len;
        }
        if udp {
            self.udp_packets += 1;
            self.size_hist[usize::from(size)] += 1;
            if !video {
                self.control_max_size = self.control_max_size.max(size);
            }
        }
        match (sized, video, inbound) {
            (true, true, true) => {
                self.video_ip_in += ip_len;
                self.video_payload_in += u64::from(size);
                self.video_packets_in += 1;
                self.first_video_ns.get_or_insert(p.t_ns);
            }
            (true, true, false) => {
                self.video_ip_out += ip_len;
                self.video_payload_out += u64::from(size);
                self.video_packets_out += 1;
            }
            (true, false, true) => {
                self.control_ip_in += ip_len;
                self.control_packets_in += 1;
            }
            (true, false, false) => {
                self.control_ip_out += ip_len;
                self.control_packets_out += 1;
            }
            (false, _, true) => self.other_ip_in += ip_len,
            (false, _, false) => self.other_ip_out += ip_len,
        }

        let r = self.remotes.entry(remote).or_insert_with(|| RemoteStats {
            first_ns: p.t_ns,
            ..RemoteStats::default()
        });
        r.last_ns = p.t_ns;
        if (udp && !infra) || p.peer_tcp {
            r.peer_udp = true;
            let port = if inbound { p.sport } else { p.dport };
            if !r.ports.contains(&port) {
                r.ports.push(port);
            }
            match (video, inbound) {
                (true, true) => {
                    r.video_in_bytes += u64::from(size);
                    r.video_in_packets += 1;
                }
                (true, false) => {
                    r.video_out_bytes += u64::from(size);
                    r.video_out_packets += 1;
                }
                (false, true) => r.control_in_packets += 1,
                (false, false) => r.control_out_packets += 1,
            }
        }
    }

    /// Turns the counts into the truth.
    pub(crate) fn finish(mut self, ctx: &TruthContext) -> Truth {
        let first = self.first_ns.unwrap_or(0);
        let last = self.last_ns;
        // Samples due at or before the last packet.
        self.sample_until(last.saturating_add(1));
        let secs = |t_ns: u64| t_ns.saturating_sub(first) as f64 / 1e9;
        let duration_s = secs(last);
        let kbps = |bytes: u64| {
            if duration_s > 0.0 {
                bytes as f64 * 8.0 / 1000.0 / duration_s
            } else {
                0.0
            }
        };

        // Shares of video payload received, per peer.
        let total_in = self.video_payload_in;
        let share = |b: u64| {
            if total_in > 0 {
                b as f64 / total_in as f64
            } else {
                0.0
            }
        };
        let mut by_share: Vec<(Ipv4Addr, &RemoteStats)> = self
            .remotes
            .iter()
            .filter(|(_, r)| r.video_in_bytes > 0)
            .map(|(ip, r)| (*ip, r))
            .collect();
        by_share.sort_by(|a, b| {
            b.1.video_in_bytes
                .cmp(&a.1.video_in_bytes)
                .then(a.0.cmp(&b.0))
        });
        let top1_share = by_share.first().map_or(0.0, |s| share(s.1.video_in_bytes));
        let top2_share = by_share
            .iter()
            .take(2)
            .map(|s| share(s.1.video_in_bytes))
            .sum();
        let ttl_of = |ip: Ipv4Addr| {
            ctx.peers
                .iter()
                .find(|p| p.0 == ip)
                .map_or((0, 0), |p| (p.1, p.2))
        };
        let suppliers: Vec<SupplierTruth> = by_share
            .iter()
            .filter(|(_, r)| share(r.video_in_bytes) >= SUPPLIER_MIN_SHARE)
            .map(|(ip, r)| {
                let mut ports = r.ports.clone();
                ports.sort_unstable();
                SupplierTruth {
                    ip: ip.to_string(),
                    share: share(r.video_in_bytes),
                    ttl_hops: ttl_of(*ip).1,
                    ports,
                }
            })
            .collect();
        let is_supplier = |ip: Ipv4Addr| suppliers.iter().any(|s| s.ip == ip.to_string());

        // Roles and per-peer detail, in numeric address order.
        let mut addrs: Vec<Ipv4Addr> = self
            .remotes
            .iter()
            .filter(|(ip, r)| r.peer_udp || **ip == ctx.tracker_ip)
            .map(|(ip, _)| *ip)
            .collect();
        addrs.sort_unstable();
        let mut roles = BTreeMap::new();
        let mut peers = Vec::new();
        let mut consumers = Vec::new();
        for ip in addrs {
            let Some(r) = self.remotes.get(&ip) else {
                continue;
            };
            let role = if ip == ctx.tracker_ip && !r.peer_udp {
                "tracker"
            } else if is_supplier(ip) {
                "supplier"
            } else if r.video_out_bytes > 0 {
                consumers.push(ip.to_string());
                "consumer"
            } else {
                "control-only"
            };
            roles.insert(ip.to_string(), role.to_string());
            if role == "tracker" {
                continue;
            }
            let (ttl_initial, ttl_hops) = ttl_of(ip);
            let mut ports = r.ports.clone();
            ports.sort_unstable();
            peers.push(PeerTruth {
                ip: ip.to_string(),
                ports,
                role: role.to_string(),
                ttl_initial,
                ttl_hops,
                video_in_bytes: r.video_in_bytes,
                video_out_bytes: r.video_out_bytes,
                video_in_packets: r.video_in_packets,
                video_out_packets: r.video_out_packets,
                control_in_packets: r.control_in_packets,
                control_out_packets: r.control_out_packets,
                share_in: share(r.video_in_bytes),
                first_seen_s: secs(r.first_ns),
                last_seen_s: secs(r.last_ns),
            });
        }
        let peers_contacted = self.remotes.values().filter(|r| r.peer_udp).count();

        // Size peaks: ≥ 1 % of UDP packets and not below either neighbour.
        let udp = self.udp_packets;
        let hist = &self.size_hist;
        let size_peaks = (0..hist.len())
            .filter(|&s| {
                let c = hist[s];
                c > 0
                    && c as f64 >= PEAK_MIN_SHARE * udp as f64
                    && (s == 0 || hist[s - 1] <= c)
                    && hist.get(s + 1).is_none_or(|&n| n <= c)
            })
            .map(|s| SizePeak {
                size: s as u16,
                ip_bytes: (s + 28).min(65_535) as u16,
                packets: hist[s],
                share_packets: hist[s] as f64 / udp as f64,
            })
            .collect();

        // Player: fluid model over the feed, buffer median.
        let player = self.player_port.is_some();
        let rate = ctx.stream_rate_kbps * 1000.0 / 8.0;
        let (playback_start_s, continuity, stall_fraction, stalls, buffer_median_bytes) =
            match self.feed.first() {
                Some(&(t0, _)) if player => {
                    let feed: Vec<(f64, f64)> = self
                        .feed
                        .iter()
                        .map(|&(t, b)| (secs(t), b as f64))
                        .collect();
                    let p = fluid_playout(&feed, secs(t0), duration_s, rate);
                    (
                        Some(secs(t0)),
                        Some(p.continuity),
                        Some(p.stall_fraction),
                        p.stalls,
                        median(&self.buffer_samples),
                    )
                }
                _ => (None, None, None, Vec::new(), None),
            };
        let overhead =
            (total_in > 0).then(|| (self.ip_in as f64 - total_in as f64) / total_in as f64);

        Truth {
            schema: TRUTH_SCHEMA.to_string(),
            seed: ctx.seed,
            link: ctx.link.to_string(),
            format: ctx.format.to_string(),
            capture_start: ctx.capture_start.clone(),
            local_ip: ctx.local_ip.to_string(),
            duration_s,
            packets: self.packets,
            loopback_packets: self.loopback_packets,
            tune_in_s: 0.0,
            video_size: self.video_size,
            ack_size: ctx.ack_size,
            video_ip_size: self.video_size.saturating_add(28),
            control_max_size: self.control_max_size,
            size_peaks,
            udp_packets: udp,
            peers_contacted,
            suppliers,
            top1_share,
            top2_share,
            consumers,
            tracker: TrackerTruth {
                ip: ctx.tracker_ip.to_string(),
                name: ctx.tracker_name.clone(),
                port: ctx.tracker_port,
                ttl_hops: ctx.tracker_hops,
            },
            roles,
            peers,
            download_kbps: kbps(self.ip_in),
            upload_kbps: kbps(self.ip_out),
            video_download_kbps: kbps(self.video_ip_in),
            video_upload_kbps: kbps(self.video_ip_out),
            control_download_kbps: kbps(self.control_ip_in),
            control_upload_kbps: kbps(self.control_ip_out),
            other_download_kbps: kbps(self.other_ip_in),
            other_upload_kbps: kbps(self.other_ip_out),
            overhead,
            video_payload_bytes_in: total_in,
            video_payload_bytes_out: self.video_payload_out,
            video_packets_in: self.video_packets_in,
            video_packets_out: self.video_packets_out,
            control_packets_in: self.control_packets_in,
            control_packets_out: self.control_packets_out,
            first_video_s: self.first_video_ns.map(secs),
            stream_rate_kbps: ctx.stream_rate_kbps,
            player_port: self.player_port,
            player_bytes: player.then_some(self.player_handed),
            playback_start_s,
            startup_delay_s: playback_start_s,
            buffer_median_bytes,
            continuity,
            stall_fraction,
            stalls,
            feed: None,
            overlay: None,
            swarm: None,
        }
    }
}
