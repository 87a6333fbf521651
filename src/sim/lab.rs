//! The lab: one source and N receivers in a forwarding tree, one capture per node, with the
//! ground truth of playback delay and per-node rates (`peerscope simulate --lab`). It is what
//! `peerscope compare` is tested against.
//!
//! Data flow: [`LabConfig`] → a seeded discrete-event simulation over every node at once
//! (events in a min-heap by time and insertion number, as in `session`) → for each packet on a
//! link, one record in the sender's capture at the send time and one in the receiver's capture
//! a network delay later → [`LabTruth`], counted from the records written.
//!
//! The model:
//! - the source (node 0) emits video chunks at the stream rate, modulated per half second
//!   (factor 0.5–1.5 drawn from the seed) so that rate series have a shape to correlate, and
//!   sends each chunk to its children;
//! - node `i` (1-based receiver `ri`) has parent `(i − 1) / fanout`: with the default fanout
//!   of 2, r1 and r2 hang off the source, r3 and r4 off r1, and so on (from 3 receivers on,
//!   some are two hops or more away);
//! - a receiver acknowledges each video packet, holds the chunk for its own holding time
//!   (`hold_s` × 0.75–1.25, drawn per node) and forwards it to its children;
//! - every link has the same one-way delay `net_delay_s`;
//! - every pair of nodes, and each node with two outside peers, exchanges keep-alives every
//!   2–5 s (control packets of 40–120 bytes), so each capture's local host exchanges UDP with
//!   the most distinct remote addresses.
//!
//! A video payload is an 8-byte per-hop header — hop count (u8), sender's node id (u8),
//! payload length (u16 BE), sender's sequence number (u32 BE) — followed by the chunk bytes,
//! drawn from the seed and the chunk number (distinct per chunk) and forwarded unchanged. With
//! `rewrite_payload` every sender draws the chunk bytes afresh (its id is mixed into the draw):
//! no payload seen two hops apart matches, only the rate series do.
//!
//! Truth: a node's delay behind the source is the sum, along its path, of the links' network
//! delays and the holding times of the receivers in between (the source sends a chunk the
//! moment it makes it). Rates are counted from the records written to the node's own capture,
//! in kb/s of IP bytes over that capture's duration (first to last record), as `analyze`
//! measures them.

use std::io::Write;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::events::EventQueue;
use super::frame::{build_udp, Ipv4Fields, LinkHeader};
use super::pcap_writer::{Format, LinkType, PcapWriter};
use super::rng::{splitmix64, Rng};
use super::{SimError, CAPTURE_EPOCH_S, CLIENT_UDP_PORT};

/// Schema tag of the lab's truth file.
pub const LAB_TRUTH_SCHEMA: &str = "peerscope/lab-truth-v1";
/// Bytes of the per-hop header in front of the chunk bytes of a video payload.
pub const HOP_HEADER_BYTES: usize = 8;
/// Most receivers in a lab (addresses 192.0.2.101–192.0.2.200).
pub const MAX_RECEIVERS: usize = 100;
/// Outside peers per node (control only).
const OUTSIDE_PEERS: usize = 2;

const MS: u64 = 1_000_000;
const US: u64 = 1_000;
const SEC: u64 = 1_000_000_000;
/// Length of a rate segment of the source (ns).
const SEGMENT_NS: u64 = 500 * MS;
/// Random streams, one per concern.
const STREAM_SETUP: u64 = 11;
const STREAM_SOURCE: u64 = 12;
const STREAM_CONTROL: u64 = 13;
const STREAM_CHUNK: u64 = 14;
const STREAM_SEGMENT: u64 = 15;
/// Initial TTL of every node.
const TTL: u8 = 64;
/// First byte of an acknowledgment payload.
const ACK_TAG: u8 = 0xA5;
/// First byte of a keep-alive payload.
const CONTROL_TAG: u8 = 0xC3;
/// Delay between receiving a packet and answering it (ack, keep-alive reply).
const ANSWER_NS: u64 = 500 * US;

/// Everything that shapes a lab. `Default` is the documented CLI default.
#[derive(Debug, Clone, PartialEq)]
pub struct LabConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Receivers besides the source.
    pub receivers: usize,
    /// Children per node in the forwarding tree.
    pub fanout: usize,
    /// Length of every capture in seconds.
    pub duration_s: f64,
    /// Mean video payload rate sent by the source to each child, kb/s.
    pub stream_rate_kbps: f64,
    /// UDP payload bytes of a video packet (hop header included).
    pub video_size: u16,
    /// UDP payload bytes of an acknowledgment.
    pub ack_size: u16,
    /// Nominal holding time of a receiver before it forwards a chunk, seconds.
    pub hold_s: f64,
    /// One-way network delay of every link, seconds.
    pub net_delay_s: f64,
    /// Every sender draws new chunk bytes: nothing matches two hops apart.
    pub rewrite_payload: bool,
    /// Container format of the captures (Ethernet link layer).
    pub format: Format,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            seed: 1,
            receivers: 4,
            fanout: 2,
            duration_s: 60.0,
            stream_rate_kbps: 300.0,
            video_size: 1320,
            ack_size: 28,
            hold_s: 2.0,
            net_delay_s: 0.03,
            rewrite_payload: false,
            format: Format::Pcap,
        }
    }
}

impl LabConfig {
    /// Checks the configuration; the error says which value is wrong.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |reason: String| Err(SimError::InvalidConfig { reason });
        if self.receivers == 0 || self.receivers > MAX_RECEIVERS {
            return bad(format!(
                "a lab needs 1..={MAX_RECEIVERS} receivers, got {}",
                self.receivers
            ));
        }
        if self.fanout == 0 {
            return bad("the fanout must be at least 1".into());
        }
        if !(self.duration_s.is_finite() && self.duration_s > 0.0 && self.duration_s <= 86_400.0) {
            return bad(format!(
                "duration must be in (0, 86400] s, got {}",
                self.duration_s
            ));
        }
        if !(self.stream_rate_kbps.is_finite() && self.stream_rate_kbps >= 1.0) {
            return bad(format!(
                "stream rate must be at least 1 kb/s, got {}",
                self.stream_rate_kbps
            ));
        }
        if !(super::MIN_VIDEO_SIZE..=super::MAX_VIDEO_SIZE).contains(&self.video_size) {
            return bad(format!(
                "video size must be {}..={} bytes, got {}",
                super::MIN_VIDEO_SIZE,
                super::MAX_VIDEO_SIZE,
                self.video_size
            ));
        }
        if self.ack_size < 8 || self.ack_size > 120 {
            return bad(format!(
                "ack size must be 8..=120 bytes, got {}",
                self.ack_size
            ));
        }
        for (name, v) in [("hold", self.hold_s), ("network delay", self.net_delay_s)] {
            if !(v.is_finite() && (0.0..=600.0).contains(&v)) {
                return bad(format!("{name} must be in [0, 600] s, got {v}"));
            }
        }
        Ok(())
    }

    /// Name of node `i`: `source`, then `r1`, `r2`, …
    pub fn node_name(i: usize) -> String {
        if i == 0 {
            "source".into()
        } else {
            format!("r{i}")
        }
    }

    /// File name of node `i`'s capture.
    pub fn file_name(i: usize) -> String {
        format!("{}.pcap", Self::node_name(i))
    }

    /// Parent of node `i` (≥ 1) in the tree.
    pub fn parent(&self, i: usize) -> usize {
        (i - 1) / self.fanout.max(1)
    }
}

/// The lab's ground truth (`lab.truth.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabTruth {
    /// Always [`LAB_TRUTH_SCHEMA`].
    pub schema: String,
    pub seed: u64,
    /// Nominal capture length, seconds.
    pub duration_s: f64,
    /// Mean video payload rate per child of the source, kb/s.
    pub stream_rate_kbps: f64,
    /// UDP payload bytes of a video packet.
    pub video_size: u16,
    /// Bytes of the per-hop header before the forwarded chunk bytes.
    pub hop_header_bytes: usize,
    /// Whether every sender rewrote the chunk bytes.
    pub rewrite_payload: bool,
    /// Nominal holding time and network delay, seconds.
    pub hold_s: f64,
    pub net_delay_s: f64,
    /// Name of the source node.
    pub source: String,
    pub nodes: Vec<LabNodeTruth>,
}

/// One node of the lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabNodeTruth {
    /// `source`, `r1`, `r2`, …
    pub name: String,
    /// Capture file name (relative to the lab directory).
    pub file: String,
    pub ip: String,
    /// Parent's name; `null` for the source.
    pub parent: Option<String>,
    pub children: Vec<String>,
    /// Links between the source and this node.
    pub hops: u32,
    /// This node's holding time before forwarding, seconds (`null` for the source).
    pub hold_s: Option<f64>,
    /// Delay behind the source of every chunk this node receives, seconds (0 for the source).
    pub delay_s: f64,
    /// Records written to this node's capture.
    pub packets: u64,
    /// Last record − first record of this node's capture, seconds.
    pub duration_s: f64,
    /// kb/s of IP bytes over `duration_s`, all traffic and video only.
    pub download_kbps: f64,
    pub upload_kbps: f64,
    pub video_download_kbps: f64,
    pub video_upload_kbps: f64,
    pub video_packets_in: u64,
    pub video_packets_out: u64,
}

/// What a packet carries; the payload bytes are rebuilt from it for each capture.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Video { chunk: u32, hop: u8, seq: u32 },
    Ack { seq: u32 },
    Control { salt: u64, size: u16 },
}

/// One packet on a link between endpoints (lab nodes first, then outside peers).
#[derive(Debug, Clone, Copy)]
struct Pkt {
    from: u16,
    to: u16,
    ip_id: u16,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    SourceTick,
    /// The packet leaves its sender now.
    Send(Pkt),
    /// The packet reaches its receiver now.
    Deliver(Pkt),
    /// Node forwards a chunk to its children.
    Forward {
        node: u16,
        chunk: u32,
        hop: u8,
    },
    /// Keep-alive from `a` to `b` (and the answer back).
    KeepAlive {
        a: u16,
        b: u16,
    },
}

/// Per-node counts of what was written.
#[derive(Debug, Clone, Default)]
struct Count {
    packets: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    in_ip: u64,
    out_ip: u64,
    video_in_ip: u64,
    video_out_ip: u64,
    video_in: u64,
    video_out: u64,
}

struct Endpoint {
    ip: Ipv4Addr,
    port: u16,
    mac: [u8; 6],
}

struct Lab<W: Write> {
    cfg: LabConfig,
    heap: EventQueue<Ev>,
    end_ns: u64,
    epoch_ns: u64,
    net_ns: u64,
    endpoints: Vec<Endpoint>,
    writers: Vec<PcapWriter<W>>,
    counts: Vec<Count>,
    children: Vec<Vec<u16>>,
    hold_ns: Vec<u64>,
    ip_id: Vec<u16>,
    seq: Vec<u32>,
    /// Number of the source's next chunk.
    next_chunk: u32,
    ctl: Rng,
    src_rng: Rng,
    frame: Vec<u8>,
    payload: Vec<u8>,
}

/// Writes one capture per node (`outs[0]` the source, `outs[i]` receiver `ri`) and returns the
/// truth. Each writer should be buffered; all are flushed before returning.
pub fn generate_lab<W: Write>(cfg: &LabConfig, outs: Vec<W>) -> Result<LabTruth, SimError> {
    cfg.validate()?;
    let nodes = cfg.receivers + 1;
    if outs.len() != nodes {
        return Err(SimError::InvalidConfig {
            reason: format!("{} outputs for {nodes} nodes", outs.len()),
        });
    }
    let mut setup = Rng::new(cfg.seed, STREAM_SETUP);
    let mut endpoints = Vec::new();
    for i in 0..nodes {
        endpoints.push(Endpoint {
            ip: Ipv4Addr::new(192, 0, 2, 100 + i as u8),
            port: CLIENT_UDP_PORT,
            mac: [0x02, 0, 0, 0, 0x01, i as u8],
        });
    }
    for e in 0..nodes * OUTSIDE_PEERS {
        endpoints.push(Endpoint {
            ip: Ipv4Addr::new(203, 0, 113, 1 + e as u8),
            port: 10_000 + setup.below(50_000) as u16,
            mac: [0x02, 0, 0, 0, 0x02, e as u8],
        });
    }
    let mut children = vec![Vec::new(); nodes];
    for i in 1..nodes {
        children[cfg.parent(i)].push(i as u16);
    }
    let hold_ns = (0..nodes)
        .map(|i| {
            if i == 0 {
                0
            } else {
                (cfg.hold_s * setup.uniform(0.75, 1.25) * 1e9).round() as u64
            }
        })
        .collect();
    let mut writers = Vec::with_capacity(nodes);
    for out in outs {
        writers.push(PcapWriter::new(out, cfg.format, LinkType::Ethernet)?);
    }
    let epoch_ns = (CAPTURE_EPOCH_S + cfg.seed % 3_600) * SEC + setup.below(SEC);
    let mut lab = Lab {
        cfg: cfg.clone(),
        heap: EventQueue::default(),
        end_ns: (cfg.duration_s * 1e9) as u64,
        epoch_ns,
        net_ns: (cfg.net_delay_s * 1e9).round() as u64,
        endpoints,
        writers,
        counts: vec![Count::default(); nodes],
        children,
        hold_ns,
        ip_id: vec![0; nodes * (1 + OUTSIDE_PEERS)],
        // Each node numbers its packets from its own random start.
        seq: (0..nodes).map(|_| setup.next_u64() as u32).collect(),
        next_chunk: 0,
        ctl: Rng::new(cfg.seed, STREAM_CONTROL),
        src_rng: Rng::new(cfg.seed, STREAM_SOURCE),
        frame: Vec::with_capacity(2048),
        payload: Vec::with_capacity(2048),
    };
    lab.run()?;
    lab.truth()
}

impl<W: Write> Lab<W> {
    fn nodes(&self) -> usize {
        self.cfg.receivers + 1
    }

    fn at(&mut self, t: u64, ev: Ev) {
        if t <= self.end_ns {
            self.heap.push(t, ev);
        }
    }

    fn run(&mut self) -> Result<(), SimError> {
        let nodes = self.nodes();
        // Keep-alives: every pair of nodes, and each node with its outside peers.
        for a in 0..nodes {
            for b in a + 1..nodes {
                let t = self.ctl.range(100 * MS, 1_500 * MS);
                self.at(
                    t,
                    Ev::KeepAlive {
                        a: a as u16,
                        b: b as u16,
                    },
                );
            }
            for k in 0..OUTSIDE_PEERS {
                let b = nodes + a * OUTSIDE_PEERS + k;
                let t = self.ctl.range(50 * MS, 1_500 * MS);
                self.at(
                    t,
                    Ev::KeepAlive {
                        a: a as u16,
                        b: b as u16,
                    },
                );
            }
        }
        let first = self.src_rng.range(1_000 * MS, 1_300 * MS);
        self.at(first, Ev::SourceTick);
        while let Some((t, ev)) = self.heap.pop() {
            match ev {
                Ev::SourceTick => self.source_tick(t)?,
                Ev::Send(p) => self.send(t, p)?,
                Ev::Deliver(p) => self.deliver(t, p)?,
                Ev::Forward { node, chunk, hop } => {
                    let kids = self.children[usize::from(node)].clone();
                    for kid in kids {
                        self.send_video(t, node, kid, chunk, hop)?;
                    }
                }
                Ev::KeepAlive { a, b } => {
                    let salt = self.ctl.next_u64();
                    let size = self.ctl.range(40, 120) as u16;
                    let p = self.pkt(a, b, Kind::Control { salt, size });
                    self.send(t, p)?;
                    let next = t + self.ctl.range(2 * SEC, 5 * SEC);
                    self.at(next, Ev::KeepAlive { a, b });
                }
            }
        }
        for w in std::mem::take(&mut self.writers) {
            w.finish()?;
        }
        Ok(())
    }

    fn pkt(&mut self, from: u16, to: u16, kind: Kind) -> Pkt {
        let id = &mut self.ip_id[usize::from(from)];
        *id = id.wrapping_add(1);
        Pkt {
            from,
            to,
            ip_id: *id,
            kind,
        }
    }

    fn source_tick(&mut self, t: u64) -> Result<(), SimError> {
        let chunk = self.next_chunk;
        self.next_chunk += 1;
        let kids = self.children[0].clone();
        for kid in kids {
            self.send_video(t, 0, kid, chunk, 1)?;
        }
        // Rate factor of this half second, then ±10 % jitter on the gap.
        let segment = t / SEGMENT_NS;
        let mut seg = Rng::new(self.cfg.seed ^ segment, STREAM_SEGMENT);
        let factor = seg.uniform(0.5, 1.5);
        let bits = f64::from(self.cfg.video_size) * 8.0;
        let gap_s = bits / (self.cfg.stream_rate_kbps * 1000.0 * factor);
        let gap = (gap_s * self.src_rng.uniform(0.9, 1.1) * 1e9).max(1.0) as u64;
        self.at(t + gap, Ev::SourceTick);
        Ok(())
    }

    fn send_video(
        &mut self,
        t: u64,
        from: u16,
        to: u16,
        chunk: u32,
        hop: u8,
    ) -> Result<(), SimError> {
        let s = &mut self.seq[usize::from(from)];
        *s = s.wrapping_add(1);
        let seq = *s;
        let p = self.pkt(from, to, Kind::Video { chunk, hop, seq });
        self.send(t, p)
    }

    /// The packet leaves `from` at `t`: recorded in the sender's capture, delivered later.
    fn send(&mut self, t: u64, p: Pkt) -> Result<(), SimError> {
        let nodes = self.nodes();
        if usize::from(p.from) < nodes {
            self.write(t, usize::from(p.from), &p, true)?;
        }
        self.at(t + self.net_ns, Ev::Deliver(p));
        Ok(())
    }

    fn deliver(&mut self, t: u64, p: Pkt) -> Result<(), SimError> {
        let nodes = self.nodes();
        let to = usize::from(p.to);
        if to < nodes {
            self.write(t, to, &p, false)?;
        }
        match p.kind {
            Kind::Video { chunk, hop, seq } => {
                let ack = self.pkt(p.to, p.from, Kind::Ack { seq });
                self.at(t + ANSWER_NS, Ev::Send(ack));
                if !self.children[to].is_empty() {
                    self.at(
                        t + self.hold_ns[to],
                        Ev::Forward {
                            node: p.to,
                            chunk,
                            hop: hop.saturating_add(1),
                        },
                    );
                }
            }
            // A keep-alive from the lower-numbered side is answered.
            Kind::Control { salt, .. } if p.from < p.to => {
                let mut s = salt;
                let size = 40 + (splitmix64(&mut s) % 81) as u16;
                let answer = self.pkt(
                    p.to,
                    p.from,
                    Kind::Control {
                        salt: salt ^ 0x5A5A,
                        size,
                    },
                );
                self.at(t + ANSWER_NS, Ev::Send(answer));
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes `p` into node `node`'s capture at `t`, sent (`out`) or received.
    fn write(&mut self, t: u64, node: usize, p: &Pkt, out: bool) -> Result<(), SimError> {
        self.fill_payload(p);
        let (src, dst) = (
            &self.endpoints[usize::from(p.from)],
            &self.endpoints[usize::from(p.to)],
        );
        // Hops between two endpoints: 3–12, the same both ways.
        let pair = (u64::from(p.from.min(p.to)) << 16) | u64::from(p.from.max(p.to));
        let hops = 3 + (splitmix64(&mut (self.cfg.seed ^ pair)) % 10) as u8;
        let gateway = [0x02, 0, 0, 0, 0, 0x01];
        let link = if out {
            LinkHeader::Ethernet {
                dst: gateway,
                src: src.mac,
            }
        } else {
            LinkHeader::Ethernet {
                dst: dst.mac,
                src: gateway,
            }
        };
        let ip = Ipv4Fields {
            src: src.ip,
            dst: dst.ip,
            ttl: if out { TTL } else { TTL - hops },
            id: p.ip_id,
        };
        build_udp(
            &mut self.frame,
            &link,
            &ip,
            src.port,
            dst.port,
            &self.payload,
        )?;
        self.writers[node].write_packet(self.epoch_ns + t, &self.frame)?;
        let c = &mut self.counts[node];
        let ip_len = (self.payload.len() + 28) as u64;
        c.packets += 1;
        c.first_ns.get_or_insert(t);
        c.last_ns = t;
        let video = matches!(p.kind, Kind::Video { .. });
        if out {
            c.out_ip += ip_len;
            if video {
                c.video_out_ip += ip_len;
                c.video_out += 1;
            }
        } else {
            c.in_ip += ip_len;
            if video {
                c.video_in_ip += ip_len;
                c.video_in += 1;
            }
        }
        Ok(())
    }

    fn fill_payload(&mut self, p: &Pkt) {
        let buf = &mut self.payload;
        buf.clear();
        match p.kind {
            Kind::Video { chunk, hop, seq } => {
                let size = self.cfg.video_size;
                buf.push(hop);
                buf.push(p.from as u8);
                buf.extend_from_slice(&size.to_be_bytes());
                buf.extend_from_slice(&seq.to_be_bytes());
                let sender = if self.cfg.rewrite_payload {
                    u64::from(p.from) + 1
                } else {
                    0
                };
                let mut rng = Rng::new(
                    self.cfg.seed ^ (u64::from(chunk) << 20) ^ (sender << 52),
                    STREAM_CHUNK,
                );
                while buf.len() < usize::from(size) {
                    let w = rng.next_u64().to_le_bytes();
                    let take = (usize::from(size) - buf.len()).min(8);
                    buf.extend_from_slice(&w[..take]);
                }
            }
            Kind::Ack { seq } => {
                buf.push(ACK_TAG);
                buf.push(p.from as u8);
                buf.extend_from_slice(&[0, 0]);
                buf.extend_from_slice(&seq.to_be_bytes());
                buf.resize(usize::from(self.cfg.ack_size), 0);
            }
            Kind::Control { salt, size } => {
                buf.push(CONTROL_TAG);
                let mut s = salt;
                while buf.len() < usize::from(size) {
                    let w = splitmix64(&mut s).to_le_bytes();
                    let take = (usize::from(size) - buf.len()).min(8);
                    buf.extend_from_slice(&w[..take]);
                }
            }
        }
    }

    fn truth(&self) -> Result<LabTruth, SimError> {
        let nodes = self.nodes();
        let mut out = Vec::with_capacity(nodes);
        for i in 0..nodes {
            let (mut hops, mut delay_ns, mut j) = (0u32, 0u64, i);
            while j != 0 {
                let parent = self.cfg.parent(j);
                hops += 1;
                delay_ns += self.net_ns;
                if parent != 0 {
                    delay_ns += self.hold_ns[parent];
                }
                j = parent;
            }
            let c = &self.counts[i];
            let secs = c
                .first_ns
                .map_or(0.0, |f| (c.last_ns.saturating_sub(f)) as f64 / 1e9);
            let kbps = |bytes: u64| {
                if secs > 0.0 {
                    round(bytes as f64 * 8.0 / 1000.0 / secs, 3)
                } else {
                    0.0
                }
            };
            out.push(LabNodeTruth {
                name: LabConfig::node_name(i),
                file: LabConfig::file_name(i),
                ip: self.endpoints[i].ip.to_string(),
                parent: (i != 0).then(|| LabConfig::node_name(self.cfg.parent(i))),
                children: self.children[i]
                    .iter()
                    .map(|&k| LabConfig::node_name(usize::from(k)))
                    .collect(),
                hops,
                hold_s: (i != 0).then(|| round(self.hold_ns[i] as f64 / 1e9, 6)),
                delay_s: round(delay_ns as f64 / 1e9, 6),
                packets: c.packets,
                duration_s: round(secs, 6),
                download_kbps: kbps(c.in_ip),
                upload_kbps: kbps(c.out_ip),
                video_download_kbps: kbps(c.video_in_ip),
                video_upload_kbps: kbps(c.video_out_ip),
                video_packets_in: c.video_in,
                video_packets_out: c.video_out,
            });
        }
        Ok(LabTruth {
            schema: LAB_TRUTH_SCHEMA.into(),
            seed: self.cfg.seed,
            duration_s: self.cfg.duration_s,
            stream_rate_kbps: self.cfg.stream_rate_kbps,
            video_size: self.cfg.video_size,
            hop_header_bytes: HOP_HEADER_BYTES,
            rewrite_payload: self.cfg.rewrite_payload,
            hold_s: self.cfg.hold_s,
            net_delay_s: self.cfg.net_delay_s,
            source: LabConfig::node_name(0),
            nodes: out,
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn run(cfg: &LabConfig) -> (LabTruth, Vec<Vec<u8>>) {
        let outs = vec![Vec::new(); cfg.receivers + 1];
        // Collect through a shared buffer per node.
        let mut bufs: Vec<Vec<u8>> = outs;
        let truth = {
            let writers: Vec<&mut Vec<u8>> = bufs.iter_mut().collect();
            generate_lab(cfg, writers).unwrap()
        };
        (truth, bufs)
    }

    #[test]
    fn deterministic_tree_and_delays() {
        let cfg = LabConfig {
            receivers: 5,
            duration_s: 10.0,
            ..LabConfig::default()
        };
        let (a, fa) = run(&cfg);
        let (b, fb) = run(&cfg);
        assert_eq!(a, b);
        assert_eq!(fa, fb);
        let names: Vec<_> = a.nodes.iter().map(|n| n.parent.clone()).collect();
        assert_eq!(names[3].as_deref(), Some("r1"));
        assert_eq!(a.nodes[3].hops, 2);
        let hold1 = a.nodes[1].hold_s.unwrap();
        assert!((a.nodes[3].delay_s - (0.06 + hold1)).abs() < 1e-6);
        assert!((a.nodes[1].delay_s - 0.03).abs() < 1e-9);
        assert!(a.nodes.iter().all(|n| n.packets > 0));
        assert!(a.nodes[0].video_packets_out > 0 && a.nodes[0].video_packets_in == 0);
        assert!(a.nodes[4].video_packets_in > 0 && a.nodes[4].video_packets_out == 0);
    }

    #[test]
    fn bad_config_is_refused() {
        let cfg = LabConfig {
            receivers: 0,
            ..LabConfig::default()
        };
        assert!(generate_lab(&cfg, vec![Vec::<u8>::new()]).is_err());
    }
}
