//! `peerscope analyze` on the real captures of `tests/data/real/` (PROVENANCE.tsv says what
//! each is): link types, broken inputs, merging, stdin, filters.

use std::io::Write;
use std::process::Stdio;

use crate::util::{analyze, bin, library_report, real, stderr, tmp};

#[test]
fn pps_real_ppstream_session() {
    // A real PPStream session: the client 192.168.115.8 receives 1065-byte UDP payloads
    // (1107-byte frames) from six peers and acks with 37-byte payloads.
    let (out, r) = analyze("pps", &[&real("ndpi__pps.pcap")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = r.unwrap();
    assert_eq!(r.schema, "peerscope/report-v1");
    assert_eq!(r.local.ip.as_deref(), Some("192.168.115.8"));
    // Issue 14: the Ethernet evidence names it — the one MAC on every unicast frame with a
    // single address behind it (the other, the gateway's, carries every peer's).
    assert!(
        r.local
            .how
            .starts_with("link layer: the only address behind MAC 00:1c:42:8e:70:31"),
        "{}",
        r.local.how
    );
    // The application and the verdict (issue 14): PPStream's own headers; the P2P part lasts
    // half a second of a 66 s capture, too short for a stream rate.
    let app = r.application.as_ref().unwrap();
    assert_eq!(app.name, "ppstream");
    let video = r.sizes.peaks.iter().find(|p| p.class == "video").unwrap();
    assert_eq!(video.size, 1065);
    assert_eq!(
        video.ip_bytes, 1093,
        "1107-byte frames minus 14 bytes of Ethernet"
    );
    let ack = r.sizes.peaks.iter().find(|p| p.size == 37).unwrap();
    assert_eq!(ack.class, "control");
    let t = r.sizes.threshold.unwrap();
    assert!(t > 37 && t <= 1065, "threshold {t}");
    assert_eq!(r.peers.suppliers, 6);
    let suppliers: Vec<_> = r
        .peers
        .list
        .iter()
        .filter(|p| p.role.as_str() == "supplier")
        .collect();
    assert_eq!(suppliers.len(), 6);
    // Counted independently with tcpdump: 129 × 1065 and 1 × 1067 bytes from the largest.
    assert_eq!(suppliers[0].ip, "1.173.5.226");
    assert_eq!(suppliers[0].video_in_bytes, 129 * 1065 + 1067);
    assert_eq!(suppliers[1].ip, "114.42.0.158");
    assert!(r.peers.concentration.top2_share > 0.8);
    assert_eq!(r.capture.packets, 2557);
    assert_eq!(r.capture.malformed_packets, 0);
    assert!(!r.capture.truncated);
    // Besides acknowledging each packet, the client sends its suppliers more requests than
    // video packets (1.2 per packet), ahead of the data: a pull system.
    assert_eq!(r.summary.pull_push, "pull", "{}", r.summary.pull_push_how);
    assert!(r.summary.pull_push_how.starts_with("requests"));
    assert_eq!(
        r.capture.start.as_deref(),
        Some("2016-07-01T06:05:36.432546Z")
    );
}

#[test]
fn link_types_decode() {
    let cases = [
        ("ndpi__KakaoTalk_talk.pcap", "LINUX_SLL"),
        ("tcpdump__quic_vn.pcap", "NULL"),
        ("tcpdump__LINKTYPE_RAW_ipv4.pcap", "RAW"),
        ("tcpdump__LINKTYPE_IPV4.pcap", "IPV4"),
        ("tcpdump__LINKTYPE_IPV6.pcap", "IPV6"),
        ("zeek__vlan-qinqinq.pcap", "EN10MB"),
        ("pcap-parser__test001-be.pcapng", "EN10MB"),
        ("PcapPlusPlus__nanosecs_big_endian.pcap", "EN10MB"),
        ("ndpi__bittorrent_transmission.pcapng", "EN10MB"),
    ];
    for (file, link) in cases {
        let (out, r) = analyze(file, &[&real(file)]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let r = r.unwrap();
        assert_eq!(r.capture.link_types, vec![link.to_string()], "{file}");
        assert!(r.capture.packets > 0, "{file}");
        assert_eq!(
            r.capture.decoded_packets, r.capture.packets,
            "{file}: all decode"
        );
        assert_eq!(r.capture.malformed_packets, 0, "{file}");
    }
}

#[test]
fn nanosecond_big_endian_timestamps() {
    let (_, r) = analyze("ns", &[&real("PcapPlusPlus__nanosecs_big_endian.pcap")]);
    let r = r.unwrap();
    let start = r.capture.start.unwrap();
    // tcpdump -r shows the first packet at 00:05:26.167647 (UTC).
    assert!(start.ends_with("00:05:26.167647Z"), "{start}");
}

#[test]
fn vlan_triple_tags_reach_ip() {
    let (_, r) = analyze("qinq", &[&real("zeek__vlan-qinqinq.pcap")]);
    let r = r.unwrap();
    assert_eq!(r.capture.not_ip_packets, 0);
    assert!(r.local.ip.is_some());
}

#[test]
fn fragments_are_counted() {
    let (out, r) = analyze("frag4", &[&real("PcapPlusPlus__ip4_fragments.pcap")]);
    assert!(out.status.success());
    let r = r.unwrap();
    // tcpdump -v: 50 of the 53 packets carry MF or a fragment offset.
    assert_eq!(r.capture.fragments, 50);
    let (_, r6) = analyze("frag6", &[&real("zeek__ipv6-fragmented-dns.pcap")]);
    assert_eq!(r6.unwrap().capture.fragments, 4);
    let (out, g) = analyze("fraggarbage", &[&real("ndpi__ip_fragmented_garbage.pcap")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let g = g.unwrap();
    assert_eq!(g.capture.packets, 1252);
    assert_eq!(g.capture.fragments, 1252);
}

#[test]
fn truncated_file_is_analysed_as_far_as_it_goes() {
    let (out, r) = analyze(
        "trunc",
        &[&real("suricata-verify__smtp-to-comma_truncated.pcap")],
    );
    assert!(out.status.success());
    let r = r.unwrap();
    assert!(r.capture.truncated);
    assert_eq!(r.capture.packets, 18);
    assert!(r
        .capture
        .warnings
        .iter()
        .any(|w| w.contains("stopped reading")));
    assert!(stderr(&out).contains("warning"));
}

#[test]
fn truncated_packets_are_counted_not_fatal() {
    // One frame cut inside the IP header: nothing usable, exit 2 and no report (issue 15);
    // the count is in the library's report.
    let (out, r) = analyze("ip4trunc", &[&real("zeek__ip4-trunc.pcap")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(r.is_none(), "a run that decodes nothing writes no report");
    let r = library_report(&[&real("zeek__ip4-trunc.pcap")]);
    assert_eq!(r.capture.malformed_packets, 1);
    assert_eq!(r.capture.malformed_by_reason.get("truncated_ip"), Some(&1));
    // A UDP header whose length field lies: decoded with the IP length, noted as an anomaly.
    let (out, r) = analyze("udptrunc", &[&real("peafowl__truncated_udp.pcap")]);
    assert!(out.status.success());
    assert_eq!(
        r.unwrap().capture.anomalies.get("udp_length_mismatch"),
        Some(&1)
    );
}

#[test]
fn fuzzed_file_without_packets_exits_2_naming_it() {
    let (out, _) = analyze("fuzz", &[&real("ndpi__fuzz-2021-10-13.pcap")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("ndpi__fuzz-2021-10-13.pcap"), "{err}");
}

#[test]
fn garbage_and_empty_inputs_exit_2_with_one_line() {
    let dir = tmp("garbage");
    let garbage = dir.join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    for path in [&garbage, &empty] {
        let out = bin()
            .arg("analyze")
            .arg(path)
            .arg("-o")
            .arg(dir.join("out"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&*path.to_string_lossy()), "{err}");
    }
    let missing = bin()
        .args(["analyze", "/nonexistent/x.pcap", "-o"])
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_bad_file_among_good_ones_is_an_error_unless_keep_going() {
    let dir = tmp("mixed");
    let garbage = dir.join("garbage.pcap");
    std::fs::write(&garbage, b"garbage garbage garbage").unwrap();
    // As tcpdump and tshark: exit 2, nothing written (issue 15).
    let (out, r) = analyze(
        "mixed-strict",
        &[&real("ndpi__pps.pcap"), &garbage.to_string_lossy()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("garbage.pcap") && stderr(&out).contains("--keep-going"));
    assert!(r.is_none());
    let (out, r) = analyze(
        "mixed-run",
        &[
            &real("ndpi__pps.pcap"),
            &garbage.to_string_lossy(),
            "--keep-going",
        ],
    );
    assert!(out.status.success());
    let r = r.unwrap();
    assert!(r
        .capture
        .warnings
        .iter()
        .any(|w| w.contains("garbage.pcap")));
    assert_eq!(r.capture.packets, 2557);
}

#[test]
fn several_files_merge_in_time_order() {
    let a = real("ndpi__pps.pcap");
    let b = real("ndpi__kontiki.pcap");
    let (_, ra) = analyze("merge-a", &[&a]);
    let (_, rb) = analyze("merge-b", &[&b]);
    let (out, rab) = analyze("merge-ab", &[&b, &a]);
    assert!(out.status.success());
    let (ra, rb, rab) = (ra.unwrap(), rb.unwrap(), rab.unwrap());
    assert_eq!(rab.capture.packets, ra.capture.packets + rb.capture.packets);
    assert_eq!(rab.capture.backwards_timestamps, 0);
    assert_eq!(rab.capture.files.len(), 2);
    let starts = [ra.capture.start.unwrap(), rb.capture.start.unwrap()];
    assert_eq!(
        rab.capture.start.unwrap(),
        starts.iter().min().unwrap().clone()
    );
}

#[test]
fn stdin_reads_a_capture() {
    let bytes = std::fs::read(real("ndpi__pps.pcap")).unwrap();
    let dir = tmp("stdin");
    let mut child = bin()
        .args(["analyze", "-", "--json", "-o"])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let r: peerscope::report::Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r.capture.packets, 2557);
    assert_eq!(r.peers.suppliers, 6);
}

#[test]
fn bpf_filter_applies_to_files() {
    let (out, r) = analyze("bpf", &[&real("ndpi__pps.pcap"), "-f", "udp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = r.unwrap();
    assert!(r.capture.filtered_packets > 0);
    assert_eq!(
        r.capture.filtered_packets + r.capture.decoded_packets,
        r.capture.packets
    );
    // The HTTP download is filtered away: no TCP byte reaches any peer.
    assert!(r.peers.list.iter().all(|p| p.tcp_in_bytes == 0));
    assert_eq!(r.peers.suppliers, 6);
    let (bad, _) = analyze("badbpf", &[&real("ndpi__pps.pcap"), "-f", "udp and and"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("udp and and"));
}

#[test]
fn local_and_video_min_overrides() {
    let (_, r) = analyze(
        "overrides",
        &[
            &real("ndpi__pps.pcap"),
            "--local",
            "1.173.5.226",
            "--video-min",
            "100",
        ],
    );
    let r = r.unwrap();
    assert_eq!(r.local.ip.as_deref(), Some("1.173.5.226"));
    assert_eq!(r.local.how, "given (--local)");
    assert_eq!(r.sizes.threshold, Some(100));
    assert!(r.sizes.threshold_how.contains("given"));
}

#[test]
fn two_threads_and_one_give_the_same_report() {
    let dir = tmp("threads");
    let cap = dir.join("s.pcap");
    let sim = bin()
        .args([
            "simulate",
            "--link",
            "sll2",
            "--seed",
            "21",
            "--duration",
            "30s",
            "-o",
        ])
        .arg(&cap)
        .output()
        .unwrap();
    assert!(sim.status.success());
    for file in [real("ndpi__pps.pcap"), cap.to_string_lossy().into_owned()] {
        let (_, par) = analyze("threads-par", &[&file]);
        let (_, seq) = analyze("threads-seq", &[&file, "--single-thread"]);
        assert_eq!(par.unwrap(), seq.unwrap(), "{file}");
    }
}
