//! Streaming: raw frames → decode → flow table, one frame at a time ([`Analyzer`], for live
//! captures and the single-threaded pass) or on two threads (reading and decoding on one,
//! the flow table on the other). Both paths turn a frame into the same items, so both give
//! the same table by construction.

use std::net::IpAddr;

use super::{AnalysisConfig, AnalysisError};
use crate::decode::{self, Decoded, Malformed, Packet};
use crate::flow::{Finished, Live, Table};
use crate::identify::{Findings, Identifier};
use crate::media::{FeedSegment, FeedSummary, FeedTracker};
use crate::source::filter::Filter;
use crate::source::{Merged, RawPacket};
use crate::time::Timestamp;

/// What one pass over the packets gives.
#[derive(Debug)]
pub struct Pass {
    /// The finished flow table.
    pub fin: Finished,
    /// What application identification found (it reads payloads on the decoding side).
    pub findings: Findings,
    /// The player feed's container and clock (`None` when no segment reached a player port).
    pub feed: Option<FeedSummary>,
    /// What the capture filter said.
    pub filter_warnings: Vec<String>,
}

/// The player feed: loopback TCP to or from a player port, put back in order and parsed on
/// the decoding side (it needs the payload).
#[derive(Clone)]
struct Feed {
    ports: Vec<u16>,
    tracker: FeedTracker,
    segments: u64,
}

impl Feed {
    fn new(cfg: &AnalysisConfig) -> Self {
        Feed {
            ports: cfg.table.player_ports.clone(),
            tracker: FeedTracker::new(),
            segments: 0,
        }
    }

    #[inline]
    fn offer(&mut self, p: &Packet<'_>) {
        if !matches!(p.transport, crate::decode::Transport::Tcp { .. })
            || !p.src.is_loopback()
            || !p.dst.is_loopback()
        {
            return;
        }
        let Some(&port) = self
            .ports
            .iter()
            .find(|&&port| p.sport == port || p.dport == port)
        else {
            return;
        };
        if let Some(seg) = FeedSegment::from_packet(p, port) {
            self.segments += 1;
            self.tracker.segment(&seg);
        }
    }

    fn finish(self) -> Option<FeedSummary> {
        (self.segments > 0).then(|| self.tracker.finish())
    }
}

/// Packets between two calls of a pass's progress tick.
pub(crate) const TICK_PACKETS: u64 = 65_536;

pub(crate) fn compile_filter(cfg: &AnalysisConfig) -> Result<Option<Filter>, AnalysisError> {
    cfg.filter
        .as_deref()
        .map(|expr| Filter::new(expr).map_err(AnalysisError::Filter))
        .transpose()
}

/// Streams frames into a flow table.
pub struct Analyzer {
    table: Table,
    filter: Option<Filter>,
    ident: Identifier,
    feed: Feed,
    /// The items of the frame being pushed (reused: no allocation per frame).
    scratch: Vec<Item>,
}

impl Analyzer {
    /// A new analyzer; fails only on a bad filter expression.
    pub fn new(cfg: &AnalysisConfig) -> Result<Self, AnalysisError> {
        let filter = compile_filter(cfg)?;
        Ok(Analyzer {
            table: Table::new(cfg.table.clone()),
            filter,
            ident: Identifier::new(),
            feed: Feed::new(cfg),
            scratch: Vec::with_capacity(8),
        })
    }

    /// Takes one frame: the same decoding and the same items as the two-thread file pass, so
    /// both paths give the same table by construction.
    #[inline]
    pub fn push(&mut self, raw: &RawPacket<'_>) {
        decode_item(
            raw,
            &mut self.filter,
            &mut self.ident,
            &mut self.feed,
            &mut self.scratch,
        );
        for item in &self.scratch {
            apply_item(&mut self.table, item);
        }
        self.scratch.clear();
    }

    /// The vantage point's running totals (for a live status line), see [`Table::live`].
    pub fn live(&self) -> Live {
        self.table.live(crate::metrics::peers::SUPPLIER_SHARE)
    }

    /// What [`Analyzer::finish`] would return now, leaving the analyzer running: a copy of the
    /// table is finished (for periodic snapshot reports of a live capture).
    pub fn snapshot(&self) -> Pass {
        let warnings = self
            .filter
            .as_ref()
            .map(|f| f.warnings.clone())
            .unwrap_or_default();
        Pass {
            fin: self.table.clone().finish(),
            findings: self.ident.finish(),
            // A copy of the feed's parsers (each connection's reorder ring and TS state) is
            // finished, so a snapshot measures with the media clock as the final report does.
            feed: self.feed.clone().finish(),
            filter_warnings: warnings,
        }
    }

    /// Ends the stream: the finished table, what identification found, the filter's warnings.
    pub fn finish(self) -> Pass {
        let warnings = self.filter.map(|f| f.warnings).unwrap_or_default();
        Pass {
            fin: self.table.finish(),
            findings: self.ident.finish(),
            feed: self.feed.finish(),
            filter_warnings: warnings,
        }
    }
}

/// A decoded frame as it crosses from the reading thread to the flow-table thread: packets
/// travel without their payload (the only payload the table reads, DNS answers, is parsed on
/// the reading side and sent as names).
pub(crate) enum Item {
    Packet(Packet<'static>),
    Malformed(Malformed, Timestamp),
    NotIp(Timestamp),
    Filtered,
    Name(IpAddr, String),
}

/// Frames per batch sent between the threads.
const BATCH: usize = 4096;
/// Batches in flight: bounds memory to a few MB.
const BATCHES_IN_FLIGHT: usize = 8;

fn decode_item(
    raw: &RawPacket<'_>,
    filter: &mut Option<Filter>,
    ident: &mut Identifier,
    feed: &mut Feed,
    out: &mut Vec<Item>,
) {
    if let Some(f) = filter.as_mut() {
        if !f.matches(raw) {
            out.push(Item::Filtered);
            return;
        }
    }
    match decode::decode(raw) {
        Decoded::Packet(p) => {
            feed.offer(&p);
            packet_items(&p, ident, out);
        }
        Decoded::NotIp(_) => out.push(Item::NotIp(raw.ts)),
        Decoded::Malformed(m) => out.push(Item::Malformed(m, raw.ts)),
    }
}

/// What a decoded packet gives the flow table — the names of a DNS answer, then the packet
/// without its payload — after identification has read it. Shared with gateway mode, which
/// calls it once for each client a packet belongs to.
#[inline]
pub(crate) fn packet_items(p: &Packet<'_>, ident: &mut Identifier, out: &mut Vec<Item>) {
    if p.is_udp() && p.sport == 53 {
        decode::dns::answers(p.payload, |ip, name| {
            out.push(Item::Name(ip, name.to_string()));
        });
    }
    ident.ingest(p);
    out.push(Item::Packet(Packet { payload: &[], ..*p }));
}

pub(crate) fn apply_item(table: &mut Table, item: &Item) {
    match item {
        Item::Packet(p) => table.ingest(p),
        Item::Malformed(m, ts) => {
            table.saw_frame(*ts);
            table.malformed(*m);
        }
        Item::NotIp(ts) => {
            table.saw_frame(*ts);
            table.not_ip();
        }
        Item::Filtered => table.filtered_out(),
        Item::Name(ip, name) => table.learn_name(*ip, name),
    }
}

/// The two-thread pass: this thread reads and decodes, a second one feeds the flow table.
pub(crate) fn parallel_pass(
    merged: &mut Merged,
    cfg: &AnalysisConfig,
    mut tick: impl FnMut(),
) -> Result<Pass, AnalysisError> {
    let mut filter = compile_filter(cfg)?;
    let mut ident = Identifier::new();
    let mut feed = Feed::new(cfg);
    let mut table = Table::new(cfg.table.clone());
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(BATCHES_IN_FLIGHT);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Item>>();
    std::thread::scope(|scope| {
        let feeder = scope.spawn(move || {
            for mut batch in full_rx {
                for item in &batch {
                    apply_item(&mut table, item);
                }
                batch.clear();
                // The reader may have finished; a lost spare buffer is harmless.
                let _ = empty_tx.send(batch);
            }
            table
        });
        let mut batch: Vec<Item> = Vec::with_capacity(BATCH + 64);
        let mut n: u64 = 0;
        merged.for_each(|raw| {
            decode_item(&raw, &mut filter, &mut ident, &mut feed, &mut batch);
            if batch.len() >= BATCH {
                let spare = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH + 64));
                let full = std::mem::replace(&mut batch, spare);
                // The feeder only stops when this side hangs up.
                let _ = full_tx.send(full);
            }
            n += 1;
            if n % TICK_PACKETS == 0 {
                tick();
            }
        });
        if !batch.is_empty() {
            let _ = full_tx.send(batch);
        }
        drop(full_tx);
        let table = feeder
            .join()
            .map_err(|_| AnalysisError::Internal("the flow-table thread failed"))?;
        let warnings = filter.map(|f| f.warnings).unwrap_or_default();
        Ok(Pass {
            fin: table.finish(),
            findings: ident.finish(),
            feed: feed.finish(),
            filter_warnings: warnings,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{self, Feed as SimFeed, Link, SimConfig};
    use crate::source::CaptureFile;

    /// A snapshot taken mid-capture measures with the feed's media clock, as the final
    /// report does (issue 13), and leaves the analyzer running.
    #[test]
    fn a_snapshot_has_the_feeds_media_clock() {
        let cfg = SimConfig {
            link: Link::Sll2,
            duration_s: 30.0,
            feed: SimFeed::MpegTs,
            ..SimConfig::default()
        };
        let mut bytes = Vec::new();
        let truth = sim::generate(&cfg, &mut bytes).expect("simulate");
        let nominal = truth.feed.map(|f| f.nominal_kbps).expect("feed truth");
        let file = CaptureFile::from_reader("sim", Box::new(std::io::Cursor::new(bytes)), None)
            .expect("capture");
        let acfg = AnalysisConfig {
            table: crate::flow::TableConfig {
                player_ports: vec![8902],
                ..Default::default()
            },
            ..Default::default()
        };
        let mut analyzer = Analyzer::new(&acfg).expect("analyzer");
        let mut merged = Merged::new(vec![file]);
        let mut n = 0u64;
        let mut snap = None;
        merged.for_each(|raw| {
            analyzer.push(&raw);
            n += 1;
            if n == 2_500 {
                snap = Some(analyzer.snapshot());
            }
        });
        let snap = snap.expect("a snapshot was taken");
        let feed = snap.feed.expect("the snapshot has the feed");
        let rate = feed.nominal_kbps.expect("a media clock");
        assert!(
            (rate - nominal).abs() <= 0.01 * nominal,
            "{rate} vs {nominal}"
        );
        let fin = analyzer.finish().feed.expect("the final pass has the feed");
        assert!(fin.ts.packets > feed.ts.packets);
    }
}
