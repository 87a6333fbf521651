//! A capture in which every packet comes from a different address, for the memory bound of the
//! pair table (run by `scripts/memory.sh`):
//!
//! ```text
//! cargo run --release --example many_peers -- OUT.pcap [PACKETS]     (default 1,000,000)
//! ```
//!
//! Raw-IP (LINKTYPE 101) IPv6 UDP datagrams from 2001:db8:1::/48 + n to 2001:db8::1, 10,000
//! per second, payloads alternating 400 and 60 bytes (video and control). IPv6 because the
//! IPv4 documentation ranges hold fewer than a million addresses; the frame builders of
//! `peerscope::sim::frame` write IPv4 only, so the headers are written here (RFC 8200 §3,
//! RFC 768; the UDP checksum is left zero, which nothing here verifies).

use std::io::BufWriter;

use anyhow::Context;
use peerscope::sim::pcap_writer::{Format, LinkType, PcapWriter};

/// 2026-01-01T12:00:00Z.
const T0: u64 = 1_767_268_800_000_000_000;
/// 10,000 packets per second.
const GAP_NS: u64 = 100_000;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .context("usage: many_peers OUT.pcap [PACKETS]")?;
    let packets: u64 = match args.next() {
        Some(n) => n.parse().context("PACKETS must be a number")?,
        None => 1_000_000,
    };
    let file = std::fs::File::create(&out).with_context(|| format!("cannot create {out}"))?;
    let mut w = PcapWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        Format::Pcap,
        LinkType::Raw,
    )?;
    let dst: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut frame = Vec::with_capacity(40 + 8 + 400);
    for n in 0..packets {
        let payload: u16 = if n % 2 == 0 { 400 } else { 60 };
        let udp_len = 8 + payload;
        frame.clear();
        // Version 6, traffic class 0, flow label 0; payload length; next header UDP; hops.
        frame.extend_from_slice(&[0x60, 0, 0, 0]);
        frame.extend_from_slice(&udp_len.to_be_bytes());
        frame.extend_from_slice(&[17, 57]);
        // Source 2001:db8:1::/48 with the packet number in the low 64 bits.
        frame.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]);
        frame.extend_from_slice(&(n + 1).to_be_bytes());
        frame.extend_from_slice(&dst);
        frame.extend_from_slice(&4000u16.to_be_bytes());
        frame.extend_from_slice(&8000u16.to_be_bytes());
        frame.extend_from_slice(&udp_len.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.resize(frame.len() + usize::from(payload), 0xab);
        w.write_packet(T0 + n * GAP_NS, &frame)?;
    }
    w.finish()?;
    println!("{out}: {packets} packets from {packets} addresses");
    Ok(())
}
