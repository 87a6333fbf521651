//! Issue 17: many files. A capture rotated by `tcpdump -C` and read back as a directory or a
//! quoted glob gives the report of the unrotated file; `capture -C/-W/-G` rotates its pcap
//! files as tcpdump does without losing or repeating a frame (on loopback traffic this test
//! sends itself: 127.0.0.0/8 only, a bounded number of packets).
//!
//! tcpdump is installed by `scripts/setup.sh --test`: its absence fails the test. Live
//! capture needs CAP_NET_RAW: without it the capture tests are skipped with a notice, and
//! under `CI=true` they fail.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{bin, stderr, tmp};

/// `analyze ARGS --json`, parsed.
fn analyze_json(args: &[&str]) -> Value {
    let out = bin()
        .arg("analyze")
        .args(args)
        .args(["--json", "--no-progress"])
        .output()
        .unwrap();
    assert!(out.status.success(), "analyze {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The report without what names the inputs (and the warnings, checked apart).
fn without_inputs(mut v: Value) -> Value {
    let capture = v["capture"].as_object_mut().unwrap();
    capture.remove("files");
    capture.remove("warnings");
    v
}

/// Packets in a classic pcap file (pcap-savefile(5)): records after the 24-byte header.
fn pcap_packets(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() >= 24, "{}: no pcap header", path.display());
    let big = match bytes[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => panic!("{}: not a pcap file", path.display()),
    };
    let word = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let (mut at, mut n) = (24usize, 0u64);
    while at < bytes.len() {
        assert!(
            at + 16 <= bytes.len(),
            "{}: cut record header",
            path.display()
        );
        let caplen = word(at + 8) as usize;
        at += 16 + caplen;
        assert!(at <= bytes.len(), "{}: cut record", path.display());
        n += 1;
    }
    n
}

#[test]
fn issue17_rotated_directory_gives_the_same_report() {
    let dir = tmp("rotated");
    let one = dir.join("one.pcap");
    let out = bin()
        .args(["simulate", "--seed", "17", "--duration", "90s", "-o"])
        .arg(&one)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let size = std::fs::metadata(&one).unwrap().len();
    assert!(size > 3_000_000, "the capture is only {size} bytes");
    let rot = dir.join("rot");
    std::fs::create_dir_all(&rot).unwrap();
    // -Z root: tcpdump run as root would otherwise give up root after the first file and
    // fail to create the next ones in this root-owned directory.
    let td = Command::new("tcpdump")
        .args(["-Z", "root", "-r"])
        .arg(&one)
        .arg("-w")
        .arg(rot.join("part"))
        .args(["-C", "1"])
        .output();
    let td = match td {
        Ok(o) => o,
        Err(e) => panic!("tcpdump: {e} (bash scripts/setup.sh --test installs it)"),
    };
    assert!(td.status.success(), "tcpdump: {}", stderr(&td));
    let mut parts: Vec<PathBuf> = std::fs::read_dir(&rot)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    assert!(parts.len() >= 3, "tcpdump -C 1 wrote {parts:?}");
    let total: u64 = parts.iter().map(|p| pcap_packets(p)).sum();
    assert_eq!(total, pcap_packets(&one));

    let single = analyze_json(&[one.to_str().unwrap()]);
    assert_eq!(single["capture"]["packets"], total);
    let rot_s = rot.to_str().unwrap();
    let by_dir = analyze_json(&[&format!("{rot_s}/")]);
    assert_eq!(
        by_dir["capture"]["files"].as_array().unwrap().len(),
        parts.len()
    );
    assert_eq!(without_inputs(by_dir), without_inputs(single.clone()));
    // A quoted pattern (the shell leaves it alone), the parts given in any order.
    let by_glob = analyze_json(&[&format!("{rot_s}/part*")]);
    assert_eq!(without_inputs(by_glob), without_inputs(single.clone()));
    let mut reversed: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
    reversed.reverse();
    let by_files = analyze_json(&reversed);
    assert_eq!(without_inputs(by_files), without_inputs(single.clone()));

    // Something that is no capture in the directory: skipped, with a warning naming it.
    std::fs::write(rot.join("notes.txt"), "rotated by tcpdump -C 1\n").unwrap();
    let with_notes = analyze_json(&[rot_s]);
    let warnings = with_notes["capture"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("notes.txt")),
        "{warnings:?}"
    );
    assert_eq!(without_inputs(with_notes), without_inputs(single));
    let _ = std::fs::remove_dir_all(&dir);
}

/// CAP_NET_RAW (bit 13) in this process's effective capabilities; otherwise a notice (a
/// failure under CI=true).
fn can_capture(test: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let ok = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|c| c >> 13 & 1 == 1);
    if !ok {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "{test}: live capture needs root; CI runs as root"
        );
        eprintln!("note: skipping {test}: live capture needs root");
    }
    ok
}

/// Starts `peerscope capture ARGS` and waits until it listens.
fn start_capture(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = bin()
        .arg("capture")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("listening on") => return (child, rx),
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("capture did not start listening");
            }
        }
    }
}

/// Waits for the capture to end by itself (at most `limit`); returns its stderr.
fn wait_capture(mut child: Child, rx: mpsc::Receiver<String>, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("capture did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let mut err: Vec<String> = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        err.push(line);
    }
    assert!(out.status.success(), "capture failed: {err:?}");
    err.join("\n")
}

/// Sends `n` UDP datagrams of `size` bytes from 127.0.0.2 to 127.0.0.10:`port`, pausing
/// `pause` after each.
fn send(port: u16, n: usize, size: usize, pause: Duration) {
    let to = UdpSocket::bind(("127.0.0.10", port)).unwrap();
    let from = UdpSocket::bind(("127.0.0.2", 0)).unwrap();
    let payload = vec![0x47u8; size];
    for _ in 0..n {
        from.send_to(&payload, ("127.0.0.10", port)).unwrap();
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    drop(to);
}

fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

fn report_packets(dir: &Path) -> u64 {
    let r: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    r["capture"]["packets"].as_u64().unwrap()
}

#[test]
fn issue17_capture_ring_buffer_loses_no_packet() {
    if !can_capture("issue17_capture_ring_buffer_loses_no_packet") {
        return;
    }
    let dir = tmp("ring");
    const N: usize = 400;
    // -C 0.05: a new file past 50,000 bytes; 400 frames of about 1,070 bytes: 9 files.
    let port = 47_117;
    let filter = format!("udp port {port}");
    let (child, rx) = start_capture(&[
        "-i",
        "lo",
        "-f",
        &filter,
        "-w",
        dir.join("ring.pcap").to_str().unwrap(),
        "-C",
        "0.05",
        "-c",
        &N.to_string(),
        "-o",
        dir.join("out").to_str().unwrap(),
        "--local",
        "127.0.0.10",
        "--video-min",
        "500",
        "--no-progress",
    ]);
    send(port, N, 1000, Duration::from_micros(200));
    wait_capture(child, rx, Duration::from_secs(30));
    let files = files_named(&dir, "ring.pcap");
    assert!(files.len() >= 8, "{files:?}");
    // tcpdump's names: ring.pcap, ring.pcap1, ring.pcap2, ...
    assert!(files.contains(&dir.join("ring.pcap")));
    assert!(files.contains(&dir.join("ring.pcap1")));
    let counts: Vec<u64> = files.iter().map(|f| pcap_packets(f)).collect();
    assert_eq!(counts.iter().sum::<u64>(), N as u64, "{counts:?}");
    assert_eq!(report_packets(&dir.join("out")), N as u64);
    for f in &files {
        // At most one frame past the limit.
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= 50_000 + 1_100, "{}: {len} bytes", f.display());
    }

    // -W 3: a ring of ring0..ring2, the oldest overwritten; the capture still counts all.
    let port = 47_118;
    let filter = format!("udp port {port}");
    let (child, rx) = start_capture(&[
        "-i",
        "lo",
        "-f",
        &filter,
        "-w",
        dir.join("w.pcap").to_str().unwrap(),
        "-C",
        "0.05",
        "-W",
        "3",
        "-c",
        &N.to_string(),
        "-o",
        dir.join("out-w").to_str().unwrap(),
        "--local",
        "127.0.0.10",
        "--video-min",
        "500",
        "--no-progress",
    ]);
    send(port, N, 1000, Duration::from_micros(200));
    wait_capture(child, rx, Duration::from_secs(30));
    let files = files_named(&dir, "w.pcap");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["w.pcap0", "w.pcap1", "w.pcap2"]);
    let kept: u64 = files.iter().map(|f| pcap_packets(f)).sum();
    assert!(kept > 100 && kept < N as u64, "kept {kept}");
    assert_eq!(report_packets(&dir.join("out-w")), N as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn issue17_capture_rotates_by_time_and_stops_at_w_files() {
    if !can_capture("issue17_capture_rotates_by_time_and_stops_at_w_files") {
        return;
    }
    let dir = tmp("ring-g");
    let port = 47_119;
    let filter = format!("udp port {port}");
    let pattern = dir.join("g-%s.pcap");
    // -G 1 -W 2: two one-second files, then the capture stops by itself while the sender
    // goes on (for at most 4 s).
    let (child, rx) = start_capture(&[
        "-i",
        "lo",
        "-f",
        &filter,
        "-w",
        pattern.to_str().unwrap(),
        "-G",
        "1",
        "-W",
        "2",
        "-o",
        dir.join("out").to_str().unwrap(),
        "--local",
        "127.0.0.10",
        "--video-min",
        "500",
        "--no-progress",
        "--duration",
        "20s",
    ]);
    let started = Instant::now();
    send(port, 400, 600, Duration::from_millis(10));
    let err = wait_capture(child, rx, Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(err.contains("-W 2: 2 files written"), "{err}");
    let files = files_named(&dir, "g-");
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        // strftime's %s (seconds since the epoch), then -W's number (one digit for 2 files).
        let stem = name
            .strip_prefix("g-")
            .unwrap()
            .strip_suffix(".pcap0")
            .unwrap();
        assert!(stem.parse::<u64>().is_ok(), "{name}");
    }
    let kept: u64 = files.iter().map(|f| pcap_packets(f)).sum();
    assert!(kept > 50 && kept < 400, "kept {kept}");
    assert_eq!(report_packets(&dir.join("out")), kept);
    let _ = std::fs::remove_dir_all(&dir);
}
