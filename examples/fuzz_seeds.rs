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
//! prefix cut in the middle of a record is a fine seed too).

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
    println!(
        "seeds: {frames} frames, {dns} DNS messages in {}",
        out.display()
    );
    Ok(())
}
