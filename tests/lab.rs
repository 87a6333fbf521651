//! The real-software lab captures of `tests/data/lab/` (issue 12: libtorrent swarms over uTP
//! and TCP, mpv as the player, an SRT relay tree) analysed without any option and checked
//! against the truth the software itself logged (`truth.json`): the vantage point, the peers,
//! the suppliers and their shares, the tracker, the stream rate from the feed's media clock,
//! continuity against mpv's own stalls, the application and the verdict (issues 13 and 14).

use serde_json::Value;

use crate::util::{analyze, bin, tmp};

fn lab(dir: &str) -> (Value, peerscope::report::Report) {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lab")
        .join(dir);
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("truth.json")).unwrap()).unwrap();
    let cap = base.join("viewer.pcap");
    let (out, r) = analyze(&format!("lab-{dir}"), &[cap.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (truth, r.unwrap())
}

fn swarm(dir: &str, transport: &str) {
    let (t, r) = lab(dir);
    // The vantage point, from the cooked capture's packet types.
    assert_eq!(
        r.local.ip.as_deref(),
        t["viewer"]["ip"].as_str(),
        "{}",
        r.local.how
    );
    assert!(r.local.how.starts_with("link layer"), "{}", r.local.how);
    // Peers: every remote libtorrent node; the viewer's connection to itself is not one.
    let remote = t["topology"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| matches!(n["role"].as_str(), Some("source" | "peer")))
        .count() as u64;
    assert_eq!(r.peers.contacted, remote);
    assert!(r
        .peers
        .list
        .iter()
        .all(|p| Some(p.ip.as_str()) != t["viewer"]["ip"].as_str()));
    // Suppliers exact, each share within 3 points of libtorrent's own counters.
    let truth_suppliers: Vec<(&str, f64)> = t["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["supplier"].as_bool() == Some(true))
        .map(|s| (s["ip"].as_str().unwrap(), s["share"].as_f64().unwrap()))
        .collect();
    let mut ours: Vec<&str> = r
        .peers
        .list
        .iter()
        .filter(|p| p.role.as_str() == "supplier")
        .map(|p| p.ip.as_str())
        .collect();
    let mut theirs: Vec<&str> = truth_suppliers.iter().map(|(ip, _)| *ip).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
    for (ip, share) in &truth_suppliers {
        let p = r.peers.list.iter().find(|p| p.ip == *ip).unwrap();
        assert!(
            (p.share_in - share).abs() <= 0.03,
            "{ip}: {} vs {share}",
            p.share_in
        );
        assert!(
            p.transport.iter().any(|x| x == transport),
            "{ip}: {:?}",
            p.transport
        );
    }
    assert_eq!(r.tracker.ip.as_deref(), t["tracker"]["ip"].as_str());
    // The stream rate from the feed's MPEG-TS clock, not from what a starved viewer received.
    let nominal = t["media"]["nominal_kbps"].as_f64().unwrap();
    let rate = r.stream.rate_kbps.unwrap();
    assert!(
        (rate - nominal).abs() <= 0.05 * nominal,
        "{rate} vs {nominal}"
    );
    assert!(!r.stream.estimated, "{}", r.stream.how);
    assert_eq!(r.stream.media.as_ref().unwrap().container, "mpegts");
    let ci = r.continuity.index.unwrap();
    let want = t["player"]["continuity"].as_f64().unwrap();
    assert!((ci - want).abs() <= 0.05, "continuity {ci} vs mpv {want}");
    assert!(!r.continuity.estimated);
    assert_eq!(r.continuity.lost_ts_packets, Some(0));
    let app = r.application.as_ref().unwrap();
    assert_eq!(app.name, "bittorrent");
    assert_eq!(r.verdict.as_ref().unwrap().kind, "p2p-live-streaming");
    // A BitTorrent client asks for its pieces: pull, read from the timing of its requests.
    assert_eq!(r.summary.pull_push, "pull", "{}", r.summary.pull_push_how);
}

#[test]
fn issue14_utp_swarm_unshaped() {
    swarm("utp", "utp");
}

#[test]
fn issue13_utp_swarm_starved_viewer() {
    swarm("utp-starved", "utp");
}

#[test]
fn issue14_tcp_only_swarm() {
    swarm("tcp", "tcp");
}

#[test]
fn issue14_srt_tree_every_node_right() {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lab/srt-tree");
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("truth.json")).unwrap()).unwrap();
    for node in truth["topology"].as_array().unwrap() {
        let name = node["name"].as_str().unwrap();
        let cap = base.join(node["capture"].as_str().unwrap());
        let (out, r) = analyze(&format!("srt-{name}"), &[cap.to_str().unwrap()]);
        assert!(out.status.success());
        let r = r.unwrap();
        assert_eq!(
            r.local.ip.as_deref(),
            node["ip"].as_str(),
            "{name}: {}",
            r.local.how
        );
        assert_eq!(r.application.as_ref().unwrap().name, "srt", "{name}");
        assert_ne!(
            r.verdict.as_ref().unwrap().kind,
            "p2p-live-streaming",
            "{name}"
        );
        if let Some(parent) = node["parent_ip"].as_str() {
            let sup: Vec<&str> = r
                .peers
                .list
                .iter()
                .filter(|p| p.role.as_str() == "supplier")
                .map(|p| p.ip.as_str())
                .collect();
            assert_eq!(sup, vec![parent], "{name}");
            assert_eq!(r.summary.tree_mesh, "tree", "{name}");
            // SRT acknowledges what its parent pushes: push.
            assert_eq!(
                Some(r.summary.pull_push.as_str()),
                truth["overlay"]["pull_push"].as_str(),
                "{name}: {}",
                r.summary.pull_push_how
            );
        }
    }
    // compare: every node gets its own address.
    let dir = tmp("srt-compare");
    let mut cmd = bin();
    cmd.arg("compare");
    for node in truth["topology"].as_array().unwrap() {
        cmd.arg("--node").arg(format!(
            "{}={}",
            node["name"].as_str().unwrap(),
            base.join(node["capture"].as_str().unwrap()).display()
        ));
    }
    let out = cmd.arg("-o").arg(&dir).arg("--force").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    for (n, t) in c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(truth["topology"].as_array().unwrap())
    {
        assert_eq!(n["ip"], t["ip"]);
    }
}

#[test]
fn issue14_local_absent_from_the_capture_is_refused_with_the_candidates() {
    let cap =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lab/tcp/viewer.pcap");
    let out = bin()
        .args([
            "analyze",
            cap.to_str().unwrap(),
            "--local",
            "198.51.100.99",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--local 198.51.100.99 is not in the capture"),
        "{err}"
    );
    assert!(err.contains("203.0.113.20"), "{err}");
}
