//! Connections: one entry per 5-tuple flow (addresses, ports, transport), both directions in
//! one entry as the pair table does, for `--flows` (`flows.ndjson`, one Zeek `conn.log`-like
//! line per flow). Off unless asked for (`TableConfig::max_conns` 0): it costs one hash lookup
//! per packet.
//!
//! [`Conns::add`] takes each decoded packet; the originator is the sender of the first packet
//! seen (Zeek's rule for UDP; for TCP without the handshake it is a guess too). At most
//! `max` flows are tracked: packets of further flows are counted in [`Conns::refused_packets`]
//! and the export says the cap was hit. Peer UDP payload sizes are kept per direction
//! ([`SizeHist`]) so that the video/control split can be made with the threshold the whole
//! capture settles on ([`ConnsFinished::records`]).

use std::net::IpAddr;

use crate::hash::FastMap;
use serde::{Deserialize, Serialize};

use super::sizes::SizeHist;
use crate::decode::{Packet, Transport};
use crate::time::Timestamp;

/// IANA protocol numbers (RFC 790 / the IANA registry): TCP 6, UDP 17.
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// A canonical 5-tuple: `a` is the smaller (address, port) endpoint, so both directions share
/// one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    a: (IpAddr, u16),
    b: (IpAddr, u16),
    proto: u8,
}

/// One direction of a flow.
#[derive(Debug, Clone, Default)]
struct Dir {
    packets: u64,
    ip_bytes: u64,
    payload_bytes: u64,
    /// UDP payload sizes (whole datagrams or first fragments).
    udp_sizes: SizeHist,
}

#[derive(Debug, Clone)]
struct Conn {
    uid: u64,
    first: Timestamp,
    last: Timestamp,
    /// The originator is `a` of the key.
    orig_is_a: bool,
    /// `dir[0]` from `a` to `b`, `dir[1]` from `b` to `a`.
    dir: [Dir; 2],
}

/// The per-5-tuple aggregator.
#[derive(Debug, Clone, Default)]
pub struct Conns {
    max: usize,
    map: FastMap<Key, Conn>,
    next_uid: u64,
    refused_packets: u64,
}

impl Conns {
    /// An aggregator of at most `max` flows (0: off, [`Conns::add`] does nothing).
    pub fn new(max: usize) -> Self {
        Conns {
            max,
            ..Conns::default()
        }
    }

    /// Packets of flows beyond the cap.
    pub fn refused_packets(&self) -> u64 {
        self.refused_packets
    }

    /// Takes one decoded packet.
    #[inline]
    pub fn add(&mut self, p: &Packet<'_>) {
        if self.max == 0 {
            return;
        }
        let proto = match p.transport {
            Transport::Udp => PROTO_UDP,
            Transport::Tcp { .. } => PROTO_TCP,
            Transport::Other(n) => n,
        };
        let src = (p.src, p.sport);
        let dst = (p.dst, p.dport);
        let (key, from_a) = if src <= dst {
            (
                Key {
                    a: src,
                    b: dst,
                    proto,
                },
                true,
            )
        } else {
            (
                Key {
                    a: dst,
                    b: src,
                    proto,
                },
                false,
            )
        };
        let len = self.map.len();
        let conn = match self.map.get_mut(&key) {
            Some(c) => c,
            None if len >= self.max => {
                self.refused_packets += 1;
                return;
            }
            None => {
                self.next_uid += 1;
                self.map.entry(key).or_insert(Conn {
                    uid: self.next_uid,
                    first: p.ts,
                    last: p.ts,
                    orig_is_a: from_a,
                    dir: [Dir::default(), Dir::default()],
                })
            }
        };
        conn.first = conn.first.min(p.ts);
        conn.last = conn.last.max(p.ts);
        let d = &mut conn.dir[usize::from(!from_a)];
        d.packets += 1;
        d.ip_bytes += u64::from(p.ip_len);
        d.payload_bytes += u64::from(p.payload_len);
        if p.is_udp() {
            d.udp_sizes.add(p.payload_len, p.ip_len, p.ts);
        }
    }

    /// Ends the stream.
    pub fn finish(self) -> ConnsFinished {
        let mut conns: Vec<(Key, Conn)> = self.map.into_iter().collect();
        conns.sort_by_key(|(_, c)| (c.first, c.uid));
        ConnsFinished {
            conns,
            max: self.max,
            refused_packets: self.refused_packets,
        }
    }
}

/// The flows of a finished pass, in order of first packet.
#[derive(Debug, Clone, Default)]
pub struct ConnsFinished {
    conns: Vec<(Key, Conn)>,
    /// The cap (0: flows were not tracked).
    pub max: usize,
    /// Packets of flows beyond the cap.
    pub refused_packets: u64,
}

/// One line of `flows.ndjson`: Zeek `conn.log` field names where Zeek has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnRecord {
    /// First packet, seconds since the epoch (µs).
    pub ts: f64,
    /// A name unique within the export: `F` and a number in order of first packet.
    pub uid: String,
    #[serde(rename = "id.orig_h")]
    pub orig_h: String,
    #[serde(rename = "id.orig_p")]
    pub orig_p: u16,
    #[serde(rename = "id.resp_h")]
    pub resp_h: String,
    #[serde(rename = "id.resp_p")]
    pub resp_p: u16,
    /// `udp`, `tcp`, or the IP protocol number.
    pub proto: String,
    /// Last packet minus first, seconds.
    pub duration: f64,
    /// Transport payload bytes.
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    pub orig_pkts: u64,
    pub orig_ip_bytes: u64,
    pub resp_pkts: u64,
    pub resp_ip_bytes: u64,
    /// UDP packets at or above the video threshold, and below it (the report's classes).
    pub orig_video_pkts: u64,
    pub orig_control_pkts: u64,
    pub resp_video_pkts: u64,
    pub resp_control_pkts: u64,
    /// The application identified for the flow (not yet per flow: always null).
    pub application: Option<String>,
}

/// What `--flows` exports: the records and whether the cap was hit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flows {
    pub records: Vec<ConnRecord>,
    /// The cap (0: flows were not tracked).
    pub max: usize,
    /// Packets of flows beyond the cap (not in any record).
    pub refused_packets: u64,
}

impl ConnsFinished {
    /// The export, with UDP classified by `threshold`.
    pub fn export(&self, threshold: Option<u32>) -> Flows {
        Flows {
            records: self.records(threshold),
            max: self.max,
            refused_packets: self.refused_packets,
        }
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// No flow.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The export records, with UDP classified by `threshold` (smallest video payload).
    pub fn records(&self, threshold: Option<u32>) -> Vec<ConnRecord> {
        let proto_name = |n: u8| match n {
            PROTO_UDP => "udp".to_string(),
            PROTO_TCP => "tcp".to_string(),
            other => other.to_string(),
        };
        self.conns
            .iter()
            .enumerate()
            .map(|(i, (k, c))| {
                let (orig, resp, o, r) = if c.orig_is_a {
                    (k.a, k.b, &c.dir[0], &c.dir[1])
                } else {
                    (k.b, k.a, &c.dir[1], &c.dir[0])
                };
                let classes = |d: &Dir| {
                    let (control, video) = d.udp_sizes.split(threshold);
                    (video.packets, control.packets)
                };
                let (ov, oc) = classes(o);
                let (rv, rc) = classes(r);
                ConnRecord {
                    ts: (c.first.ns() / 1_000) as f64 / 1e6,
                    uid: format!("F{}", i + 1),
                    orig_h: orig.0.to_string(),
                    orig_p: orig.1,
                    resp_h: resp.0.to_string(),
                    resp_p: resp.1,
                    proto: proto_name(k.proto),
                    duration: (c.last.since(c.first).ns() / 1_000) as f64 / 1e6,
                    orig_bytes: o.payload_bytes,
                    resp_bytes: r.payload_bytes,
                    orig_pkts: o.packets,
                    orig_ip_bytes: o.ip_bytes,
                    resp_pkts: r.packets,
                    resp_ip_bytes: r.ip_bytes,
                    orig_video_pkts: ov,
                    orig_control_pkts: oc,
                    resp_video_pkts: rv,
                    resp_control_pkts: rc,
                    application: None,
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::Frag;

    fn udp(ts_ms: i64, src: &str, sport: u16, dst: &str, dport: u16, len: u32) -> Packet<'static> {
        Packet {
            ts: Timestamp::from_ns(ts_ms * 1_000_000),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl: 64,
            ip_len: len + 28,
            transport: Transport::Udp,
            sport,
            dport,
            payload_len: len,
            payload: &[],
            frag: Frag::Whole,
            anomaly: None,
            link: crate::decode::LinkMeta::default(),
            utp: None,
            stun: None,
        }
    }

    #[test]
    fn both_directions_one_flow_originator_first() {
        let mut c = Conns::new(10);
        c.add(&udp(1000, "198.51.100.9", 4000, "192.0.2.10", 8902, 1320));
        c.add(&udp(1010, "192.0.2.10", 8902, "198.51.100.9", 4000, 28));
        c.add(&udp(1500, "198.51.100.9", 4000, "192.0.2.10", 8902, 1320));
        c.add(&udp(2000, "192.0.2.10", 5000, "198.51.100.9", 4000, 60));
        let f = c.finish();
        assert_eq!(f.len(), 2);
        let r = f.records(Some(700));
        assert_eq!(r[0].orig_h, "198.51.100.9");
        assert_eq!((r[0].orig_pkts, r[0].resp_pkts), (2, 1));
        assert_eq!((r[0].orig_video_pkts, r[0].resp_control_pkts), (2, 1));
        assert_eq!(r[0].orig_bytes, 2640);
        assert_eq!(r[0].duration, 0.5);
        assert_eq!(r[0].ts, 1.0);
        assert_eq!(r[1].uid, "F2");
        assert_eq!((r[1].orig_p, r[1].resp_p), (5000, 4000));
    }

    #[test]
    fn the_cap_counts_what_it_refuses() {
        let mut c = Conns::new(1);
        c.add(&udp(0, "192.0.2.1", 1, "192.0.2.2", 2, 10));
        c.add(&udp(1, "192.0.2.1", 1, "192.0.2.3", 2, 10));
        c.add(&udp(2, "192.0.2.2", 2, "192.0.2.1", 1, 10));
        assert_eq!(c.refused_packets(), 1);
        let f = c.finish();
        assert_eq!(f.len(), 1);
        assert_eq!(f.records(None)[0].resp_pkts, 1);
        let mut off = Conns::new(0);
        off.add(&udp(0, "192.0.2.1", 1, "192.0.2.2", 2, 10));
        assert!(off.finish().is_empty());
    }
}
