//! Seed corpora for the fuzz targets in `fuzz/`, cut from capture files (run by
//! `scripts/fuzz.sh`, not by hand):
//!
//! ```text
//! cargo run --example fuzz_seeds -- OUT_DIR CAPTURE...
//! ```
//!
//! writes `OUT_DIR/decode_frame/` (distinct frames of each capture, prefixed as
//! `peerscope::harness::decode_frame` expects), `OUT_DIR/dns_answers/` (UDP payloads from port
//! 53) and `OUT_DIR/read_capture/` (each capture whole when small, else its first 32 KiB: a
//! prefix cut in the middle of a record is a fine seed too), and `OUT_DIR/media_feed/`
//! (player connections carrying the start of the bundled MPEG-TS, tests/data/media: over
//! HTTP with a length, chunked, raw with reordering and a snaplen cut).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use peerscope::decode::{self, Decoded};
use peerscope::harness;
use peerscope::source::CaptureFile;

/// Most frame seeds taken from one capture.
const FRAMES_PER_FILE: usize = 64;
/// Most DNS seeds taken from one capture.
const DNS_PER_FILE: usize = 32;
/// Captures larger than this are cut for the file-reading corpus.
const CAPTURE_SEED_BYTES: usize = 32 * 1024;

/// FNV-1a, for stable seed names without a hashing dependency.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn write_seed(dir: &Path, data: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(format!("{:016x}", fnv(data)));
    std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .context("usage: fuzz_seeds OUT_DIR CAPTURE...")?;
    let out = Path::new(&out);
    let dirs = ["decode_frame", "dns_answers", "read_capture"].map(|t| out.join(t));
    for dir in &dirs {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let [frames_dir, dns_dir, capture_dir] = &dirs;
    let (mut frames, mut dns) = (0usize, 0usize);
    for path in args {
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
        write_seed(capture_dir, &bytes[..bytes.len().min(CAPTURE_SEED_BYTES)])?;
        let Ok(mut file) = CaptureFile::open(&path) else {
            continue;
        };
        let mut seen = HashSet::new();
        let (mut file_frames, mut file_dns) = (0, 0);
        let mut result = Ok(());
        while file.next_packet(|raw| {
            if result.is_err() {
                return;
            }
            // One seed per distinct frame length: the frames of a flow differ in little else.
            if file_frames < FRAMES_PER_FILE && seen.insert((raw.link_type, raw.data.len())) {
                if let Some(input) = harness::frame_input(&raw) {
                    result = write_seed(frames_dir, &input);
                    file_frames += 1;
                }
            }
            if let Decoded::Packet(p) = decode::decode(&raw) {
                if p.is_udp() && p.sport == 53 && file_dns < DNS_PER_FILE {
                    result = write_seed(dns_dir, p.payload);
                    file_dns += 1;
                }
            }
        }) {}
        result?;
        frames += file_frames;
        dns += file_dns;
    }
    let feeds = media_seeds(&out.join("media_feed"))?;
    println!(
        "seeds: {frames} frames, {dns} DNS messages, {feeds} player feeds in {}",
        out.display()
    );
    Ok(())
}

/// Bytes of the bundled TS that each player-feed seed carries.
const MEDIA_SEED_BYTES: usize = 24 * 1024;

/// Player-feed seeds for `peerscope::harness::media_feed`; returns how many.
fn media_seeds(dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/media/testsrc-532k.ts"
    );
    let ts = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    let ts = &ts[..ts.len().min(MEDIA_SEED_BYTES)];
    const SYN: u8 = 0x02;
    const FIN: u8 = 0x01;
    let get = b"GET /ace/getstream?id=1 HTTP/1.1\r\nHost: 127.0.0.1:6878\r\n\r\n";
    let mut with_length = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {}\r\n\r\n",
        ts.len()
    )
    .into_bytes();
    with_length.extend_from_slice(ts);
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for c in ts.chunks(3000) {
        chunked.extend(format!("{:x}\r\n", c.len()).bytes());
        chunked.extend_from_slice(c);
        chunked.extend(b"\r\n");
    }
    chunked.extend(b"0\r\n\r\n");
    let mut written = 0;
    for (conn, body) in [(0u8, &with_length), (1, &chunked)] {
        let mut segs: Vec<harness::SeedSegment> = vec![
            (conn, false, SYN, 0, &[], 0),
            (conn, true, SYN, 0, &[], 0),
            (conn, false, 0, 0, get, 0),
        ];
        segs.extend(body.chunks(1448).map(|c| (conn, true, 0, 0, c, 0)));
        segs.push((conn, true, FIN, 0, &[], 0));
        write_seed(dir, &harness::media_feed_input(&segs))?;
        written += 1;
    }
    // Raw TCP, joined mid-stream: two segments swapped, one retransmitted, one cut.
    let parts: Vec<&[u8]> = ts.chunks(1000).collect();
    let mut segs: Vec<harness::SeedSegment> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        match i {
            3 => segs.push((2, true, 0, 1000, p, 0)),
            4 => segs.push((2, true, 0, -2000, p, 0)),
            7 => segs.push((2, true, 0, 0, &p[..500], 125)),
            9 => {
                segs.push((2, true, 0, 0, p, 0));
                segs.push((2, true, 0, -1000, p, 0));
            }
            _ => segs.push((2, true, 0, 0, p, 0)),
        }
    }
    write_seed(dir, &harness::media_feed_input(&segs))?;
    Ok(written + 1)
}
