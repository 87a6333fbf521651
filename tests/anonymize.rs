//! `--anonymize`: no address of the capture survives in the output directory, and every
//! figure that is not an address is unchanged.

use serde_json::Value;

use crate::util::{bin, stderr, tmp};
use peerscope::report::anonymize::Anonymizer;
use peerscope::report::Report;

/// True when `needle` occurs in `hay` as a whole address (not inside a longer number).
fn contains_address(hay: &str, needle: &str) -> bool {
    let addr_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(addr_char)
            && !after.is_some_and(|c| {
                c.is_ascii_digit()
                    || c == '.'
                        && hay[i + needle.len() + 1..].starts_with(|d: char| d.is_ascii_digit())
            })
    })
}

#[test]
fn issue7_anonymized_report_hides_every_address() {
    let dir = tmp("anon");
    let cap = dir.join("s.pcap");
    let sim = bin()
        .args([
            "simulate",
            "--link",
            "sll2",
            "--seed",
            "11",
            "--duration",
            "30s",
            "-o",
        ])
        .arg(&cap)
        .output()
        .unwrap();
    assert!(sim.status.success(), "{}", stderr(&sim));
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("s.truth.json")).unwrap()).unwrap();
    let key = dir.join("key.hex");
    std::fs::write(&key, "0123456789abcdef".repeat(4)).unwrap();

    let plain_dir = dir.join("plain");
    let anon_dir = dir.join("anon");
    for (out, extra) in [
        (&plain_dir, vec![]),
        (&anon_dir, vec!["--anonymize-key", key.to_str().unwrap()]),
    ] {
        let run = bin()
            .arg("analyze")
            .arg(&cap)
            .arg("-o")
            .arg(out)
            .args(&extra)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", stderr(&run));
    }

    let mut addresses: Vec<String> = vec![
        truth["local_ip"].as_str().unwrap().to_string(),
        truth["tracker"]["ip"].as_str().unwrap().to_string(),
        "192.0.2.1".to_string(),
        // Loopback (the local player) is kept as it is since issue 15.
    ];
    for p in truth["peers"].as_array().unwrap() {
        addresses.push(p["ip"].as_str().unwrap().to_string());
    }
    for entry in std::fs::read_dir(&anon_dir).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for a in &addresses {
            assert!(
                !contains_address(&text, a),
                "{a} appears in {}",
                path.display()
            );
        }
    }

    let read = |d: &std::path::Path| -> Report {
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap()).unwrap()
    };
    let plain = read(&plain_dir);
    let anon = read(&anon_dir);
    // Every number is the plain run's: the anonymised report is the plain one with addresses
    // replaced under the same key.
    let key_bytes = Anonymizer::key_from_bytes(&std::fs::read(&key).unwrap()).unwrap();
    let expected = Anonymizer::new(&key_bytes).report(&plain).unwrap();
    assert_eq!(anon, expected);
    assert_eq!(anon.traffic, plain.traffic);
    assert_eq!(anon.sizes, plain.sizes);
    assert_eq!(anon.series, plain.series);
    assert_eq!(anon.peers.concentration, plain.peers.concentration);
    assert_eq!(anon.peers.list.len(), plain.peers.list.len());
    for (a, p) in anon.peers.list.iter().zip(&plain.peers.list) {
        assert_ne!(a.ip, p.ip);
        assert_eq!(
            (a.video_in_bytes, a.share_in, &a.role),
            (p.video_in_bytes, p.share_in, &p.role)
        );
    }
    assert_eq!(anon.tracker.name, plain.tracker.name);
}

#[test]
fn issue7_existing_output_directory_needs_force() {
    let dir = tmp("force");
    let cap = crate::util::real("ndpi__pps.pcap");
    let first = bin()
        .args(["analyze", &cap, "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(first.status.success());
    let again = bin()
        .args(["analyze", &cap, "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"));
    let forced = bin()
        .args(["analyze", &cap, "--force", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(forced.status.success());
}

#[test]
fn issue7_unwritable_output_is_a_clear_error() {
    let dir = tmp("unwritable");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let cap = crate::util::real("ndpi__pps.pcap");
    let out = bin()
        .args(["analyze", &cap, "-o"])
        .arg(file.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot create"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn issue7_compare_anonymizes_every_file_of_the_run_consistently() {
    let dir = tmp("anon-lab");
    let lab = dir.join("lab");
    let sim = bin()
        .args([
            "simulate",
            "--lab",
            "--receivers",
            "3",
            "--duration",
            "15s",
            "-o",
        ])
        .arg(&lab)
        .output()
        .unwrap();
    assert!(sim.status.success(), "{}", stderr(&sim));
    let truth: Value =
        serde_json::from_slice(&std::fs::read(lab.join("lab.truth.json")).unwrap()).unwrap();
    let key = dir.join("key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let out = dir.join("out");
    let mut cmd = bin();
    cmd.arg("compare")
        .arg("--anonymize-key")
        .arg(&key)
        .arg("-o")
        .arg(&out);
    let mut ips = Vec::new();
    for node in truth["nodes"].as_array().unwrap() {
        let name = node["name"].as_str().unwrap();
        cmd.arg("--node").arg(format!(
            "{name}={}",
            lab.join(node["file"].as_str().unwrap()).display()
        ));
        ips.push(node["ip"].as_str().unwrap().to_string());
    }
    let run = cmd.arg("--source").arg("source").output().unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let mut files = vec![out.clone()];
    let mut seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        seen += 1;
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for ip in &ips {
            assert!(
                !contains_address(&text, ip),
                "{ip} appears in {}",
                path.display()
            );
        }
    }
    assert!(seen >= 5, "compare.json, node reports, figures and page");
    // One key for the run: the source's pseudonym in compare.json is the one its own report
    // and the receivers' reports use.
    let compare: Value =
        serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap();
    let key_bytes = Anonymizer::key_from_bytes(&[7u8; 32]).unwrap();
    let mut anon = Anonymizer::new(&key_bytes);
    let source_ip: std::net::IpAddr = ips[0].parse().unwrap();
    let pseudonym = anon.address(source_ip).to_string();
    let nodes = compare["nodes"].as_array().unwrap();
    assert!(nodes
        .iter()
        .any(|n| n["ip"].as_str() == Some(pseudonym.as_str())));
}
