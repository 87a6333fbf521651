//! `simulate --gateway N`: one Ethernet capture at a tap beside a router, with N clients
//! behind it, and per-client truth ([`GatewayTruth`]).
//!
//! Data flow: each client is generated alone into a part file — a P2P client by the
//! single-client session ([`super::generate`], its own seed, address and MAC), a non-P2P one
//! by the small models here ([`ClientKind::Download`], [`ClientKind::Call`]) — then the parts
//! are merged in time order (a heap over their head records) into the one output, each
//! client's times shifted to start within [`STAGGER_S`] of the capture start. The merge also
//! puts each client's MAC on its frames and, for clients beyond the IPv4 plan, translates its
//! packets to IPv6; it counts what it writes, so the rates in the truth are those of the
//! packets in the file.
//!
//! Address plan (documentation ranges only): the router (and DNS server) is 192.0.2.1, clients
//! are 192.0.2.2–192.0.2.254 (253 of them), then `2001:db8:ffff::<n>` in order. Every P2P
//! client joins the same swarm, so remote peers (198.51.100.0/24, 203.0.113.0/24, the tracker
//! 198.51.100.7) are shared by clients on purpose, as they are when subscribers watch the
//! same channel; they are never a client's address. An IPv6 client's remote side is its own
//! `2001:db8:<n>::/48` with the IPv4 address in the last 32 bits (no sharing).
//!
//! Kinds, by client index `i`: `i % 10 == 3` is starved (supply drops to 30 % of the stream
//! rate for a fifth of the capture, from 40 % of it), `6` downloads from a web server over TCP port 80,
//! `9` holds a two-party video call (RTP-like UDP both ways with one partner); all others are P2P.

use std::collections::BinaryHeap;
use std::fs;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::frame::{
    build_tcp, build_udp, internet_checksum, tcp_flags, Ipv4Fields, LinkHeader, TcpFields,
};
use super::pcap_writer::{Format, LinkType, PcapWriter};
use super::rng::Rng;
use super::{Link, SimConfig, SimError, Starvation, CAPTURE_EPOCH_S, DNS_IP};

/// The schema of a gateway truth file.
pub const GATEWAY_TRUTH_SCHEMA: &str = "peerscope/gateway-truth-v1";
/// Clients start within this many seconds of the capture start.
pub const STAGGER_S: f64 = 3.0;
/// Most clients (`--gateway N`).
pub const MAX_CLIENTS: usize = 10_000;
/// IPv4 clients: 192.0.2.2 to 192.0.2.254.
pub const IPV4_CLIENTS: usize = 253;
/// The router's MAC (every remote address arrives behind it).
pub const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// The MAC the single-client session gives its client (replaced by each client's own).
const SESSION_LOCAL_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
/// The address every part is generated with (translated for IPv6 clients).
const PART_LOCAL_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
/// Random stream of the gateway's own draws (distinct from the session's 1–6).
const STREAM_GATEWAY: u64 = 40;
/// EtherTypes (IEEE 802): IPv4 and IPv6.
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;

/// What a client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// A SopCast-like P2P live-streaming session.
    P2p,
    /// The same, with a supply shortfall.
    Starved,
    /// A client-server download (HTTP over TCP port 80).
    Download,
    /// A two-party call (RTP-like UDP both ways with one partner).
    Call,
}

impl ClientKind {
    /// The kind of client `i`.
    pub fn of(i: usize) -> Self {
        match i % 10 {
            3 => ClientKind::Starved,
            6 => ClientKind::Download,
            9 => ClientKind::Call,
            _ => ClientKind::P2p,
        }
    }

    /// P2P live streaming (starved or not).
    pub fn is_p2p(self) -> bool {
        matches!(self, ClientKind::P2p | ClientKind::Starved)
    }
}

/// What shapes a gateway capture.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySimConfig {
    /// Clients behind the tap.
    pub clients: usize,
    /// Every P2P client's session: its `seed` seeds the gateway (each client gets its own),
    /// its duration is every client's; its address, link, player and starvation are set here.
    pub session: SimConfig,
}

/// One client's truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayClientTruth {
    pub ip: String,
    /// `aa:bb:…`.
    pub mac: String,
    pub kind: ClientKind,
    pub p2p: bool,
    /// The seed of its session.
    pub seed: u64,
    /// Its first packet, seconds after the capture's first packet.
    pub start_s: f64,
    /// Its last packet minus its first.
    pub duration_s: f64,
    pub packets: u64,
    /// Distinct remote addresses exchanging peer UDP with it (infrastructure excluded).
    pub peers_contacted: u64,
    /// Peers that sent ≥ 1 % of the video payload it received, and their addresses.
    pub suppliers: u64,
    pub supplier_ips: Vec<String>,
    pub top1_share: f64,
    pub top2_share: f64,
    /// IP bytes received and sent, kb/s (over its own duration), as written in the capture.
    pub down_kbps: f64,
    pub up_kbps: f64,
    /// IP bytes of its video packets received and sent, kb/s.
    pub video_down_kbps: f64,
    pub video_up_kbps: f64,
    /// The nominal stream rate (P2P only).
    pub stream_rate_kbps: Option<f64>,
    /// Fluid-model continuity (P2P only, as the single-client truth).
    pub continuity: Option<f64>,
}

/// The truth of a gateway capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayTruth {
    pub schema: String,
    pub seed: u64,
    pub link: String,
    pub format: String,
    /// Frames written.
    pub packets: u64,
    /// Last packet minus first.
    pub duration_s: f64,
    /// The router's address and MAC.
    pub router_ip: String,
    pub router_mac: String,
    /// `--clients` prefixes covering every client.
    pub client_prefixes: Vec<String>,
    pub clients: Vec<GatewayClientTruth>,
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Client `i`'s address.
pub fn client_ip(i: usize) -> IpAddr {
    if i < IPV4_CLIENTS {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2 + i as u8))
    } else {
        let n = (i - IPV4_CLIENTS + 1) as u128;
        IpAddr::V6(Ipv6Addr::from(
            u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0)) | n,
        ))
    }
}

/// Client `i`'s MAC (locally administered, unicast).
pub fn client_mac(i: usize) -> [u8; 6] {
    let n = (i as u32 + 2).to_be_bytes();
    [0x02, 0x01, n[0], n[1], n[2], n[3]]
}

/// The IPv6 address an IPv6 client `i`'s remote IPv4 address becomes.
fn remote_v6(i: usize, v4: Ipv4Addr) -> Ipv6Addr {
    let n = (i - IPV4_CLIENTS + 1) as u16;
    let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, n, 0, 0, 0, 0, 0));
    Ipv6Addr::from(base | u128::from(u32::from(v4)))
}

impl GatewaySimConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |reason: String| Err(SimError::InvalidConfig { reason });
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            return bad(format!(
                "--gateway takes 1 to {MAX_CLIENTS} clients, got {}",
                self.clients
            ));
        }
        if self.clients > IPV4_CLIENTS && self.clients - IPV4_CLIENTS > usize::from(u16::MAX) {
            return bad("too many IPv6 clients".into());
        }
        if self.session.link != Link::Ethernet {
            return bad("a gateway capture is Ethernet (the tap sees MACs, not loopback)".into());
        }
        if self.session.player == Some(true) {
            return bad("a tap sees no player traffic (it runs on the clients' loopback)".into());
        }
        self.session.validate()
    }

    fn client_session(&self, i: usize) -> SimConfig {
        let mut s = self.session.clone();
        s.seed = self
            .session
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(i as u64 + 1);
        s.local_ip = PART_LOCAL_IP;
        s.player = Some(false);
        s.starvation = (ClientKind::of(i) == ClientKind::Starved).then_some(Starvation {
            at_s: 0.4 * s.duration_s,
            for_s: 0.2 * s.duration_s,
            fraction: 0.3,
        });
        s
    }
}

/// The legacy pcap format of the same timestamp resolution (parts are always legacy pcap).
fn part_format(f: Format) -> Format {
    match f {
        Format::Pcap | Format::Pcapng => Format::Pcap,
        Format::PcapNs | Format::PcapngNs => Format::PcapNs,
    }
}

/// What generating one part gave.
struct Part {
    path: PathBuf,
    kind: ClientKind,
    seed: u64,
    /// From the single-client truth (P2P only).
    truth: Option<super::Truth>,
    /// UDP payload sizes of its video packets (none for a download: TCP to port 80 is no
    /// peer traffic).
    video: Option<(u32, u32)>,
    /// A call's partner: the one peer, and the supplier of all its video.
    partner: Option<Ipv4Addr>,
}

/// Writes the gateway capture to `out` (buffer it) and returns its truth. Parts are written
/// in `parts_dir` (created if needed) and removed as the merge ends.
pub fn generate_gateway<W: Write>(
    cfg: &GatewaySimConfig,
    out: W,
    parts_dir: &Path,
) -> Result<GatewayTruth, SimError> {
    cfg.validate()?;
    fs::create_dir_all(parts_dir)?;
    let result = generate_parts(cfg, parts_dir).and_then(|parts| {
        let merged = merge(cfg, &parts, out);
        for p in &parts {
            let _ = fs::remove_file(&p.path);
        }
        merged
    });
    let _ = fs::remove_dir(parts_dir);
    result
}

fn generate_parts(cfg: &GatewaySimConfig, dir: &Path) -> Result<Vec<Part>, SimError> {
    let format = part_format(cfg.session.format);
    let mut parts = Vec::with_capacity(cfg.clients);
    for i in 0..cfg.clients {
        let path = dir.join(format!("client-{i}.pcap"));
        let file = BufWriter::with_capacity(1 << 16, fs::File::create(&path)?);
        let mut s = cfg.client_session(i);
        s.format = format;
        let kind = ClientKind::of(i);
        let (truth, video, partner) = match kind {
            ClientKind::P2p | ClientKind::Starved => {
                let v = u32::from(s.video_size);
                (Some(super::generate(&s, file)?), Some((v, v)), None)
            }
            ClientKind::Download => {
                download(&s, file)?;
                (None, None, None)
            }
            ClientKind::Call => {
                let partner = call(&s, file)?;
                (None, Some(CALL_VIDEO), Some(partner))
            }
        };
        parts.push(Part {
            path,
            kind,
            seed: s.seed,
            truth,
            video,
            partner,
        });
    }
    Ok(parts)
}

/// Frames of a non-P2P client, built on the session's framing.
struct Plain<W: Write> {
    writer: PcapWriter<W>,
    frame: Vec<u8>,
    start_ns: u64,
    res: u64,
}

impl<W: Write> Plain<W> {
    fn new(s: &SimConfig, out: W) -> Result<Self, SimError> {
        Ok(Plain {
            writer: PcapWriter::new(out, s.format, LinkType::Ethernet)?,
            frame: Vec::with_capacity(2048),
            start_ns: CAPTURE_EPOCH_S * SEC,
            res: s.format.resolution_ns(),
        })
    }

    fn link(out: bool) -> LinkHeader {
        if out {
            LinkHeader::Ethernet {
                dst: ROUTER_MAC,
                src: SESSION_LOCAL_MAC,
            }
        } else {
            LinkHeader::Ethernet {
                dst: SESSION_LOCAL_MAC,
                src: ROUTER_MAC,
            }
        }
    }

    fn write(&mut self, t: u64) -> Result<(), SimError> {
        let t = t / self.res * self.res;
        self.writer.write_packet(self.start_ns + t, &self.frame)?;
        Ok(())
    }

    fn finish(self) -> Result<(), SimError> {
        self.writer.finish()?.flush()?;
        Ok(())
    }
}

/// A client-server download: a TCP connection to a web server (port 80), which sends
/// 1448-byte segments at 1–2 Mb/s for the whole capture, acknowledged every second segment.
fn download<W: Write>(s: &SimConfig, out: W) -> Result<(), SimError> {
    let mut rng = Rng::new(s.seed, STREAM_GATEWAY);
    let mut w = Plain::new(s, out)?;
    let server = Ipv4Addr::new(203, 0, 113, rng.range(200, 254) as u8);
    let cport = rng.range(32_768, 60_999) as u16;
    let rtt = rng.range(10, 60) * MS;
    let rate_bps = rng.uniform(1.0e6, 2.0e6);
    let (mut cseq, mut sseq) = (rng.next_u64() as u32, rng.next_u64() as u32);
    let end = (s.duration_s * SEC as f64) as u64;
    let up = |id: u16| Ipv4Fields {
        src: PART_LOCAL_IP,
        dst: server,
        ttl: 64,
        id,
    };
    let down = |id: u16| Ipv4Fields {
        src: server,
        dst: PART_LOCAL_IP,
        ttl: 50,
        id,
    };
    let seg = |sport, dport, seq, ack, flags, mss| TcpFields {
        sport,
        dport,
        seq,
        ack,
        flags,
        window: 65_535,
        mss,
    };
    let (mut cid, mut sid) = (rng.next_u64() as u16, rng.next_u64() as u16);
    use tcp_flags::{ACK, PSH, SYN};
    build_tcp(
        &mut w.frame,
        &Plain::<W>::link(true),
        &up(cid),
        &seg(cport, 80, cseq, 0, SYN, Some(1460)),
        &[],
    )?;
    w.write(0)?;
    cseq = cseq.wrapping_add(1);
    build_tcp(
        &mut w.frame,
        &Plain::<W>::link(false),
        &down(sid),
        &seg(80, cport, sseq, cseq, SYN | ACK, Some(1460)),
        &[],
    )?;
    w.write(rtt)?;
    sseq = sseq.wrapping_add(1);
    let get = b"GET /files/update.bin HTTP/1.1\r\nHost: downloads.example\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
    cid = cid.wrapping_add(1);
    build_tcp(
        &mut w.frame,
        &Plain::<W>::link(true),
        &up(cid),
        &seg(cport, 80, cseq, sseq, ACK | PSH, None),
        get,
    )?;
    w.write(rtt + 100_000)?;
    cseq = cseq.wrapping_add(get.len() as u32);
    let payload = vec![0x5a_u8; 1448];
    let gap = (1448.0 * 8.0 / rate_bps * SEC as f64) as u64;
    let mut t = 2 * rtt;
    let mut n: u64 = 0;
    while t <= end {
        sid = sid.wrapping_add(1);
        build_tcp(
            &mut w.frame,
            &Plain::<W>::link(false),
            &down(sid),
            &seg(80, cport, sseq, cseq, ACK, None),
            &payload,
        )?;
        w.write(t)?;
        sseq = sseq.wrapping_add(1448);
        n += 1;
        if n % 2 == 0 && t + 200_000 <= end {
            cid = cid.wrapping_add(1);
            build_tcp(
                &mut w.frame,
                &Plain::<W>::link(true),
                &up(cid),
                &seg(cport, 80, cseq, sseq, ACK, None),
                &[],
            )?;
            w.write(t + 200_000)?;
        }
        t += gap + rng.below(gap / 10 + 1);
    }
    w.finish()
}

/// RTP-like audio datagram: 12-byte header (RFC 3550) and 20 ms of G.711.
const AUDIO: usize = 172;
/// The sizes of a call's video datagrams.
const CALL_VIDEO: (u32, u32) = (1000, 1200);

/// A two-party video call: RTP-like audio datagrams every 20 ms each way with one partner,
/// and video datagrams of 1000–1200 bytes on four ticks in five, for the whole capture.
fn call<W: Write>(s: &SimConfig, out: W) -> Result<Ipv4Addr, SimError> {
    let mut rng = Rng::new(s.seed, STREAM_GATEWAY);
    let mut w = Plain::new(s, out)?;
    let partner = Ipv4Addr::new(198, 51, 100, rng.range(200, 254) as u8);
    let (lport, rport) = (
        16_384 + 2 * rng.range(0, 4000) as u16,
        16_384 + 2 * rng.range(0, 4000) as u16,
    );
    let end = (s.duration_s * SEC as f64) as u64;
    // Each tick's last datagram (partner video: offset + 2 ms jitter + 4 ms) leaves before the
    // next tick: the part is in time order.
    let offset = rng.range(1, 13) * MS;
    let mut payload = vec![0u8; AUDIO];
    let (mut id_out, mut id_in) = (rng.next_u64() as u16, rng.next_u64() as u16);
    let mut k: u64 = 0;
    loop {
        let t_out = k * 20 * MS + rng.below(MS);
        let t_in = k * 20 * MS + offset + rng.below(2 * MS);
        if t_out > end && t_in > end {
            break;
        }
        payload[0] = 0x80;
        payload[2..4].copy_from_slice(&(k as u16).to_be_bytes());
        // Audio every tick each way; video (1000–1200 bytes) on most ticks, 4 ms later.
        let (lo, hi) = (u64::from(CALL_VIDEO.0), u64::from(CALL_VIDEO.1));
        let video_out = rng.chance(0.8).then(|| rng.range(lo, hi) as usize);
        let video_in = rng.chance(0.8).then(|| rng.range(lo, hi) as usize);
        let mut frames = [
            (t_out, true, AUDIO),
            (t_in, false, AUDIO),
            (t_out + 4 * MS, true, video_out.unwrap_or(0)),
            (t_in + 4 * MS, false, video_in.unwrap_or(0)),
        ];
        frames.sort_by_key(|f| f.0);
        for (t, up, len) in frames {
            if t > end || len == 0 {
                continue;
            }
            payload.resize(len, 0x33);
            let ip = if up {
                id_out = id_out.wrapping_add(1);
                Ipv4Fields {
                    src: PART_LOCAL_IP,
                    dst: partner,
                    ttl: 64,
                    id: id_out,
                }
            } else {
                id_in = id_in.wrapping_add(1);
                Ipv4Fields {
                    src: partner,
                    dst: PART_LOCAL_IP,
                    ttl: 52,
                    id: id_in,
                }
            };
            let (sp, dp) = if up { (lport, rport) } else { (rport, lport) };
            build_udp(&mut w.frame, &Plain::<W>::link(up), &ip, sp, dp, &payload)?;
            w.write(t)?;
        }
        k += 1;
    }
    w.finish()?;
    Ok(partner)
}

/// A legacy pcap part file read back record by record (written by [`PcapWriter`]:
/// little-endian, µs or ns).
struct PartReader {
    r: BufReader<fs::File>,
    ns: bool,
    data: Vec<u8>,
}

impl PartReader {
    fn open(path: &Path) -> Result<Self, SimError> {
        let mut r = BufReader::with_capacity(1 << 15, fs::File::open(path)?);
        let mut h = [0u8; 24];
        r.read_exact(&mut h)?;
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        Ok(PartReader {
            r,
            ns: magic == 0xA1B2_3C4D,
            data: Vec::with_capacity(2048),
        })
    }

    /// The next record's time (ns since the epoch) and orig_len; its bytes in `self.data`.
    fn next(&mut self) -> Result<Option<(u64, u32)>, SimError> {
        let mut h = [0u8; 16];
        match self.r.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (sec, frac, incl, orig) = (word(0), word(4), word(8), word(12));
        self.data.resize(incl as usize, 0);
        self.r.read_exact(&mut self.data)?;
        let frac_ns = if self.ns {
            u64::from(frac)
        } else {
            u64::from(frac) * 1_000
        };
        Ok(Some((u64::from(sec) * SEC + frac_ns, orig)))
    }
}

/// What the merge counts of one client's frames.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    packets: u64,
    first: Option<u64>,
    last: u64,
    ip_in: u64,
    ip_out: u64,
    video_in: u64,
    video_out: u64,
}

/// Rewrites one part frame for client `i` into `out`: its MAC in place of the session's,
/// and for an IPv6 client the IPv4 packet translated (RFC 7915-like: the same transport
/// bytes behind an IPv6 header, the checksum recomputed over the IPv6 pseudo-header). Returns
/// (IP length, received by the client, UDP payload length).
fn rewrite(i: usize, data: &[u8], out: &mut Vec<u8>) -> Option<(u32, bool, Option<u32>)> {
    let mac = client_mac(i);
    out.clear();
    let eth = data.get(..14)?;
    let ip4 = data.get(14..)?;
    let ihl = usize::from(ip4.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip4.get(2)?, *ip4.get(3)?]));
    let proto = *ip4.get(9)?;
    let src = Ipv4Addr::new(ip4[12], ip4[13], ip4[14], ip4[15]);
    let dst = Ipv4Addr::new(*ip4.get(16)?, ip4[17], ip4[18], ip4[19]);
    let l4 = ip4.get(ihl..total)?;
    let udp_len = (proto == 17).then(|| (l4.len().saturating_sub(8)) as u32);
    let inbound = dst == PART_LOCAL_IP;
    let swap = |m: &[u8]| -> [u8; 6] {
        let mut a = [0u8; 6];
        a.copy_from_slice(m);
        if a == SESSION_LOCAL_MAC {
            mac
        } else {
            a
        }
    };
    out.extend_from_slice(&swap(&eth[0..6]));
    out.extend_from_slice(&swap(&eth[6..12]));
    if i < IPV4_CLIENTS {
        out.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let at = out.len();
        out.extend_from_slice(ip4.get(..total)?);
        let client = match client_ip(i) {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => return None,
        };
        // Put the client's address in place of the part's, and fix both checksums (the
        // transport checksum covers the addresses through the pseudo-header).
        let fix = |a: Ipv4Addr| if a == PART_LOCAL_IP { client } else { a };
        out[at + 12..at + 16].copy_from_slice(&fix(src).octets());
        out[at + 16..at + 20].copy_from_slice(&fix(dst).octets());
        out[at + 10..at + 12].copy_from_slice(&[0, 0]);
        let c = internet_checksum(&out[at..at + ihl]);
        out[at + 10..at + 12].copy_from_slice(&c.to_be_bytes());
        let mut pseudo = Vec::with_capacity(12 + l4.len());
        pseudo.extend_from_slice(&out[at + 12..at + 20]);
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        fix_l4_checksum(&mut out[at + ihl..], proto, &mut pseudo);
        return Some((total as u32, inbound, udp_len));
    }
    out.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    let map = |a: Ipv4Addr| match (a == PART_LOCAL_IP, client_ip(i)) {
        (true, IpAddr::V6(v6)) => v6,
        _ => remote_v6(i, a),
    };
    let (s6, d6) = (map(src), map(dst));
    // RFC 8200 §3: version 6, traffic class 0, flow label 0; payload length; next header;
    // hop limit (the IPv4 TTL).
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    out.push(proto);
    out.push(*ip4.get(8)?);
    out.extend_from_slice(&s6.octets());
    out.extend_from_slice(&d6.octets());
    let at = out.len();
    out.extend_from_slice(l4);
    let mut pseudo = Vec::with_capacity(40 + l4.len());
    pseudo.extend_from_slice(&s6.octets());
    pseudo.extend_from_slice(&d6.octets());
    pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, proto]);
    fix_l4_checksum(&mut out[at..], proto, &mut pseudo);
    Some(((40 + l4.len()) as u32, inbound, udp_len))
}

/// Recomputes a UDP (RFC 768) or TCP (RFC 9293) checksum over `pseudo` + the segment.
fn fix_l4_checksum(l4: &mut [u8], proto: u8, pseudo: &mut Vec<u8>) {
    let at = match proto {
        17 => 6,
        6 => 16,
        _ => return,
    };
    if l4.len() < at + 2 {
        return;
    }
    l4[at] = 0;
    l4[at + 1] = 0;
    pseudo.extend_from_slice(l4);
    let c = match internet_checksum(pseudo) {
        0 if proto == 17 => 0xFFFF,
        c => c,
    };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn merge<W: Write>(
    cfg: &GatewaySimConfig,
    parts: &[Part],
    out: W,
) -> Result<GatewayTruth, SimError> {
    let format = cfg.session.format;
    let res = format.resolution_ns();
    let mut rng = Rng::new(cfg.session.seed, STREAM_GATEWAY);
    let start_ns = CAPTURE_EPOCH_S * SEC + rng.below(3_600_000_000) * 1_000;
    let mut readers = Vec::with_capacity(parts.len());
    let mut shift = Vec::with_capacity(parts.len());
    // Heap of (Reverse(time), Reverse(client)): earliest first, ties to the lower index.
    let mut heap = BinaryHeap::new();
    for (i, p) in parts.iter().enumerate() {
        let mut r = PartReader::open(&p.path)?;
        let head = r.next()?;
        let offset = (rng.uniform(0.0, STAGGER_S) * SEC as f64) as u64 / res * res;
        let first = head.map_or(0, |h| h.0);
        shift.push((start_ns + offset) as i128 - first as i128);
        if let Some((t, _)) = head {
            heap.push(std::cmp::Reverse(((t as i128 + shift[i]) as u64, i)));
        }
        readers.push(r);
    }
    let mut writer = PcapWriter::new(out, format, LinkType::Ethernet)?;
    let mut counts = vec![Counts::default(); parts.len()];
    let mut peers: Vec<std::collections::BTreeSet<Ipv4Addr>> =
        vec![Default::default(); parts.len()];
    let mut frame = Vec::with_capacity(2048);
    let mut written: u64 = 0;
    let (mut first_all, mut last_all) = (None::<u64>, 0u64);
    while let Some(std::cmp::Reverse((t, i))) = heap.pop() {
        let Some(r) = readers.get_mut(i) else {
            continue;
        };
        if let Some((ip_len, inbound, udp_len)) = rewrite(i, &r.data, &mut frame) {
            writer.write_packet(t, &frame)?;
            written += 1;
            first_all.get_or_insert(t);
            last_all = last_all.max(t);
            let c = &mut counts[i];
            c.packets += 1;
            c.first.get_or_insert(t);
            c.last = t;
            let video = matches!((udp_len, parts[i].video), (Some(l), Some((lo, hi))) if (lo..=hi).contains(&l));
            if inbound {
                c.ip_in += u64::from(ip_len);
                if video {
                    c.video_in += u64::from(ip_len);
                }
            } else {
                c.ip_out += u64::from(ip_len);
                if video {
                    c.video_out += u64::from(ip_len);
                }
            }
            // Peers: remote ends of UDP that is not infrastructure (SPEC §2).
            if let (Some(_), Some(ip4)) = (udp_len, r.data.get(14..)) {
                let ihl = usize::from(ip4[0] & 0x0f) * 4;
                if let (Some(sp), Some(dp)) = (ip4.get(ihl..ihl + 2), ip4.get(ihl + 2..ihl + 4)) {
                    let (sp, dp) = (
                        u16::from_be_bytes([sp[0], sp[1]]),
                        u16::from_be_bytes([dp[0], dp[1]]),
                    );
                    if !crate::flow::is_infra_port(sp) && !crate::flow::is_infra_port(dp) {
                        let at = if inbound { 12 } else { 16 };
                        if let Some(b) = ip4.get(at..at + 4) {
                            peers[i].insert(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
                        }
                    }
                }
            }
        }
        let next = r.next()?;
        if let Some((nt, _)) = next {
            heap.push(std::cmp::Reverse(((nt as i128 + shift[i]) as u64, i)));
        }
    }
    writer.finish()?.flush()?;
    let first_all = first_all.unwrap_or(start_ns);
    let secs = |ns: u64| ns as f64 / SEC as f64;
    let round = |v: f64, d: i32| {
        let m = 10f64.powi(d);
        (v * m).round() / m
    };
    let clients = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let c = counts[i];
            let first = c.first.unwrap_or(first_all);
            let dur = secs(c.last.saturating_sub(first));
            let kbps = |b: u64| {
                if dur > 0.0 {
                    round(b as f64 * 8.0 / 1000.0 / dur, 3)
                } else {
                    0.0
                }
            };
            let t = p.truth.as_ref();
            let map_ip = |s: &str| -> String {
                match (i < IPV4_CLIENTS, s.parse::<Ipv4Addr>()) {
                    (false, Ok(v4)) => remote_v6(i, v4).to_string(),
                    _ => s.to_string(),
                }
            };
            let partner = p.partner.map(|v4| map_ip(&v4.to_string()));
            let (suppliers, supplier_ips, top1, top2) = match (t, partner) {
                (Some(t), _) => (
                    t.suppliers.len() as u64,
                    t.suppliers.iter().map(|s| map_ip(&s.ip)).collect(),
                    t.top1_share,
                    t.top2_share,
                ),
                (None, Some(partner)) => (1, vec![partner], 1.0, 1.0),
                (None, None) => (0, Vec::new(), 0.0, 0.0),
            };
            GatewayClientTruth {
                ip: client_ip(i).to_string(),
                mac: mac_text(client_mac(i)),
                kind: p.kind,
                p2p: p.kind.is_p2p(),
                seed: p.seed,
                start_s: round(secs(first.saturating_sub(first_all)), 6),
                duration_s: round(dur, 6),
                packets: c.packets,
                peers_contacted: peers[i].len() as u64,
                suppliers,
                supplier_ips,
                top1_share: top1,
                top2_share: top2,
                down_kbps: kbps(c.ip_in),
                up_kbps: kbps(c.ip_out),
                video_down_kbps: kbps(c.video_in),
                video_up_kbps: kbps(c.video_out),
                stream_rate_kbps: t.map(|t| t.stream_rate_kbps),
                continuity: t.and_then(|t| t.continuity),
            }
        })
        .collect();
    let mut prefixes = vec!["192.0.2.0/24".to_string()];
    if cfg.clients > IPV4_CLIENTS {
        prefixes.push("2001:db8:ffff::/48".into());
    }
    Ok(GatewayTruth {
        schema: GATEWAY_TRUTH_SCHEMA.into(),
        seed: cfg.session.seed,
        link: Link::Ethernet.name().into(),
        format: format.name().into(),
        packets: written,
        duration_s: round(secs(last_all.saturating_sub(first_all)), 6),
        router_ip: DNS_IP.to_string(),
        router_mac: mac_text(ROUTER_MAC),
        client_prefixes: prefixes,
        clients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(clients: usize) -> GatewaySimConfig {
        GatewaySimConfig {
            clients,
            session: SimConfig {
                duration_s: 12.0,
                ..SimConfig::default()
            },
        }
    }

    #[test]
    fn the_merge_counts_what_the_session_counted() {
        let dir = std::env::temp_dir().join(format!("peerscope-gw-unit-{}", std::process::id()));
        let mut out = Vec::new();
        let truth = generate_gateway(&small(10), &mut out, &dir).unwrap();
        assert!(!dir.exists(), "parts removed");
        assert_eq!(truth.clients.len(), 10);
        // Client 0 is the single-client session at seed client_session(0).seed: its rates as
        // the merge counted them are the session's own truth.
        let cfg = small(10);
        let mut s = cfg.client_session(0);
        s.format = part_format(s.format);
        let single = crate::sim::generate(&s, std::io::sink()).unwrap();
        let c = &truth.clients[0];
        assert_eq!(c.kind, ClientKind::P2p);
        assert_eq!(c.packets, single.packets);
        assert!((c.down_kbps - single.download_kbps).abs() < 1e-3 * single.download_kbps);
        assert!((c.up_kbps - single.upload_kbps).abs() < 1e-3 * single.upload_kbps);
        assert!(
            (c.video_down_kbps - single.video_download_kbps).abs()
                < 1e-3 * single.video_download_kbps
        );
        assert_eq!(c.peers_contacted, single.peers_contacted as u64);
        assert_eq!(truth.clients[3].kind, ClientKind::Starved);
        assert_eq!(truth.clients[6].kind, ClientKind::Download);
        assert_eq!(truth.clients[9].kind, ClientKind::Call);
        assert_eq!(
            truth.packets,
            truth.clients.iter().map(|c| c.packets).sum::<u64>()
        );
        // Time order, every kind of part included.
        let mut last = 0u64;
        let mut at = 24;
        while at + 16 <= out.len() {
            let w = |o: usize| u32::from_le_bytes(out[at + o..at + o + 4].try_into().unwrap());
            let t = u64::from(w(0)) * 1_000_000 + u64::from(w(4));
            assert!(t >= last);
            last = t;
            at += 16 + w(8) as usize;
        }
        assert_eq!(at, out.len());
    }

    #[test]
    fn addresses_and_macs_are_distinct() {
        let ips: std::collections::BTreeSet<_> = (0..600).map(client_ip).collect();
        assert_eq!(ips.len(), 600);
        assert_eq!(client_ip(0).to_string(), "192.0.2.2");
        assert_eq!(client_ip(252).to_string(), "192.0.2.254");
        assert_eq!(client_ip(253).to_string(), "2001:db8:ffff::1");
        let macs: std::collections::BTreeSet<_> = (0..600).map(client_mac).collect();
        assert_eq!(macs.len(), 600);
        assert!(!macs.contains(&ROUTER_MAC) && !macs.contains(&SESSION_LOCAL_MAC));
    }
}
