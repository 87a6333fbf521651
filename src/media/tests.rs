//! [`FeedTracker`] end to end: HTTP responses and raw streams cut into TCP segments (reordered,
//! retransmitted, lost, cut by a snaplen), over the ffmpeg-made stream in tests/data/media
//! whose truth PROVENANCE.md gives.

use super::ts::{tests::packet, TS_PACKET};
use super::*;

/// tests/data/media/testsrc-532k.ts and its truth (PROVENANCE.md).
fn ffmpeg_ts() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/media/testsrc-532k.ts"
    );
    std::fs::read(path).unwrap()
}
const TRUTH_PACKETS: u64 = 1523;
const TRUTH_PCR_SPAN_S: f64 = 4.291_489;
const TRUTH_RATE_KBPS: f64 = 532.0;

const MSS: usize = 1448;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One connection's segments: SYN, SYN-ACK, request, then `response` in MSS segments, each
/// 1 ms apart. Returns (to_player, seq, flags, payload) in send order.
struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    segs: Vec<(bool, u32, u8, Vec<u8>)>,
}

fn connection(client_port: u16, request: &[u8], response: &[u8], isn_s: u32) -> Conn {
    let isn_c = 1_000u32;
    let mut segs = vec![
        (false, isn_c, flags::SYN, vec![]),
        (true, isn_s, flags::SYN | flags::ACK, vec![]),
        (false, isn_c + 1, flags::ACK, request.to_vec()),
    ];
    let mut seq = isn_s.wrapping_add(1);
    for chunk in response.chunks(MSS) {
        segs.push((true, seq, flags::ACK, chunk.to_vec()));
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    Conn {
        client: addr(client_port),
        server: addr(8902),
        segs,
    }
}

fn play(t: &mut FeedTracker, c: &Conn, t0_ns: i64, cut_to: Option<usize>) {
    for (i, (to_player, seq, fl, payload)) in c.segs.iter().enumerate() {
        let captured = match cut_to {
            Some(n) => &payload[..payload.len().min(n)],
            None => &payload[..],
        };
        t.segment(&FeedSegment {
            ts_ns: t0_ns + i as i64 * 1_000_000,
            client: c.client,
            server: c.server,
            to_player: *to_player,
            seq: *seq,
            flags: *fl,
            payload: captured,
            wire_payload_len: payload.len() as u32,
        });
    }
}

fn http_response(ctype: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

const GET: &[u8] = b"GET /ace/getstream?id=abc HTTP/1.1\r\nHost: 127.0.0.1:6878\r\n\r\n";

fn assert_clock(s: &FeedSummary) {
    assert_eq!(s.container, Container::MpegTs);
    assert_eq!(s.clock, Some(Clock::MpegTsPcr));
    let rate = s.nominal_kbps.unwrap();
    assert!(
        (rate - TRUTH_RATE_KBPS).abs() / TRUTH_RATE_KBPS < 0.01,
        "rate {rate}"
    );
    let span = s.pcr_span_s.unwrap();
    assert!((span - TRUTH_PCR_SPAN_S).abs() < 0.001, "span {span}");
}

#[test]
fn ffmpeg_stream_over_http_reordered_and_retransmitted() {
    let ts = ffmpeg_ts();
    let mut c = connection(
        40_000,
        GET,
        &http_response("video/MP2T", &ts),
        u32::MAX - 5000,
    );
    // Swap segments 10 and 11, and send segment 20 twice.
    c.segs.swap(10, 11);
    let dup = c.segs[20].clone();
    c.segs.insert(22, dup);
    let mut t = FeedTracker::new();
    play(&mut t, &c, 1_700_000_000_000_000_000, None);
    let s = t.finish();
    assert_clock(&s);
    assert_eq!(s.ts.packets, TRUTH_PACKETS);
    assert_eq!((s.ts.cc_errors, s.lost_ts_packets), (0, 0));
    assert_eq!(s.expected_ts_packets, TRUTH_PACKETS);
    assert_eq!(s.ts.null_packets, 25);
    assert_eq!(s.body_bytes, ts.len() as u64);
    assert_eq!(s.reassembly.out_of_order_segments, 1);
    assert_eq!(s.reassembly.retransmitted_bytes, MSS as u64);
    assert_eq!(s.reassembly.gaps, 0);
    let http = s.http.clone().unwrap();
    assert_eq!(http.method.as_deref(), Some("GET"));
    assert_eq!(http.path.as_deref(), Some("/ace/getstream?id=abc"));
    assert_eq!(http.status, Some(200));
    assert_eq!(http.content_type.as_deref(), Some("video/MP2T"));
    let prog = s.programme.clone().unwrap();
    assert_eq!(prog.pcr_pid, Some(0x100));
    assert_eq!(prog.streams, vec![(0x100, 0x1B), (0x101, 0x0F)]);
    // 100 frames at 25 fps: 3.96 s from the first PTS to the last (decode order may end a
    // frame or two early with B-frames).
    let pts = s.pts_span_s.unwrap();
    assert!((3.8..=3.97).contains(&pts), "pts span {pts}");
    // The series ends at the whole span and never goes back.
    let last = s.media_time.last().unwrap();
    assert!((last.media_s - TRUTH_PCR_SPAN_S).abs() < 0.001);
    assert!(s
        .media_time
        .windows(2)
        .all(|w| w[0].media_s <= w[1].media_s));
    assert!(s.media_time.windows(2).all(|w| w[0].ts_ns < w[1].ts_ns));
    assert_eq!(s.media_time_bin_ns, MEDIA_BIN_NS);
    // The head and the first body bytes share segment 3 (1 ms per segment from t0).
    assert_eq!(s.first_body_ns, Some(1_700_000_000_000_000_000 + 3_000_000));
    assert!(s.first_pcr_ns >= s.first_body_ns);
    let video = s.pids.iter().find(|p| p.pid == 0x100).unwrap();
    assert_eq!(video.pcrs, 216);
}

#[test]
fn chunked_http_and_raw_tcp_give_the_same_clock() {
    let ts = ffmpeg_ts();
    let mut body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in ts.chunks(5000) {
        body.extend(format!("{:x}\r\n", chunk.len()).bytes());
        body.extend_from_slice(chunk);
        body.extend(b"\r\n");
    }
    body.extend(b"0\r\n\r\n");
    let mut t = FeedTracker::new();
    play(&mut t, &connection(40_001, GET, &body, 7), 0, None);
    let s = t.finish();
    assert_clock(&s);
    assert_eq!(s.body_bytes, ts.len() as u64);
    assert_eq!(s.http.unwrap().content_type, None);

    // Raw TCP, joined in the middle of a packet: no SYN, no request.
    let mut c = connection(40_002, b"", &ts[1000..], 99);
    c.segs.drain(..3);
    let mut t = FeedTracker::new();
    play(&mut t, &c, 0, None);
    let s = t.finish();
    assert_eq!(s.raw_connections, 1);
    assert_eq!(s.http, None);
    assert_eq!(s.container, Container::MpegTs);
    assert_eq!(s.ts.skipped_bytes, (TS_PACKET - 1000 % TS_PACKET) as u64);
    assert_eq!(s.ts.cc_errors, 0);
}

#[test]
fn lost_segment_is_a_gap_whose_packets_are_counted() {
    let ts = ffmpeg_ts();
    let mut c = connection(40_003, GET, &http_response("video/mp2t", &ts), 0);
    let lost = c.segs.remove(40); // never retransmitted
    let mut t = FeedTracker::new();
    play(&mut t, &c, 0, None);
    let s = t.finish();
    assert_eq!(s.reassembly.gaps, 1);
    assert_eq!(s.reassembly.gap_bytes, lost.3.len() as u64);
    // The packet slots the lost bytes touched: 1448 bytes over 188-byte packets touch 8 or 9.
    let slots = s.ts.lost_in_gaps;
    assert!((8..=9).contains(&slots), "{slots}");
    assert_eq!(s.ts.packets + slots, TRUTH_PACKETS);
    assert_eq!(s.lost_ts_packets, slots);
    assert_eq!(s.ts.cc_errors, 0, "the gap is not counted twice");
    // Stream offsets stay exact across the gap: the rate is unchanged.
    assert_clock(&s);
}

#[test]
fn snaplen_cut_payload_is_never_parsed() {
    let ts = ffmpeg_ts();
    let c = connection(40_004, GET, &http_response("video/mp2t", &ts), 0);
    let mut t = FeedTracker::new();
    play(&mut t, &c, 0, Some(1000));
    let s = t.finish();
    let segs = ts.len().div_ceil(MSS) as u64;
    assert!(s.reassembly.snaplen_cut_bytes > 0);
    assert_eq!(s.reassembly.gap_bytes, s.reassembly.snaplen_cut_bytes);
    assert!(s.reassembly.gaps >= segs - 2);
    // Only whole captured packets were parsed: at most 5 per 1000 captured bytes.
    assert!(s.ts.packets <= segs * 5);
    assert_eq!(s.ts.cc_errors, 0);
    assert_eq!(
        s.ts.packets + s.ts.lost_in_gaps,
        s.expected_ts_packets + s.ts.duplicates
    );
}

#[test]
fn injected_ts_losses_are_counted_by_the_counters() {
    let ts = ffmpeg_ts();
    // Drop 5 audio packets (PID 0x101) far apart, and duplicate one video packet.
    let mut packets: Vec<&[u8]> = ts.chunks(TS_PACKET).collect();
    let audio: Vec<usize> = (0..packets.len())
        .filter(|&i| packets[i][1] & 0x1F == 0x01 && packets[i][2] == 0x01)
        .collect();
    for k in [50, 40, 30, 20, 10] {
        packets.remove(audio[k]);
    }
    let dup = packets[300];
    packets.insert(300, dup);
    let body: Vec<u8> = packets.concat();
    let mut t = FeedTracker::new();
    play(&mut t, &connection(40_005, GET, &body, 0), 0, None);
    let s = t.finish();
    assert_eq!((s.ts.cc_errors, s.ts.lost_cc, s.lost_ts_packets), (5, 5, 5));
    assert_eq!(s.ts.duplicates, u64::from(dup[3] & 0x10 != 0));
    assert_eq!(s.expected_ts_packets, TRUTH_PACKETS);
    let a = s.pids.iter().find(|p| p.pid == 0x101).unwrap();
    assert_eq!((a.cc_errors, a.lost), (5, 5));
    // The lost packets' slots still count in the rate.
    assert_clock(&s);
}

#[test]
fn hls_playlist_and_segments_on_keep_alive() {
    let ts = ffmpeg_ts();
    let cut = 800 * TS_PACKET;
    let playlist =
        b"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:2.1,\nseg0.ts\n#EXTINF:2.2,\nseg1.ts\n";
    let mut resp = http_response("application/vnd.apple.mpegurl", playlist);
    resp.extend(http_response("video/mp2t", &ts[..cut]));
    resp.extend(http_response("video/mp2t", &ts[cut..]));
    let req = b"GET /ace/manifest.m3u8 HTTP/1.1\r\n\r\nGET /seg0.ts HTTP/1.1\r\n\r\nGET /seg1.ts HTTP/1.1\r\n\r\n";
    let mut t = FeedTracker::new();
    play(&mut t, &connection(40_006, req, &resp, 0), 0, None);
    let s = t.finish();
    assert_eq!(s.container, Container::Hls);
    assert_eq!(s.http_requests, 3);
    assert_eq!(s.http_responses, 3);
    assert_eq!(
        s.containers,
        vec![
            (Container::MpegTs, ts.len() as u64),
            (Container::Hls, playlist.len() as u64)
        ]
    );
    assert_eq!(s.clock, Some(Clock::MpegTsPcr));
    assert_eq!(s.ts.cc_errors, 0);
    let rate = s.nominal_kbps.unwrap();
    assert!((rate - TRUTH_RATE_KBPS).abs() / TRUTH_RATE_KBPS < 0.01);
    assert_eq!(s.http.unwrap().path.as_deref(), Some("/ace/manifest.m3u8"));
}

#[test]
fn reconnect_continues_one_media_timeline() {
    let ts = ffmpeg_ts();
    let cut = 700 * TS_PACKET;
    let mut t = FeedTracker::new();
    let a = connection(40_007, GET, &http_response("video/mp2t", &ts[..cut]), 5);
    let b = connection(40_008, GET, &http_response("video/mp2t", &ts[cut..]), 9);
    play(&mut t, &a, 0, None);
    play(&mut t, &b, 10_000_000_000, None);
    let s = t.finish();
    assert_eq!(s.connections, 2);
    assert_eq!(s.pcr_discontinuities, 0);
    let media = s.media_time_s.unwrap();
    assert!((media - TRUTH_PCR_SPAN_S).abs() < 0.001, "{media}");
    // The span excludes the time between the two connections' PCRs (one PCR interval).
    let span = s.pcr_span_s.unwrap();
    assert!(
        span < TRUTH_PCR_SPAN_S && span > TRUTH_PCR_SPAN_S - 0.05,
        "{span}"
    );
    let rate = s.nominal_kbps.unwrap();
    assert!((rate - TRUTH_RATE_KBPS).abs() / TRUTH_RATE_KBPS < 0.01);
}

#[test]
fn other_containers_are_named_without_a_clock() {
    for (body, want) in [
        (&b"FLV\x01\x05\0\0\0\x09 flv body"[..], Container::Flv),
        (
            &[
                0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62,
                0xCE, 0x6C, 1, 2, 3,
            ][..],
            Container::Asf,
        ),
        (&b"\0\0\0\x18ftypmp42...."[..], Container::Mp4),
        (&b"hello"[..], Container::Unknown),
    ] {
        let mut t = FeedTracker::new();
        let req = b"GET /tv HTTP/1.1\r\n\r\n";
        play(
            &mut t,
            &connection(
                40_010,
                req,
                &http_response("application/octet-stream", body),
                0,
            ),
            0,
            None,
        );
        let s = t.finish();
        assert_eq!(s.container, want);
        assert_eq!(s.clock, None);
        assert_eq!(s.nominal_kbps, None);
        assert_eq!(s.body_bytes, body.len() as u64);
    }
}

#[test]
fn connections_are_capped_and_closed_ones_retired() {
    let mut t = FeedTracker::new();
    let pkt: Vec<u8> = (0..3)
        .flat_map(|cc| packet(0x100, cc, false, None, false, Some(&[0; 184])))
        .collect();
    for port in 0..(MAX_CONNECTIONS as u16 + 10) {
        let c = connection(41_000 + port, b"", &pkt, 0);
        play(&mut t, &c, 0, None);
    }
    let s = t.finish();
    assert_eq!(s.connections, MAX_CONNECTIONS as u64);
    assert_eq!(s.connections_dropped, 10);
    assert_eq!(s.segments_dropped, 10 * 3);

    // Closed connections make room.
    let mut t = FeedTracker::new();
    for port in 0..(MAX_CONNECTIONS as u16 + 10) {
        let mut c = connection(42_000 + port, b"", &pkt, 0);
        let end = 1u32 + pkt.len() as u32;
        c.segs.push((true, end, flags::FIN | flags::ACK, vec![]));
        c.segs.push((false, 1_001, flags::FIN | flags::ACK, vec![]));
        play(&mut t, &c, 0, None);
    }
    let s = t.finish();
    assert_eq!(s.connections, MAX_CONNECTIONS as u64 + 10);
    assert_eq!(s.connections_dropped, 0);
    assert_eq!(s.ts.packets, 3 * (MAX_CONNECTIONS as u64 + 10));
    assert_eq!(s.ts.cc_errors, 0);
}

#[test]
fn media_series_is_bounded() {
    let mut clock = FeedClock::default();
    let mut pcr = 0u64;
    // A PCR every 10 ms for 2 hours of wall time.
    for k in 0..720_000i64 {
        clock.pcr(k * 10_000_000, pcr, false);
        pcr += PCR_HZ / 100;
    }
    assert!(clock.points.len() <= MEDIA_POINTS_MAX);
    assert_eq!(clock.bin_ns, 2 * MEDIA_BIN_NS);
    let last = clock.points.last().unwrap();
    assert!((last.media_s - 7199.99).abs() < 1e-6);
    assert!(clock
        .points
        .windows(2)
        .all(|w| w[1].ts_ns - w[0].ts_ns >= clock.bin_ns / 2));
}
