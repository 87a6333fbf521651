//! Hostile input (issue 7): captures broken on purpose, crafted here with the crate's own pcap
//! writer or byte by byte, run through the real binary. Each test checks the exit code, the
//! warnings and the counts in report.json. The broken captures of `tests/data/real/` are
//! covered in `analyze.rs` (truncated file, truncated IP and UDP, fuzzed header, fragment
//! garbage).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Output;

use peerscope::report::Report;
use peerscope::sim::frame::{build_tcp, build_udp, Ipv4Fields, LinkHeader, TcpFields};
use peerscope::sim::pcap_writer::{Format, LinkType, PcapWriter, WriterOptions};

use crate::util::{analyze, bin, library_report, stderr, tmp};

/// 2026-01-01T12:00:00Z.
const T0: u64 = 1_767_268_800_000_000_000;
const MS: u64 = 1_000_000;

const ETH: LinkHeader = LinkHeader::Ethernet {
    dst: [2, 0, 0, 0, 0, 1],
    src: [2, 0, 0, 0, 0, 2],
};
const SLL2: LinkHeader = LinkHeader::Sll2 {
    ifindex: 2,
    arphrd: 1,
    packet_type: 0,
    addr: [2, 0, 0, 0, 0, 3],
};

/// A UDP frame from 192.0.2.`src`:4000 to 192.0.2.1:8000 with `payload` bytes.
fn udp(link: &LinkHeader, src: u8, payload: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let ip = Ipv4Fields {
        src: Ipv4Addr::new(192, 0, 2, src),
        dst: Ipv4Addr::new(192, 0, 2, 1),
        ttl: 60,
        id: 7,
    };
    build_udp(&mut buf, link, &ip, 4000, 8000, &vec![0xab; payload]).unwrap();
    buf
}

/// A pcap of `frames` (timestamp, bytes), written by the crate's writer.
fn pcap(link: LinkType, opts: WriterOptions, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut w = PcapWriter::with_options(Vec::new(), Format::Pcap, link, opts).unwrap();
    for (ts, frame) in frames {
        w.write_packet(*ts, frame).unwrap();
    }
    w.finish().unwrap()
}

/// Ten Ethernet UDP frames 10 ms apart, alternating between two peers and two sizes.
fn ten_frames() -> Vec<(u64, Vec<u8>)> {
    (0..10u8)
        .map(|i| {
            let size = if i % 2 == 0 { 1000 } else { 40 };
            (T0 + u64::from(i) * 10 * MS, udp(&ETH, 2 + i % 2, size))
        })
        .collect()
}

/// A 16-byte legacy pcap record header, little-endian.
fn record_header(ts_sec: u32, frac: u32, caplen: u32, orig: u32) -> Vec<u8> {
    [ts_sec, frac, caplen, orig]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Writes `bytes` to a fresh file and runs `peerscope analyze` on it.
fn run(name: &str, bytes: &[u8]) -> (PathBuf, Output, Option<Report>) {
    let path = tmp(&format!("{name}-in")).join(format!("{name}.pcap"));
    std::fs::write(&path, bytes).unwrap();
    let (out, report) = analyze(name, &[&path.to_string_lossy()]);
    (path, out, report)
}

fn has_warning(r: &Report, needle: &str) -> bool {
    r.capture.warnings.iter().any(|w| w.contains(needle))
}

/// The report of a run that must succeed.
fn ok(out: &Output, report: Option<Report>) -> Report {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    report.unwrap()
}

// pcapng blocks, little-endian (draft-ietf-opsawg-pcapng §3.1, §4).

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

fn ng_shb() -> Vec<u8> {
    let mut body = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    body.extend_from_slice(&[1, 0, 0, 0]);
    body.extend_from_slice(&[0xff; 8]);
    ng_block(0x0A0D_0D0A, &body)
}

/// An interface description without options: microsecond timestamps.
fn ng_idb(link: u16) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&65_535u32.to_le_bytes());
    ng_block(1, &body)
}

fn ng_epb(if_id: u32, ts_ns: u64, data: &[u8]) -> Vec<u8> {
    let us = ts_ns / 1_000;
    let mut body = Vec::new();
    for v in [
        if_id,
        (us >> 32) as u32,
        us as u32,
        data.len() as u32,
        data.len() as u32,
    ] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(data);
    ng_block(6, &body)
}

#[test]
fn file_cut_in_the_middle_of_a_record_keeps_what_came_before() {
    let frames = ten_frames();
    for big_endian in [false, true] {
        let opts = WriterOptions {
            big_endian,
            ..WriterOptions::default()
        };
        let whole = pcap(LinkType::Ethernet, opts, &frames);
        // Cut inside the data of the 4th record, then inside the header of the 4th record.
        let rec = 16 + frames[0].1.len();
        let rec2 = 16 + frames[1].1.len();
        let data_cut = 24 + rec + rec2 + rec + 16 + 30;
        let header_cut = 24 + rec + rec2 + rec + 9;
        for (what, cut) in [("data", data_cut), ("header", header_cut)] {
            let name = format!("cut-{what}-{}", if big_endian { "be" } else { "le" });
            let (_, out, r) = run(&name, &whole[..cut]);
            let r = ok(&out, r);
            assert_eq!(r.capture.packets, 3, "{name}");
            assert_eq!(r.capture.decoded_packets, 3, "{name}");
            assert!(r.capture.truncated, "{name}");
            assert!(
                has_warning(
                    &r,
                    "file ends in the middle of a record after 3 packets (truncated capture)"
                ),
                "{name}: {:?}",
                r.capture.warnings
            );
            assert!(stderr(&out).contains("warning"), "{name}");
        }
    }
    // pcapng cut inside the third packet block.
    let mut ng = ng_shb();
    ng.extend(ng_idb(1));
    for (ts, f) in &frames[..3] {
        ng.extend(ng_epb(0, *ts, f));
    }
    let (_, out, r) = run("cut-ng", &ng[..ng.len() - 20]);
    let r = ok(&out, r);
    assert_eq!(r.capture.packets, 2);
    assert!(r.capture.truncated);
    assert!(has_warning(&r, "after 2 packets (truncated capture)"));
}

#[test]
fn record_longer_than_any_snaplen_stops_the_reading() {
    let opts = WriterOptions {
        snaplen: 65_535,
        big_endian: false,
    };
    let good = pcap(LinkType::Ethernet, opts, &ten_frames()[..2]);
    // 300,000 bytes: over the file's snaplen and over libpcap's 262,144 limit, and present.
    let mut long = good.clone();
    long.extend(record_header(1_767_268_801, 0, 300_000, 300_000));
    long.extend(vec![0u8; 300_000]);
    long.extend(record_header(1_767_268_802, 0, 60, 60));
    long.extend(vec![0u8; 60]);
    let (_, out, r) = run("caplen-300k", &long);
    let r = ok(&out, r);
    assert_eq!(
        r.capture.packets, 2,
        "nothing after the corrupt record is read"
    );
    assert!(r.capture.truncated);
    assert!(
        has_warning(
            &r,
            "record 3 claims 300000 captured bytes (snaplen 65535); corrupt from here, stopped reading"
        ),
        "{:?}",
        r.capture.warnings
    );
    // A length near 4 GiB, with little data after it.
    let mut huge = good.clone();
    huge.extend(record_header(1_767_268_801, 0, 0xFFFF_FFF0, 0xFFFF_FFF0));
    huge.extend(vec![0u8; 100]);
    let (_, out, r) = run("caplen-4g", &huge);
    let r = ok(&out, r);
    assert_eq!(r.capture.packets, 2);
    assert!(r.capture.truncated);
    assert!(
        r.capture
            .warnings
            .iter()
            .any(|w| w.contains("stopped reading") || w.contains("truncated capture")),
        "{:?}",
        r.capture.warnings
    );
    // Longer than this file's snaplen (100) but sane: libpcap reads such records, so do we.
    let small = WriterOptions {
        snaplen: 100,
        big_endian: false,
    };
    let mut over = pcap(LinkType::Ethernet, small, &[]);
    let frame = udp(&ETH, 2, 500);
    over.extend(record_header(
        1_767_268_801,
        0,
        frame.len() as u32,
        frame.len() as u32,
    ));
    over.extend(&frame);
    let (_, out, r) = run("caplen-over-snaplen", &over);
    let r = ok(&out, r);
    assert_eq!((r.capture.packets, r.capture.decoded_packets), (1, 1));
    assert!(!r.capture.truncated);
    assert_eq!(r.sizes.histogram, vec![(500, 1)]);
}

#[test]
fn invalid_sub_second_timestamps_are_clamped_and_counted() {
    let frame = udp(&ETH, 2, 100);
    let mut file = pcap(LinkType::Ethernet, WriterOptions::default(), &[]);
    for frac in [10, 1_000_000, 4_000_000_000, 20] {
        file.extend(record_header(
            1_767_268_800,
            frac,
            frame.len() as u32,
            frame.len() as u32,
        ));
        file.extend(&frame);
    }
    let (_, out, r) = run("bad-usec", &file);
    let r = ok(&out, r);
    assert_eq!(r.capture.packets, 4);
    assert_eq!(r.capture.bad_timestamps, 2);
    // Clamped to the last microsecond of the second, so the last record goes backwards.
    assert_eq!(r.capture.backwards_timestamps, 1);
    assert_eq!(
        r.capture.end.as_deref(),
        Some("2026-01-01T12:00:00.999999Z")
    );
    assert!(has_warning(
        &r,
        "2 records have an invalid sub-second timestamp (clamped)"
    ));
    // Nanosecond files: 10⁹ ns is out of range too.
    let mut w = PcapWriter::new(Vec::new(), Format::PcapNs, LinkType::Ethernet).unwrap();
    w.write_packet(T0, &frame).unwrap();
    let mut ns = w.finish().unwrap();
    ns.extend(record_header(
        1_767_268_800,
        1_000_000_000,
        frame.len() as u32,
        frame.len() as u32,
    ));
    ns.extend(&frame);
    let (_, out, r) = run("bad-nsec", &ns);
    let r = ok(&out, r);
    assert_eq!((r.capture.packets, r.capture.bad_timestamps), (2, 1));
}

#[test]
fn unknown_link_type_is_counted_and_exits_2() {
    let file = pcap(
        LinkType::Other(147),
        WriterOptions::default(),
        &ten_frames(),
    );
    let (path, out, r) = run("link147", &file);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("none of 10 packets could be decoded")
            && err.contains(&*path.to_string_lossy()),
        "{err}"
    );
    assert!(r.is_none(), "a run that decodes nothing writes no report");
    let r = library_report(&[&path.to_string_lossy()]);
    assert_eq!(r.capture.link_types, vec!["LINKTYPE_147".to_string()]);
    assert_eq!(r.capture.malformed_packets, 10);
    assert_eq!(
        r.capture
            .malformed_by_reason
            .get("unsupported_link_type_147"),
        Some(&10)
    );
    assert!(has_warning(&r, "10 of 10 packets could not be decoded"));
}

/// Ten good frames plus `bad`, analysed; the report.
fn with_one_bad(name: &str, bad: Vec<u8>) -> Report {
    let mut frames = ten_frames();
    frames.push((T0 + 200 * MS, bad));
    let (_, out, r) = run(
        name,
        &pcap(LinkType::Ethernet, WriterOptions::default(), &frames),
    );
    ok(&out, r)
}

#[test]
fn ihl_below_five_is_malformed_not_fatal() {
    let mut bad = udp(&ETH, 2, 100);
    bad[14] = 0x44; // IHL 4: a header shorter than its fixed part
    let r = with_one_bad("ihl4", bad);
    assert_eq!(r.capture.packets, 11);
    assert_eq!(r.capture.decoded_packets, 10);
    assert_eq!(
        r.capture.malformed_by_reason,
        [("bad_header_len_ip".to_string(), 1)].into()
    );
    assert!(has_warning(
        &r,
        "1 of 11 packets could not be decoded (see capture.malformed_by_reason)"
    ));
}

#[test]
fn ip_total_length_beyond_the_frame_uses_the_frame() {
    let mut bad = udp(&ETH, 2, 100);
    bad[16..18].copy_from_slice(&9000u16.to_be_bytes());
    let r = with_one_bad("iplen", bad);
    assert_eq!(r.capture.decoded_packets, 11);
    assert_eq!(
        r.capture.anomalies,
        [("ip_len_beyond_frame".to_string(), 1)].into()
    );
    // 5 × 1028 + 5 × 68 IP bytes of the good frames, 128 (not 9000) of the bad one.
    assert_eq!(r.traffic.bytes_in, 5 * 1028 + 5 * 68 + 128);
    assert_eq!(r.capture.malformed_packets, 0);
}

#[test]
fn udp_length_lies_are_anomalies_sized_by_ip() {
    let mut frames = ten_frames();
    for (i, claim) in [4000u16, 12, 3].into_iter().enumerate() {
        let mut bad = udp(&ETH, 2, 100);
        bad[38..40].copy_from_slice(&claim.to_be_bytes());
        frames.push((T0 + (200 + i as u64) * MS, bad));
    }
    let (_, out, r) = run(
        "udplen",
        &pcap(LinkType::Ethernet, WriterOptions::default(), &frames),
    );
    let r = ok(&out, r);
    assert_eq!(r.capture.decoded_packets, 13);
    assert_eq!(
        r.capture.anomalies,
        [("udp_length_mismatch".to_string(), 3)].into()
    );
    // The three liars count as 100-byte payloads, the size their IP length gives.
    assert_eq!(r.sizes.histogram, vec![(40, 5), (100, 3), (1000, 5)]);
}

#[test]
fn zero_length_frames_are_truncated_link_frames() {
    let mut file = pcap(LinkType::Ethernet, WriterOptions::default(), &ten_frames());
    file.extend(record_header(1_767_268_801, 0, 0, 0));
    file.extend(record_header(1_767_268_801, 1, 0, 60)); // cut to nothing by a snaplen of 0
    let (_, out, r) = run("zero-eth", &file);
    let r = ok(&out, r);
    assert_eq!((r.capture.packets, r.capture.decoded_packets), (12, 10));
    assert_eq!(
        r.capture.malformed_by_reason,
        [("truncated_link".to_string(), 2)].into()
    );
    assert!(!r.capture.truncated);
    assert_eq!(
        r.capture.end.as_deref(),
        Some("2026-01-01T12:00:01.000001Z")
    );
    // On raw IP only zero-length frames: nothing decodes, exit 2, counts still written.
    let mut raw = pcap(LinkType::Raw, WriterOptions::default(), &[]);
    for _ in 0..3 {
        raw.extend(record_header(1_767_268_801, 0, 0, 0));
    }
    let (path, out, r) = run("zero-raw", &raw);
    assert_eq!(out.status.code(), Some(2));
    assert!(r.is_none(), "a run that decodes nothing writes no report");
    let r = library_report(&[&path.to_string_lossy()]);
    assert_eq!(
        r.capture.malformed_by_reason,
        [("truncated_ip".to_string(), 3)].into()
    );
}

#[test]
fn timestamps_going_backwards_are_counted() {
    let mut frames = ten_frames();
    frames.swap(3, 7);
    frames[9].0 = T0 - 5_000 * MS; // before the first record
    let (_, out, r) = run(
        "backwards",
        &pcap(LinkType::Ethernet, WriterOptions::default(), &frames),
    );
    let r = ok(&out, r);
    // 70 ms → 40 ms, 30 ms after 60 ms, then −5 s after 80 ms: three steps back.
    assert_eq!(r.capture.backwards_timestamps, 3);
    assert!(has_warning(
        &r,
        "3 records have a timestamp earlier than the record before"
    ));
    assert_eq!(
        r.capture.start.as_deref(),
        Some("2026-01-01T11:59:55.000000Z")
    );
    assert_eq!(
        r.capture.end.as_deref(),
        Some("2026-01-01T12:00:00.080000Z")
    );
    assert_eq!(r.capture.decoded_packets, 10);
}

#[test]
fn pcapng_unknown_block_is_skipped() {
    let frames = ten_frames();
    let mut ng = ng_shb();
    ng.extend(ng_idb(1));
    ng.extend(ng_epb(0, frames[0].0, &frames[0].1));
    ng.extend(ng_block(0x0BAD_F00D, b"not a block anyone knows"));
    ng.extend(ng_block(0x0000_0005, &[0u8; 12])); // interface statistics, too short: ignored
    ng.extend(ng_epb(0, frames[1].0, &frames[1].1));
    let (_, out, r) = run("ng-unknown", &ng);
    let r = ok(&out, r);
    assert_eq!((r.capture.packets, r.capture.decoded_packets), (2, 2));
    assert!(!r.capture.truncated);
    assert!(
        r.capture.warnings.iter().all(|w| !w.contains("ng-unknown")),
        "{:?}",
        r.capture.warnings
    );
    // A block length that is not a multiple of 4: the reader skips 19 bytes and lands inside
    // the next block, whose "length" runs past the end of the file. Reading stops there.
    let mut bad = ng_shb();
    bad.extend(ng_idb(1));
    bad.extend(ng_epb(0, frames[0].0, &frames[0].1));
    let mut broken = ng_block(0x0BAD_F00D, &[0u8; 8]);
    broken[4] = 19;
    bad.extend(broken);
    bad.extend(ng_epb(0, frames[1].0, &frames[1].1));
    let (_, out, r) = run("ng-badlen", &bad);
    let r = ok(&out, r);
    assert_eq!(r.capture.packets, 1);
    assert!(r.capture.truncated);
    assert!(has_warning(
        &r,
        "ng-badlen.pcap: file ends in the middle of a record after 1 packets"
    ));
    // A packet block whose captured length runs past its own block: the file is not cut, the
    // block is corrupt, and the warning says so.
    let mut lie = ng_shb();
    lie.extend(ng_idb(1));
    lie.extend(ng_epb(0, frames[0].0, &frames[0].1));
    let mut epb = ng_epb(0, frames[1].0, &frames[1].1);
    epb[20..24].copy_from_slice(&5000u32.to_le_bytes());
    let epb_len = epb.len();
    lie.extend(epb);
    lie.extend(ng_epb(0, frames[2].0, &frames[2].1));
    let (_, out, r) = run("ng-caplen-lie", &lie);
    let r = ok(&out, r);
    assert_eq!(r.capture.packets, 1);
    assert!(r.capture.truncated);
    assert!(
        has_warning(
            &r,
            &format!("corrupt record after packet 1 ({epb_len} bytes claimed, content does not match); stopped reading")
        ),
        "{:?}",
        r.capture.warnings
    );
}

#[test]
fn pcapng_packet_on_an_undeclared_interface_is_skipped_and_warned() {
    let frames = ten_frames();
    let mut ng = ng_shb();
    ng.extend(ng_idb(1));
    for (i, (ts, f)) in frames.iter().enumerate() {
        let if_id = if i == 4 || i == 5 { 3 } else { 0 };
        ng.extend(ng_epb(if_id, *ts, f));
    }
    let (_, out, r) = run("ng-noiface", &ng);
    let r = ok(&out, r);
    assert_eq!((r.capture.packets, r.capture.decoded_packets), (8, 8));
    assert!(
        has_warning(
            &r,
            "2 pcapng packets name an interface that was never described; skipped"
        ),
        "{:?}",
        r.capture.warnings
    );
    // Packets before any interface description: all skipped, nothing to analyse.
    let mut none = ng_shb();
    none.extend(ng_epb(0, frames[0].0, &frames[0].1));
    let (path, out, _) = run("ng-noidb", &none);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&*path.to_string_lossy()), "{err}");
    assert!(err.contains("1 pcapng packets name an interface"), "{err}");
}

#[test]
fn pcapng_with_ethernet_and_sll2_interfaces() {
    let mut ng = ng_shb();
    ng.extend(ng_idb(1));
    ng.extend(ng_idb(276));
    for i in 0..10u8 {
        let (iface, link) = if i % 2 == 0 { (0, &ETH) } else { (1, &SLL2) };
        let size = if i < 5 { 1000 } else { 40 };
        ng.extend(ng_epb(
            iface,
            T0 + u64::from(i) * 10 * MS,
            &udp(link, 2 + i % 3, size),
        ));
    }
    let (_, out, r) = run("ng-two-links", &ng);
    let r = ok(&out, r);
    assert_eq!(
        r.capture.link_types,
        vec!["EN10MB".to_string(), "LINUX_SLL2".to_string()]
    );
    assert_eq!((r.capture.packets, r.capture.decoded_packets), (10, 10));
    assert_eq!(r.capture.malformed_packets, 0);
    assert_eq!(r.local.ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(r.sizes.histogram, vec![(40, 5), (1000, 5)]);
    assert_eq!(r.peers.contacted, 3);
}

#[test]
fn unusable_headers_exit_2_with_one_line_naming_the_file() {
    let header = pcap(LinkType::Ethernet, WriterOptions::default(), &[]);
    let mut shb_cut = ng_shb();
    shb_cut.truncate(20);
    let mut noise = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..4096 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        noise.push((x >> 16) as u8);
    }
    let cases: [(&str, &[u8]); 6] = [
        ("header-only", &header),
        ("header-cut", &header[..10]),
        ("magic-only", &header[..4]),
        ("two-bytes", &header[..2]),
        ("shb-cut", &shb_cut),
        ("noise", &noise),
    ];
    for (name, bytes) in cases {
        let path = tmp(&format!("{name}-in")).join(format!("{name}.pcap"));
        std::fs::write(&path, bytes).unwrap();
        let out = bin()
            .arg("analyze")
            .arg(&path)
            .arg("-o")
            .arg(tmp(name))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.len() < 200, "{name}: {err}");
        assert!(err.contains(&*path.to_string_lossy()), "{name}: {err}");
    }
    // A pcap header followed by a record claiming more bytes than the file has: no packets,
    // one line saying why (analyze.rs checks the exit code and the name).
    let fuzzed = crate::util::real("ndpi__fuzz-2021-10-13.pcap");
    let (out, _) = analyze("fuzz-one-line", &[&fuzzed]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "no packets in the capture (file ends in the middle of a record after 0 packets"
        ),
        "{err}"
    );
}

#[test]
fn timestamps_a_century_apart_finish_quickly() {
    // Two records 4,000,000,000 s (127 years) apart: the far one is held back (issue 14), so
    // the span is that of the first two; the timeline used to walk 4·10¹⁰ empty bins, and
    // then to keep 10⁶ bins (27.8 h) with the far record unbinned.
    let frames = [
        (1_000_000_000u64, udp(&ETH, 2, 1000)),
        (1_000_000_010, udp(&ETH, 3, 40)),
        (4_000_000_000 * 1_000_000_000, udp(&ETH, 2, 1000)),
    ];
    let started = std::time::Instant::now();
    let (_, out, r) = run(
        "century",
        &pcap(LinkType::Ethernet, WriterOptions::default(), &frames),
    );
    let r = ok(&out, r);
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert_eq!(r.capture.packets, 3);
    assert_eq!(r.capture.far_records, Some(1));
    assert!(
        has_warning(&r, "1 record lies more than 7 days from the rest of the capture (2096-10-02T07:06:40.000000Z"),
        "{:?}",
        r.capture.warnings
    );
    assert_eq!(
        r.capture.end.as_deref(),
        Some("1970-01-01T00:00:01.000000Z")
    );
}

#[test]
fn full_pair_table_reports_the_overflow() {
    // 60 sources, each sending two packets, into a table of 10 pairs.
    let frames: Vec<(u64, Vec<u8>)> = (0..120u64)
        .map(|i| (T0 + i * MS, udp(&ETH, 2 + (i % 60) as u8, 100)))
        .collect();
    let path = tmp("overflow-in").join("overflow.pcap");
    std::fs::write(
        &path,
        pcap(LinkType::Ethernet, WriterOptions::default(), &frames),
    )
    .unwrap();
    let (out, r) = analyze("overflow", &[&path.to_string_lossy(), "--max-pairs", "10"]);
    let r = ok(&out, r);
    assert_eq!(r.peers.overflow.packets, 100);
    assert_eq!(r.peers.overflow.ip_bytes, 100 * 128);
    // Estimated, but a sketch of 4096 registers counts 50 pairs exactly or nearly.
    assert!(
        (49..=51).contains(&r.peers.overflow.pairs),
        "{:?}",
        r.peers.overflow
    );
    assert!(
        has_warning(
            &r,
            &format!(
                "the address-pair table was full (--max-pairs 10): about {} more address pairs, 100 packets, were counted only in peers.overflow",
                r.peers.overflow.pairs
            )
        ),
        "{:?}",
        r.capture.warnings
    );
    assert_eq!(r.peers.contacted, 10);
}

#[test]
fn loopback_flows_a_day_long_stay_small() {
    // 64 loopback TCP flows (the most followed), each side sending at the start and 27.8 h
    // later, just inside the timeline's 10⁶ bins: a 17 KB file. With a dense vector of bins
    // per flow and side it took 1 GB; the bins are sparse now.
    let lo = Ipv4Fields {
        src: Ipv4Addr::LOCALHOST,
        dst: Ipv4Addr::LOCALHOST,
        ttl: 64,
        id: 1,
    };
    let mut frames = Vec::new();
    for t in [0, 99_990 * 1_000 * MS] {
        for flow in 0..64u16 {
            for (sport, dport) in [(10_000 + flow, 8902), (8902, 10_000 + flow)] {
                let tcp = TcpFields {
                    sport,
                    dport,
                    seq: 1,
                    ack: 1,
                    flags: 0x18,
                    window: 65_535,
                    mss: None,
                };
                let mut buf = Vec::new();
                build_tcp(&mut buf, &LinkHeader::None, &lo, &tcp, b"0123456789").unwrap();
                frames.push((T0 + t + u64::from(flow) * MS, buf));
            }
        }
    }
    let path = tmp("loopback-in").join("loopback.pcap");
    std::fs::write(
        &path,
        pcap(LinkType::Raw, WriterOptions::default(), &frames),
    )
    .unwrap();
    let (out, r) = analyze("loopback", &[&path.to_string_lossy()]);
    // Only loopback traffic to itself: nothing between hosts, but every frame decoded.
    let r = ok(&out, r);
    assert_eq!((r.capture.packets, r.capture.decoded_packets), (256, 256));
    assert!(has_warning(&r, "no local host could be inferred"));
    // Peak memory, where GNU time is there to measure it.
    if std::path::Path::new("/usr/bin/time").exists() {
        let timed = std::process::Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(env!("CARGO_BIN_EXE_peerscope"))
            .arg("analyze")
            .arg(&path)
            .arg("-o")
            .arg(tmp("loopback-timed"))
            .output()
            .unwrap();
        let err = stderr(&timed);
        let max_rss_kb: u64 = err.lines().last().unwrap().trim().parse().unwrap();
        assert!(max_rss_kb < 100_000, "max RSS {max_rss_kb} kB");
    }
}

/// An interface description with an `if_tsoffset` option (code 14, a signed 64-bit number of
/// seconds; pcapng §4.2) and microsecond timestamps.
fn ng_idb_offset(link: u16, offset_s: i64) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&65_535u32.to_le_bytes());
    body.extend_from_slice(&14u16.to_le_bytes());
    body.extend_from_slice(&8u16.to_le_bytes());
    body.extend_from_slice(&offset_s.to_le_bytes());
    body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    ng_block(1, &body)
}

#[test]
fn issue16_absurd_if_tsoffset_is_ignored_counted_and_warned() {
    // A huge negative offset used to overflow a subtraction (a panic in a debug build) and,
    // in release, to give a capture starting in 1677 with zero rates and no warning.
    let mut ng = ng_shb();
    ng.extend(ng_idb_offset(
        1,
        -9_000_000_000_000_000_000 / 1_000_000_000 * 1_000,
    ));
    for i in 0..4u64 {
        let size = if i % 2 == 0 { 1000 } else { 40 };
        ng.extend(ng_epb(
            0,
            T0 + i * 10 * MS,
            &udp(&ETH, 2 + (i % 2) as u8, size),
        ));
    }
    let (_, out, r) = run("tsoffset", &ng);
    let r = ok(&out, r);
    assert_eq!(r.capture.packets, 4);
    assert_eq!(r.capture.bad_timestamps, 4, "{:?}", r.capture.warnings);
    assert!(
        has_warning(&r, "if_tsoffset of -9000000000000 s"),
        "{:?}",
        r.capture.warnings
    );
    assert!(stderr(&out).contains("if_tsoffset"), "{}", stderr(&out));
    // The span is the packets' own: 30 ms, starting when they were captured.
    assert!(
        (r.capture.duration_s - 0.03).abs() < 1e-9,
        "{}",
        r.capture.duration_s
    );
    assert!(r
        .capture
        .start
        .as_deref()
        .is_some_and(|s| !s.starts_with("16")));
    assert!(r.traffic.download_kbps > 0.0);
}

#[test]
fn issue16_plausible_if_tsoffset_shifts_the_timestamps() {
    let mut ng = ng_shb();
    ng.extend(ng_idb_offset(1, 3_600));
    ng.extend(ng_epb(0, T0, &udp(&ETH, 2, 1000)));
    ng.extend(ng_epb(0, T0 + 10 * MS, &udp(&ETH, 3, 40)));
    let (_, out, r) = run("tsoffset-ok", &ng);
    let r = ok(&out, r);
    assert_eq!(r.capture.bad_timestamps, 0);
    let plain = chrono::DateTime::from_timestamp((T0 / 1_000_000_000) as i64 + 3_600, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert_eq!(r.capture.start.as_deref(), Some(plain.as_str()));
}

/// Issue 14: a record years away from the rest (a reset clock) neither stretches the span nor
/// is lost: it is held back, counted and named in a warning — whether it comes last or first
/// (then most records are far from the first one, and the file is read again keeping theirs).
#[test]
fn issue14_a_record_years_away_is_held_back_not_spanned() {
    const YEAR: u64 = 365 * 86_400 * 1_000_000_000;
    for (name, far_at) in [("far-last", 10usize), ("far-first", 0)] {
        let mut frames = ten_frames();
        frames.insert(far_at, (T0 - 3 * YEAR, udp(&ETH, 2, 1000)));
        if far_at == 0 {
            frames[0].0 = T0 - 3 * YEAR;
        } else {
            frames[far_at].0 = T0 + 3 * YEAR;
        }
        let bytes = pcap(LinkType::Ethernet, WriterOptions::default(), &frames);
        let (_, out, report) = run(name, &bytes);
        let r = ok(&out, report);
        assert_eq!(r.capture.packets, 11, "{name}");
        assert_eq!(r.capture.far_records, Some(1), "{name}");
        assert!(
            (r.capture.duration_s - 0.09).abs() < 1e-6,
            "{name}: {}",
            r.capture.duration_s
        );
        assert!(
            has_warning(&r, "lies more than 7 days from the rest"),
            "{name}: {:?}",
            r.capture.warnings
        );
        assert!(
            stderr(&out).contains("1 record lies more than 7 days"),
            "{name}"
        );
        assert_eq!(r.capture.passes, if far_at == 0 { 2 } else { 1 }, "{name}");
    }
}

/// The nDPI Zoom capture is two captures 3.3 years apart (700 packets in 2019, 81 in 2023):
/// the report spans the 2019 session, not 10⁸ s.
#[test]
fn issue14_zoom_capture_spans_its_session_not_three_years() {
    let path = crate::util::real("ndpi__zoom.pcap");
    let (out, report) = analyze("zoom-span", &[&path]);
    let r = ok(&out, report);
    assert_eq!(r.capture.far_records, Some(81));
    assert!(r.capture.duration_s < 60.0, "{}", r.capture.duration_s);
    assert!(r
        .capture
        .start
        .as_deref()
        .is_some_and(|s| s.starts_with("2019-09-26")));
}
