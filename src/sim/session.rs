//! The session model: a seeded discrete-event simulation of one SopCast client.
//!
//! Events sit in a min-heap ordered by (time, insertion number), so processing order — and
//! with it every random draw — is fully determined by the seed. Each concern draws from its
//! own random stream. Packets are emitted only at the time of the event being processed, so
//! they leave in time order, and no draw ever depends on the capture duration: a shorter
//! capture is a prefix of a longer one.
//!
//! Timeline (seconds from the first packet): DNS query for the tracker at 0, answer 20–40 ms
//! later; TCP to the tracker (handshake, request, response, keep-alives every 10–20 s); from
//! 0.5 s every peer is greeted over UDP and kept alive every 3–8 s; video from the suppliers
//! from the first video time, at the prefill rate until playback start and at the stream rate
//! afterwards (a fraction of it while starving), each packet acknowledged; upload to
//! consumers; the local player on loopback connects shortly before playback and is then fed
//! at the stream rate, never beyond what has been received.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::Ipv4Addr;

use chrono::{DateTime, SecondsFormat};

use super::events::EventQueue;
use super::feed::TsFeed;
use super::frame::{
    build_tcp, build_udp, tcp_flags, Ipv4Fields, LinkHeader, TcpFields, ARPHRD_ETHER,
    ARPHRD_LOOPBACK, IPPROTO_TCP, IPPROTO_UDP, PACKET_HOST, PACKET_OUTGOING,
};
use super::pcap_writer::PcapWriter;
use super::rng::Rng;
use super::tally::{Dir, PacketInfo, Tally, TruthContext};
use super::truth::Truth;
use super::{
    Feed, Link, SimConfig, SimError, SimTransport, SwarmSim, CAPTURE_EPOCH_S, CLIENT_UDP_PORT,
    DNS_IP, PLAYER_PORT, TRACKER_IP, TRACKER_NAME, TRACKER_PORT,
};

const MS: u64 = 1_000_000;
const US: u64 = 1_000;
const SEC: u64 = 1_000_000_000;

/// The client's and the gateway's MAC addresses (locally administered).
const LOCAL_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
const GATEWAY_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// The client's own initial TTL (Linux).
const LOCAL_TTL: u8 = 64;
/// Random streams, one per concern.
const STREAM_SETUP: u64 = 1;
const STREAM_VIDEO: u64 = 2;
const STREAM_UPLOAD: u64 = 3;
const STREAM_CONTROL: u64 = 4;
const STREAM_TRACKER: u64 = 5;
const STREAM_PLAYER: u64 = 6;
const STREAM_REQUEST: u64 = 7;
const STREAM_TCP: u64 = 8;
/// Mesh pull: gap between two requests to one supplier (ms, uniform).
const REQUEST_GAP_MS: (u64, u64) = (150, 450);
/// Churn, TCP peers, reciprocal uploaders (issue 18): their own stream, so the others are
/// drawn as without them.
const STREAM_SWARM: u64 = 9;
/// Arrivals begin this long after the capture starts.
const FIRST_ARRIVAL_NS: u64 = 5 * SEC;
/// Control message kinds of a mesh pull's chunk request and the supplier's answer.
const REQUEST: u8 = 7;
const REQUEST_ANSWER: u8 = 12;
/// Control message kinds of the goodbye and its answer.
const BYE: u8 = 10;
const BYE_ACK: u8 = 11;
/// Control message payload sizes are drawn from this range (bytes).
const CONTROL_MIN: u64 = 40;
const CONTROL_MAX: u64 = 120;
/// Player TCP segments carry at most this many bytes.
const PLAYER_SEGMENT_MAX: u64 = 16_384;
const PLAYER_SEGMENT_MIN: u64 = 1_024;
/// Size of the pre-drawn block payload bytes are copied from.
const BLOCK_LEN: usize = 1 << 16;

const HTTP_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8902\r\nUser-Agent: VLC/3.0.20 \
LibVLC/3.0.20\r\nAccept: */*\r\nRange: bytes=0-\r\nConnection: close\r\n\r\n";
const HTTP_HEADER: &[u8] = b"HTTP/1.1 200 OK\r\nServer: SopCast\r\nContent-Type: \
application/octet-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
/// Length of [`HTTP_HEADER_TS`] (for tests).
#[cfg(test)]
pub(crate) const HTTP_HEADER_TS_LEN: usize = HTTP_HEADER_TS.len();
/// The response head of an MPEG-TS feed (`--feed mpegts`).
const HTTP_HEADER_TS: &[u8] = b"HTTP/1.1 200 OK\r\nServer: SopCast\r\nContent-Type: \
video/mp2t\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";

/// Peer TCP: one connection's sequence numbers (`--peer-transport tcp`).
#[derive(Debug, Clone, Copy, Default)]
struct TcpConn {
    cli_port: u16,
    cli_nxt: u32,
    peer_nxt: u32,
    /// Video segments received since the client's last ACK.
    unacked: u8,
}

/// One simulated remote peer.
#[derive(Debug, Clone)]
struct Peer {
    ip: Ipv4Addr,
    port: u16,
    ttl_initial: u8,
    hops: u8,
    rtt_ns: u64,
    ip_id: u16,
    contact_ns: u64,
    /// When an arriving peer leaves (`None`: it stays).
    depart_ns: Option<u64>,
}

impl Peer {
    fn ttl(&self) -> u8 {
        self.ttl_initial - self.hops
    }
}

/// What a scheduled TCP segment to or from the tracker carries.
#[derive(Debug, Clone, Copy)]
struct TrackerSeg {
    out: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u16,
    mss: Option<u16>,
}

/// Payload of a loopback segment between client (port 8902) and player.
#[derive(Debug, Clone, Copy)]
enum LoopPayload {
    None,
    Get,
    /// `len` stream bytes from `offset`, after the HTTP response header when `header`.
    Stream {
        offset: u64,
        len: u32,
        header: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct LoopSeg {
    from_player: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    mss: Option<u16>,
    payload: LoopPayload,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    DnsQuery,
    DnsAnswer,
    Tracker(TrackerSeg),
    TrackerKeepAlive,
    Contact(u16),
    CtlIn(u16, u8),
    CtlOut(u16, u8),
    KeepAlive(u16),
    VideoTick,
    Ack(u16, u32),
    UploadTick,
    UpAck(u16, u32),
    /// Mesh pull: a chunk request to supplier `k` (then the next one is scheduled).
    Request(u16),
    /// Peer TCP: the SYN/ACK of peer `k` arrives (the client answers and greets it).
    Greet(u16),
    /// Peer TCP: peer `k` acknowledges what the client sent it.
    PeerAck(u16),
    PlayerConnect,
    Loop(LoopSeg),
    PlayerTick,
    /// A new peer arrives (churn).
    Arrive,
    /// An arrived peer says goodbye.
    Depart(u16),
    /// A segment of a peer's TCP handshake.
    PeerTcp(u16, PeerSeg),
}

/// One segment of a TCP handshake with a peer.
#[derive(Debug, Clone, Copy)]
struct PeerSeg {
    out: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    client_port: u16,
}

/// The swarm options' state during a run.
#[derive(Debug)]
struct SwarmRun {
    cfg: SwarmSim,
    rng: Rng,
    /// Addresses already taken.
    used: BTreeSet<Ipv4Addr>,
    /// Indices of the peers that arrived.
    arrived: Vec<u16>,
    /// TCP peers and whether the client opened the handshake.
    tcp: Vec<(u16, bool)>,
}

/// Frame building, writing and counting of emitted packets.
struct Emitter<W: Write> {
    writer: PcapWriter<W>,
    link: Link,
    start_ns: u64,
    frame: Vec<u8>,
    tally: Tally,
}

impl<W: Write> Emitter<W> {
    fn link_header(&self, dir: Dir) -> LinkHeader {
        match (self.link, dir) {
            (Link::Ethernet, Dir::Out) => LinkHeader::Ethernet {
                dst: GATEWAY_MAC,
                src: LOCAL_MAC,
            },
            (Link::Ethernet, Dir::In) => LinkHeader::Ethernet {
                dst: LOCAL_MAC,
                src: GATEWAY_MAC,
            },
            // Never generated (validated), but this is what `lo` itself would show.
            (Link::Ethernet, Dir::Loop) => LinkHeader::Ethernet {
                dst: [0; 6],
                src: [0; 6],
            },
            (Link::Sll2, Dir::Out) => LinkHeader::Sll2 {
                ifindex: 2,
                arphrd: ARPHRD_ETHER,
                packet_type: PACKET_OUTGOING,
                addr: LOCAL_MAC,
            },
            (Link::Sll2, Dir::In) => LinkHeader::Sll2 {
                ifindex: 2,
                arphrd: ARPHRD_ETHER,
                packet_type: PACKET_HOST,
                addr: GATEWAY_MAC,
            },
            (Link::Sll2, Dir::Loop) => LinkHeader::Sll2 {
                ifindex: 1,
                arphrd: ARPHRD_LOOPBACK,
                packet_type: PACKET_HOST,
                addr: [0; 6],
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn udp(
        &mut self,
        t: u64,
        dir: Dir,
        ip: Ipv4Fields,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> Result<(), SimError> {
        let link = self.link_header(dir);
        build_udp(&mut self.frame, &link, &ip, sport, dport, payload)?;
        self.writer.write_packet(self.start_ns + t, &self.frame)?;
        self.tally.record(&PacketInfo {
            t_ns: t,
            dir,
            src: ip.src,
            dst: ip.dst,
            proto: IPPROTO_UDP,
            sport,
            dport,
            ip_len: (28 + payload.len()) as u32,
            payload_len: payload.len() as u32,
            peer_tcp: false,
        });
        Ok(())
    }

    fn tcp(
        &mut self,
        t: u64,
        dir: Dir,
        ip: Ipv4Fields,
        tcp: TcpFields,
        payload: &[u8],
        peer_tcp: bool,
    ) -> Result<(), SimError> {
        let link = self.link_header(dir);
        build_tcp(&mut self.frame, &link, &ip, &tcp, payload)?;
        self.writer.write_packet(self.start_ns + t, &self.frame)?;
        let header = if tcp.mss.is_some() { 24 } else { 20 };
        self.tally.record(&PacketInfo {
            t_ns: t,
            dir,
            src: ip.src,
            dst: ip.dst,
            proto: IPPROTO_TCP,
            sport: tcp.sport,
            dport: tcp.dport,
            ip_len: (20 + header + payload.len()) as u32,
            payload_len: payload.len() as u32,
            peer_tcp,
        });
        Ok(())
    }
}

/// Tracker connection state.
#[derive(Debug)]
struct Tracker {
    cli_port: u16,
    hops: u8,
    rtt_ns: u64,
    /// Next sequence number the client / tracker will send.
    cli_nxt: u32,
    srv_nxt: u32,
    ip_id: u16,
}

/// Player connection state.
#[derive(Debug)]
struct Player {
    port: u16,
    /// Next sequence number the client (8902 side) / player will send.
    cli_nxt: u32,
    ply_nxt: u32,
    burst_bytes: u64,
    started_ns: Option<u64>,
    /// Payload bytes scheduled to the player so far (header included).
    handed: u64,
    stream_offset: u64,
}

struct Session<'c, W: Write> {
    cfg: &'c SimConfig,
    res: u64,
    heap: EventQueue<Ev>,
    out: Emitter<W>,
    rng_video: Rng,
    rng_up: Rng,
    rng_ctl: Rng,
    rng_trk: Rng,
    rng_ply: Rng,
    /// Mesh pull: the chunk requests' own stream, so the other draws are those of a push run.
    rng_req: Rng,
    requests_sent: u64,
    /// Peer TCP connections, one per peer (empty over UDP).
    conns: Vec<TcpConn>,
    peers: Vec<Peer>,
    suppliers: Vec<u16>,
    supplier_cum: Vec<f64>,
    consumers: Vec<u16>,
    consumer_cum: Vec<f64>,
    block: Vec<u8>,
    payload: Vec<u8>,
    local_id: u16,
    dns_port: u16,
    dns_id: u16,
    tracker: Tracker,
    video_seq: u32,
    first_video_ns: u64,
    playback_ns: u64,
    stream_bps: f64,
    prefill_bps: f64,
    starve: Option<(u64, u64, f64)>,
    player: Option<Player>,
    /// The MPEG-TS the player is fed (`--feed mpegts`); random block bytes otherwise.
    feed: Option<TsFeed>,
    /// The swarm options (issue 18), when any is on.
    swarm: Option<SwarmRun>,
}

/// Time to the next arrival of a Poisson process of `per_min` arrivals a minute.
fn exp_gap_ns(rng: &mut Rng, per_min: f64) -> u64 {
    let mean_ns = 60.0 * SEC as f64 / per_min.max(1e-9);
    (-(1.0 - rng.f64()).ln() * mean_ns).max(1.0) as u64
}

/// Runs the simulation described by `cfg` (already validated) and writes it to `out`.
pub(crate) fn run<W: Write>(cfg: &SimConfig, out: W) -> Result<Truth, SimError> {
    let mut setup = Rng::new(cfg.seed, STREAM_SETUP);
    let res = cfg.format.resolution_ns();
    let secs_ns = |s: f64| (s * SEC as f64).round() as u64;

    // Capture start: fixed epoch plus a whole number of microseconds drawn from the seed.
    let start_ns = CAPTURE_EPOCH_S * SEC + setup.below(3_600_000_000) * US;
    let capture_start = DateTime::from_timestamp((start_ns / SEC) as i64, (start_ns % SEC) as u32)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_default();

    // Peers: distinct documentation addresses, never the tracker's or ours.
    let mut used: BTreeSet<Ipv4Addr> = [TRACKER_IP, DNS_IP, cfg.local_ip].into_iter().collect();
    let n = cfg.peers;
    let window_ns = setup.uniform(0.7, 1.0) * SEC as f64;
    let mut peers = Vec::with_capacity(n);
    while peers.len() < n {
        let host = setup.range(1, 254) as u8;
        let ip = if setup.chance(0.5) {
            Ipv4Addr::new(203, 0, 113, host)
        } else {
            Ipv4Addr::new(198, 51, 100, host)
        };
        if !used.insert(ip) {
            continue;
        }
        let k = peers.len() as f64;
        let contact = 500 * MS + ((k + setup.f64()) / n as f64 * window_ns) as u64;
        peers.push(Peer {
            ip,
            port: setup.range(10_000, 60_999) as u16,
            ttl_initial: if setup.chance(0.6) { 128 } else { 64 },
            hops: setup.range(3, 24) as u8,
            rtt_ns: setup.range(20, 200) * MS + setup.below(MS),
            ip_id: setup.next_u64() as u16,
            contact_ns: contact,
            depart_ns: None,
        });
    }

    // Roles: shuffle, the first ones supply, the next ones consume.
    let mut order: Vec<u16> = (0..n as u16).collect();
    setup.shuffle(&mut order);
    let s = cfg.supplier_shares.len();
    let suppliers: Vec<u16> = order[..s].to_vec();
    let consumers: Vec<u16> = order[s..s + cfg.consumers].to_vec();
    let cumulative = |w: &[f64]| {
        w.iter()
            .scan(0.0, |acc, x| {
                *acc += x;
                Some(*acc)
            })
            .collect::<Vec<f64>>()
    };
    let supplier_cum = cumulative(&cfg.supplier_shares);
    let consumer_w: Vec<f64> = (0..cfg.consumers)
        .map(|_| setup.uniform(0.5, 1.5))
        .collect();
    let mut consumer_cum = cumulative(&consumer_w);
    let mut consumers = consumers;
    let swarm = cfg.swarm.clone().map(|w| {
        let mut rng = Rng::new(cfg.seed, STREAM_SWARM);
        // Reciprocal uploaders: the largest suppliers join the consumers.
        if w.reciprocal > 0 {
            let mut weights = consumer_w.clone();
            for &k in &suppliers[..w.reciprocal.min(suppliers.len())] {
                consumers.push(k);
                weights.push(rng.uniform(0.5, 1.5));
            }
            consumer_cum = cumulative(&weights);
        }
        // TCP peers: the first peers (by index) that supply nothing.
        let tcp = (0..n as u16)
            .filter(|k| !suppliers.contains(k))
            .take(w.tcp_peers)
            .enumerate()
            .map(|(i, k)| (k, i % 2 == 0))
            .collect();
        SwarmRun {
            cfg: w,
            rng,
            used: used.clone(),
            arrived: Vec::new(),
            tcp,
        }
    });

    // First video: the nominal time, but not before every supplier has been greeted.
    let nominal_fv = cfg
        .first_video_s
        .unwrap_or_else(|| 2.0 + setup.uniform(0.0, 0.6));
    let ready = suppliers
        .iter()
        .map(|&i| {
            let p = &peers[usize::from(i)];
            let handshake = if cfg.peer_transport == SimTransport::Tcp {
                p.rtt_ns
            } else {
                0
            };
            p.contact_ns + 2 * p.rtt_ns + handshake + 2 * MS
        })
        .max()
        .unwrap_or(0);
    let first_video_ns = secs_ns(nominal_fv).max(ready);
    let playback_ns = secs_ns(cfg.startup_delay_s);
    if cfg.player_enabled() && playback_ns <= first_video_ns {
        return Err(SimError::InvalidConfig {
            reason: format!(
                "playback start ({} s) must come after the first video packet ({:.3} s)",
                cfg.startup_delay_s,
                first_video_ns as f64 / SEC as f64
            ),
        });
    }

    let mut block = vec![0u8; BLOCK_LEN];
    for chunk in block.chunks_mut(8) {
        let v = setup.next_u64().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }

    let tracker = Tracker {
        cli_port: setup.range(32_768, 60_999) as u16,
        hops: setup.range(6, 18) as u8,
        rtt_ns: setup.range(30, 120) * MS + setup.below(MS),
        cli_nxt: setup.next_u64() as u32,
        srv_nxt: setup.next_u64() as u32,
        ip_id: setup.next_u64() as u16,
    };
    // Drawn whether or not there is a player, so the link type does not shift later draws.
    let (player_port, player_isn, client_isn) = (
        setup.range(40_000, 60_999) as u16,
        setup.next_u64() as u32,
        setup.next_u64() as u32,
    );
    let player = cfg.player_enabled().then(|| Player {
        port: player_port,
        cli_nxt: client_isn,
        ply_nxt: player_isn,
        burst_bytes: (cfg.player_burst_s * cfg.stream_rate_kbps * 125.0).round() as u64,
        started_ns: None,
        handed: 0,
        stream_offset: 0,
    });
    let dns_port = setup.range(32_768, 60_999) as u16;
    let dns_id = setup.next_u64() as u16;
    let local_id = setup.next_u64() as u16;

    // Peer TCP: the sequence numbers come from their own stream, so UDP runs are unchanged.
    let conns: Vec<TcpConn> = if cfg.peer_transport == SimTransport::Tcp {
        let mut rng = Rng::new(cfg.seed, STREAM_TCP);
        (0..peers.len())
            .map(|k| TcpConn {
                cli_port: 40_000 + k as u16,
                cli_nxt: rng.next_u64() as u32,
                peer_nxt: rng.next_u64() as u32,
                unacked: 0,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut ctx = TruthContext {
        seed: cfg.seed,
        link: cfg.link.name(),
        format: cfg.format.name(),
        capture_start,
        local_ip: cfg.local_ip,
        ack_size: cfg.ack_size,
        stream_rate_kbps: cfg.stream_rate_kbps,
        tracker_ip: TRACKER_IP,
        tracker_name: TRACKER_NAME.to_string(),
        tracker_port: TRACKER_PORT,
        tracker_hops: tracker.hops,
        peers: peers
            .iter()
            .map(|p| (p.ip, p.ttl_initial, p.hops))
            .collect(),
    };

    let writer = PcapWriter::new(out, cfg.format, cfg.link.link_type())?;
    let stream_bps = cfg.stream_rate_kbps * 125.0;
    // No draw: the feed is a function of the byte offset, so the other streams are unchanged.
    let feed = (cfg.feed == Feed::MpegTs && player.is_some()).then(|| {
        let playing_s = (cfg.duration_s - cfg.startup_delay_s).max(0.0);
        let expected =
            (playing_s * stream_bps) as u64 + player.as_ref().map_or(0, |p| p.burst_bytes);
        TsFeed::new(cfg.stream_rate_kbps, cfg.ts_loss, expected)
    });
    let mut session = Session {
        cfg,
        res,
        heap: EventQueue::default(),
        out: Emitter {
            writer,
            link: cfg.link,
            start_ns,
            frame: Vec::with_capacity(70_000),
            tally: Tally::new(cfg.video_size, player.as_ref().map(|_| PLAYER_PORT)),
        },
        rng_video: Rng::new(cfg.seed, STREAM_VIDEO),
        rng_up: Rng::new(cfg.seed, STREAM_UPLOAD),
        rng_ctl: Rng::new(cfg.seed, STREAM_CONTROL),
        rng_trk: Rng::new(cfg.seed, STREAM_TRACKER),
        rng_ply: Rng::new(cfg.seed, STREAM_PLAYER),
        rng_req: Rng::new(cfg.seed, STREAM_REQUEST),
        requests_sent: 0,
        conns,
        peers,
        suppliers,
        supplier_cum,
        consumers,
        consumer_cum,
        block,
        payload: Vec::with_capacity(70_000),
        local_id,
        dns_port,
        dns_id,
        tracker,
        video_seq: 0,
        first_video_ns,
        playback_ns,
        stream_bps,
        prefill_bps: cfg.prefill_rate_kbps.unwrap_or(2.0 * cfg.stream_rate_kbps) * 125.0,
        starve: cfg
            .starvation
            .map(|s| (secs_ns(s.at_s), secs_ns(s.at_s + s.for_s), s.fraction)),
        player,
        feed,
        swarm,
    };
    session.start();
    let end_ns = secs_ns(cfg.duration_s);
    while let Some((t, ev)) = session.heap.pop() {
        if t > end_ns {
            break;
        }
        session.handle(t, ev)?;
    }
    let header_len = session.http_header().len() as u64;
    let Session {
        out,
        feed,
        requests_sent,
        swarm,
        peers,
        suppliers,
        tracker,
        ..
    } = session;
    out.writer.finish()?;
    let handed = out.tally.player_handed();
    if let Some(w) = &swarm {
        for &k in &w.arrived {
            let p = &peers[usize::from(k)];
            ctx.peers.push((p.ip, p.ttl_initial, p.hops));
        }
    }
    let mut truth = out.tally.finish(&ctx);
    let (pull_push, tree_mesh) = cfg.overlay.words();
    truth.overlay = Some(super::truth::OverlayTruth {
        pull_push: pull_push.to_string(),
        tree_mesh: tree_mesh.to_string(),
        requests_sent,
        transport: cfg.peer_transport.name().to_string(),
    });
    truth.feed = feed.map(|f| f.truth(handed.saturating_sub(header_len)));
    if let Some(w) = swarm {
        let facts = super::swarm::Facts {
            local: cfg.local_ip,
            peers: peers.iter().map(|p| (p.ip, p.rtt_ns)).collect(),
            suppliers: suppliers
                .iter()
                .map(|&k| peers[usize::from(k)].ip)
                .collect(),
            arrived: w
                .arrived
                .iter()
                .map(|&k| peers[usize::from(k)].ip)
                .collect(),
            tcp: w
                .tcp
                .iter()
                .map(|&(k, c)| (peers[usize::from(k)].ip, c))
                .collect(),
            reciprocal: suppliers[..w.cfg.reciprocal.min(suppliers.len())]
                .iter()
                .map(|&k| peers[usize::from(k)].ip)
                .collect(),
            tracker: (TRACKER_IP, tracker.rtt_ns),
        };
        truth.swarm = Some(super::swarm::truth(&w.cfg, &facts, &truth));
    }
    Ok(truth)
}

impl<W: Write> Session<'_, W> {
    fn at(&mut self, t: u64, ev: Ev) {
        let t = t / self.res * self.res;
        self.heap.push(t, ev);
    }

    fn start(&mut self) {
        self.at(0, Ev::DnsQuery);
        let answer = self.rng_trk.range(20, 40) * MS + self.rng_trk.below(MS);
        self.at(answer, Ev::DnsAnswer);
        let syn = answer + self.rng_trk.range(1, 5) * MS + self.rng_trk.below(MS);
        self.tracker_handshake(syn);
        for k in 0..self.peers.len() {
            let t = self.peers[k].contact_ns;
            self.at(t, Ev::Contact(k as u16));
        }
        self.at(self.first_video_ns, Ev::VideoTick);
        if self.cfg.overlay == super::Overlay::MeshPull {
            // The first request one round trip before the first video, then every 150–450 ms.
            for (i, k) in self.suppliers.clone().into_iter().enumerate() {
                let rtt = self.peers[usize::from(k)].rtt_ns;
                let lead = rtt + self.rng_req.below(20 * MS) + i as u64 * MS;
                self.at(self.first_video_ns.saturating_sub(lead), Ev::Request(k));
            }
        }
        if self.cfg.upload_share > 0.0 && !self.consumers.is_empty() {
            let t = self.first_video_ns + (self.rng_up.uniform(1.0, 3.0) * SEC as f64) as u64;
            self.at(t, Ev::UploadTick);
        }
        self.start_swarm();
        if self.player.is_some() {
            let lead = (self.rng_ply.uniform(0.3, 1.0) * SEC as f64) as u64;
            let connect = self
                .playback_ns
                .saturating_sub(lead)
                .max(self.first_video_ns);
            self.at(connect, Ev::PlayerConnect);
            self.at(self.playback_ns, Ev::PlayerTick);
        }
    }

    /// The player's HTTP response head.
    fn http_header(&self) -> &'static [u8] {
        if self.feed.is_some() {
            HTTP_HEADER_TS
        } else {
            HTTP_HEADER
        }
    }

    fn local_ip_id(&mut self) -> u16 {
        self.local_id = self.local_id.wrapping_add(1);
        self.local_id
    }

    fn out_fields(&mut self, dst: Ipv4Addr) -> Ipv4Fields {
        Ipv4Fields {
            src: self.cfg.local_ip,
            dst,
            ttl: LOCAL_TTL,
            id: self.local_ip_id(),
        }
    }

    fn peer_fields(&mut self, k: u16) -> Ipv4Fields {
        let local = self.cfg.local_ip;
        let p = &mut self.peers[usize::from(k)];
        p.ip_id = p.ip_id.wrapping_add(1);
        Ipv4Fields {
            src: p.ip,
            dst: local,
            ttl: p.ttl(),
            id: p.ip_id,
        }
    }

    fn handle(&mut self, t: u64, ev: Ev) -> Result<(), SimError> {
        match ev {
            Ev::DnsQuery => self.dns(t, false),
            Ev::DnsAnswer => self.dns(t, true),
            Ev::Tracker(seg) => self.tracker_segment(t, seg),
            Ev::TrackerKeepAlive => {
                let req = self.rng_trk.range(40, 90) as u16;
                let resp = self.rng_trk.range(40, 120) as u16;
                self.tracker_exchange(t, req, resp);
                let next = t + (self.rng_trk.uniform(10.0, 20.0) * SEC as f64) as u64;
                self.at(next, Ev::TrackerKeepAlive);
                Ok(())
            }
            Ev::Contact(k) if !self.conns.is_empty() => {
                // Peer TCP: the client opens the connection; it greets once it is open.
                let c = self.conns[usize::from(k)];
                self.tcp_segment(t, k, false, tcp_flags::SYN, c.cli_nxt, 0, Some(1460), &[])?;
                self.conns[usize::from(k)].cli_nxt = c.cli_nxt.wrapping_add(1);
                let rtt = self.peers[usize::from(k)].rtt_ns;
                self.at(t + rtt, Ev::Greet(k));
                Ok(())
            }
            Ev::Greet(k) => {
                let c = self.conns[usize::from(k)];
                let flags = tcp_flags::SYN | tcp_flags::ACK;
                self.tcp_segment(t, k, true, flags, c.peer_nxt, c.cli_nxt, Some(1440), &[])?;
                self.conns[usize::from(k)].peer_nxt = c.peer_nxt.wrapping_add(1);
                self.tcp_ack(t, k)?;
                self.greet(t, k)
            }
            Ev::Contact(k) => self.greet(t, k),
            Ev::PeerAck(k) => {
                let c = self.conns[usize::from(k)];
                self.tcp_segment(t, k, true, tcp_flags::ACK, c.peer_nxt, c.cli_nxt, None, &[])
            }
            Ev::CtlIn(k, kind) => self.control(t, k, true, kind),
            Ev::CtlOut(k, kind) => self.control(t, k, false, kind),
            Ev::KeepAlive(k) if self.departed(k, t) => Ok(()),
            Ev::KeepAlive(k) => {
                self.control(t, k, false, 5)?;
                let rtt = self.peers[usize::from(k)].rtt_ns;
                self.at(t + rtt, Ev::CtlIn(k, 6));
                let gap = self.rng_ctl.uniform(3.0, 8.0) * self.keepalive_scale();
                let next = t + (gap * SEC as f64) as u64;
                self.at(next, Ev::KeepAlive(k));
                Ok(())
            }
            Ev::VideoTick => self.video_tick(t),
            Ev::Ack(k, seq) => {
                self.ack_payload(seq);
                let ip = self.peers[usize::from(k)].ip;
                let port = self.peers[usize::from(k)].port;
                let fields = self.out_fields(ip);
                let payload = std::mem::take(&mut self.payload);
                let r = self
                    .out
                    .udp(t, Dir::Out, fields, CLIENT_UDP_PORT, port, &payload);
                self.payload = payload;
                r
            }
            Ev::UploadTick => self.upload_tick(t),
            Ev::Request(k) => {
                self.requests_sent += 1;
                self.control(t, k, false, REQUEST)?;
                // The supplier answers with its buffer map one round trip later (the chunks
                // themselves come with the stream).
                let rtt = self.peers[usize::from(k)].rtt_ns;
                self.at(t + rtt, Ev::CtlIn(k, REQUEST_ANSWER));
                let (lo, hi) = REQUEST_GAP_MS;
                let gap = self.rng_req.range(lo, hi) * MS + self.rng_req.below(MS);
                self.at(t + gap, Ev::Request(k));
                Ok(())
            }
            Ev::UpAck(k, seq) => {
                self.ack_payload(seq);
                let port = self.peers[usize::from(k)].port;
                let fields = self.peer_fields(k);
                let payload = std::mem::take(&mut self.payload);
                let r = self
                    .out
                    .udp(t, Dir::In, fields, port, CLIENT_UDP_PORT, &payload);
                self.payload = payload;
                r
            }
            Ev::PlayerConnect => {
                self.player_connect(t);
                Ok(())
            }
            Ev::Loop(seg) => self.loop_segment(t, seg),
            Ev::PlayerTick => {
                self.player_tick(t);
                Ok(())
            }
            Ev::Arrive => {
                self.arrive(t);
                Ok(())
            }
            Ev::Depart(k) => {
                self.control(t, k, false, BYE)?;
                let rtt = self.peers[usize::from(k)].rtt_ns;
                self.at(t + rtt, Ev::CtlIn(k, BYE_ACK));
                Ok(())
            }
            Ev::PeerTcp(k, seg) => self.peer_tcp(t, k, seg),
        }
    }

    /// Hello, answer, second message, answer; then periodic keep-alives.
    fn greet(&mut self, t: u64, k: u16) -> Result<(), SimError> {
        // Hello, answer, second message, answer; then periodic keep-alives.
        self.control(t, k, false, 1)?;
        let rtt = self.peers[usize::from(k)].rtt_ns;
        let think = self.rng_ctl.range(200, 1_000) * US;
        self.at(t + rtt, Ev::CtlIn(k, 2));
        self.at(t + rtt + think, Ev::CtlOut(k, 3));
        self.at(t + 2 * rtt + think, Ev::CtlIn(k, 4));
        let first = self.rng_ctl.uniform(2.0, 6.0) * self.keepalive_scale();
        let next = t + (first * SEC as f64) as u64;
        self.at(next, Ev::KeepAlive(k));
        Ok(())
    }

    // ---- peer TCP ----------------------------------------------------------------------------

    /// A segment of peer `k`'s connection (`inbound`: from the peer).
    #[allow(clippy::too_many_arguments)]
    fn tcp_segment(
        &mut self,
        t: u64,
        k: u16,
        inbound: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        mss: Option<u16>,
        payload: &[u8],
    ) -> Result<(), SimError> {
        let c = self.conns[usize::from(k)];
        let port = self.peers[usize::from(k)].port;
        let (dir, fields, sport, dport) = if inbound {
            (Dir::In, self.peer_fields(k), port, c.cli_port)
        } else {
            let ip = self.peers[usize::from(k)].ip;
            (Dir::Out, self.out_fields(ip), c.cli_port, port)
        };
        let tcp = TcpFields {
            sport,
            dport,
            seq,
            ack,
            flags,
            window: 65_535,
            mss,
        };
        self.out.tcp(t, dir, fields, tcp, payload, true)
    }

    /// The client's pure ACK of everything peer `k` sent.
    fn tcp_ack(&mut self, t: u64, k: u16) -> Result<(), SimError> {
        let c = self.conns[usize::from(k)];
        self.conns[usize::from(k)].unacked = 0;
        self.tcp_segment(
            t,
            k,
            false,
            tcp_flags::ACK,
            c.cli_nxt,
            c.peer_nxt,
            None,
            &[],
        )
    }

    /// Sends `self.payload` between the client and peer `k` over the peer transport: a UDP
    /// datagram, or a TCP segment (then TCP acknowledges it: the client every second video
    /// segment and every message at once, the peer one round trip later).
    fn peer_emit(&mut self, t: u64, k: u16, inbound: bool) -> Result<(), SimError> {
        let payload = std::mem::take(&mut self.payload);
        let r = self.peer_emit_bytes(t, k, inbound, &payload);
        self.payload = payload;
        r
    }

    fn peer_emit_bytes(
        &mut self,
        t: u64,
        k: u16,
        inbound: bool,
        payload: &[u8],
    ) -> Result<(), SimError> {
        let port = self.peers[usize::from(k)].port;
        if self.conns.is_empty() {
            return if inbound {
                let fields = self.peer_fields(k);
                self.out
                    .udp(t, Dir::In, fields, port, CLIENT_UDP_PORT, payload)
            } else {
                let fields = self.out_fields(self.peers[usize::from(k)].ip);
                self.out
                    .udp(t, Dir::Out, fields, CLIENT_UDP_PORT, port, payload)
            };
        }
        let c = self.conns[usize::from(k)];
        let len = payload.len() as u32;
        let push = tcp_flags::PSH | tcp_flags::ACK;
        if inbound {
            self.tcp_segment(t, k, true, push, c.peer_nxt, c.cli_nxt, None, payload)?;
            let conn = &mut self.conns[usize::from(k)];
            conn.peer_nxt = c.peer_nxt.wrapping_add(len);
            conn.unacked = conn.unacked.saturating_add(1);
            if conn.unacked >= 2 || payload.len() != usize::from(self.cfg.video_size) {
                self.tcp_ack(t, k)?;
            }
        } else {
            self.tcp_segment(t, k, false, push, c.cli_nxt, c.peer_nxt, None, payload)?;
            self.conns[usize::from(k)].cli_nxt = c.cli_nxt.wrapping_add(len);
            let rtt = self.peers[usize::from(k)].rtt_ns;
            self.at(t + rtt, Ev::PeerAck(k));
        }
        Ok(())
    }

    // ---- swarm (issue 18) --------------------------------------------------------------------

    /// True once an arrived peer has left.
    fn departed(&self, k: u16, t: u64) -> bool {
        self.peers[usize::from(k)].depart_ns.is_some_and(|d| t >= d)
    }

    fn start_swarm(&mut self) {
        let Some(w) = self.swarm.as_mut() else {
            return;
        };
        let rate = w.cfg.arrivals_per_min;
        let tcp = w.tcp.clone();
        let first = (rate > 0.0).then(|| FIRST_ARRIVAL_NS + exp_gap_ns(&mut w.rng, rate));
        if let Some(t) = first {
            self.at(t, Ev::Arrive);
        }
        for (k, client_opens) in tcp {
            let Some(w) = self.swarm.as_mut() else {
                return;
            };
            let client_port = w.rng.range(32_768, 60_999) as u16;
            let (isn_c, isn_p) = (w.rng.next_u64() as u32, w.rng.next_u64() as u32);
            let p = &self.peers[usize::from(k)];
            let (t0, rtt) = (p.contact_ns + 300 * MS, p.rtt_ns);
            let seg = |out, flags, seq, ack| PeerSeg {
                out,
                flags,
                seq,
                ack,
                client_port,
            };
            let (syn, ack) = (tcp_flags::SYN, tcp_flags::ACK);
            let segs = if client_opens {
                // SYN out, SYN/ACK one RTT later, ACK 100 µs after it.
                [
                    (0, seg(true, syn, isn_c, 0)),
                    (rtt, seg(false, syn | ack, isn_p, isn_c.wrapping_add(1))),
                    (
                        rtt + 100 * US,
                        seg(true, ack, isn_c.wrapping_add(1), isn_p.wrapping_add(1)),
                    ),
                ]
            } else {
                // SYN in, SYN/ACK out 150 µs later, ACK one RTT after it.
                [
                    (0, seg(false, syn, isn_p, 0)),
                    (150 * US, seg(true, syn | ack, isn_c, isn_p.wrapping_add(1))),
                    (
                        150 * US + rtt,
                        seg(false, ack, isn_p.wrapping_add(1), isn_c.wrapping_add(1)),
                    ),
                ]
            };
            for (dt, s) in segs {
                self.at(t0 + dt, Ev::PeerTcp(k, s));
            }
        }
    }

    /// A peer arrives: drawn like the first ones, from the addresses left; it greets the
    /// client now and leaves after its lifetime.
    fn arrive(&mut self, t: u64) {
        let Some(w) = self.swarm.as_mut() else {
            return;
        };
        let next = t + exp_gap_ns(&mut w.rng, w.cfg.arrivals_per_min);
        if w.used.len() >= 2 * 253 {
            return;
        }
        let ip = loop {
            let host = w.rng.range(1, 254) as u8;
            let ip = if w.rng.chance(0.5) {
                Ipv4Addr::new(203, 0, 113, host)
            } else {
                Ipv4Addr::new(198, 51, 100, host)
            };
            if w.used.insert(ip) {
                break ip;
            }
        };
        // Exponential lifetime with the median asked for: mean = median / ln 2.
        let mean_s = w.cfg.lifetime_median_s / std::f64::consts::LN_2;
        let life_ns = (-(1.0 - w.rng.f64()).ln() * mean_s * SEC as f64) as u64;
        let peer = Peer {
            ip,
            port: w.rng.range(10_000, 60_999) as u16,
            ttl_initial: if w.rng.chance(0.6) { 128 } else { 64 },
            hops: w.rng.range(3, 24) as u8,
            rtt_ns: w.rng.range(20, 200) * MS + w.rng.below(MS),
            ip_id: w.rng.next_u64() as u16,
            contact_ns: t,
            depart_ns: Some(t + life_ns.max(1)),
        };
        let k = self.peers.len() as u16;
        w.arrived.push(k);
        self.peers.push(peer);
        self.at(t, Ev::Contact(k));
        self.at(t + life_ns.max(1), Ev::Depart(k));
        self.at(next, Ev::Arrive);
    }

    fn peer_tcp(&mut self, t: u64, k: u16, seg: PeerSeg) -> Result<(), SimError> {
        let port = self.peers[usize::from(k)].port;
        let (dir, ip, sport, dport) = if seg.out {
            let ip = self.peers[usize::from(k)].ip;
            (Dir::Out, self.out_fields(ip), seg.client_port, port)
        } else {
            (Dir::In, self.peer_fields(k), port, seg.client_port)
        };
        let tcp = TcpFields {
            sport,
            dport,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: 64_240,
            mss: (seg.flags & tcp_flags::SYN != 0).then_some(1460),
        };
        self.out.tcp(t, dir, ip, tcp, &[], false)
    }

    // ---- DNS -------------------------------------------------------------------------------

    fn dns(&mut self, t: u64, answer: bool) -> Result<(), SimError> {
        let mut m = Vec::with_capacity(64);
        m.extend_from_slice(&self.dns_id.to_be_bytes());
        // RFC 1035 §4.1.1: query with RD; response with QR, RD, RA, NOERROR.
        let flags: u16 = if answer { 0x8180 } else { 0x0100 };
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
        for label in TRACKER_NAME.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&[0, 1, 0, 1]); // QTYPE A, QCLASS IN
        if answer {
            m.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]); // name pointer to the question
            m.extend_from_slice(&300u32.to_be_bytes());
            m.extend_from_slice(&[0, 4]);
            m.extend_from_slice(&TRACKER_IP.octets());
            let fields = Ipv4Fields {
                src: DNS_IP,
                dst: self.cfg.local_ip,
                ttl: 64,
                id: self.rng_trk.next_u64() as u16,
            };
            self.out.udp(t, Dir::In, fields, 53, self.dns_port, &m)
        } else {
            let fields = self.out_fields(DNS_IP);
            self.out.udp(t, Dir::Out, fields, self.dns_port, 53, &m)
        }
    }

    // ---- tracker ---------------------------------------------------------------------------

    fn tracker_handshake(&mut self, t: u64) {
        let rtt = self.tracker.rtt_ns;
        let isn_c = self.tracker.cli_nxt;
        let isn_s = self.tracker.srv_nxt;
        let syn = TrackerSeg {
            out: true,
            flags: tcp_flags::SYN,
            seq: isn_c,
            ack: 0,
            len: 0,
            mss: Some(1460),
        };
        self.at(t, Ev::Tracker(syn));
        let synack = TrackerSeg {
            out: false,
            flags: tcp_flags::SYN | tcp_flags::ACK,
            seq: isn_s,
            ack: isn_c.wrapping_add(1),
            len: 0,
            mss: Some(1440),
        };
        self.at(t + rtt, Ev::Tracker(synack));
        self.tracker.cli_nxt = isn_c.wrapping_add(1);
        self.tracker.srv_nxt = isn_s.wrapping_add(1);
        let ack = TrackerSeg {
            out: true,
            flags: tcp_flags::ACK,
            seq: self.tracker.cli_nxt,
            ack: self.tracker.srv_nxt,
            len: 0,
            mss: None,
        };
        self.at(t + rtt + 100 * US, Ev::Tracker(ack));
        let req = self.rng_trk.range(200, 400) as u16;
        let resp = self.rng_trk.range(300, 600) as u16;
        let done = self.tracker_exchange(t + rtt + 150 * US, req, resp);
        let next = done + (self.rng_trk.uniform(10.0, 20.0) * SEC as f64) as u64;
        self.at(next, Ev::TrackerKeepAlive);
    }

    /// Request from the client, response from the tracker one RTT later, client ACK.
    /// Returns the time of the final ACK.
    fn tracker_exchange(&mut self, t: u64, req: u16, resp: u16) -> u64 {
        let rtt = self.tracker.rtt_ns;
        let c = self.tracker.cli_nxt;
        let s = self.tracker.srv_nxt;
        let push = tcp_flags::PSH | tcp_flags::ACK;
        let c2 = c.wrapping_add(u32::from(req));
        let s2 = s.wrapping_add(u32::from(resp));
        let segs = [
            (0, true, push, c, s, req),
            (rtt, false, push, s, c2, resp),
            (rtt + 200 * US, true, tcp_flags::ACK, c2, s2, 0),
        ];
        for (dt, out, flags, seq, ack, len) in segs {
            let seg = TrackerSeg {
                out,
                flags,
                seq,
                ack,
                len,
                mss: None,
            };
            self.at(t + dt, Ev::Tracker(seg));
        }
        self.tracker.cli_nxt = c2;
        self.tracker.srv_nxt = s2;
        t + rtt + 200 * US
    }

    fn tracker_segment(&mut self, t: u64, seg: TrackerSeg) -> Result<(), SimError> {
        let len = usize::from(seg.len);
        self.payload.clear();
        if len > 0 {
            // A small binary header (type, length) then opaque bytes.
            let off = self.rng_trk.below((BLOCK_LEN - len) as u64) as usize;
            self.payload.extend_from_slice(&self.block[off..off + len]);
            self.payload[0] = if seg.out { 0x51 } else { 0x52 };
            if len >= 3 {
                self.payload[1..3].copy_from_slice(&seg.len.to_be_bytes());
            }
        }
        let (dir, ip, sport, dport) = if seg.out {
            (
                Dir::Out,
                self.out_fields(TRACKER_IP),
                self.tracker.cli_port,
                TRACKER_PORT,
            )
        } else {
            self.tracker.ip_id = self.tracker.ip_id.wrapping_add(1);
            (
                Dir::In,
                Ipv4Fields {
                    src: TRACKER_IP,
                    dst: self.cfg.local_ip,
                    ttl: 64 - self.tracker.hops,
                    id: self.tracker.ip_id,
                },
                TRACKER_PORT,
                self.tracker.cli_port,
            )
        };
        let tcp = TcpFields {
            sport,
            dport,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: if seg.out { 64_240 } else { 65_535 },
            mss: seg.mss,
        };
        let payload = std::mem::take(&mut self.payload);
        let r = self.out.tcp(t, dir, ip, tcp, &payload, false);
        self.payload = payload;
        r
    }

    // ---- peer control ----------------------------------------------------------------------

    /// Keep-alive intervals stretch beyond 30 peers so that control traffic stays bounded
    /// and no single control size reaches 1 % of the packets.
    fn keepalive_scale(&self) -> f64 {
        // The configured peers, not those that arrived since: the default capture is unchanged
        // and an arriving peer's keep-alives stay below the idle timeout.
        (self.cfg.peers as f64 / 30.0).max(1.0)
    }

    /// A control payload size: spread over 40–120 bytes, never the ack or video size.
    fn control_size(&mut self) -> usize {
        loop {
            let s = self.rng_ctl.range(CONTROL_MIN, CONTROL_MAX) as u16;
            if s != self.cfg.ack_size && s != self.cfg.video_size {
                return usize::from(s);
            }
        }
    }

    fn control(&mut self, t: u64, k: u16, inbound: bool, kind: u8) -> Result<(), SimError> {
        let len = self.control_size();
        let off = self.rng_ctl.below((BLOCK_LEN - len) as u64) as usize;
        self.payload.clear();
        self.payload.extend_from_slice(&self.block[off..off + len]);
        self.payload[0] = 0x43;
        self.payload[1] = kind;
        self.payload[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        self.peer_emit(t, k, inbound)
    }

    // ---- video -----------------------------------------------------------------------------

    /// Video payload rate (bytes/s) in force at `t`.
    fn video_rate(&self, t: u64) -> f64 {
        match self.starve {
            Some((from, to, f)) if t >= from && t < to => f * self.stream_bps,
            _ if t < self.playback_ns => self.prefill_bps,
            _ => self.stream_bps,
        }
    }

    /// Video payload: 'V', version, length, chunk sequence, then opaque bytes that depend only
    /// on the sequence (so a forwarded chunk carries the same bytes).
    fn video_payload(&mut self, seq: u32) {
        let len = usize::from(self.cfg.video_size);
        let off = (seq as usize).wrapping_mul(7_919) % (BLOCK_LEN - len);
        self.payload.clear();
        self.payload.extend_from_slice(&self.block[off..off + len]);
        self.payload[0] = 0x56;
        self.payload[1] = 0x01;
        self.payload[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        self.payload[4..8].copy_from_slice(&seq.to_be_bytes());
    }

    fn ack_payload(&mut self, seq: u32) {
        let len = usize::from(self.cfg.ack_size);
        self.payload.clear();
        self.payload.resize(len, 0);
        let head = [0x41, 0x01];
        let n = len.min(2);
        self.payload[..n].copy_from_slice(&head[..n]);
        if len >= 8 {
            self.payload[4..8].copy_from_slice(&seq.to_be_bytes());
        }
    }

    /// Interval to the next packet of `size` bytes at `rate` bytes/s, jittered ±50 %.
    fn interval(rng: &mut Rng, size: u16, rate: f64) -> u64 {
        let mean = f64::from(size) / rate * SEC as f64;
        (mean * rng.uniform(0.5, 1.5)).max(1_000.0) as u64
    }

    fn video_tick(&mut self, t: u64) -> Result<(), SimError> {
        let rate = self.video_rate(t);
        if rate > 0.0 {
            let which = self.rng_video.weighted(&self.supplier_cum);
            let k = self.suppliers[which];
            let seq = self.video_seq;
            self.video_seq = self.video_seq.wrapping_add(1);
            self.video_payload(seq);
            self.peer_emit(t, k, true)?;
            // Drawn over TCP too, so both transports see the same video draws.
            let delay = self.rng_video.range(50, 500) * US;
            if self.conns.is_empty() {
                self.at(t + delay, Ev::Ack(k, seq));
            }
            let next = t + Self::interval(&mut self.rng_video, self.cfg.video_size, rate);
            self.at(next, Ev::VideoTick);
        } else {
            // Nothing arrives while the supply is cut entirely: resume when it ends.
            let resume = self.starve.map_or(t + SEC, |(_, to, _)| to.max(t + 1));
            self.at(resume, Ev::VideoTick);
        }
        Ok(())
    }

    fn upload_tick(&mut self, t: u64) -> Result<(), SimError> {
        let rate = self.cfg.upload_share * self.stream_bps;
        let which = self.rng_up.weighted(&self.consumer_cum);
        let k = self.consumers[which];
        // Forward a chunk received a little earlier.
        let lag = self.rng_up.range(5, 50) as u32;
        let seq = self.video_seq.saturating_sub(lag);
        self.video_payload(seq);
        self.peer_emit(t, k, false)?;
        let rtt = self.peers[usize::from(k)].rtt_ns;
        // Over TCP the consumer's ACK is TCP's own (`peer_emit` scheduled it).
        if self.conns.is_empty() {
            self.at(t + rtt, Ev::UpAck(k, seq));
        }
        let next = t + Self::interval(&mut self.rng_up, self.cfg.video_size, rate);
        self.at(next, Ev::UploadTick);
        Ok(())
    }

    // ---- player ----------------------------------------------------------------------------

    fn player_connect(&mut self, t: u64) {
        let Some(p) = self.player.as_mut() else {
            return;
        };
        let isn_p = p.ply_nxt;
        let isn_c = p.cli_nxt;
        p.ply_nxt = isn_p.wrapping_add(1 + HTTP_GET.len() as u32);
        p.cli_nxt = isn_c.wrapping_add(1);
        let get_end = p.ply_nxt;
        let segs = [
            (
                0,
                true,
                tcp_flags::SYN,
                isn_p,
                0,
                Some(65_495),
                LoopPayload::None,
            ),
            (
                30 * US,
                false,
                tcp_flags::SYN | tcp_flags::ACK,
                isn_c,
                isn_p.wrapping_add(1),
                Some(65_495),
                LoopPayload::None,
            ),
            (
                60 * US,
                true,
                tcp_flags::ACK,
                isn_p.wrapping_add(1),
                isn_c.wrapping_add(1),
                None,
                LoopPayload::None,
            ),
            (
                200 * US,
                true,
                tcp_flags::PSH | tcp_flags::ACK,
                isn_p.wrapping_add(1),
                isn_c.wrapping_add(1),
                None,
                LoopPayload::Get,
            ),
            (
                240 * US,
                false,
                tcp_flags::ACK,
                isn_c.wrapping_add(1),
                get_end,
                None,
                LoopPayload::None,
            ),
        ];
        for (dt, from_player, flags, seq, ack, mss, payload) in segs {
            let seg = LoopSeg {
                from_player,
                flags,
                seq,
                ack,
                mss,
                payload,
            };
            self.at(t + dt, Ev::Loop(seg));
        }
    }

    fn player_tick(&mut self, t: u64) {
        let received = self.out.tally.video_payload_in();
        let header_len = self.http_header().len() as u64;
        let Some(p) = self.player.as_mut() else {
            return;
        };
        let mut segs: Vec<LoopPayload> = Vec::new();
        // The HTTP response header leads the first segment (sent alone, it would drain before
        // the next segment and make a spurious micro-stall at high rates).
        let mut header = p.started_ns.is_none();
        if header {
            p.started_ns = Some(t);
            p.handed += header_len;
        }
        let started = p.started_ns.unwrap_or(t);
        let elapsed = (t - started) as f64 / SEC as f64;
        let target = header_len + p.burst_bytes + (self.stream_bps * elapsed).floor() as u64;
        // Never hand more than has been received: the buffer cannot go negative.
        let give = target
            .saturating_sub(p.handed)
            .min(received.saturating_sub(p.handed));
        let mut left = give;
        while left > 0 || header {
            let n = self
                .rng_ply
                .range(PLAYER_SEGMENT_MIN, PLAYER_SEGMENT_MAX)
                .min(left);
            segs.push(LoopPayload::Stream {
                offset: p.stream_offset,
                len: n as u32,
                header,
            });
            header = false;
            p.stream_offset += n;
            left -= n;
        }
        p.handed += give;
        let count = segs.len();
        for (i, payload) in segs.into_iter().enumerate() {
            let Some(p) = self.player.as_mut() else {
                return;
            };
            let len = match payload {
                LoopPayload::Stream { len, header, .. } => {
                    len + if header { header_len as u32 } else { 0 }
                }
                _ => 0,
            };
            let seq = p.cli_nxt;
            p.cli_nxt = seq.wrapping_add(len);
            let data = LoopSeg {
                from_player: false,
                flags: tcp_flags::PSH | tcp_flags::ACK,
                seq,
                ack: p.ply_nxt,
                mss: None,
                payload,
            };
            let ack = LoopSeg {
                from_player: true,
                flags: tcp_flags::ACK,
                seq: p.ply_nxt,
                ack: p.cli_nxt,
                mss: None,
                payload: LoopPayload::None,
            };
            let ts = t + (i as u64) * 20 * US;
            self.at(ts, Ev::Loop(data));
            // The player acknowledges every second segment and the last one.
            if i % 2 == 1 || i + 1 == count {
                self.at(ts + 10 * US, Ev::Loop(ack));
            }
        }
        let next = t + (self.rng_ply.uniform(0.08, 0.25) * SEC as f64) as u64;
        self.at(next, Ev::PlayerTick);
    }

    fn loop_segment(&mut self, t: u64, seg: LoopSeg) -> Result<(), SimError> {
        let Some(p) = self.player.as_ref() else {
            return Ok(());
        };
        let player_port = p.port;
        self.payload.clear();
        match seg.payload {
            LoopPayload::None => {}
            LoopPayload::Get => self.payload.extend_from_slice(HTTP_GET),
            LoopPayload::Stream {
                offset,
                len,
                header,
            } => {
                if header {
                    self.payload.extend_from_slice(self.http_header());
                }
                let len = len as usize;
                if let Some(feed) = &self.feed {
                    feed.fill(offset, len, &mut self.payload);
                } else {
                    let off = (offset as usize) % (BLOCK_LEN - len);
                    self.payload.extend_from_slice(&self.block[off..off + len]);
                }
            }
        }
        let (sport, dport) = if seg.from_player {
            (player_port, PLAYER_PORT)
        } else {
            (PLAYER_PORT, player_port)
        };
        let lo = Ipv4Addr::LOCALHOST;
        let fields = Ipv4Fields {
            src: lo,
            dst: lo,
            ttl: 64,
            id: self.local_ip_id(),
        };
        let tcp = TcpFields {
            sport,
            dport,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: 65_535,
            mss: seg.mss,
        };
        let payload = std::mem::take(&mut self.payload);
        let r = self.out.tcp(t, Dir::Loop, fields, tcp, &payload, false);
        self.payload = payload;
        // The client's buffer never goes negative.
        debug_assert!(self.out.tally.player_handed() <= self.out.tally.video_payload_in());
        r
    }
}
