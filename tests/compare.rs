//! Issue 5: several vantage points. `simulate --lab` writes a source and receivers with the
//! truth of their delays and rates; `compare` must recover them.

use std::path::{Path, PathBuf};
use std::process::Output;

use peerscope::decode::{self, Decoded};
use peerscope::report::compare::{Compare, DelayMethod, NodeRole};
use peerscope::sim::{Format, LabTruth, LinkType, PcapWriter};
use peerscope::source::CaptureFile;

use crate::util::{bin, stderr, tmp};

/// Writes a lab into a fresh directory and returns it with its truth.
fn lab(name: &str, args: &[&str]) -> (PathBuf, LabTruth) {
    let dir = tmp(name);
    let out = bin()
        .args(["simulate", "--lab", "-o"])
        .arg(&dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let truth: LabTruth =
        serde_json::from_slice(&std::fs::read(dir.join("lab.truth.json")).unwrap()).unwrap();
    (dir, truth)
}

/// `--node NAME=FILE` for every node of the lab.
fn node_args(dir: &Path, truth: &LabTruth) -> Vec<String> {
    truth
        .nodes
        .iter()
        .flat_map(|n| {
            [
                "--node".to_string(),
                format!("{}={}", n.name, dir.join(&n.file).display()),
            ]
        })
        .collect()
}

/// Runs `compare ARGS -o DIR/out` and parses compare.json into the crate's model (unknown
/// fields fail).
fn compare(dir: &Path, args: &[String]) -> (Output, Option<Compare>) {
    let out_dir = dir.join("out");
    let out = bin()
        .arg("compare")
        .args(args)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    let c = std::fs::read(out_dir.join("compare.json"))
        .ok()
        .map(|b| serde_json::from_slice::<Compare>(&b).unwrap());
    (out, c)
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-9)
}

fn check_rates(c: &Compare, truth: &LabTruth) {
    for t in &truth.nodes {
        let n = c.nodes.iter().find(|n| n.name == t.name).unwrap();
        assert_eq!(n.ip.as_deref(), Some(t.ip.as_str()), "{}", t.name);
        for (got, want, what) in [
            (n.video.download_kbps, t.video_download_kbps, "video down"),
            (n.video.upload_kbps, t.video_upload_kbps, "video up"),
        ] {
            assert!(
                close(got, want, 0.03),
                "{} {what}: {got} vs truth {want}",
                t.name
            );
        }
    }
}

#[test]
fn issue5_lab_payload_match_recovers_delay_and_rates() {
    for (seed, receivers, hold) in [("1", "4", "2s"), ("2", "6", "1.5s"), ("3", "7", "3s")] {
        let (dir, truth) = lab(
            &format!("cmp-lab-{seed}"),
            &[
                "--seed",
                seed,
                "--receivers",
                receivers,
                "--hold",
                hold,
                "--duration",
                "30s",
            ],
        );
        assert!(truth.nodes.iter().any(|n| n.hops >= 2));
        let (out, c) = compare(&dir, &node_args(&dir, &truth));
        assert!(out.status.success(), "{}", stderr(&out));
        let c = c.unwrap();
        assert_eq!(c.schema, "peerscope/compare-v1");
        assert_eq!(c.source, "source");
        assert_eq!(c.method, Some(DelayMethod::PayloadMatch));
        assert_eq!(c.matching.offset, Some(8));
        check_rates(&c, &truth);
        for t in truth.nodes.iter().skip(1) {
            let n = c.nodes.iter().find(|n| n.name == t.name).unwrap();
            let d = &n.playback_delay;
            assert_eq!(d.method, Some(DelayMethod::PayloadMatch), "{}", t.name);
            let median = d.median_s.unwrap();
            assert!(
                (median - t.delay_s).abs() < 0.05,
                "seed {seed} {}: median {median} vs truth {}",
                t.name,
                t.delay_s
            );
            assert!(d.p10_s.unwrap() <= median && median <= d.p90_s.unwrap());
            assert!(d.matched_share.unwrap() >= 0.95, "{}: {d:?}", t.name);
            let offset = d.offset.unwrap() as usize;
            assert!(offset >= truth.hop_header_bytes, "{}: {offset}", t.name);
            // Issue 13: its Table-1 row carries the delay measured against the source.
            assert_eq!(n.summary.playout_delay_s, Some(median), "{}", t.name);
            assert!(
                n.summary
                    .playout_delay_how
                    .starts_with("measured against the source source"),
                "{}",
                n.summary.playout_delay_how
            );
        }
        let src = &c.nodes[0];
        assert_eq!(src.role, NodeRole::Source);
        assert!(src.playback_delay.median_s.is_none() && src.playback_delay.reason.is_some());
        assert_eq!(src.summary.playout_delay_s, Some(0.0));
        assert!((c.summary.source_upload_kbps - src.upload_kbps).abs() < 1e-9);
        assert_eq!(c.summary.receivers, truth.nodes.len() - 1);
        for f in [
            "traffic.svg",
            "delay.svg",
            "index.html",
            "nodes/r1/report.json",
        ] {
            assert!(dir.join("out").join(f).exists(), "{f}");
        }
    }
}

#[test]
fn issue5_rewritten_payloads_fall_back_to_rate_xcorr() {
    let (dir, truth) = lab(
        "cmp-rewrite",
        &[
            "--seed",
            "4",
            "--receivers",
            "5",
            "--duration",
            "40s",
            "--rewrite-payload",
        ],
    );
    let (out, c) = compare(&dir, &node_args(&dir, &truth));
    assert!(out.status.success(), "{}", stderr(&out));
    let c = c.unwrap();
    let mut fell_back = 0;
    for t in truth.nodes.iter().skip(1) {
        let n = c.nodes.iter().find(|n| n.name == t.name).unwrap();
        let d = &n.playback_delay;
        let median = d.median_s.unwrap();
        if t.hops >= 2 {
            // Nothing two hops away carries the source's bytes.
            assert_eq!(d.method, Some(DelayMethod::RateXcorr), "{}: {d:?}", t.name);
            assert!(d.matched_share.unwrap() < 0.05);
            assert!(d.reason.as_deref().unwrap().contains("cross-correlation"));
            fell_back += 1;
        }
        assert!(
            (median - t.delay_s).abs() < 0.5,
            "{}: {median} vs truth {}",
            t.name,
            t.delay_s
        );
    }
    assert!(fell_back >= 2);
    assert_eq!(c.method, Some(DelayMethod::Mixed));
}

/// Copies the records of `from` for which `keep(seconds since the first record, frame)` holds.
fn filter_capture(from: &Path, to: &Path, keep: impl Fn(f64, &[u8]) -> bool) {
    let mut reader = CaptureFile::open(&from.to_string_lossy()).unwrap();
    let out = std::io::BufWriter::new(std::fs::File::create(to).unwrap());
    let mut w = PcapWriter::new(out, Format::Pcap, LinkType::Ethernet).unwrap();
    let mut first = None;
    while reader.next_packet(|raw| {
        let t0 = *first.get_or_insert(raw.ts);
        if keep(raw.ts.secs_since(t0), raw.data) {
            w.write_record(raw.ts.ns() as u64, raw.data, raw.orig_len)
                .unwrap();
        }
    }) {}
    w.finish().unwrap();
}

fn is_video(frame: &[u8]) -> bool {
    let raw = peerscope::source::RawPacket {
        ts: peerscope::time::Timestamp::EPOCH,
        link_type: 1,
        orig_len: frame.len() as u32,
        data: frame,
    };
    matches!(decode::decode(&raw), Decoded::Packet(p) if p.is_udp() && p.payload_len >= 200)
}

#[test]
fn issue5_partial_spans_split_files_and_a_receiver_without_video() {
    let (dir, truth) = lab(
        "cmp-spans",
        &["--seed", "5", "--receivers", "6", "--duration", "40s"],
    );
    let p = |f: &str| dir.join(f);
    // r2 captured only from 10 s to 30 s, r5 from 15 s on; r1 in two files; r3 never gets video.
    filter_capture(&p("r2.pcap"), &p("r2-cut.pcap"), |t, _| {
        (10.0..30.0).contains(&t)
    });
    filter_capture(&p("r5.pcap"), &p("r5-late.pcap"), |t, _| t >= 15.0);
    filter_capture(&p("r1.pcap"), &p("r1-a.pcap"), |t, _| t < 20.0);
    filter_capture(&p("r1.pcap"), &p("r1-b.pcap"), |t, _| t >= 20.0);
    filter_capture(&p("r3.pcap"), &p("r3-idle.pcap"), |_, f| !is_video(f));
    let arg = |name: &str, file: &str| {
        [
            "--node".to_string(),
            format!("{name}={}", p(file).display()),
        ]
    };
    let mut args: Vec<String> = Vec::new();
    for (name, file) in [
        ("r1", "r1-a.pcap"),
        ("source", "source.pcap"),
        ("r1", "r1-b.pcap"),
        ("r2", "r2-cut.pcap"),
        ("r3", "r3-idle.pcap"),
        ("r4", "r4.pcap"),
        ("r5", "r5-late.pcap"),
        ("r6", "r6.pcap"),
    ] {
        args.extend(arg(name, file));
    }
    args.extend(["--source".to_string(), "source".to_string()]);
    let (out, c) = compare(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = c.unwrap();
    assert_eq!(c.source, "source");
    let node = |name: &str| c.nodes.iter().find(|n| n.name == name).unwrap();
    assert_eq!(node("r1").files.len(), 2);
    assert_eq!(node("r1").role, NodeRole::Receiver);
    // r1's two files together are its whole capture.
    let t1 = &truth.nodes[1];
    assert!(close(
        node("r1").video.download_kbps,
        t1.video_download_kbps,
        0.03
    ));
    for name in ["r1", "r2", "r4", "r5", "r6"] {
        let t = truth.nodes.iter().find(|n| n.name == name).unwrap();
        let d = &node(name).playback_delay;
        assert_eq!(d.method, Some(DelayMethod::PayloadMatch), "{name}: {d:?}");
        assert!(
            (d.median_s.unwrap() - t.delay_s).abs() < 0.05,
            "{name}: {d:?}"
        );
        assert!(d.matched_share.unwrap() >= 0.95, "{name}: {d:?}");
    }
    let idle = &node("r3").playback_delay;
    assert_eq!(idle.median_s, None);
    assert_eq!(idle.method, None);
    assert!(
        idle.reason
            .as_deref()
            .unwrap()
            .contains("no video received"),
        "{idle:?}"
    );
    assert!(node("r2").duration_s < 21.0);
}

#[test]
fn issue5_runs_give_continuity_against_input_rate() {
    let dir = tmp("cmp-runs");
    let mut args: Vec<String> = Vec::new();
    for (label, fraction) in [("330kbps", "0.2"), ("380kbps", "0.9")] {
        let file = dir.join(format!("{label}.pcap"));
        let out = bin()
            .args(["simulate", "--link", "sll2", "--duration", "60s"])
            .args([
                "--starve-at",
                "20s",
                "--starve-for",
                "30s",
                "--starve-fraction",
            ])
            .arg(fraction)
            .arg("-o")
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        args.extend(["--run".to_string(), format!("{label}={}", file.display())]);
    }
    let node = dir.join("330kbps.pcap");
    args.extend(["--node".to_string(), format!("client={}", node.display())]);
    let (out, c) = compare(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = c.unwrap();
    assert_eq!(c.runs.len(), 2);
    assert_eq!(c.runs[0].input_kbps, 330.0);
    let (low, high) = (c.runs[0].continuity.unwrap(), c.runs[1].continuity.unwrap());
    assert!(low < high && high <= 1.0, "{low} {high}");
    assert!(c.figures.contains(&"continuity.svg".to_string()));
    assert!(dir.join("out/continuity.svg").exists());
    // One node: it is the source, and there is no receiver to delay.
    assert_eq!(c.summary.receivers, 0);
    assert_eq!(c.summary.mean_receiver_download_kbps, None);
}

#[test]
fn issue5_bad_input_is_a_clear_error() {
    let dir = tmp("cmp-bad");
    let (out, _) = compare(
        &dir,
        &["--node".to_string(), "a=/nonexistent/x.pcap".to_string()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("node a"), "{}", stderr(&out));
    let (out, _) = compare(
        &dir,
        &[
            "--node".to_string(),
            "a=x.pcap".to_string(),
            "--source".to_string(),
            "b".to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(64), "a usage error");
    assert!(stderr(&out).contains("--source b"), "{}", stderr(&out));
}

/// Issue 14: `NAME=FILE@IP` is validated as `--local` is (absent from the capture: exit 2,
/// with the candidates), and two nodes never share an address: the second node to infer one
/// is analysed again with its best other candidate.
#[test]
fn issue14_node_addresses_validated_and_distinct() {
    let (dir, truth) = lab("distinct", &["--receivers", "2", "--duration", "20s"]);
    let src = &truth.nodes[0];
    let file = dir.join(&src.file);
    let bad = vec![
        "--node".to_string(),
        format!("src={}@198.51.100.250", file.display()),
    ];
    let (out, _) = compare(&tmp("distinct-bad"), &bad);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("198.51.100.250 is not in the capture; candidates:"),
        "{err}"
    );
    assert!(err.contains(&src.ip.to_string()), "{err}");

    // The same capture as two nodes: the first keeps the address, the second is re-inferred.
    let twice = vec![
        "--node".to_string(),
        format!("a={}", file.display()),
        "--node".to_string(),
        format!("b={}", file.display()),
    ];
    let (out, c) = compare(&tmp("distinct-twice"), &twice);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = c.unwrap();
    assert_eq!(c.nodes[0].ip.as_deref(), Some(src.ip.to_string().as_str()));
    let b = c.nodes[1].ip.clone().unwrap();
    assert_ne!(Some(b.as_str()), c.nodes[0].ip.as_deref());
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("node b: inferred")
                && w.contains("re-inferred under that constraint")),
        "{:?}",
        c.warnings
    );
}

/// Issue 13: a run's continuity comes from its own feed's media clock (the starved client's
/// feed says 360 kb/s however little it was fed), or from the channel's `--stream-rate` when
/// given; neither is then an estimate, and each run says how its rate was obtained.
#[test]
fn issue13_runs_use_the_media_clock_or_the_given_stream_rate() {
    let dir = tmp("cmp-runs-clock");
    let file = dir.join("starved.pcap");
    let out = bin()
        .args([
            "simulate",
            "--link",
            "sll2",
            "--duration",
            "60s",
            "--feed",
            "mpegts",
        ])
        .args([
            "--starve-at",
            "20s",
            "--starve-for",
            "30s",
            "--starve-fraction",
            "0.3",
        ])
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("starved.truth.json")).unwrap()).unwrap();
    let want = truth["continuity"].as_f64().unwrap();
    let base = vec![
        "--run".to_string(),
        format!("300kbps={}", file.display()),
        "--node".to_string(),
        format!("client={}", file.display()),
    ];
    for (name, extra, how) in [
        ("clock", vec![], "media clock"),
        (
            "given",
            vec!["--stream-rate".to_string(), "360kbps".to_string()],
            "given",
        ),
    ] {
        let mut args = base.clone();
        args.extend(extra);
        let (out, c) = compare(&tmp(&format!("cmp-runs-out-{name}")), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let run = &c.unwrap().runs[0];
        assert!(
            run.stream_how.starts_with(how),
            "{name}: {}",
            run.stream_how
        );
        assert!(!run.continuity_estimated, "{name}");
        let rate = run.stream_rate_kbps.unwrap();
        assert!((rate - 360.0).abs() <= 0.05 * 360.0, "{name}: {rate}");
        let ci = run.continuity.unwrap();
        assert!(
            (ci - want).abs() <= 0.05,
            "{name}: continuity {ci} vs truth {want}"
        );
    }
}
