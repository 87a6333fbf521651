//! Micro-benchmarks of the per-packet path: reading records, decoding frames, feeding the flow
//! table. Run with `cargo bench`; the whole-program comparison with cat, tcpdump and tshark is
//! `scripts/bench.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peerscope::decode::{decode, Decoded};
use peerscope::flow::{Table, TableConfig};
use peerscope::sim::{generate, Link, SimConfig};
use peerscope::source::CaptureFile;

/// A frame copied out of the capture: timestamp, link type, original length, bytes.
type Frame = (peerscope::time::Timestamp, u16, u32, Vec<u8>);

/// A generated SopCast-like capture held in memory, and its frames.
fn capture() -> (Vec<u8>, Vec<Frame>) {
    let cfg = SimConfig {
        seed: 7,
        link: Link::Sll2,
        duration_s: 120.0,
        stream_rate_kbps: 2000.0,
        ..SimConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&cfg, &mut bytes).unwrap();
    let mut frames = Vec::new();
    let mut file =
        CaptureFile::from_reader("bench", Box::new(Cursor::new(bytes.clone())), None).unwrap();
    while file.next_packet(|p| frames.push((p.ts, p.link_type, p.orig_len, p.data.to_vec()))) {}
    (bytes, frames)
}

fn benches(c: &mut Criterion) {
    let (bytes, frames) = capture();
    // The reader needs a 'static input; a benchmark may keep its capture for good.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let raws: Vec<peerscope::source::RawPacket<'_>> = frames
        .iter()
        .map(|(ts, lt, orig, data)| peerscope::source::RawPacket {
            ts: *ts,
            link_type: *lt,
            orig_len: *orig,
            data,
        })
        .collect();
    let mut group = c.benchmark_group("per_packet");
    group.throughput(Throughput::Elements(raws.len() as u64));

    group.bench_function("read_records", |b| {
        b.iter(|| {
            let mut file =
                CaptureFile::from_reader("bench", Box::new(Cursor::new(bytes)), None).unwrap();
            let mut n = 0u64;
            while file.next_packet(|p| n += p.data.len() as u64) {}
            black_box(n)
        })
    });

    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for raw in &raws {
                if let Decoded::Packet(p) = decode(raw) {
                    n += u64::from(p.ip_len);
                }
            }
            black_box(n)
        })
    });

    let packets: Vec<_> = raws
        .iter()
        .filter_map(|raw| match decode(raw) {
            Decoded::Packet(p) => Some(p),
            _ => None,
        })
        .collect();
    group.bench_function("flow_table_ingest", |b| {
        b.iter(|| {
            let mut table = Table::new(TableConfig::default());
            for p in &packets {
                table.ingest(p);
            }
            black_box(table.finish().pairs.len())
        })
    });
    group.finish();
}

criterion_group!(hot_path, benches);
criterion_main!(hot_path);
