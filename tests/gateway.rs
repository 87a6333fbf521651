//! Gateway mode (issue 17): `simulate --gateway N` writes a tap capture of many clients with
//! per-client truth; `analyze --clients` must find every P2P client and no other, each with
//! its address, suppliers, top-2 share and rates within the single-client tolerances
//! (tests/truth.rs), and each client's report must be the report `analyze --local IP` gives
//! for that client's packets alone.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use peerscope::report::clients::ClientsIndex;
use peerscope::report::Report;
use peerscope::sim::{ClientKind, GatewayTruth};

use crate::util::{bin, stderr, tmp};

/// Clients in the shared capture: every kind, several of each P2P flavour.
const CLIENTS: &str = "20";

/// The shared capture: (directory, capture, truth).
fn capture() -> &'static (PathBuf, PathBuf, GatewayTruth) {
    static CAP: OnceLock<(PathBuf, PathBuf, GatewayTruth)> = OnceLock::new();
    CAP.get_or_init(|| simulate("gateway-cap", &["--gateway", CLIENTS, "--duration", "60s"]))
}

fn simulate(name: &str, args: &[&str]) -> (PathBuf, PathBuf, GatewayTruth) {
    let dir = tmp(name);
    let cap = dir.join("tap.pcap");
    let out = bin()
        .arg("simulate")
        .arg("-o")
        .arg(&cap)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "simulate: {}", stderr(&out));
    let truth: GatewayTruth =
        serde_json::from_slice(&std::fs::read(dir.join("tap.truth.json")).unwrap()).unwrap();
    (dir, cap, truth)
}

/// Runs `analyze CAP --clients SPEC ARGS -o DIR` and reads clients.json.
fn gateway(name: &str, cap: &Path, spec: &str, args: &[&str]) -> (PathBuf, ClientsIndex, String) {
    let dir = tmp(name);
    let out = bin()
        .arg("analyze")
        .arg(cap)
        .args(["--clients", spec, "--no-progress", "-o"])
        .arg(&dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "analyze: {}", stderr(&out));
    let index: ClientsIndex =
        serde_json::from_slice(&std::fs::read(dir.join("clients.json")).unwrap()).unwrap();
    (dir, index, stderr(&out))
}

fn client_report(dir: &Path, ip: &str) -> Report {
    let path = dir.join("clients").join(ip).join("report.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn within(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-9),
        "{what}: got {got}, want {want} ± {:.1} %",
        rel * 100.0
    );
}

/// The single-client checks of tests/truth.rs that a tap can make (no player there).
fn check_client(r: &Report, t: &peerscope::sim::GatewayClientTruth) {
    assert_eq!(r.local.ip.as_deref(), Some(t.ip.as_str()));
    assert_eq!(r.local.how, "given (--local)");
    let mut want: Vec<&str> = t.supplier_ips.iter().map(String::as_str).collect();
    let mut got: Vec<&str> = r
        .peers
        .list
        .iter()
        .filter(|p| p.role.as_str() == "supplier")
        .map(|p| p.ip.as_str())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{} suppliers", t.ip);
    assert_eq!(r.peers.suppliers, t.suppliers);
    assert_eq!(r.peers.contacted, t.peers_contacted, "{} peers", t.ip);
    assert!(
        (r.peers.concentration.top2_share - t.top2_share).abs() <= 0.01,
        "{} top-2 {} vs {}",
        t.ip,
        r.peers.concentration.top2_share,
        t.top2_share
    );
    within(r.traffic.download_kbps, t.down_kbps, 0.03, "down");
    within(r.traffic.upload_kbps, t.up_kbps, 0.03, "up");
    within(
        r.traffic.video.download_kbps,
        t.video_down_kbps,
        0.03,
        "video down",
    );
    within(
        r.traffic.video.upload_kbps,
        t.video_up_kbps,
        0.03,
        "video up",
    );
}

#[test]
fn gateway_finds_every_p2p_client_and_invents_none() {
    let (_, cap, truth) = capture();
    assert_eq!(truth.clients.len(), 20);
    let (dir, index, _) = gateway("gateway-auto", cap, "auto", &[]);
    assert!(
        index
            .rule
            .starts_with("auto: addresses behind any MAC but the router's 02:00:00:00:00:01"),
        "{}",
        index.rule
    );
    // Exactly the clients: not the router, no remote peer.
    let mut want: Vec<IpAddr> = truth
        .clients
        .iter()
        .map(|c| c.ip.parse().unwrap())
        .collect();
    let got: Vec<IpAddr> = index
        .clients
        .iter()
        .map(|c| c.ip.parse().unwrap())
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(index.clients_over_cap, 0);
    assert_eq!(index.unrouted_packets, 0);
    assert_eq!(index.packets, truth.packets);
    for t in &truth.clients {
        let row = index.clients.iter().find(|r| r.ip == t.ip).unwrap();
        assert_eq!(row.packets, t.packets, "{}", t.ip);
        let verdict = row.verdict.as_deref().unwrap();
        let r = client_report(&dir, &t.ip);
        assert_eq!(r.verdict.as_ref().map(|v| v.kind.as_str()), Some(verdict));
        // The merge keeps every client's packets in time order.
        assert_eq!(r.capture.backwards_timestamps, 0, "{}", t.ip);
        if t.p2p {
            assert_eq!(verdict, "p2p-live-streaming", "{} ({:?})", t.ip, t.kind);
        } else {
            assert!(
                !verdict.starts_with("p2p"),
                "{} ({:?}) is {verdict}",
                t.ip,
                t.kind
            );
        }
        // Every client, P2P or not: its address, suppliers, top-2 share and rates.
        check_client(&r, t);
        assert_eq!(row.suppliers, t.suppliers);
        within(row.down_kbps, t.down_kbps, 0.03, "row down");
        if t.kind == ClientKind::Call {
            assert_eq!(verdict, "two-party-call", "{}", t.ip);
            // RTP audio that starts at sequence 0 looks like a QUIC version negotiation in its
            // first five bytes: the call is RTP all the same.
            assert_eq!(row.application.as_deref(), Some("rtp"), "{}", t.ip);
        }
    }
    // A starved client's supply fell short: its continuity is the lowest of the P2P ones.
    let continuity = |kind: ClientKind| {
        truth
            .clients
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| client_report(&dir, &c.ip).continuity.index.unwrap())
            .collect::<Vec<f64>>()
    };
    let starved = continuity(ClientKind::Starved);
    let fed = continuity(ClientKind::P2p);
    assert_eq!(starved.len(), 2);
    let worst_fed = fed.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        starved.iter().all(|s| *s < worst_fed),
        "starved {starved:?}, fed {fed:?}"
    );
    // The index page links every client.
    let html = std::fs::read_to_string(dir.join("clients.html")).unwrap();
    for t in &truth.clients {
        assert!(html.contains(&format!("clients/{}/report.json", t.ip)));
    }
}

/// Copies the records of `cap` (legacy pcap, Ethernet, IPv4) to or from `ip` into `out`.
fn extract(cap: &Path, ip: [u8; 4], out: &Path) {
    let data = std::fs::read(cap).unwrap();
    let mut kept = data[..24].to_vec();
    let mut at = 24;
    while at + 16 <= data.len() {
        let incl = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &data[at + 16..at + 16 + incl];
        if frame[12..14] == [0x08, 0x00] && (frame[26..30] == ip || frame[30..34] == ip) {
            kept.extend_from_slice(&data[at..at + 16 + incl]);
        }
        at += 16 + incl;
    }
    assert_eq!(at, data.len());
    std::fs::write(out, kept).unwrap();
}

#[test]
fn gateway_report_equals_a_single_client_run() {
    let (dir, cap, truth) = capture();
    let (gw, _, _) = gateway("gateway-prefix", cap, "192.0.2.0/24", &[]);
    // The prefix holds the router (the DNS server) too: it is a client like any other.
    assert!(gw.join("clients/192.0.2.1/report.json").exists());
    // One thread or two: the same clients and reports.
    let (one, _, _) = gateway(
        "gateway-prefix-1",
        cap,
        "192.0.2.0/24",
        &["--single-thread"],
    );
    assert_eq!(
        std::fs::read(gw.join("clients.json")).unwrap(),
        std::fs::read(one.join("clients.json")).unwrap()
    );
    for t in &truth.clients {
        assert_eq!(
            client_report(&gw, &t.ip),
            client_report(&one, &t.ip),
            "{}",
            t.ip
        );
    }
    for t in truth
        .clients
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                ClientKind::P2p | ClientKind::Starved | ClientKind::Call
            )
        })
        .take(3)
    {
        let v4: std::net::Ipv4Addr = t.ip.parse().unwrap();
        let one = dir.join(format!("one-{}.pcap", t.ip));
        extract(cap, v4.octets(), &one);
        let single = tmp(&format!("gateway-single-{}", t.ip));
        let out = bin()
            .arg("analyze")
            .arg(&one)
            .args(["--local", &t.ip, "--no-progress", "-q", "-o"])
            .arg(&single)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let mut a = client_report(&gw, &t.ip);
        let mut b: Report =
            serde_json::from_slice(&std::fs::read(single.join("report.json")).unwrap()).unwrap();
        assert_eq!(a.capture.files, vec![cap.to_string_lossy().into_owned()]);
        a.capture.files.clear();
        b.capture.files.clear();
        assert_eq!(a, b, "{}", t.ip);
    }
}

#[test]
fn gateway_counts_clients_beyond_the_caps() {
    let (_, cap, truth) = capture();
    let (_, index, err) = gateway("gateway-max-clients", cap, "auto", &["--max-clients", "5"]);
    assert_eq!(index.clients.len(), 5);
    assert_eq!(index.clients_over_cap, truth.clients.len() as u64 - 5);
    assert_eq!(index.clients_seen, truth.clients.len() as u64);
    assert!(index.over_cap_packets > 0 && index.over_cap_bytes > index.over_cap_packets);
    // Analysed and over-cap packets add up to the capture (no packet is between two clients).
    let analysed: u64 = index.clients.iter().map(|c| c.packets).sum();
    assert_eq!(analysed + index.over_cap_packets, truth.packets);
    assert!(err.contains("--max-clients 5 was reached"), "{err}");
    assert!(index.warnings.iter().any(|w| w.contains("not analysed")));
    // A pair budget smaller than the swarm: some clients get a share, the rest are counted.
    let (dir, index, err) = gateway("gateway-max-pairs", cap, "auto", &["--max-pairs", "100"]);
    assert!(index.pairs_used <= 100, "{}", index.pairs_used);
    assert_eq!(index.pairs_per_client_cap, 12);
    assert!(index.clients_over_cap > 0);
    assert_eq!(
        index.clients.len() as u64 + index.clients_over_cap,
        truth.clients.len() as u64
    );
    assert!(
        err.contains("shared pair budget (--max-pairs 100) was spent"),
        "{err}"
    );
    // A client whose table filled says which cap stopped it, never the global one alone.
    let full: Vec<String> = index
        .clients
        .iter()
        .flat_map(|c| client_report(&dir, &c.ip).capture.warnings)
        .filter(|w| w.contains("address-pair table was full"))
        .collect();
    assert!(!full.is_empty(), "no client hit a pair cap");
    for w in &full {
        assert!(
            w.starts_with("this client's address-pair table was full at ")
                && (w.contains("--max-pairs-per-client 12")
                    || w.contains("--max-pairs 100, was spent")),
            "{w}"
        );
    }
}

#[test]
fn gateway_ipv6_clients_beyond_the_ipv4_plan() {
    let (_, cap, truth) = simulate(
        "gateway-v6",
        &[
            "--gateway",
            "255",
            "--duration",
            "40s",
            "--stream-rate",
            "60kbps",
            "--peers",
            "8",
            "--suppliers",
            "0.6,0.4",
            "--consumers",
            "1",
        ],
    );
    let (dir, index, _) = gateway(
        "gateway-v6-out",
        &cap,
        "192.0.2.0/24,2001:db8:ffff::/48",
        &[],
    );
    // The router is in 192.0.2.0/24: 255 clients and it.
    assert_eq!(index.clients.len(), 256);
    for t in truth.clients.iter().filter(|c| c.ip.contains(':')) {
        let r = client_report(&dir, &t.ip);
        assert_eq!(
            t.kind.is_p2p(),
            r.verdict.as_ref().unwrap().kind.starts_with("p2p")
        );
        check_client(&r, t);
    }
}
