//! The player feed's own clock: the TCP stream a P2P client hands its local media player,
//! put back in order and parsed down to the media container's clock.
//!
//! ```text
//! FeedTracker::segment(&FeedSegment)          every TCP segment of the player flows
//!   → reassembly::Reassembler (per direction)  in-order bytes, gaps counted, never invented
//!   → http::{RequestParser, ResponseParser}    method, path, status, Content-Type; bodies
//!   → sniff::sniff                             container of each body
//!   → ts::TsParser (MPEG-TS bodies)            PAT/PMT, PCR, continuity counters, PTS
//!   → ts::PcrTimeline (one for the feed)       media time handed over, per 100 ms wall bin
//! FeedTracker::finish() → FeedSummary          plain data; the report model is built from it
//! ```
//!
//! Everything is streaming and bounded: per connection a 256 KiB out-of-order store (only
//! when reordering happens), a head buffer of at most 16 KiB, a few hundred bytes of TS
//! window; at most [`MAX_CONNECTIONS`] connections at once.
//!
//! # Several connections
//! A player reconnect, HLS segment fetches or parallel connections all feed one summary:
//! counters are summed; the nominal rate is the sum over connections of the TS bytes between
//! their first and last PCR over the sum of their PCR spans; the media time is one timeline
//! for the whole feed, fed every PCR of every connection in capture order. On that timeline
//! a PCR within ±10 s of the previous one continues it (the furthest point reached is what
//! counts as handed over, so media sent again after a reconnect does not count twice); a
//! flagged discontinuity or a larger jump starts a new segment that continues from the point
//! reached (the time between the two PCRs is not counted). `http` describes the first
//! connection that had a response (else a request).

pub mod http;
pub mod reassembly;
pub mod sniff;
pub mod ts;

use std::net::SocketAddr;

use crate::hash::{FastMap, FastSet};

use crate::decode::{Frag, Packet, Transport};

use self::http::{BodySink, RequestParser, ResponseHead, ResponseParser};
use self::reassembly::{flags, Reassembler, ReassemblyStats, StreamSink};
pub use self::sniff::Container;
use self::ts::{PcrSink, PcrTimeline, PidKind, PidStats, Programme, TsParser, TsStats, PCR_HZ};

/// Most connections tracked at once; a new one beyond this is ignored (counted in
/// [`FeedSummary::connections_dropped`]) unless a closed one can be retired first.
pub const MAX_CONNECTIONS: usize = 64;
/// Most ignored connections told apart (their segments are all counted).
pub const DROPPED_KEYS_MAX: usize = 4096;
/// Wall-clock bin of the media-time series: one point per bin, the last value in it.
pub const MEDIA_BIN_NS: i64 = 100_000_000;
/// Most points of the media-time series; when full, the bin width doubles and neighbouring
/// points merge (keeping the later), so a long capture keeps its whole span at a coarser step.
pub const MEDIA_POINTS_MAX: usize = 36_000;

/// One TCP segment of a player flow, as decoded.
#[derive(Debug, Clone, Copy)]
pub struct FeedSegment<'a> {
    /// Capture time, ns since the Unix epoch.
    pub ts_ns: i64,
    /// The player's end (the HTTP client).
    pub client: SocketAddr,
    /// The feeding end (the P2P client's local server, e.g. port 8902).
    pub server: SocketAddr,
    /// Direction: server → player.
    pub to_player: bool,
    /// TCP sequence number.
    pub seq: u32,
    /// TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10, …).
    pub flags: u8,
    /// TCP payload as captured.
    pub payload: &'a [u8],
    /// TCP payload length on the wire (from the IP length); more than `payload.len()` when the
    /// snaplen cut it.
    pub wire_payload_len: u32,
}

impl<'a> FeedSegment<'a> {
    /// The segment a decoded packet is, when it is a whole (unfragmented) TCP segment to or
    /// from `server_port` (the feeding side's port, e.g. 8902); `None` otherwise.
    pub fn from_packet(p: &Packet<'a>, server_port: u16) -> Option<Self> {
        let Transport::Tcp { flags, seq } = p.transport else {
            return None;
        };
        if p.frag != Frag::Whole {
            return None;
        }
        let src = SocketAddr::new(p.src, p.sport);
        let dst = SocketAddr::new(p.dst, p.dport);
        let (client, server, to_player) = if p.sport == server_port {
            (dst, src, true)
        } else if p.dport == server_port {
            (src, dst, false)
        } else {
            return None;
        };
        Some(FeedSegment {
            ts_ns: p.ts.ns(),
            client,
            server,
            to_player,
            seq,
            flags,
            payload: p.payload,
            wire_payload_len: p.payload_len.max(p.payload.len() as u32),
        })
    }
}

/// The clock a feed's container gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// MPEG-TS program clock reference (27 MHz).
    MpegTsPcr,
}

impl Clock {
    /// The report's wording.
    pub fn name(self) -> &'static str {
        match self {
            Clock::MpegTsPcr => "mpegts-pcr",
        }
    }
}

/// HTTP request and response of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpInfo {
    /// Request method (`GET`), when a request head was seen.
    pub method: Option<String>,
    /// Request target, as sent (not escaped; the report escapes it).
    pub path: Option<String>,
    /// Response status.
    pub status: Option<u16>,
    /// Response `Content-Type`.
    pub content_type: Option<String>,
}

/// One point of the media-time series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediaPoint {
    /// Capture time of the segment that carried the PCR, ns since the Unix epoch.
    pub ts_ns: i64,
    /// Media seconds handed over so far, from the feed's first PCR.
    pub media_s: f64,
}

/// What the player feed showed (all connections together).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedSummary {
    /// Connections seen (a reused 4-tuple with a new SYN counts again).
    pub connections: u64,
    /// Connections ignored because [`MAX_CONNECTIONS`] were open (distinct 4-tuples, at most
    /// [`DROPPED_KEYS_MAX`] of them told apart).
    pub connections_dropped: u64,
    /// Segments of ignored connections.
    pub segments_dropped: u64,
    /// HTTP of the first connection with a response (else with a request).
    pub http: Option<HttpInfo>,
    /// Request heads parsed.
    pub http_requests: u64,
    /// Response heads parsed.
    pub http_responses: u64,
    /// Connections on which HTTP parsing was given up (oversized or malformed head, a gap in
    /// a head or in the chunk framing); what followed was read as raw bytes.
    pub http_gave_up: u64,
    /// Connections whose feed had no HTTP at all (raw TCP).
    pub raw_connections: u64,
    /// The feed's container: HLS when a playlist was fetched, else the one with most bytes.
    pub container: Container,
    /// Body bytes per container (non-zero only, in [`Container::ALL`] order).
    pub containers: Vec<(Container, u64)>,
    /// The clock parsed, `None` when the container's clock is not parsed or none was found.
    pub clock: Option<Clock>,
    /// Body bytes handed to the player (de-chunked, heads excluded).
    pub body_bytes: u64,
    /// TS bytes between the first and last PCR packets ÷ PCR span, kb/s (1000 bit/s).
    /// Packets lost by the counters count as bytes of the stream.
    pub nominal_kbps: Option<f64>,
    /// Media seconds between the first and last PCR (summed over connections and segments).
    pub pcr_span_s: Option<f64>,
    /// Media seconds between the first and last video PTS (summed over connections).
    pub pts_span_s: Option<f64>,
    /// The programme of the first connection that had one.
    pub programme: Option<Programme>,
    /// Transport stream counters.
    pub ts: TsStats,
    /// Lost TS packets: counter gaps plus packet slots in stream gaps.
    pub lost_ts_packets: u64,
    /// TS packets expected: received (duplicates excluded) plus lost.
    pub expected_ts_packets: u64,
    /// Per-PID counters, by PID (merged over connections).
    pub pids: Vec<PidStats>,
    /// PCR discontinuities of the feed's timeline.
    pub pcr_discontinuities: u64,
    /// Reassembly of the server → player direction.
    pub reassembly: ReassemblyStats,
    /// Reassembly of the player → server direction.
    pub reassembly_to_server: ReassemblyStats,
    /// Capture time of the first body byte handed to the player (any connection).
    pub first_body_ns: Option<i64>,
    /// Capture time of the first PCR.
    pub first_pcr_ns: Option<i64>,
    /// Media time handed over, one point per `media_time_bin_ns` of wall time (the last value
    /// in the bin); see [`MEDIA_POINTS_MAX`].
    pub media_time: Vec<MediaPoint>,
    /// Width of the series' bins, ns ([`MEDIA_BIN_NS`], doubled each time the series filled).
    pub media_time_bin_ns: i64,
    /// Media seconds handed over by the end (the furthest point of the timeline).
    pub media_time_s: Option<f64>,
}

/// The feed's media time, over all connections.
#[derive(Debug, Clone)]
struct FeedClock {
    timeline: PcrTimeline,
    first_ns: Option<i64>,
    /// Capture time of the first body byte of any connection.
    first_body_ns: Option<i64>,
    bin_ns: i64,
    points: Vec<MediaPoint>,
}

impl Default for FeedClock {
    fn default() -> Self {
        FeedClock {
            timeline: PcrTimeline::default(),
            first_ns: None,
            first_body_ns: None,
            bin_ns: MEDIA_BIN_NS,
            points: Vec::new(),
        }
    }
}

impl FeedClock {
    fn record(&mut self, ts_ns: i64, media_s: f64) {
        let Some(origin) = self.first_ns else {
            return;
        };
        let bin = |t: i64, w: i64| (t - origin).div_euclid(w);
        let point = MediaPoint { ts_ns, media_s };
        match self.points.last_mut() {
            Some(last) if bin(last.ts_ns, self.bin_ns) >= bin(ts_ns, self.bin_ns) => {
                *last = point;
            }
            _ => self.points.push(point),
        }
        if self.points.len() > MEDIA_POINTS_MAX {
            self.bin_ns *= 2;
            let w = self.bin_ns;
            let mut out: Vec<MediaPoint> = Vec::with_capacity(self.points.len() / 2 + 1);
            for p in self.points.drain(..) {
                match out.last_mut() {
                    Some(last) if bin(last.ts_ns, w) == bin(p.ts_ns, w) => *last = p,
                    _ => out.push(p),
                }
            }
            self.points = out;
        }
    }
}

impl PcrSink for FeedClock {
    fn pcr(&mut self, ts_ns: i64, pcr: u64, discontinuity: bool) {
        if self.first_ns.is_none() {
            self.first_ns = Some(ts_ns);
        }
        self.timeline.push(pcr, discontinuity, 0);
        let media = self.timeline.high_s();
        self.record(ts_ns, media);
    }
}

/// Body handling of one connection: sniffing, then the TS parser for MPEG-TS bodies.
#[derive(Debug, Clone, Default)]
struct Bodies {
    sniff: Vec<u8>,
    /// Bytes lost before the container was decided.
    pending_gap: u64,
    current: Option<Container>,
    content_type: Option<String>,
    in_body: bool,
    ts: Option<TsParser>,
    bytes: [u64; 6],
    hls: bool,
}

impl Bodies {
    fn decide<P: PcrSink>(&mut self, ts_ns: i64, path: Option<&str>, clock: &mut P) {
        let c = sniff::sniff(&self.sniff, self.content_type.as_deref(), path);
        self.current = Some(c);
        if c == Container::Hls {
            self.hls = true;
        }
        let held = std::mem::take(&mut self.sniff);
        self.bytes[c.index()] += held.len() as u64;
        if c == Container::MpegTs {
            let ts = self.ts.get_or_insert_with(TsParser::new);
            if self.pending_gap > 0 {
                ts.gap(self.pending_gap);
            }
            ts.push(ts_ns, &held, clock);
        }
        self.pending_gap = 0;
        // Keep the allocation for the next body.
        self.sniff = held;
        self.sniff.clear();
    }
}

/// A [`BodySink`] over one connection's body state and the feed clock.
struct BodyTo<'a> {
    bodies: &'a mut Bodies,
    clock: &'a mut FeedClock,
    path: Option<&'a str>,
    ts_ns: i64,
}

impl BodySink for BodyTo<'_> {
    fn start(&mut self, head: Option<&ResponseHead>) {
        let b = &mut *self.bodies;
        b.in_body = true;
        b.current = None;
        b.sniff.clear();
        b.pending_gap = 0;
        b.content_type = head.and_then(|h| h.content_type.clone());
    }

    fn data(&mut self, ts_ns: i64, mut bytes: &[u8]) {
        if self.clock.first_body_ns.is_none() && !bytes.is_empty() {
            self.clock.first_body_ns = Some(ts_ns);
        }
        let b = &mut *self.bodies;
        if b.current.is_none() {
            let take = bytes.len().min(sniff::SNIFF_LEN - b.sniff.len());
            let (head, rest) = bytes.split_at(take);
            b.sniff.extend_from_slice(head);
            bytes = rest;
            let early = sniff::by_magic(&b.sniff).is_some_and(|c| c != Container::MpegTs);
            if b.sniff.len() < sniff::SNIFF_LEN && !early {
                return;
            }
            b.decide(ts_ns, self.path, self.clock);
        }
        let Some(c) = b.current else {
            return;
        };
        b.bytes[c.index()] += bytes.len() as u64;
        if c == Container::MpegTs {
            if let Some(ts) = b.ts.as_mut() {
                ts.push(ts_ns, bytes, self.clock);
            }
        }
    }

    fn gap(&mut self, _ts_ns: i64, missing: u64) {
        let b = &mut *self.bodies;
        match b.current {
            None => {
                // Not decided yet: what was held is treated as lost with the gap, and sniffing
                // goes on after it.
                b.pending_gap += b.sniff.len() as u64 + missing;
                b.bytes[Container::Unknown.index()] += b.sniff.len() as u64;
                b.sniff.clear();
            }
            Some(Container::MpegTs) => {
                if let Some(ts) = b.ts.as_mut() {
                    ts.gap(missing);
                }
            }
            Some(_) => {}
        }
    }

    fn end(&mut self) {
        let ts_ns = self.ts_ns;
        let b = &mut *self.bodies;
        if b.current.is_none() && !b.sniff.is_empty() {
            b.decide(ts_ns, self.path, self.clock);
        }
        if b.current == Some(Container::MpegTs) {
            if let Some(ts) = b.ts.as_mut() {
                ts.end_of_body();
            }
        }
        b.in_body = false;
        b.current = None;
    }
}

/// The server → player direction's [`StreamSink`]: HTTP, then bodies.
struct DownSink<'a> {
    resp: &'a mut ResponseParser,
    bodies: &'a mut Bodies,
    clock: &'a mut FeedClock,
    path: Option<&'a str>,
}

impl StreamSink for DownSink<'_> {
    fn data(&mut self, ts_ns: i64, bytes: &[u8]) {
        let mut to = BodyTo {
            bodies: self.bodies,
            clock: self.clock,
            path: self.path,
            ts_ns,
        };
        self.resp.data(ts_ns, bytes, &mut to);
    }

    fn gap(&mut self, ts_ns: i64, missing: u64) {
        let mut to = BodyTo {
            bodies: self.bodies,
            clock: self.clock,
            path: self.path,
            ts_ns,
        };
        self.resp.gap(ts_ns, missing, &mut to);
    }
}

/// The player → server direction's [`StreamSink`]: request heads.
struct UpSink<'a>(&'a mut RequestParser);

impl StreamSink for UpSink<'_> {
    fn data(&mut self, _: i64, bytes: &[u8]) {
        self.0.data(bytes);
    }
    fn gap(&mut self, _: i64, _: u64) {
        self.0.gap();
    }
}

/// One connection's state.
#[derive(Debug, Clone, Default)]
struct Conn {
    up: Reassembler,
    down: Reassembler,
    req: RequestParser,
    resp: ResponseParser,
    bodies: Bodies,
    /// Order of first appearance (for "the first connection").
    order: u64,
    last_ns: i64,
}

impl Conn {
    fn path(&self) -> Option<&str> {
        self.req.last_path()
    }

    fn closed(&self) -> bool {
        self.up.closed() && self.down.closed()
    }
}

/// Running totals of retired connections.
#[derive(Debug, Clone, Default)]
struct Totals {
    http: Option<(u64, bool, HttpInfo)>,
    requests: u64,
    responses: u64,
    gave_up: u64,
    raw: u64,
    bytes: [u64; 6],
    hls: bool,
    body_bytes: u64,
    span_bytes: u64,
    span_ticks: i64,
    pts_span_s: Option<f64>,
    programme: Option<(u64, Programme)>,
    ts: TsStats,
    pids: Vec<PidStats>,
    down: ReassemblyStats,
    up: ReassemblyStats,
}

/// Follows the player feed over any number of TCP connections; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct FeedTracker {
    conns: FastMap<(SocketAddr, SocketAddr), Conn>,
    clock: FeedClock,
    totals: Totals,
    connections: u64,
    /// Connections ignored (bounded: beyond [`DROPPED_KEYS_MAX`] only segments are counted).
    dropped: FastSet<(SocketAddr, SocketAddr)>,
    segments_dropped: u64,
}

impl FeedTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one TCP segment of a player flow (either direction), in capture order.
    pub fn segment(&mut self, seg: &FeedSegment<'_>) {
        let key = (seg.client, seg.server);
        let syn = seg.flags & flags::SYN != 0;
        // A new SYN on a known 4-tuple is a new connection: retire the old one.
        let reused = self.conns.get(&key).is_some_and(|c| {
            syn && if seg.to_player {
                c.down.is_new_syn(seg.seq)
            } else {
                c.up.is_new_syn(seg.seq)
            }
        });
        if reused {
            if let Some(old) = self.conns.remove(&key) {
                self.retire(old, seg.ts_ns);
            }
        }
        if !self.conns.contains_key(&key) {
            let opens = syn || seg.wire_payload_len > 0 || !seg.payload.is_empty();
            if !opens {
                return;
            }
            if self.conns.len() >= MAX_CONNECTIONS && !self.retire_closed(seg.ts_ns) {
                self.segments_dropped += 1;
                if self.dropped.len() < DROPPED_KEYS_MAX {
                    self.dropped.insert(key);
                }
                return;
            }
            self.connections += 1;
            let conn = Conn {
                order: self.connections,
                ..Conn::default()
            };
            self.conns.insert(key, conn);
        }
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        c.last_ns = seg.ts_ns;
        if seg.flags & flags::RST != 0 {
            // A reset ends both directions.
            c.up.close();
            c.down.close();
        }
        if seg.to_player {
            let Conn {
                down,
                req,
                resp,
                bodies,
                ..
            } = c;
            let mut sink = DownSink {
                resp,
                bodies,
                clock: &mut self.clock,
                path: req.last_path(),
            };
            down.segment(
                seg.ts_ns,
                seg.seq,
                seg.flags,
                seg.payload,
                seg.wire_payload_len,
                &mut sink,
            );
        } else {
            c.up.segment(
                seg.ts_ns,
                seg.seq,
                seg.flags,
                seg.payload,
                seg.wire_payload_len,
                &mut UpSink(&mut c.req),
            );
        }
    }

    /// Retires every closed connection; whether any was.
    fn retire_closed(&mut self, ts_ns: i64) -> bool {
        let closed: Vec<_> = self
            .conns
            .iter()
            .filter(|(_, c)| c.closed())
            .map(|(k, _)| *k)
            .collect();
        for k in &closed {
            if let Some(c) = self.conns.remove(k) {
                self.retire(c, ts_ns);
            }
        }
        !closed.is_empty()
    }

    /// Ends a connection and adds it to the totals.
    fn retire(&mut self, mut c: Conn, ts_ns: i64) {
        let ts_ns = ts_ns.max(c.last_ns);
        c.up.finish(ts_ns, &mut UpSink(&mut c.req));
        {
            let Conn {
                down,
                req,
                resp,
                bodies,
                ..
            } = &mut c;
            let path = req.last_path();
            let mut sink = DownSink {
                resp,
                bodies,
                clock: &mut self.clock,
                path,
            };
            down.finish(ts_ns, &mut sink);
            let mut to = BodyTo {
                bodies: sink.bodies,
                clock: sink.clock,
                path,
                ts_ns,
            };
            sink.resp.finish(&mut to);
            if to.bodies.in_body {
                to.end();
            }
        }
        let path = c.path().map(str::to_owned);
        let t = &mut self.totals;
        let rs = c.resp.stats();
        t.requests += c.req.requests();
        t.responses += rs.responses;
        t.gave_up += u64::from(rs.gave_up || c.req.gave_up());
        t.raw += u64::from(rs.raw);
        t.body_bytes += rs.body_bytes;
        t.hls |= c.bodies.hls;
        for (a, b) in t.bytes.iter_mut().zip(c.bodies.bytes) {
            *a += b;
        }
        t.down += c.down.stats();
        t.up += c.up.stats();
        let has_resp = c.resp.first().is_some();
        if c.req.first().is_some() || has_resp {
            let info = HttpInfo {
                method: c.req.first().map(|r| r.method.clone()),
                path: c.req.first().map(|r| r.path.clone()).or(path),
                status: c.resp.first().map(|r| r.status),
                content_type: c.resp.first().and_then(|r| r.content_type.clone()),
            };
            let better = match &t.http {
                None => true,
                Some((order, had_resp, _)) => {
                    (has_resp && !had_resp) || (has_resp == *had_resp && c.order < *order)
                }
            };
            if better {
                t.http = Some((c.order, has_resp, info));
            }
        }
        if let Some(ts) = &c.bodies.ts {
            t.ts += ts.stats();
            let tl = ts.timeline();
            if tl.ticks() > 0 {
                t.span_ticks += tl.ticks();
                t.span_bytes += tl.bytes();
            }
            if let Some(s) = ts.pts_span_s() {
                *t.pts_span_s.get_or_insert(0.0) += s;
            }
            if let Some(p) = ts.programme() {
                if t.programme.as_ref().is_none_or(|(o, _)| c.order < *o) {
                    t.programme = Some((c.order, p.clone()));
                }
            }
            for p in ts.pid_stats() {
                match t.pids.iter_mut().find(|q| q.pid == p.pid) {
                    Some(q) => {
                        q.packets += p.packets;
                        q.cc_errors += p.cc_errors;
                        q.lost += p.lost;
                        q.duplicates += p.duplicates;
                        q.pcrs += p.pcrs;
                        q.discontinuities += p.discontinuities;
                        if q.kind == PidKind::Unknown {
                            q.kind = p.kind;
                        }
                    }
                    None => t.pids.push(p),
                }
            }
        }
    }

    /// Ends every connection and sums up the feed.
    pub fn finish(mut self) -> FeedSummary {
        let end = self.conns.values().map(|c| c.last_ns).max().unwrap_or(0);
        let mut conns: Vec<Conn> = self.conns.drain().map(|(_, c)| c).collect();
        conns.sort_by_key(|c| c.order);
        for c in conns {
            self.retire(c, end);
        }
        let t = self.totals;
        let containers: Vec<(Container, u64)> = Container::ALL
            .iter()
            .map(|&c| (c, t.bytes[c.index()]))
            .filter(|&(_, n)| n > 0)
            .collect();
        let container = if t.hls {
            Container::Hls
        } else {
            containers
                .iter()
                .max_by_key(|&&(c, n)| (n, std::cmp::Reverse(c)))
                .map_or(Container::Unknown, |&(c, _)| c)
        };
        let span_s = (t.span_ticks > 0).then(|| t.span_ticks as f64 / PCR_HZ as f64);
        let nominal_kbps = span_s.map(|s| t.span_bytes as f64 * 8.0 / s / 1000.0);
        let mut pids = t.pids;
        pids.sort_by_key(|p| p.pid);
        let started = self.clock.timeline.started();
        FeedSummary {
            connections: self.connections,
            connections_dropped: self.dropped.len() as u64,
            segments_dropped: self.segments_dropped,
            http: t.http.map(|(_, _, h)| h),
            http_requests: t.requests,
            http_responses: t.responses,
            http_gave_up: t.gave_up,
            raw_connections: t.raw,
            container,
            containers,
            clock: started.then_some(Clock::MpegTsPcr),
            body_bytes: t.body_bytes,
            nominal_kbps,
            pcr_span_s: span_s,
            pts_span_s: t.pts_span_s,
            programme: t.programme.map(|(_, p)| p),
            lost_ts_packets: t.ts.lost(),
            expected_ts_packets: t.ts.expected(),
            ts: t.ts,
            pids,
            pcr_discontinuities: self.clock.timeline.discontinuities(),
            reassembly: t.down,
            reassembly_to_server: t.up,
            first_body_ns: self.clock.first_body_ns,
            first_pcr_ns: self.clock.first_ns,
            media_time: self.clock.points,
            media_time_bin_ns: self.clock.bin_ns,
            media_time_s: started.then(|| self.clock.timeline.high_s()),
        }
    }
}

#[cfg(test)]
mod tests;
