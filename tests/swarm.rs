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
