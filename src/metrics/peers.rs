//! Who the local host talks to: peers contacted, suppliers of video, how concentrated the
//! supply is, each peer's role, and the tracker.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::flow::{is_unicast_host, Finished, PairStats, PeerTransport};
use crate::time::Timestamp;

use super::{rel_s, round};

/// A peer that sent at least this share of the video received is a supplier (SPEC §2).
pub const SUPPLIER_SHARE: f64 = 0.01;

/// `peers` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Peers {
    /// Distinct remote addresses exchanging peer UDP with the local host.
    pub contacted: u64,
    /// Peers that sent ≥ 1 % of the video payload received.
    pub suppliers: u64,
    pub concentration: Concentration,
    pub list: Vec<Peer>,
    /// Address pairs not tracked because the table was full (`--max-pairs`), with their traffic.
    pub overflow: Overflow,
    /// The local host's traffic with itself (own address to own address, loopback to its own
    /// address): never peer traffic, counted here (the player hand-over is in `stream`).
    #[serde(default)]
    pub self_traffic: SelfTrafficOut,
}

/// Traffic of untracked pairs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Overflow {
    pub packets: u64,
    pub ip_bytes: u64,
    /// Distinct address pairs refused, estimated (HyperLogLog, about ±2 %).
    pub pairs: u64,
}

/// How concentrated video supply is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Concentration {
    pub top1_share: f64,
    pub top2_share: f64,
    pub peers_for_50: u64,
    pub peers_for_80: u64,
    pub peers_for_90: u64,
}

/// One remote address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub ip: String,
    /// Ports the remote side used.
    pub ports: Vec<u16>,
    /// Name from a captured DNS answer.
    pub name: Option<String>,
    /// `supplier`, `consumer`, `tracker` or `control-only`.
    /// Transports of its peer traffic: `udp`, `utp`, `tcp` (absent in older reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transport: Vec<String>,
    pub role: PeerRole,
    /// UDP payload bytes of video received from this peer.
    pub video_in_bytes: u64,
    /// UDP payload bytes of video sent to this peer.
    pub video_out_bytes: u64,
    /// UDP payload bytes of control received from / sent to this peer.
    pub control_in_bytes: u64,
    pub control_out_bytes: u64,
    /// TCP payload bytes received from / sent to this peer.
    pub tcp_in_bytes: u64,
    pub tcp_out_bytes: u64,
    /// Share of all video payload received.
    pub share_in: f64,
    pub first_seen_s: f64,
    pub last_seen_s: f64,
    /// Hops guessed from the largest TTL received (initial TTL 64, 128 or 255).
    pub ttl_hops: Option<u8>,
    /// Sessions with this peer (`swarm`, issue 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u32>,
    /// Passive RTT (`metrics::rtt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<super::rtt::RttOut>,
    /// From `--asn-db` / `--geo-db` (`metrics::locality`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Video both ways (`metrics::swarm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reciprocity: Option<super::swarm::PeerReciprocity>,
}

/// `tracker` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tracker {
    pub ip: Option<String>,
    pub name: Option<String>,
    pub how: String,
}

/// Hop count from a received TTL: the distance below the next common initial TTL.
pub fn hops_from_ttl(ttl: u8) -> u8 {
    let initial = if ttl <= 64 {
        64
    } else if ttl <= 128 {
        128
    } else {
        255
    };
    initial - ttl
}

/// What a peer is to the local host (SPEC §2): written in the report as `tracker`,
/// `supplier`, `consumer` or `control-only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerRole {
    /// Contacted before the first video packet, never supplied video.
    Tracker,
    /// Sent at least 1 % of the video received.
    Supplier,
    /// Received at least 1 % of the video sent.
    Consumer,
    /// Exchanged control only.
    ControlOnly,
}

impl PeerRole {
    /// The report's word for the role.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerRole::Tracker => "tracker",
            PeerRole::Supplier => "supplier",
            PeerRole::Consumer => "consumer",
            PeerRole::ControlOnly => "control-only",
        }
    }
}

impl std::fmt::Display for PeerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `peers.self_traffic`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelfTrafficOut {
    pub packets: u64,
    pub ip_bytes: u64,
}

fn self_traffic(fin: &Finished) -> SelfTrafficOut {
    SelfTrafficOut {
        packets: fin.self_traffic.packets,
        ip_bytes: fin.self_traffic.ip_bytes,
    }
}

/// Per-peer numbers before roles are assigned.
struct Row<'a> {
    ip: IpAddr,
    pair: &'a PairStats,
    video_in: u64,
    video_out: u64,
    control_in: u64,
    control_out: u64,
    peer_udp: bool,
    only_infra: bool,
}

/// First video packet received by the local host, if any (any transport).
pub fn first_video(fin: &Finished) -> Option<Timestamp> {
    let local = fin.local?;
    let th = fin.thresholds();
    fin.pairs
        .iter()
        .filter(|p| p.a == local || p.b == local)
        .filter_map(|p| {
            let d = p.sent_by(p.other(local));
            PeerTransport::ALL
                .into_iter()
                .filter_map(|t| {
                    let min = th.of(t)?;
                    d.sizes(t)
                        .cells()
                        .filter(|(s, _)| *s >= min)
                        .map(|(_, c)| c.first)
                        .min()
                })
                .min()
        })
        .min()
}

/// Builds `peers` and `tracker`.
/// `announced`: addresses seen speaking a tracker protocol (BitTorrent's HTTP announce or
/// BEP 15), the strongest evidence of a tracker.
pub fn peers(fin: &Finished, announced: &[IpAddr]) -> (Peers, Option<IpAddr>, Tracker) {
    let overflow = Overflow {
        packets: fin.overflow.packets,
        ip_bytes: fin.overflow.ip_bytes,
        pairs: fin.overflow.pairs,
    };
    let Some(local) = fin.local else {
        return (
            Peers {
                contacted: 0,
                suppliers: 0,
                concentration: concentration(&[]),
                list: Vec::new(),
                overflow,
                self_traffic: self_traffic(fin),
            },
            None,
            Tracker {
                ip: None,
                name: None,
                how: "no local host".into(),
            },
        );
    };
    let mut rows: Vec<Row<'_>> = fin
        .pairs
        .iter()
        .filter(|p| p.a == local || p.b == local)
        .map(|pair| {
            let ip = pair.other(local);
            let th = fin.thresholds();
            let (c_in, v_in) = pair.sent_by(ip).split(&th);
            let (c_out, v_out) = pair.sent_by(local).split(&th);
            let d_in = pair.sent_by(ip);
            let d_out = pair.sent_by(local);
            let infra = d_in.infra_packets + d_out.infra_packets;
            let all = d_in.packets + d_out.packets;
            Row {
                ip,
                pair,
                video_in: v_in.payload_bytes,
                video_out: v_out.payload_bytes,
                control_in: c_in.payload_bytes,
                control_out: c_out.payload_bytes,
                peer_udp: pair.has_peer_traffic(),
                only_infra: infra == all,
            }
        })
        .filter(|r| (is_unicast_host(r.ip) || local.is_loopback()) && !r.only_infra)
        .collect();
    let video_total: u64 = rows.iter().map(|r| r.video_in).sum();
    let video_out_total: u64 = rows.iter().map(|r| r.video_out).sum();
    let share = |v: u64| {
        if video_total > 0 {
            v as f64 / video_total as f64
        } else {
            0.0
        }
    };
    let first_video = first_video(fin);
    let tracker_ip = pick_tracker(fin, &rows, first_video, announced);
    rows.sort_by(|x, y| {
        y.video_in
            .cmp(&x.video_in)
            .then(y.video_out.cmp(&x.video_out))
            .then((y.control_in + y.control_out).cmp(&(x.control_in + x.control_out)))
            .then(x.ip.cmp(&y.ip))
    });
    let mut shares: Vec<f64> = rows.iter().map(|r| share(r.video_in)).collect();
    shares.sort_by(|a, b| b.total_cmp(a));
    let list: Vec<Peer> = rows
        .iter()
        .map(|r| {
            let s = share(r.video_in);
            let role = if Some(r.ip) == tracker_ip {
                PeerRole::Tracker
            } else if s >= SUPPLIER_SHARE && r.video_in > 0 {
                PeerRole::Supplier
            } else if video_out_total > 0
                && r.video_out as f64 >= SUPPLIER_SHARE * video_out_total as f64
                && r.video_out > 0
            {
                PeerRole::Consumer
            } else {
                PeerRole::ControlOnly
            };
            let (first, last) = r.pair.span();
            let d_in = r.pair.sent_by(r.ip);
            Peer {
                ip: r.ip.to_string(),
                ports: r.pair.ports_of(r.ip).to_vec(),
                transport: r
                    .pair
                    .transports()
                    .into_iter()
                    .map(|t| t.as_str().to_string())
                    .collect(),
                name: fin.names.get(&r.ip).cloned(),
                role,
                video_in_bytes: r.video_in,
                video_out_bytes: r.video_out,
                control_in_bytes: r.control_in,
                control_out_bytes: r.control_out,
                tcp_in_bytes: d_in.tcp_payload_bytes,
                tcp_out_bytes: r.pair.sent_by(local).tcp_payload_bytes,
                share_in: round(s, 4),
                first_seen_s: rel_s(first, fin.first),
                last_seen_s: rel_s(last, fin.first),
                ttl_hops: (d_in.packets > 0).then(|| hops_from_ttl(d_in.ttl_max)),
                sessions: None,
                rtt_ms: super::rtt::rtt_of(r.pair, local),
                asn: None,
                as_org: None,
                country: None,
                reciprocity: None,
            }
        })
        .collect();
    // A tracker spoken to over TCP only is infrastructure, not a peer.
    let contacted = rows
        .iter()
        .filter(|r| r.peer_udp && (r.pair.has_peer_udp() || Some(r.ip) != tracker_ip))
        .count() as u64;
    let suppliers = list.iter().filter(|p| p.role == PeerRole::Supplier).count() as u64;
    let tracker = match tracker_ip {
        Some(ip) => {
            let name = fin.names.get(&ip).cloned();
            let how = match &name {
                Some(n) => format!(
                    "contacted before the first video packet, never supplied video; named {n} by a captured DNS answer"
                ),
                None => "contacted before the first video packet, never supplied video; no DNS answer names it".into(),
            };
            Tracker {
                ip: Some(ip.to_string()),
                name,
                how,
            }
        }
        None => Tracker {
            ip: None,
            name: None,
            how: "no endpoint contacted before the first video packet that never supplied video"
                .into(),
        },
    };
    (
        Peers {
            contacted,
            suppliers,
            concentration: concentration(&shares),
            list,
            overflow,
            self_traffic: self_traffic(fin),
        },
        tracker_ip,
        tracker,
    )
}

/// The tracker: an endpoint contacted before the first video packet that never supplied
/// video, preferring one named by DNS, then one spoken to over TCP, then the earliest.
fn pick_tracker(
    fin: &Finished,
    rows: &[Row<'_>],
    first_video: Option<Timestamp>,
    announced: &[IpAddr],
) -> Option<IpAddr> {
    let first_video = first_video?;
    // An address that spoke a tracker protocol is one whatever its sizes (an HTTP announce and
    // its answer are segments as large as data segments); any other must never have sent or
    // received video and have been contacted before the first video packet.
    rows.iter()
        .filter(|r| {
            announced.contains(&r.ip)
                || (r.video_in == 0 && r.video_out == 0 && r.pair.span().0 < first_video)
        })
        .min_by_key(|r| {
            let announce = announced.contains(&r.ip);
            let named = fin.names.contains_key(&r.ip);
            let tcp = r.pair.dir.iter().any(|d| d.tcp_packets > 0);
            (!announce, !named, !tcp, r.pair.span().0, r.ip)
        })
        .map(|r| r.ip)
}

/// Concentration of supply from shares sorted in descending order.
pub fn concentration(shares: &[f64]) -> Concentration {
    let fewest = |target: f64| -> u64 {
        let mut sum = 0.0;
        for (i, s) in shares.iter().enumerate() {
            sum += s;
            if sum + 1e-12 >= target {
                return i as u64 + 1;
            }
        }
        0
    };
    Concentration {
        top1_share: round(shares.first().copied().unwrap_or(0.0), 4),
        top2_share: round(shares.iter().take(2).sum(), 4),
        peers_for_50: fewest(0.5),
        peers_for_80: fewest(0.8),
        peers_for_90: fewest(0.9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops() {
        assert_eq!(hops_from_ttl(64), 0);
        assert_eq!(hops_from_ttl(50), 14);
        assert_eq!(hops_from_ttl(117), 11);
        assert_eq!(hops_from_ttl(250), 5);
    }

    #[test]
    fn concentration_counts() {
        let c = concentration(&[0.46, 0.31, 0.12, 0.07, 0.04]);
        assert_eq!(c.top1_share, 0.46);
        assert_eq!(c.top2_share, 0.77);
        assert_eq!((c.peers_for_50, c.peers_for_80, c.peers_for_90), (2, 3, 4));
        let empty = concentration(&[]);
        assert_eq!((empty.top2_share, empty.peers_for_50), (0.0, 0));
    }
}
