//! Swarm dynamics, RTT, reciprocity and locality (issue 18): checked against tshark on real
//! captures and against the simulator's truth.

use std::collections::BTreeMap;
use std::process::Command;

use crate::util::{analyze, real};

/// The captures of `tests/data/real/` with TCP handshakes.
const TCP_CAPTURES: [&str; 7] = [
    "ndpi__KakaoTalk_talk.pcap",
    "ndpi__bittorrent_transmission.pcapng",
    "ndpi__gnutella.pcap",
    "ndpi__skype.pcap",
    "ndpi__zoom.pcap",
    "suricata-verify__smtp-to-comma_truncated.pcap",
    "zeek__vlan-qinqinq.pcap",
];

/// Per remote address, the smallest `tcp.analysis.initial_rtt` (ms) tshark gives over the TCP
/// streams between it and `local`.
fn tshark_initial_rtts(path: &str, local: &str) -> BTreeMap<String, f64> {
    let out = Command::new("tshark")
        .args(["-r", path, "-Y", "tcp.analysis.initial_rtt", "-T", "fields"])
        .args(["-e", "tcp.stream", "-e", "ip.src", "-e", "ip.dst"])
        .args([
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.analysis.initial_rtt",
        ])
        .output()
        .expect("tshark is not installed: run scripts/setup.sh --test");
    // tshark exits non-zero on a capture cut in the middle of a packet, after its packets.
    assert!(
        out.status.success() || !out.stdout.is_empty(),
        "tshark failed on {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut best: BTreeMap<String, f64> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [stream, s4, d4, s6, d6, rtt] = f[..] else {
            panic!("unexpected tshark line {line:?}");
        };
        if !seen.insert(stream.to_string()) {
            continue;
        }
        let (src, dst) = if s4.is_empty() { (s6, d6) } else { (s4, d4) };
        let peer = if src == local {
            dst
        } else if dst == local {
            src
        } else {
            continue;
        };
        let ms: f64 = rtt.parse::<f64>().unwrap() * 1000.0;
        let e = best.entry(peer.to_string()).or_insert(f64::MAX);
        *e = e.min(ms);
    }
    best
}

#[test]
fn issue_18_tcp_rtts_agree_with_tshark_initial_rtt() {
    let mut compared = 0;
    for name in TCP_CAPTURES {
        let path = real(name);
        let (out, report) = analyze(&format!("rtt-{name}"), &[&path]);
        let report = report.unwrap_or_else(|| panic!("no report for {name}: {out:?}"));
        let local = report.local.ip.clone().unwrap();
        let truth = tshark_initial_rtts(&path, &local);
        assert!(!truth.is_empty(), "{name}: tshark found no handshake");
        for (peer, want) in &truth {
            let p = report
                .peers
                .list
                .iter()
                .find(|p| &p.ip == peer)
                .unwrap_or_else(|| panic!("{name}: peer {peer} is not listed"));
            let rtt = p
                .rtt_ms
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: {peer} has no rtt_ms (tshark: {want} ms)"));
            assert_eq!(rtt.method, "tcp-handshake", "{name}: {peer}");
            assert!(
                (rtt.min - want).abs() <= 1.0,
                "{name}: {peer}: ours {} ms, tshark {want} ms",
                rtt.min
            );
            compared += 1;
        }
    }
    // The seven captures hold 100+ peers with a handshake; most must have been compared.
    assert!(compared >= 100, "only {compared} peers compared");
}

/// Writes a simulated capture with the swarm options into a fresh directory: the capture's
/// path and its truth.
fn simulate(name: &str, args: &[&str]) -> (String, peerscope::sim::Truth) {
    let dir = crate::util::tmp(&format!("sim-{name}"));
    let pcap = dir.join("swarm.pcap");
    let out = crate::util::bin()
        .args(["simulate", "-o"])
        .arg(&pcap)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
    let truth: peerscope::sim::Truth =
        serde_json::from_slice(&std::fs::read(dir.join("swarm.truth.json")).unwrap()).unwrap();
    (pcap.to_string_lossy().into_owned(), truth)
}

/// Churn, TCP peers, reciprocal uploaders and the locality tables in one 5-minute capture.
const SWARM_ARGS: [&str; 13] = [
    "--seed",
    "11",
    "--duration",
    "300s",
    "--arrivals-per-min",
    "12",
    "--lifetime",
    "40s",
    "--tcp-peers",
    "6",
    "--reciprocal",
    "2",
    "--locality",
];

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs()
}

#[test]
fn issue_18_churn_lifetimes_and_arrivals_match_the_truth() {
    let (pcap, truth) = simulate("churn", &SWARM_ARGS);
    let t = truth.swarm.unwrap();
    assert!(t.arrived.len() > 30, "{} arrivals", t.arrived.len());
    assert!(t.sessions_ended > 20, "{} sessions ended", t.sessions_ended);
    let (out, report) = analyze("churn", &[&pcap]);
    let s = report.unwrap_or_else(|| panic!("{out:?}")).swarm.unwrap();
    assert_eq!(s.idle_timeout_s, 30.0);
    let want = t.lifetime_median_s.unwrap();
    let got = s.lifetime_s.median.unwrap();
    assert!(
        close(got, want, 0.10),
        "median lifetime {got} s, truth {want} s"
    );
    let (got, want) = (s.lifetime_s.p90.unwrap(), t.lifetime_p90_s.unwrap());
    assert!(
        close(got, want, 0.10),
        "p90 lifetime {got} s, truth {want} s"
    );
    assert_eq!(s.sessions_ended as usize, t.sessions_ended);
    assert_eq!(s.arrivals_per_min, t.arrivals_per_min);
    assert_eq!(s.departures_per_min, t.departures_per_min);
    assert_eq!(s.lifetime_cdf.last().map(|p| p[1]), Some(1.0));
}

#[test]
fn issue_18_idle_timeout_splits_sessions() {
    let (pcap, _) = simulate("idle", &["--duration", "40s"]);
    let (_, long) = analyze("idle-30", &[&pcap]);
    let (_, short) = analyze("idle-2", &[&pcap, "--idle-timeout", "2s"]);
    let (long, short) = (long.unwrap().swarm.unwrap(), short.unwrap().swarm.unwrap());
    // Keep-alives every 3–8 s: one session per peer at 30 s, several at 2 s.
    assert_eq!(long.sessions, long.peers);
    assert!(
        short.sessions > 2 * short.peers,
        "{} sessions",
        short.sessions
    );
    assert_eq!(short.idle_timeout_s, 2.0);
    let (out, _) = analyze("idle-bad", &[&pcap, "--idle-timeout", "0.5s"]);
    assert!(!out.status.success());
}

#[test]
fn issue_18_rtt_per_peer_matches_the_truth() {
    let (pcap, truth) = simulate("rtt", &SWARM_ARGS);
    let t = truth.swarm.unwrap();
    let (out, report) = analyze("rtt", &[&pcap]);
    let report = report.unwrap_or_else(|| panic!("{out:?}"));
    let mut checked = 0;
    for p in &report.peers.list {
        let want = t.rtt_ms[&p.ip];
        let rtt = p
            .rtt_ms
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no RTT", p.ip));
        let err = (rtt.median - want).abs();
        assert!(
            err <= 5.0_f64.max(0.1 * want),
            "{} ({}): median {} ms by {}, truth {want} ms",
            p.ip,
            p.role,
            rtt.median,
            rtt.method
        );
        let by_tcp = t.tcp_peers.contains_key(&p.ip) || p.role.as_str() == "tracker";
        let method = if by_tcp {
            "tcp-handshake"
        } else {
            "udp-request-response"
        };
        assert_eq!(rtt.method, method, "{}", p.ip);
        checked += 1;
    }
    assert_eq!(checked, t.rtt_ms.len(), "every peer and the tracker");
}

#[test]
fn issue_18_reciprocity_matches_the_truth() {
    let (pcap, truth) = simulate("recip", &SWARM_ARGS);
    let t = truth.swarm.clone().unwrap();
    let (_, report) = analyze("recip", &[&pcap]);
    let report = report.unwrap();
    let r = report.swarm.unwrap().reciprocity;
    let want = t.tit_for_tat_share.unwrap();
    assert!(
        (r.tit_for_tat_share.unwrap() - want).abs() < 0.005,
        "{r:?} vs {want}"
    );
    assert_eq!(r.reciprocal_peers as usize, t.reciprocal.len());
    assert_eq!(r.same_minute_peers as usize, t.reciprocal.len());
    for ip in &t.reciprocal {
        let p = report.peers.list.iter().find(|p| &p.ip == ip).unwrap();
        let pr = p.reciprocity.as_ref().unwrap();
        let tp = truth.peers.iter().find(|p| &p.ip == ip).unwrap();
        let ratio = tp.video_out_bytes as f64 / tp.video_in_bytes as f64;
        assert!((pr.out_in_ratio.unwrap() - ratio).abs() < 1e-3);
        assert!(pr.both_ways_minutes >= 4, "{pr:?}");
    }
    // Super peers: the largest suppliers, as many as needed for 50 %.
    let mut shares: Vec<(f64, &str)> = truth
        .suppliers
        .iter()
        .map(|s| (s.share, s.ip.as_str()))
        .collect();
    shares.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut acc = 0.0;
    let want: Vec<&str> = shares
        .iter()
        .take_while(|(s, _)| {
            let before = acc;
            acc += s;
            before < 0.5
        })
        .map(|(_, ip)| *ip)
        .collect();
    assert_eq!(r.super_peers_50, want);
}

#[test]
fn issue_18_locality_preferences_match_the_truth() {
    let (pcap, truth) = simulate("locality", &SWARM_ARGS);
    let t = truth.swarm.unwrap();
    let dir = std::path::Path::new(&pcap).parent().unwrap();
    let (asn, geo) = (dir.join("swarm.asn.csv"), dir.join("swarm.geo.csv"));
    let args = [
        pcap.as_str(),
        "--asn-db",
        asn.to_str().unwrap(),
        "--geo-db",
        geo.to_str().unwrap(),
    ];
    let (out, report) = analyze("locality", &args);
    let report = report.unwrap_or_else(|| panic!("{out:?}"));
    let l = report.locality.clone().unwrap();
    assert_eq!(l.local.asn, t.local_asn);
    assert_eq!(l.local.country, t.local_country);
    for (got, want) in [
        (&l.same_asn, &t.same_asn),
        (&l.same_country, &t.same_country),
    ] {
        let (got, want) = (got.as_ref().unwrap(), want.as_ref().unwrap());
        assert_eq!(got.peers as usize, want.peers);
        assert!(
            (got.peers_share - want.peers_share).abs() < 1e-3,
            "{got:?} {want:?}"
        );
        assert!(
            (got.bytes_share - want.bytes_share).abs() < 1e-3,
            "{got:?} {want:?}"
        );
        assert!(
            close(got.ratio.unwrap(), want.ratio.unwrap(), 0.01),
            "{got:?} {want:?}"
        );
    }
    // Built in: the client's AS supplies far more than its share of peers.
    assert!(l.same_asn.unwrap().ratio.unwrap() > 2.0);
    let p = &report.peers.list[0];
    assert_eq!((p.asn, p.country.as_deref()), (Some(64_500), Some("FR")));
    assert!(p.as_org.is_some());
    // Without databases: prefix and hop locality only.
    let (_, plain) = analyze("locality-plain", &[&pcap]);
    let l = plain.unwrap().locality.unwrap();
    assert!(l.same_asn.is_none() && l.same_country.is_none());
    assert!(l.same_prefix.is_some() && l.near_hops.is_some());
    assert!(l.how.contains("no --asn-db"), "{}", l.how);
}

#[test]
fn issue_18_default_simulation_has_no_swarm_truth() {
    let (_, truth) = simulate("plain", &["--duration", "10s"]);
    assert!(truth.swarm.is_none());
}

#[test]
fn issue_18_swarm_figure_matches_its_golden() {
    let (pcap, _) = simulate("figure", &SWARM_ARGS);
    let (_, report) = analyze("figure", &[&pcap]);
    let svg = peerscope::report::svg::swarm::svg(&report.unwrap()).unwrap();
    assert!(svg.contains("Peer sessions: lifetimes of the"), "{svg}");
    crate::report::check_golden("swarm/swarm.svg", svg.as_bytes());
}

#[test]
fn issue_18_compare_gives_each_node_its_swarm_and_shared_peers() {
    let dir = crate::util::tmp("swarm-lab");
    let lab = dir.join("lab");
    let out = crate::util::bin()
        .args([
            "simulate",
            "--lab",
            "--receivers",
            "3",
            "--duration",
            "20s",
            "-o",
        ])
        .arg(&lab)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
    let mut cmd = crate::util::bin();
    cmd.arg("compare");
    for n in ["source", "r1", "r2", "r3"] {
        cmd.arg("--node")
            .arg(format!("{n}={}", lab.join(format!("{n}.pcap")).display()));
    }
    let out = cmd.arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
    let c: peerscope::report::compare::Compare = serde_json::from_slice(&out.stdout).unwrap();
    // The nodes of a tree talk to each other: every node shares some of its peers.
    for n in &c.nodes {
        let s = n
            .swarm
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no swarm", n.name));
        assert!(s.peers > 0 && s.shared_peers > 0, "{}: {s:?}", n.name);
        assert!(s.shared_peers <= s.peers);
    }
}

#[test]
fn issue_18_stun_rtts_agree_with_tshark_stun_time() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webrtc-aiortc.pcap")
        .to_string_lossy()
        .into_owned();
    let (out, report) = analyze("stun", &[&path]);
    let report = report.unwrap_or_else(|| panic!("{out:?}"));
    let local = report.local.ip.clone().unwrap();
    let ts = Command::new("tshark")
        .args(["-r", &path, "-Y", "stun.time", "-T", "fields"])
        .args(["-e", "ip.src", "-e", "ip.dst", "-e", "stun.time"])
        .output()
        .expect("tshark is not installed: run scripts/setup.sh --test");
    // Responses to the local host answer its requests: their times are its samples.
    let mut want: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&ts.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[1] == local {
            let ms = f[2].parse::<f64>().unwrap() * 1000.0;
            want.entry(f[0].to_string()).or_default().push(ms);
        }
    }
    assert!(!want.is_empty());
    for (peer, mut v) in want {
        v.sort_by(f64::total_cmp);
        let p = report.peers.list.iter().find(|p| p.ip == peer).unwrap();
        let rtt = p.rtt_ms.as_ref().unwrap();
        assert_eq!(rtt.method, "stun-transaction");
        assert_eq!(rtt.samples as usize, v.len());
        assert!((rtt.min - v[0]).abs() < 0.001, "{rtt:?} vs {v:?}");
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        assert!((rtt.median - median).abs() < 0.001, "{rtt:?} vs {v:?}");
    }
}
