//! Issue 15: never lose a capture or a report, and fit tcpdump/tshark habits. Scripted user
//! sessions against the real binary.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use peerscope::report::Report;

use crate::util::{analyze, bin, real, stderr, tmp};

/// Waits for a child at most `limit`; kills it (and fails) if it is still running.
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn non_empty_dir(name: &str) -> PathBuf {
    let dir = tmp(name);
    std::fs::write(dir.join("capture.pcap"), b"the old capture").unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success());
}

#[test]
fn issue15_capture_refuses_an_existing_directory_or_file() {
    let dir = non_empty_dir("cap-existing");
    let out = bin()
        .args(["capture", "-i", "lo", "-c", "1", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.join("capture.pcap")).unwrap(),
        b"the old capture"
    );
    let w = dir.join("capture.pcap");
    let empty = tmp("cap-existing-w");
    let out = bin()
        .args(["capture", "-i", "lo", "-c", "1", "-w"])
        .arg(&w)
        .arg("-o")
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exists: use --force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&w).unwrap(), b"the old capture");
}

#[test]
fn issue15_a_full_directory_is_refused_before_one_byte_is_read() {
    let dir = tmp("fifo");
    let fifo = dir.join("in.pcap");
    mkfifo(&fifo);
    // This end holds the FIFO open for reading and writing, so neither side blocks; whatever
    // peerscope does not read stays in the FIFO.
    let mut ours = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let capture = std::fs::read(real("ndpi__pps.pcap")).unwrap();
    ours.write_all(&capture[..4096]).unwrap();
    let full = non_empty_dir("fifo-full");
    for stdin in [false, true] {
        let mut cmd = bin();
        cmd.arg("analyze");
        if stdin {
            cmd.arg("-").stdin(std::fs::File::open(&fifo).unwrap());
        } else {
            cmd.arg(&fifo).stdin(Stdio::null());
        }
        let child = cmd
            .arg("-o")
            .arg(&full)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_bounded(child, Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("exists and is not empty"),
            "{}",
            stderr(&out)
        );
        // Every byte is still there.
        let mut back = vec![0u8; 4096];
        ours.read_exact(&mut back).unwrap();
        assert_eq!(back, capture[..4096]);
        ours.write_all(&capture[..4096]).unwrap();
    }
}

#[test]
fn issue15_sigint_ends_stdin_and_the_report_is_written() {
    let capture = std::fs::read(real("ndpi__pps.pcap")).unwrap();
    let dir = tmp("sigint");
    let mut child = bin()
        .args(["analyze", "-", "-o"])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // More than a pipe holds: once written, peerscope has read, so its handler is installed.
    let half = capture.len() / 2;
    input.write_all(&capture[..half]).unwrap();
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    // The writer goes quiet but keeps the pipe open (tcpdump waiting for traffic): the
    // signal alone must end the input.
    let out = wait_bounded(child, Duration::from_secs(15));
    drop(input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: Report =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert!(
        r.capture
            .warnings
            .iter()
            .any(|w| w.contains("interrupted by a signal")),
        "{:?}",
        r.capture.warnings
    );
    // What was read up to the signal: some of the first half's records, none after.
    let whole = crate::util::library_report(&[&real("ndpi__pps.pcap")]);
    assert!(r.capture.packets > 0 && r.capture.packets < whole.capture.packets);
    assert!(!r.capture.truncated);
}

#[test]
fn issue15_json_means_stdout() {
    let cwd = tmp("json-cwd");
    for _ in 0..2 {
        let out = bin()
            .current_dir(&cwd)
            .args(["analyze", &real("ndpi__pps.pcap"), "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let r: Report = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r.capture.packets, 2557);
    }
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "nothing on disk"
    );
    // -o DIR --json: both.
    let dir = tmp("json-both");
    let out = bin()
        .args(["analyze", &real("ndpi__pps.pcap"), "--json", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let on_disk = std::fs::read(dir.join("report.json")).unwrap();
    assert_eq!(on_disk, out.stdout);
    assert!(dir.join("index.html").exists());
    // -o - is refused, clearly.
    let out = bin()
        .current_dir(&cwd)
        .args(["analyze", &real("ndpi__pps.pcap"), "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("--json"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 0);
}

#[test]
fn issue15_missing_or_repeated_inputs_fail_loudly() {
    let good = real("ndpi__pps.pcap");
    let (out, r) = analyze("missing", &[&good, "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/x.pcap"));
    assert!(r.is_none());
    let (out, r) = analyze(
        "missing-kg",
        &[&good, "/nonexistent/x.pcap", "--keep-going"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(r
        .unwrap()
        .capture
        .warnings
        .iter()
        .any(|w| w.contains("/nonexistent/x.pcap")));
    // The same file by two names.
    let dir = tmp("twice");
    let link = dir.join("alias.pcap");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    let (out, r) = analyze("twice-run", &[&good, &link.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("are the same file"),
        "{}",
        stderr(&out)
    );
    assert!(r.is_none());
    // And as standard input.
    let out = bin()
        .args(["analyze", &good, "-", "--json"])
        .stdin(std::fs::File::open(&good).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("standard input"), "{}", stderr(&out));
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn xz(b: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A report with what depends on the file name taken out.
fn comparable(mut r: Report) -> Report {
    r.capture.files.clear();
    r
}

#[test]
fn issue15_compressed_captures_give_the_plain_report() {
    let plain_path = real("ndpi__bittorrent_transmission.pcapng");
    let plain = std::fs::read(&plain_path).unwrap();
    let (out, want) = analyze("plain", &[&plain_path]);
    assert!(out.status.success());
    let want = comparable(want.unwrap());
    let dir = tmp("compressed");
    let variants = [
        ("x.pcapng.gz", gzip(&plain)),
        ("x.pcapng.zst", zstd::encode_all(&plain[..], 3).unwrap()),
        ("x.pcapng.xz", xz(&plain)),
        // No suffix: the content decides.
        ("x.bin", zstd::encode_all(&plain[..], 1).unwrap()),
    ];
    for (name, bytes) in &variants {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let (out, got) = analyze(&format!("c-{name}"), &[&path.to_string_lossy()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(comparable(got.unwrap()), want, "{name}");
        // The same from standard input.
        let out = bin()
            .args(["analyze", "-", "--json"])
            .stdin(std::fs::File::open(&path).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name} on stdin: {}", stderr(&out));
        let got: Report = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(comparable(got), want, "{name} on stdin");
    }
    // A compressed file that is no capture names both.
    let path = dir.join("text.gz");
    std::fs::write(&path, gzip(b"hello, not a capture")).unwrap();
    let (out, _) = analyze("c-text", &[&path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("gzip data"), "{}", stderr(&out));
}

#[test]
fn issue15_out_of_range_values_are_usage_errors_naming_the_range() {
    let good = real("ndpi__pps.pcap");
    let cases: &[(&[&str], &str)] = &[
        (&["analyze", &good, "--window", "0.15"], "multiple of 0.1 s"),
        (&["analyze", &good, "--window", "0"], "multiple of 0.1 s"),
        (&["analyze", &good, "--stream-rate", "0kbps"], "more than 0"),
        (&["analyze", &good, "--max-pairs", "0"], "1..="),
        (&["analyze", &good, "--player-port", "0"], "1.."),
        (&["analyze", &good, "--video-min", "0"], "1..="),
        (&["compare", "--node", "a=x.pcap", "-j", "0"], "1..="),
        (
            &["compare", "--node", "a=x.pcap", "--horizon", "0"],
            "more than 0",
        ),
        (
            &[
                "simulate",
                "-o",
                "/nonexistent/x.pcap",
                "--starve-fraction",
                "2",
            ],
            "from 0 to 1",
        ),
        (&["plan", "--rate", "0"], "more than 0"),
        (&["capture", "-c", "0"], "1.."),
        (&["capture", "-i", "9999", "--json"], "numbered from 1"),
    ];
    for (args, needle) in cases {
        let out = bin().args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // An exact multiple is taken as it is.
    let (out, r) = analyze("window03", &[&good, "--window", "0.3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!((r.unwrap().series.window_s - 0.3).abs() < 1e-9);
}

#[test]
fn issue15_tune_in_outside_the_capture_is_an_error() {
    let good = real("ndpi__pps.pcap");
    for t in ["1e9", "1970-01-01T00:00:00Z"] {
        let (out, r) = analyze(&format!("tune-{}", t.len()), &[&good, "--tune-in", t]);
        assert_eq!(out.status.code(), Some(64), "{t}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("outside the capture"),
            "{}",
            stderr(&out)
        );
        assert!(r.is_none());
    }
    let (out, _) = analyze("tune-ok", &[&good, "--tune-in", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn issue15_habits_read_quiet_version_completions_man() {
    let good = real("ndpi__pps.pcap");
    let dir = tmp("habits");
    let out = bin()
        .args(["analyze", "-q", "-r", &good, "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "-q: no summary");
    assert!(dir.join("report.json").exists());
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.contains("libpcap 1."), "{v}");
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("analyze"));
    }
    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(".ie"));
    // The pages in docs/man are the ones the binary generates.
    let gen = tmp("man");
    let out = bin().args(["man", "--dir"]).arg(&gen).output().unwrap();
    assert!(out.status.success());
    let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join("man");
    for entry in std::fs::read_dir(&gen).unwrap() {
        let entry = entry.unwrap();
        let committed = std::fs::read(docs.join(entry.file_name())).unwrap_or_default();
        assert_eq!(
            std::fs::read(entry.path()).unwrap(),
            committed,
            "docs/man/{} is stale: run `peerscope man --dir docs/man`",
            entry.file_name().to_string_lossy()
        );
    }
    // Usage errors are not input errors.
    let out = bin()
        .args(["analyze", "--no-such-option"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

// A pcapng in which every packet was captured on two interfaces (`-i lo` and `-i any`):
// Ethernet on one, Linux cooked v2 on the other (pcapng draft §4.1–4.3).

fn ng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&block_type.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(8 + padded, 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn epb(if_id: u32, ts_us: u64, frame: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&if_id.to_le_bytes());
    body.extend_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts_us as u32).to_le_bytes());
    body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    body.extend_from_slice(frame);
    ng_block(6, &body)
}

/// An IPv4/UDP packet from 192.0.2.10 to 198.51.100.`peer` (checksums left zero).
fn udp(peer: u8, id: u16, payload: usize) -> Vec<u8> {
    let total = 28 + payload;
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0, 0, 64, 17, 0, 0, 192, 0, 2, 10, 198, 51, 100, peer]);
    p.extend_from_slice(&[0x1f, 0x90, 0x1f, 0x90]);
    p.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.resize(total, id as u8);
    p
}

#[test]
fn issue15_packets_seen_on_two_interfaces_are_counted_once() {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut file = ng_block(0x0a0d_0d0a, &shb);
    for link in [1u16, 276] {
        let mut idb = Vec::new();
        idb.extend_from_slice(&link.to_le_bytes());
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&65535u32.to_le_bytes());
        file.extend(ng_block(1, &idb));
    }
    let t0 = 1_767_268_800_000_000u64;
    let n = 400u64;
    for i in 0..n {
        let ip = udp(
            (i % 20) as u8 + 1,
            i as u16,
            if i % 3 == 0 { 1000 } else { 40 },
        );
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        sll2.extend_from_slice(&ip);
        let ts = t0 + i * 10_000;
        file.extend(epb(0, ts, &eth));
        // The copy on `any` 2 µs later.
        file.extend(epb(1, ts + 2, &sll2));
    }
    let dir = tmp("dups");
    let path = dir.join("two-interfaces.pcapng");
    std::fs::write(&path, &file).unwrap();
    let (out, r) = analyze("dups-run", &[&path.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = r.unwrap();
    assert_eq!(r.capture.duplicates, Some(n));
    assert_eq!(r.capture.packets, n);
    assert!(r
        .capture
        .warnings
        .iter()
        .any(|w| w.contains("counted once")));
}

#[test]
fn issue15_anonymized_reports_say_so_and_keep_loopback() {
    let any = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join("sopcast-sim-any.pcap");
    let any = any.to_string_lossy().into_owned();
    let dir = tmp("anon-key");
    let key = dir.join("key.hex");
    let run = |extra: &[&str]| -> Report {
        let out = bin()
            .args(["analyze", &any, "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let plain = run(&[]);
    assert!(plain.anonymized.is_none());
    let first = run(&["--anonymize-key-out", key.to_str().unwrap()]);
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(text.trim().len(), 64);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let a = first.anonymized.clone().unwrap();
    assert_eq!(a.method, "crypto-pan");
    assert!(a.loopback_kept);
    assert!(!text.contains(&a.key_fingerprint));
    // The key written reproduces the run.
    let again = run(&["--anonymize-key", key.to_str().unwrap()]);
    assert_eq!(again, first);
    // The local player on loopback is still recognisable; the viewer's address is not.
    let json = serde_json::to_string(&first).unwrap();
    assert!(json.contains("127.0.0.1"));
    let local = plain.local.ip.unwrap();
    assert!(!json.contains(&format!("\"{local}\"")), "{local} survived");
    // An existing key file is not overwritten.
    let out = bin()
        .args(["analyze", &any, "--json", "--anonymize-key-out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);
}

#[test]
fn issue15_csv_exports_the_series_and_the_peer_table() {
    let out_dir = tmp("csv");
    let out = bin()
        .args(["analyze", &real("ndpi__pps.pcap"), "--csv", "-o"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Report =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    let series = std::fs::read_to_string(out_dir.join("series.csv")).unwrap();
    let mut lines = series.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, peerscope::cli::export::SERIES_COLUMNS);
    assert_eq!(lines.count(), r.series.rows.len());
    let peers = std::fs::read_to_string(out_dir.join("peers.csv")).unwrap();
    let mut lines = peers.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    // Every field of the model is a column, the documented ones first.
    assert_eq!(header, peerscope::cli::export::PEER_COLUMNS);
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[0], r.peers.list[0].ip);
    assert_eq!(
        first[4].parse::<u64>().unwrap(),
        r.peers.list[0].video_in_bytes
    );
}

#[test]
fn issue15_flows_export_one_line_per_five_tuple() {
    use peerscope::flow::conns::ConnRecord;
    let dir = tmp("flows");
    let out = bin()
        .args(["analyze", &real("ndpi__pps.pcap"), "--flows", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Report =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.join("flows.ndjson")).unwrap();
    let flows: Vec<ConnRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(flows.len() > 10);
    // Every decoded packet is in exactly one flow.
    let packets: u64 = flows.iter().map(|f| f.orig_pkts + f.resp_pkts).sum();
    assert_eq!(packets, r.capture.decoded_packets);
    // Ordered by first packet, unique 5-tuples.
    assert!(flows.windows(2).all(|w| w[0].ts <= w[1].ts));
    let mut keys: Vec<_> = flows
        .iter()
        .map(|f| {
            let mut ends = [(f.orig_h.clone(), f.orig_p), (f.resp_h.clone(), f.resp_p)];
            ends.sort();
            (ends, f.proto.clone())
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), flows.len());
    // The video/control split adds up to the UDP packets of the flow.
    let video: u64 = flows
        .iter()
        .map(|f| f.orig_video_pkts + f.resp_video_pkts)
        .sum();
    assert_eq!(
        video,
        r.traffic.video.packets_in + r.traffic.video.packets_out
    );
    // --flows=FILE writes there; an existing file needs --force.
    let file = tmp("flows-file").join("conn.ndjson");
    std::fs::write(&file, b"old").unwrap();
    let out = bin()
        .args(["analyze", &real("ndpi__pps.pcap"), "--json"])
        .arg(format!("--flows={}", file.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&file).unwrap(), b"old");
    let out = bin()
        .args(["analyze", &real("ndpi__pps.pcap"), "--json", "--force"])
        .arg(format!("--flows={}", file.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn issue15_compare_page_is_self_contained_in_headless_chromium() {
    let dir = tmp("cmp-page");
    let lab = dir.join("lab");
    let out = bin()
        .args([
            "simulate",
            "--lab",
            "--receivers",
            "2",
            "--duration",
            "30s",
            "-o",
        ])
        .arg(&lab)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let node = |name: &str, file: &str| format!("{name}={}", lab.join(file).display());
    let page_dir = dir.join("out");
    let out = bin()
        .args(["compare", "-q", "--node", &node("source", "source.pcap")])
        .args([
            "--node",
            &node("r1", "r1.pcap"),
            "--node",
            &node("r2", "r2.pcap"),
        ])
        .args([
            "--run",
            &node("330kbps", "r1.pcap"),
            "--run",
            &node("380kbps", "r2.pcap"),
        ])
        .arg("-o")
        .arg(&page_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(page_dir.join("index.html")).unwrap();
    assert!(!html.contains("<img"), "figures are inline");
    for h in ["continuity (%)", "down (kb/s)", "id=\"node-r2\""] {
        assert!(html.contains(h), "{h} missing");
    }
    let Some(chromium) = crate::report::chromium() else {
        assert!(!crate::report::in_ci(), "chromium must run in CI");
        return;
    };
    // Alone in a directory: nothing else to load.
    let alone = dir.join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::copy(page_dir.join("index.html"), alone.join("index.html")).unwrap();
    let dom = crate::report::dump_dom(&chromium, &alone.join("index.html"), &dir.join("profile"));
    for name in ["traffic.svg", "delay.svg", "continuity.svg"] {
        let start = dom
            .find(&format!("<figure id=\"fig-{name}\">"))
            .unwrap_or_else(|| panic!("fig-{name} missing from the DOM"));
        let end = start + dom[start..].find("</figure>").unwrap();
        assert!(dom[start..end].contains("<svg") && dom[start..end].contains("<text"));
    }
}
