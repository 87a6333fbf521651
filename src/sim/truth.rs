//! The truth file's model (`"schema": "peerscope/truth-v1"`): serde-only structs, filled by
//! `tally` from the packets actually written. Field order is the JSON key order.
//!
//! Conventions follow SPEC.md: rates in kb/s (1000 bit/s) of IP bytes (IP header + payload,
//! link header excluded, loopback excluded) over `duration_s`; sizes in UDP payload bytes;
//! times in seconds from the first packet. Values that do not exist in a capture (player
//! metrics without a player, first video without video) are `null`, never missing.
//!
//! # Example (abridged; `peerscope simulate -o any.pcap --link sll2`)
//!
//! ```text
//! { "schema": "peerscope/truth-v1", "seed": 1, "link": "sll2", "format": "pcap",
//!   "capture_start": "2026-01-01T12:43:44.540691Z", "local_ip": "192.0.2.10",
//!   "duration_s": 59.98, "packets": 7152, "loopback_packets": 792, "tune_in_s": 0.0,
//!   "video_size": 1320, "ack_size": 28, "video_ip_size": 1348, "control_max_size": 120,
//!   "size_peaks": [{"size": 28, "ip_bytes": 56, "packets": 2798, "share_packets": 0.44}, ...],
//!   "udp_packets": 6345, "peers_contacted": 30,
//!   "suppliers": [{"ip": "203.0.113.235", "share": 0.47, "ttl_hops": 14, "ports": [45864]}, ...],
//!   "top1_share": 0.47, "top2_share": 0.785, "consumers": ["198.51.100.5", ...],
//!   "tracker": {"ip": "198.51.100.7", "name": "broker.sopcast.com", "port": 3912, "ttl_hops": 7},
//!   "roles": {"198.51.100.7": "tracker", "203.0.113.235": "supplier", ...},
//!   "peers": [{"ip": ..., "ports": [...], "role": ..., "ttl_initial": 128, "ttl_hops": 19,
//!              "video_in_bytes": 0, "video_out_bytes": 299640, ..., "share_in": 0.0,
//!              "first_seen_s": 0.61, "last_seen_s": 59.9}, ...],
//!   "download_kbps": 409.8, "upload_kbps": 125.3, "video_download_kbps": 400.0, ...,
//!   "overhead": 0.046, "video_payload_bytes_in": 2937000, ..., "first_video_s": 2.15,
//!   "stream_rate_kbps": 360.0, "player_port": 8902, "player_bytes": 2334397,
//!   "playback_start_s": 10.0, "startup_delay_s": 10.0, "buffer_median_bytes": 598987.5,
//!   "continuity": 1.0, "stall_fraction": 0.0, "stalls": [] }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::feed::FeedTruth;
use super::playout::Stall;

/// The schema tag of truth files.
pub const TRUTH_SCHEMA: &str = "peerscope/truth-v1";

/// Ground truth of one simulated capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    /// Always [`TRUTH_SCHEMA`].
    pub schema: String,
    /// Seed the capture was made with.
    pub seed: u64,
    /// `"ethernet"` or `"sll2"`.
    pub link: String,
    /// `"pcap"`, `"pcap-ns"`, `"pcapng"` or `"pcapng-ns"`.
    pub format: String,
    /// Timestamp of the first packet, RFC 3339 UTC with microseconds.
    pub capture_start: String,
    /// The client's address.
    pub local_ip: String,
    /// Last packet time − first packet time.
    pub duration_s: f64,
    /// Packets written, loopback included.
    pub packets: u64,
    /// Packets on loopback (player traffic).
    pub loopback_packets: u64,
    /// Tune-in: the first packet of the session (the DNS query), always 0.
    pub tune_in_s: f64,
    /// UDP payload bytes of every video packet.
    pub video_size: u16,
    /// UDP payload bytes of every video acknowledgment.
    pub ack_size: u16,
    /// IP length of a video packet (video_size + 28).
    pub video_ip_size: u16,
    /// Largest UDP payload of a non-video packet: any threshold in
    /// (control_max_size, video_size] separates the classes exactly.
    pub control_max_size: u16,
    /// UDP payload sizes of the local host's traffic that hold ≥ 1 % of its UDP packets and
    /// are local maxima of the histogram, in size order.
    pub size_peaks: Vec<SizePeak>,
    /// Local host's UDP packets (both directions).
    pub udp_packets: u64,
    /// Distinct remote IPs exchanging UDP with the client, infrastructure ports excluded.
    pub peers_contacted: usize,
    /// Peers that sent ≥ 1 % of the video payload bytes received, by share descending.
    pub suppliers: Vec<SupplierTruth>,
    /// Largest realised supplier share (0 without video).
    pub top1_share: f64,
    /// Sum of the two largest realised supplier shares.
    pub top2_share: f64,
    /// Peers the client sent video to (and that are not suppliers), by address.
    pub consumers: Vec<String>,
    /// The tracker.
    pub tracker: TrackerTruth,
    /// Role of every remote endpoint except infrastructure: `supplier`, `consumer`,
    /// `tracker` or `control-only`.
    pub roles: BTreeMap<String, String>,
    /// Per-peer detail, by address (numeric order).
    pub peers: Vec<PeerTruth>,
    /// All IP bytes received, kb/s.
    pub download_kbps: f64,
    /// All IP bytes sent, kb/s.
    pub upload_kbps: f64,
    /// IP bytes of video packets received, kb/s.
    pub video_download_kbps: f64,
    /// IP bytes of video packets sent, kb/s.
    pub video_upload_kbps: f64,
    /// IP bytes of other UDP packets received (acks, control, DNS), kb/s.
    pub control_download_kbps: f64,
    /// IP bytes of other UDP packets sent, kb/s.
    pub control_upload_kbps: f64,
    /// IP bytes of non-UDP packets received (tracker TCP), kb/s.
    pub other_download_kbps: f64,
    /// IP bytes of non-UDP packets sent, kb/s.
    pub other_upload_kbps: f64,
    /// (IP bytes received − video payload bytes received) / video payload bytes received.
    pub overhead: Option<f64>,
    /// Video UDP payload bytes received.
    pub video_payload_bytes_in: u64,
    /// Video UDP payload bytes sent.
    pub video_payload_bytes_out: u64,
    /// Video packets received.
    pub video_packets_in: u64,
    /// Video packets sent.
    pub video_packets_out: u64,
    /// Non-video UDP packets received.
    pub control_packets_in: u64,
    /// Non-video UDP packets sent.
    pub control_packets_out: u64,
    /// Time of the first video packet received.
    pub first_video_s: Option<f64>,
    /// Nominal stream rate, kb/s of application bytes (the rate handed to the player).
    pub stream_rate_kbps: f64,
    /// Local player's port on the client, when there is a player.
    pub player_port: Option<u16>,
    /// Payload bytes the client handed the player (HTTP header included).
    pub player_bytes: Option<u64>,
    /// Time of the first payload byte sent to the player.
    pub playback_start_s: Option<f64>,
    /// playback_start_s − tune_in_s.
    pub startup_delay_s: Option<f64>,
    /// Median over playback (100 ms samples) of video payload received − bytes handed.
    pub buffer_median_bytes: Option<f64>,
    /// Fluid-model continuity over [playback start, capture end].
    pub continuity: Option<f64>,
    /// 1 − continuity.
    pub stall_fraction: Option<f64>,
    /// Stalls of the fluid model (merged across < 0.2 s gaps, ≥ 0.1 s long).
    pub stalls: Vec<Stall>,
    /// The MPEG-TS player feed (`--feed mpegts` only; absent otherwise, so default truth
    /// files are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<FeedTruth>,
    /// How the video reaches the client (by construction) and the requests it sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<OverlayTruth>,
    /// Churn, RTTs, reciprocity and locality (issue 18): only with a swarm option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmTruth>,
}

/// One peak of the UDP payload size histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizePeak {
    /// UDP payload bytes.
    pub size: u16,
    /// IP length of such a packet.
    pub ip_bytes: u16,
    /// Packets of this size.
    pub packets: u64,
    /// packets / local host's UDP packets.
    pub share_packets: f64,
}

/// A supplier and its realised share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierTruth {
    /// Address.
    pub ip: String,
    /// Video payload bytes from it / all video payload bytes received.
    pub share: f64,
    /// Initial TTL minus the TTL seen on its packets.
    pub ttl_hops: u8,
    /// Its UDP ports.
    pub ports: Vec<u16>,
}

/// The tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerTruth {
    /// Address.
    pub ip: String,
    /// Name given by the captured DNS answer.
    pub name: String,
    /// TCP port.
    pub port: u16,
    /// Initial TTL minus the TTL seen on its packets.
    pub ttl_hops: u8,
}

/// Everything known about one remote peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerTruth {
    /// Address.
    pub ip: String,
    /// Its UDP ports.
    pub ports: Vec<u16>,
    /// Role, as in `roles`.
    pub role: String,
    /// TTL its packets were sent with (64 or 128).
    pub ttl_initial: u8,
    /// Hops between it and the client.
    pub ttl_hops: u8,
    /// Video payload bytes received from it.
    pub video_in_bytes: u64,
    /// Video payload bytes sent to it.
    pub video_out_bytes: u64,
    /// Video packets received from it.
    pub video_in_packets: u64,
    /// Video packets sent to it.
    pub video_out_packets: u64,
    /// Non-video UDP packets received from it.
    pub control_in_packets: u64,
    /// Non-video UDP packets sent to it.
    pub control_out_packets: u64,
    /// Share of the video payload received.
    pub share_in: f64,
    /// First packet exchanged with it.
    pub first_seen_s: f64,
    /// Last packet exchanged with it.
    pub last_seen_s: f64,
}

/// The overlay of a simulated session: what it was built as, and the requests sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OverlayTruth {
    /// `pull` (mesh: requests ahead of the data) or `push` (tree: acknowledgements only).
    pub pull_push: String,
    /// `mesh` (several suppliers) or `tree` (one parent).
    pub tree_mesh: String,
    /// Chunk requests the client sent its suppliers.
    pub requests_sent: u64,
    /// What carried the peer traffic: `udp` or `tcp`.
    #[serde(default)]
    pub transport: String,
}

/// `swarm` in the truth file (issue 18; only with a swarm option). Sessions are split by a
/// 30 s idle timeout, as `analyze` does by default; lifetimes are from the first to the last
/// packet written between the client and a peer whose last packet lies more than 30 s before
/// the capture's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SwarmTruth {
    pub idle_timeout_s: f64,
    /// Peers that arrived after the start (churn).
    pub arrived: Vec<String>,
    /// The median lifetime asked for (`--lifetime`), seconds.
    pub lifetime_median_design_s: Option<f64>,
    /// Median and 90th percentile (nearest rank) of the ended sessions' lifetimes, seconds.
    pub lifetime_median_s: Option<f64>,
    pub lifetime_p90_s: Option<f64>,
    pub sessions_ended: usize,
    /// Sessions begun per minute (every peer and the tracker), and ended per minute.
    pub arrivals_per_min: Vec<u32>,
    pub departures_per_min: Vec<u32>,
    /// RTT of every peer and of the tracker, milliseconds.
    pub rtt_ms: BTreeMap<String, f64>,
    /// Peers that completed a TCP handshake with the client, and who opened it.
    pub tcp_peers: BTreeMap<String, String>,
    /// Suppliers the client also uploaded to.
    pub reciprocal: Vec<String>,
    /// Video uploaded to suppliers / all video uploaded.
    pub tit_for_tat_share: Option<f64>,
    /// The client's AS and country in the tables written beside the capture.
    pub local_asn: Option<u32>,
    pub local_country: Option<String>,
    /// Preference of the same AS and of the same country, over the peers in `peers`.
    pub same_asn: Option<PreferenceTruth>,
    pub same_country: Option<PreferenceTruth>,
    /// The ASN table (`start,end,asn,org`) and the country table (`start,end,country`): the
    /// CLI writes them beside the capture (not part of the truth file).
    #[serde(skip)]
    pub asn_csv: String,
    #[serde(skip)]
    pub geo_csv: String,
}

/// One locality class in the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceTruth {
    pub peers: usize,
    pub peers_share: f64,
    pub bytes_share: f64,
    pub ratio: Option<f64>,
}
