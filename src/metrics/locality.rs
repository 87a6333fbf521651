//! Locality, the network-awareness metrics of the Napa-Wine study (Ciullo et al., issue 18):
//! does the swarm prefer peers near the local host? `locality {same_asn, same_country,
//! same_prefix, near_hops}` in the report, each a [`Preference`]: the share of the peers
//! contacted in the class, the share of the video bytes received that came from it, and their
//! ratio (> 1: the class supplies more than its number of peers would; the swarm prefers it).
//! Also fills each listed peer's `asn`, `as_org` and `country` from the databases given.
//!
//! - same AS / same country: from `--asn-db` / `--geo-db` ([`crate::geo`]), compared with the
//!   local host's own record; `null` without a database or when the local host's address is
//!   not in it (a private address: give the public one with `--local` on a capture taken
//!   before NAT, or read the ratios as unknown).
//! - same prefix: the same /16 (IPv4) or /32 (IPv6) as the local host; no database needed.
//! - near hops: at most [`NEAR_HOPS`] hops away, hops from the largest TTL received, the
//!   initial TTL guessed as the next of 32, 64, 128 and 255 at or above it ([`hops_any`]; a
//!   peer 40 hops from an initial TTL of 64 would pass for 8 hops from 32, but paths that long
//!   are rare). No database needed.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::flow::Finished;
use crate::geo::Locator;

use super::peers::{PeerRole, Peers};
use super::round;

/// A peer at most this many hops away is near: 10, about half the median path length of
/// the Internet (13–17 router hops in traceroute surveys), so a "near" peer is within the
/// local host's region or provider.
pub const NEAR_HOPS: u8 = 10;

/// Hops from a received TTL, the initial TTL guessed as the next of 32, 64, 128, 255.
pub fn hops_any(ttl: u8) -> u8 {
    let initial = [32u8, 64, 128, 255]
        .into_iter()
        .find(|&i| ttl <= i)
        .unwrap_or(255);
    initial - ttl
}

/// One class of peers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    /// Peers contacted in the class.
    pub peers: u64,
    /// Their share of the peers contacted.
    pub peers_share: f64,
    /// Their share of the video bytes received.
    pub bytes_share: f64,
    /// `bytes_share / peers_share`; `null` when no peer is in the class.
    pub ratio: Option<f64>,
}

/// The local host's own place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    pub country: Option<String>,
    /// The /16 or /32 prefix compared for `same_prefix`.
    pub prefix: Option<String>,
}

/// `locality` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Locality {
    pub local: Place,
    /// Peers contacted (the denominator of `peers_share`).
    pub peers: u64,
    pub same_asn: Option<Preference>,
    pub same_country: Option<Preference>,
    pub same_prefix: Option<Preference>,
    pub near_hops: Option<Preference>,
    /// The `near_hops` bound.
    pub near_hops_max: u8,
    /// The databases used, and what was not known.
    pub how: String,
}

/// The /16 (IPv4) or /32 (IPv6) of an address, as `a.b.0.0/16` or `x:y::/32`.
pub fn prefix_of(ip: IpAddr) -> (IpAddr, String) {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let p = IpAddr::from([o[0], o[1], 0, 0]);
            (p, format!("{p}/16"))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 96);
            let p = IpAddr::from(std::net::Ipv6Addr::from(bits));
            (p, format!("{p}/32"))
        }
    }
}

fn preference(members: &[(bool, u64)], peers: u64, bytes: u64) -> Preference {
    let n = members.iter().filter(|(m, _)| *m).count() as u64;
    let b: u64 = members.iter().filter(|(m, _)| *m).map(|(_, b)| b).sum();
    let ps = if peers > 0 {
        n as f64 / peers as f64
    } else {
        0.0
    };
    let bs = if bytes > 0 {
        b as f64 / bytes as f64
    } else {
        0.0
    };
    Preference {
        peers: n,
        peers_share: round(ps, 4),
        bytes_share: round(bs, 4),
        ratio: (n > 0 && bytes > 0).then(|| round(bs / ps, 3)),
    }
}

/// Builds `locality` and fills the listed peers' `asn`, `as_org` and `country`.
pub fn locality(fin: &Finished, peers: &mut Peers, loc: &Locator) -> Locality {
    let local_rec = fin.local.map(|ip| loc.lookup(ip)).unwrap_or_default();
    let local_prefix = fin.local.map(prefix_of);
    // Largest TTL received from each peer, looked up once per peer (not a walk of the pairs).
    let ttls: std::collections::HashMap<IpAddr, u8> = fin
        .local
        .map(|local| {
            fin.pairs_of_local()
                .map(|p| (p.other(local), p.sent_by(p.other(local))))
                .filter(|(_, d)| d.packets > 0)
                .map(|(ip, d)| (ip, d.ttl_max))
                .collect()
        })
        .unwrap_or_default();
    let ttl = |ip: IpAddr| ttls.get(&ip).copied();
    let mut asn = Vec::new();
    let mut country = Vec::new();
    let mut prefix = Vec::new();
    let mut near = Vec::new();
    let (mut contacted, mut bytes) = (0u64, 0u64);
    let (mut asn_known, mut country_known) = (0u64, 0u64);
    for p in &mut peers.list {
        let Ok(ip) = p.ip.parse::<IpAddr>() else {
            continue;
        };
        if !loc.is_empty() {
            let r = loc.lookup(ip);
            p.asn = r.asn;
            p.as_org = r.as_org;
            p.country = r.country;
        }
        // The peers contacted: peer traffic, the tracker apart (as in `peers.contacted`).
        if p.transport.is_empty() || p.role == PeerRole::Tracker {
            continue;
        }
        contacted += 1;
        bytes += p.video_in_bytes;
        let v = p.video_in_bytes;
        asn_known += u64::from(p.asn.is_some());
        country_known += u64::from(p.country.is_some());
        asn.push((p.asn.is_some() && p.asn == local_rec.asn, v));
        country.push((p.country.is_some() && p.country == local_rec.country, v));
        prefix.push((
            local_prefix
                .as_ref()
                .is_some_and(|(lp, _)| prefix_of(ip).0 == *lp),
            v,
        ));
        near.push((ttl(ip).is_some_and(|t| hops_any(t) <= NEAR_HOPS), v));
    }
    let have = contacted > 0;
    let asn_ok = loc.has_asn() && local_rec.asn.is_some();
    let country_ok = loc.has_country() && local_rec.country.is_some();
    let mut how = Vec::new();
    match (&loc.asn, asn_ok) {
        (None, _) => how.push("same_asn: no --asn-db".to_string()),
        (Some(d), false) => how.push(format!(
            "same_asn: the local host is not in {}",
            d.path().display()
        )),
        (Some(d), true) => how.push(format!(
            "ASN from {} ({asn_known} of {contacted} peers known)",
            d.path().display()
        )),
    }
    match (&loc.geo, country_ok) {
        (None, false) if loc.asn.is_none() => how.push("same_country: no --geo-db".to_string()),
        (_, false) => how.push("same_country: the local host's country is unknown".to_string()),
        (g, true) => how.push(format!(
            "country from {} ({country_known} of {contacted} peers known)",
            g.as_ref()
                .or(loc.asn.as_ref())
                .map(|d| d.path().display().to_string())
                .unwrap_or_default()
        )),
    }
    how.push(format!(
        "same_prefix: /16 (IPv4) or /32 (IPv6) of the local host; near_hops: ≤ {NEAR_HOPS} hops, initial TTL guessed as the next of 32/64/128/255"
    ));
    Locality {
        local: Place {
            asn: local_rec.asn,
            as_org: local_rec.as_org,
            country: local_rec.country,
            prefix: local_prefix.map(|(_, s)| s),
        },
        peers: contacted,
        same_asn: (have && asn_ok).then(|| preference(&asn, contacted, bytes)),
        same_country: (have && country_ok).then(|| preference(&country, contacted, bytes)),
        same_prefix: (have && fin.local.is_some()).then(|| preference(&prefix, contacted, bytes)),
        near_hops: have.then(|| preference(&near, contacted, bytes)),
        near_hops_max: NEAR_HOPS,
        how: how.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_from_any_initial_ttl() {
        assert_eq!(hops_any(30), 2);
        assert_eq!(hops_any(60), 4);
        assert_eq!(hops_any(120), 8);
        assert_eq!(hops_any(250), 5);
    }

    #[test]
    fn prefixes_and_preferences() {
        assert_eq!(
            prefix_of("198.51.100.7".parse().unwrap()).1,
            "198.51.0.0/16"
        );
        assert_eq!(
            prefix_of("2001:db8:1::5".parse().unwrap()).1,
            "2001:db8::/32"
        );
        // 1 of 4 peers supplies half the bytes: ratio 2.
        let p = preference(&[(true, 50), (false, 20), (false, 20), (false, 10)], 4, 100);
        assert_eq!(
            (p.peers, p.peers_share, p.bytes_share, p.ratio),
            (1, 0.25, 0.5, Some(2.0))
        );
        assert_eq!(preference(&[(false, 1)], 1, 1).ratio, None);
    }
}
