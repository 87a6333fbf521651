//! The deterministic swarm generator behind `peerscope simulate`: it writes a SopCast-like
//! capture of one client and a [`Truth`] computed from the packets actually written.
//!
//! Data flow: [`SimConfig`] → `session` (a seeded discrete-event simulation: DNS, tracker TCP,
//! peer control, video from suppliers, acks, upload to consumers, local player on loopback) →
//! [`frame`] (link + IPv4 + UDP/TCP bytes) → [`pcap_writer`] (pcap / pcapng records), while
//! `tally` counts every packet as it is emitted and turns the counts into the [`Truth`], with
//! continuity and stalls from [`playout`]. [`lab`] writes one capture per node of a small
//! forwarding tree (a source and receivers) with the truth of playback delay, for `compare`.
//! [`gateway`] merges many clients' sessions (and a few non-P2P clients) into one tap
//! capture with per-client truth, for gateway mode.
//!
//! Invariants the tests rely on:
//! - same configuration and seed → byte-identical capture and truth; a shorter `duration_s`
//!   gives a prefix of the longer capture (no draw depends on the duration);
//! - only documentation addresses (RFC 5737) are used;
//! - every video packet carries exactly `video_size` UDP payload bytes, and no other UDP
//!   packet has that size;
//! - the bytes handed to the player never exceed the video payload received so far.

use std::io::Write;
use std::net::Ipv4Addr;

mod events;
pub mod feed;
pub mod frame;
pub mod gateway;
pub mod lab;
pub mod pcap_writer;
pub mod playout;
pub mod rng;
mod session;
mod swarm;
mod tally;
mod truth;

pub use feed::{FeedTruth, TsFeed};
pub use gateway::{
    generate_gateway, ClientKind, GatewayClientTruth, GatewaySimConfig, GatewayTruth,
    GATEWAY_TRUTH_SCHEMA,
};
pub use lab::{generate_lab, LabConfig, LabNodeTruth, LabTruth, LAB_TRUTH_SCHEMA};
pub use pcap_writer::{Format, LinkType, PcapWriter, WriterOptions};
pub use playout::{fluid_playout, Playout, Stall};
pub use truth::{
    PeerTruth, PreferenceTruth, SizePeak, SupplierTruth, SwarmTruth, TrackerTruth, Truth,
    TRUTH_SCHEMA,
};

/// Capture start of every simulated file before the seed's offset: 2026-01-01T12:00:00Z, in
/// seconds since the Unix epoch.
pub const CAPTURE_EPOCH_S: u64 = 1_767_268_800;
/// The tracker's name, answered by the simulated DNS server.
pub const TRACKER_NAME: &str = "broker.sopcast.com";
/// The tracker's address (RFC 5737 TEST-NET-2).
pub const TRACKER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// The tracker's TCP port.
pub const TRACKER_PORT: u16 = 3912;
/// The DNS server (the gateway, on the client's own network).
pub const DNS_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The client's default address (RFC 5737 TEST-NET-1).
pub const DEFAULT_LOCAL_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The client's UDP port for peer traffic.
pub const CLIENT_UDP_PORT: u16 = 3908;
/// The client's local web server for the media player.
pub const PLAYER_PORT: u16 = 8902;
/// UDP ports of infrastructure services, not peers (DNS, DHCP, NTP, mDNS, SSDP).
pub const INFRA_PORTS: [u16; 6] = [53, 67, 68, 123, 5353, 1900];
/// Most peers the address pool can supply (two /24s minus reserved and used hosts).
pub const MAX_PEERS: usize = 500;
/// Largest video payload that fits an Ethernet MTU of 1500 in one IPv4/UDP packet.
pub const MAX_VIDEO_SIZE: u16 = 1472;
/// Smallest video payload: control messages are at most 120 bytes and must stay below it.
pub const MIN_VIDEO_SIZE: u16 = 200;

/// The capture's link layer as the simulated client's capture point sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// An Ethernet interface: loopback traffic is invisible.
    Ethernet,
    /// `tcpdump -i any` on Linux: Linux cooked v2 headers, loopback included.
    Sll2,
}

impl Link {
    /// The name used on the command line and in truth files.
    pub fn name(self) -> &'static str {
        match self {
            Link::Ethernet => "ethernet",
            Link::Sll2 => "sll2",
        }
    }

    /// The capture file's link type.
    pub fn link_type(self) -> LinkType {
        match self {
            Link::Ethernet => LinkType::Ethernet,
            Link::Sll2 => LinkType::LinuxSll2,
        }
    }
}

/// A window during which suppliers deliver only a fraction of the stream rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Starvation {
    /// Start, seconds from the capture start.
    pub at_s: f64,
    /// Length in seconds.
    pub for_s: f64,
    /// Fraction of the stream rate delivered meanwhile, in [0, 1].
    pub fraction: f64,
}

/// Everything that shapes a simulated capture. `Default` is the documented CLI default.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Link layer of the capture.
    pub link: Link,
    /// Container format.
    pub format: Format,
    /// The client's address.
    pub local_ip: Ipv4Addr,
    /// Capture length in seconds (packets after it are not written).
    pub duration_s: f64,
    /// Distinct peers contacted over UDP.
    pub peers: usize,
    /// Nominal supplier shares (weights; normalised), one supplier each.
    pub supplier_shares: Vec<f64>,
    /// Peers the client forwards video to.
    pub consumers: usize,
    /// Upload video payload rate as a fraction of the stream rate.
    pub upload_share: f64,
    /// UDP payload bytes of every video packet.
    pub video_size: u16,
    /// UDP payload bytes of every video acknowledgment.
    pub ack_size: u16,
    /// Stream rate in kb/s of application bytes (what the player consumes).
    pub stream_rate_kbps: f64,
    /// Video payload rate before playback starts; `None` = 2 × stream rate.
    pub prefill_rate_kbps: Option<f64>,
    /// Earliest first video packet, seconds; `None` = 2.0–2.6 s drawn from the seed.
    pub first_video_s: Option<f64>,
    /// Playback start after tune-in (the first packet), seconds.
    pub startup_delay_s: f64,
    /// Local media player on loopback; `None` = on for SLL2, off for Ethernet.
    pub player: Option<bool>,
    /// Seconds of stream handed to the player at once when playback starts.
    pub player_burst_s: f64,
    /// Optional supply shortfall.
    pub starvation: Option<Starvation>,
    /// What the player is fed: random bytes (the default) or a real MPEG-TS.
    pub feed: Feed,
    /// With [`Feed::MpegTs`]: video TS packets dropped from the feed (spread evenly).
    pub ts_loss: u64,
    /// How video reaches the client: pulled from a mesh (the default) or pushed down a tree.
    pub overlay: Overlay,
    /// What carries the peer traffic: UDP (the default) or one TCP connection per peer.
    pub peer_transport: SimTransport,
    /// Swarm dynamics and network awareness (issue 18): churn, TCP peers, reciprocal
    /// uploaders, an ASN/country table. `None` (the default) leaves every capture as it was.
    pub swarm: Option<SwarmSim>,
}

/// The transport of the peer traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimTransport {
    /// UDP datagrams, each video packet acknowledged by a small datagram.
    #[default]
    Udp,
    /// One TCP connection per peer, opened by the client (SYN, SYN/ACK, ACK); messages and
    /// video are segments with payload, acknowledged by TCP itself (the client's pure ACK
    /// every second video segment, as delayed ACK does; the peer's one round trip after each
    /// segment the client sends). No application-level acknowledgement.
    Tcp,
}

impl SimTransport {
    /// `udp` or `tcp`.
    pub fn name(self) -> &'static str {
        match self {
            SimTransport::Udp => "udp",
            SimTransport::Tcp => "tcp",
        }
    }
}

/// How the client gets its video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlay {
    /// Mesh pull (SopCast's, as the study found it): the client asks each supplier for chunks
    /// every 150–450 ms (a request message ahead of the data, answered by a buffer map one round trip later) and acknowledges every video
    /// packet.
    #[default]
    MeshPull,
    /// Tree push: one parent pushes the stream; the client only acknowledges each packet.
    TreePush,
}

impl Overlay {
    /// The study's pull/push and tree/mesh words for this overlay (the truth's `overlay`).
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Overlay::MeshPull => ("pull", "mesh"),
            Overlay::TreePush => ("push", "tree"),
        }
    }
}

/// What `simulate` adds for issue 18, each part off at its zero value. Its draws come from a
/// random stream of their own, so the rest of the capture is drawn as without it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SwarmSim {
    /// Peers arriving per minute from 5 s on (a Poisson process); each greets the client,
    /// keeps alive every 3–8 s, says goodbye when its lifetime ends and is silent after.
    pub arrivals_per_min: f64,
    /// Median lifetime of an arriving peer, seconds (exponentially distributed).
    pub lifetime_median_s: f64,
    /// Peers (the first ones that supply nothing) that also complete one TCP handshake with
    /// the client, half opened by the client, half by the peer: RTTs by the handshake.
    pub tcp_peers: usize,
    /// The largest suppliers that the client also uploads to (tit-for-tat).
    pub reciprocal: usize,
    /// Write an ASN and a country table of the capture's addresses (`SwarmTruth::asn_csv`,
    /// `geo_csv`), with a preference built in: the two largest suppliers share the client's
    /// AS and country.
    pub locality: bool,
}

/// The bytes of the player feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Feed {
    /// Random bytes from the seed (the default; no container).
    #[default]
    Random,
    /// A constant-rate MPEG-TS at the stream rate ([`feed::TsFeed`]), with the truth's `feed`.
    MpegTs,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            link: Link::Ethernet,
            format: Format::Pcap,
            local_ip: DEFAULT_LOCAL_IP,
            duration_s: 60.0,
            peers: 30,
            supplier_shares: vec![0.46, 0.31, 0.12, 0.07, 0.04],
            consumers: 3,
            upload_share: 0.3,
            video_size: 1320,
            ack_size: 28,
            stream_rate_kbps: 360.0,
            prefill_rate_kbps: None,
            first_video_s: None,
            startup_delay_s: 10.0,
            player: None,
            player_burst_s: 2.0,
            starvation: None,
            feed: Feed::Random,
            ts_loss: 0,
            overlay: Overlay::MeshPull,
            peer_transport: SimTransport::Udp,
            swarm: None,
        }
    }
}

impl SimConfig {
    /// Whether player traffic is generated (resolves the `None` default).
    pub fn player_enabled(&self) -> bool {
        self.player.unwrap_or(self.link == Link::Sll2)
    }

    /// Checks the configuration; the error says which value is wrong and why.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |reason: String| Err(SimError::InvalidConfig { reason });
        if self.overlay == Overlay::TreePush && self.supplier_shares.len() != 1 {
            return bad(format!(
                "a tree has one parent: --overlay tree takes one supplier, got {}",
                self.supplier_shares.len()
            ));
        }
        let finite_nonneg = |v: f64| v.is_finite() && v >= 0.0;
        if !(self.duration_s.is_finite() && self.duration_s > 0.0 && self.duration_s <= 86_400.0) {
            return bad(format!(
                "duration must be in (0, 86400] s, got {}",
                self.duration_s
            ));
        }
        if self.supplier_shares.is_empty()
            || self
                .supplier_shares
                .iter()
                .any(|s| !(s.is_finite() && *s > 0.0))
        {
            return bad("supplier shares must be one or more positive numbers".into());
        }
        let needed = self.supplier_shares.len() + self.consumers;
        if self.peers < needed {
            return bad(format!(
                "{} peers cannot hold {} suppliers and {} consumers",
                self.peers,
                self.supplier_shares.len(),
                self.consumers
            ));
        }
        if self.peers > MAX_PEERS {
            return bad(format!("at most {MAX_PEERS} peers, got {}", self.peers));
        }
        if !(MIN_VIDEO_SIZE..=MAX_VIDEO_SIZE).contains(&self.video_size) {
            return bad(format!(
                "video size must be {MIN_VIDEO_SIZE}..={MAX_VIDEO_SIZE} bytes, got {}",
                self.video_size
            ));
        }
        if self.ack_size == 0 || self.ack_size >= self.video_size {
            return bad(format!(
                "ack size must be 1..{} bytes, got {}",
                self.video_size, self.ack_size
            ));
        }
        if !(self.stream_rate_kbps.is_finite() && self.stream_rate_kbps > 0.0) {
            return bad(format!(
                "stream rate must be positive, got {}",
                self.stream_rate_kbps
            ));
        }
        if let Some(p) = self.prefill_rate_kbps {
            if !(p.is_finite() && p > 0.0) {
                return bad(format!("prefill rate must be positive, got {p}"));
            }
        }
        if !finite_nonneg(self.upload_share) {
            return bad(format!(
                "upload share must be ≥ 0, got {}",
                self.upload_share
            ));
        }
        if let Some(f) = self.first_video_s {
            if !finite_nonneg(f) {
                return bad(format!("first video time must be ≥ 0, got {f}"));
            }
        }
        if !finite_nonneg(self.startup_delay_s) {
            return bad(format!(
                "startup delay must be ≥ 0, got {}",
                self.startup_delay_s
            ));
        }
        if !finite_nonneg(self.player_burst_s) {
            return bad(format!(
                "player burst must be ≥ 0 s, got {}",
                self.player_burst_s
            ));
        }
        if self.player == Some(true) && self.link == Link::Ethernet {
            return bad(
                "player traffic runs on loopback, which an Ethernet capture cannot see: use \
                 link sll2"
                    .into(),
            );
        }
        if self.ts_loss > 0 && self.feed != Feed::MpegTs {
            return bad("TS losses need the MPEG-TS feed (--feed mpegts)".into());
        }
        if self.feed == Feed::MpegTs && !self.player_enabled() {
            return bad("the MPEG-TS feed goes to the player: it needs player traffic".into());
        }
        if let Some(s) = self.starvation {
            if !(finite_nonneg(s.at_s) && finite_nonneg(s.for_s)) {
                return bad("starvation start and length must be ≥ 0".into());
            }
            if !(s.fraction.is_finite() && (0.0..=1.0).contains(&s.fraction)) {
                return bad(format!(
                    "starvation fraction must be in [0, 1], got {}",
                    s.fraction
                ));
            }
        }
        if let Some(w) = &self.swarm {
            if !(w.arrivals_per_min.is_finite() && (0.0..=600.0).contains(&w.arrivals_per_min)) {
                return bad(format!(
                    "arrivals per minute must be 0 to 600, got {}",
                    w.arrivals_per_min
                ));
            }
            if w.arrivals_per_min > 0.0
                && !(w.lifetime_median_s.is_finite() && w.lifetime_median_s > 0.0)
            {
                return bad("arriving peers need a positive median lifetime".into());
            }
            if w.reciprocal > self.supplier_shares.len() {
                return bad(format!(
                    "{} reciprocal uploaders but only {} suppliers",
                    w.reciprocal,
                    self.supplier_shares.len()
                ));
            }
            if w.tcp_peers > self.peers - self.supplier_shares.len() {
                return bad(format!(
                    "{} TCP peers but only {} peers that supply nothing",
                    w.tcp_peers,
                    self.peers - self.supplier_shares.len()
                ));
            }
        }
        if self.local_ip.is_loopback() || self.local_ip == DNS_IP || self.local_ip == TRACKER_IP {
            return bad(format!(
                "local address {} is loopback or already used",
                self.local_ip
            ));
        }
        Ok(())
    }
}

/// Why a capture could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The configuration is inconsistent.
    #[error("invalid simulation settings: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// Writing the capture failed.
    #[error("writing the capture failed")]
    Io(#[from] std::io::Error),
    /// A frame could not be built (a payload too large for IPv4).
    #[error(transparent)]
    Frame(#[from] frame::FrameTooLarge),
}

/// Writes the capture described by `cfg` to `out` and returns its truth. `out` should be
/// buffered (a `BufWriter` of about 1 MiB for files); it is flushed before returning.
pub fn generate<W: Write>(cfg: &SimConfig, out: W) -> Result<Truth, SimError> {
    cfg.validate()?;
    session::run(cfg, out)
}
