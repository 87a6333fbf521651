//! The truth of the swarm options (issue 18): sessions, lifetimes, arrivals and departures
//! per minute from the packets written (the tally's first and last packet per peer), the
//! RTT drawn for every peer, the TCP peers, the reciprocal uploaders with the tit-for-tat
//! share, and — with `locality` — an ASN table and a country table of the capture's addresses
//! with the preference they encode.
//!
//! The locality tables (ip-location-db's CSV formats, one single-address range per peer): the
//! client's /24 is AS 64500 in FR (RFC 5398 documentation ASNs); the two largest suppliers and
//! every seventh other peer share it; the rest are spread over AS 64501–64509 by the last
//! octet, the first three in FR, then DE, then US; the tracker is AS 64496 in US. Since the
//! largest suppliers are in the client's AS, the same-AS bytes share is far above its peers
//! share: the swarm "prefers" its AS, by construction.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::truth::{PreferenceTruth, SwarmTruth, Truth};
use super::SwarmSim;

/// Sessions split after this much silence, as `analyze --idle-timeout` by default.
pub const IDLE_TIMEOUT_S: f64 = 30.0;
/// The client's AS and country in the locality tables.
pub const LOCAL_ASN: u32 = 64_500;
pub const LOCAL_COUNTRY: &str = "FR";
const TRACKER_ASN: u32 = 64_496;

/// What the session knows at its end.
pub(crate) struct Facts {
    pub local: Ipv4Addr,
    /// Every peer (configured, then arrived) with its RTT in ns.
    pub peers: Vec<(Ipv4Addr, u64)>,
    /// Suppliers, largest share first.
    pub suppliers: Vec<Ipv4Addr>,
    pub arrived: Vec<Ipv4Addr>,
    /// TCP peers and whether the client opened the handshake.
    pub tcp: Vec<(Ipv4Addr, bool)>,
    pub reciprocal: Vec<Ipv4Addr>,
    pub tracker: (Ipv4Addr, u64),
}

/// The AS and country of the peer at `index` in [`Facts::peers`].
fn place(f: &Facts, index: usize, ip: Ipv4Addr) -> (u32, &'static str) {
    if f.suppliers.iter().take(2).any(|&s| s == ip)
        || (index % 7 == 3 && !f.suppliers.contains(&ip))
    {
        return (LOCAL_ASN, LOCAL_COUNTRY);
    }
    let asn = 64_501 + u32::from(ip.octets()[3]) % 9;
    let country = match asn - 64_501 {
        0..=2 => "FR",
        3..=5 => "DE",
        _ => "US",
    };
    (asn, country)
}

fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

fn preference(members: &[(bool, u64)]) -> PreferenceTruth {
    let peers = members.len();
    let bytes: u64 = members.iter().map(|m| m.1).sum();
    let n = members.iter().filter(|m| m.0).count();
    let b: u64 = members.iter().filter(|m| m.0).map(|m| m.1).sum();
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
    PreferenceTruth {
        peers: n,
        peers_share: ps,
        bytes_share: bs,
        ratio: (n > 0 && bytes > 0).then(|| bs / ps),
    }
}

/// The swarm truth of a finished capture.
pub(crate) fn truth(cfg: &SwarmSim, f: &Facts, t: &Truth) -> SwarmTruth {
    let minutes = (t.duration_s / 60.0).floor() as usize + 1;
    let mut arrivals = vec![0u32; minutes];
    let mut departures = vec![0u32; minutes];
    // The tracker's session begins with its SYN, within the first 50 ms, and stays open (it
    // is kept alive every 10–20 s).
    arrivals[0] += 1;
    let mut lifetimes = Vec::new();
    for p in &t.peers {
        let m = |s: f64| ((s / 60.0).floor() as usize).min(minutes - 1);
        arrivals[m(p.first_seen_s)] += 1;
        if t.duration_s - p.last_seen_s > IDLE_TIMEOUT_S {
            departures[m(p.last_seen_s)] += 1;
            lifetimes.push(p.last_seen_s - p.first_seen_s);
        }
    }
    lifetimes.sort_by(f64::total_cmp);
    let mut rtt_ms: BTreeMap<String, f64> = f
        .peers
        .iter()
        .map(|&(ip, ns)| (ip.to_string(), ns as f64 / 1e6))
        .collect();
    rtt_ms.insert(f.tracker.0.to_string(), f.tracker.1 as f64 / 1e6);
    let up_total: u64 = t.peers.iter().map(|p| p.video_out_bytes).sum();
    let up_suppliers: u64 = t
        .peers
        .iter()
        .filter(|p| p.role == "supplier")
        .map(|p| p.video_out_bytes)
        .sum();
    let mut out = SwarmTruth {
        idle_timeout_s: IDLE_TIMEOUT_S,
        arrived: f.arrived.iter().map(ToString::to_string).collect(),
        lifetime_median_design_s: (cfg.arrivals_per_min > 0.0).then_some(cfg.lifetime_median_s),
        lifetime_median_s: nearest_rank(&lifetimes, 0.5),
        lifetime_p90_s: nearest_rank(&lifetimes, 0.9),
        sessions_ended: lifetimes.len(),
        arrivals_per_min: arrivals,
        departures_per_min: departures,
        rtt_ms,
        tcp_peers: f
            .tcp
            .iter()
            .map(|&(ip, c)| {
                (
                    ip.to_string(),
                    if c { "client" } else { "peer" }.to_string(),
                )
            })
            .collect(),
        reciprocal: f.reciprocal.iter().map(ToString::to_string).collect(),
        tit_for_tat_share: (up_total > 0).then(|| up_suppliers as f64 / up_total as f64),
        ..SwarmTruth::default()
    };
    if cfg.locality {
        let o = f.local.octets();
        let mut asn_csv = format!(
            "{}.{}.{}.0,{}.{}.{}.255,{LOCAL_ASN},\"Example Local ISP, Inc.\"\n",
            o[0], o[1], o[2], o[0], o[1], o[2]
        );
        let mut geo_csv = format!(
            "{}.{}.{}.0,{}.{}.{}.255,{LOCAL_COUNTRY}\n",
            o[0], o[1], o[2], o[0], o[1], o[2]
        );
        let _ = writeln!(
            asn_csv,
            "{0},{0},{TRACKER_ASN},Example Tracker Net",
            f.tracker.0
        );
        let _ = writeln!(geo_csv, "{0},{0},US", f.tracker.0);
        let mut places = BTreeMap::new();
        for (i, &(ip, _)) in f.peers.iter().enumerate() {
            let (asn, cc) = place(f, i, ip);
            places.insert(ip.to_string(), (asn, cc));
            let _ = writeln!(asn_csv, "{ip},{ip},{asn},Example Net {asn}");
            let _ = writeln!(geo_csv, "{ip},{ip},{cc}");
        }
        let class = |same: &dyn Fn(u32, &str) -> bool| -> Vec<(bool, u64)> {
            t.peers
                .iter()
                .map(|p| {
                    let m = places.get(&p.ip).is_some_and(|&(a, c)| same(a, c));
                    (m, p.video_in_bytes)
                })
                .collect()
        };
        out.same_asn = Some(preference(&class(&|a, _| a == LOCAL_ASN)));
        out.same_country = Some(preference(&class(&|_, c| c == LOCAL_COUNTRY)));
        out.local_asn = Some(LOCAL_ASN);
        out.local_country = Some(LOCAL_COUNTRY.to_string());
        out.asn_csv = asn_csv;
        out.geo_csv = geo_csv;
    }
    out
}
