//! Gateway mode: one pass over a tap's capture in which every client address is its own
//! vantage point (`analyze --clients`).
//!
//! [`GatewayAnalyzer`] decodes each frame once, asks the [`ClientRule`] which of its two
//! addresses are clients, and hands the packet to each such client's state — a flow
//! [`Table`] pinned to that address (`TableConfig.given.local`) and an [`Identifier`] — through
//! the same items as the single-client path (`stream::packet_items`, `stream::apply_item`),
//! so a client's table is the one `analyze --local IP` builds from that client's packets. A
//! packet between two clients goes to both. It has two halves: the reading side (filter,
//! decode, routing, identification: `Router`) and the table side (`Tables`); on two cores they
//! run on two threads, batches of their messages between them, as the single-client pass does
//! (the table side applies a batch client by client, see `Tables::apply_batch`). [`analyze_gateway`] runs the pass over files (a
//! second one, for the clients that need it, as [`analyze_files`](super::analyze_files) does)
//! and assembles each client's report with [`assemble::analysis_and_report`], handing them to
//! the caller one at a time so reports are never all in memory at once.
//!
//! Memory: one budget of tracked address pairs ([`GatewayConfig::max_pairs`]) is shared by
//! all clients. Tables draw from it first come, first served; no client may hold more than
//! [`GatewayConfig::max_pairs_per_client`] (a scanner cannot starve the rest); once the budget
//! is spent, new pairs of existing clients go to their overflow buckets (the report says so)
//! and new clients are not created. A client not created — beyond the budget or beyond
//! [`GatewayConfig::max_clients`] — is counted with its packets and bytes in
//! [`OverCap`], never silently lost.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::Ordering;

use crate::hash::{FastMap, FastSet};

use super::assemble::{self, Warning};
use super::stream::{self, Item, Pass};
use super::{Analysis, AnalysisConfig, AnalysisError, Progress};
use crate::decode::{self, Decoded, Packet};
use crate::flow::classify::{is_private, is_unicast_host};
use crate::flow::{Decision, Table};
use crate::identify::Identifier;
use crate::report::Report;
use crate::source::filter::Filter;
use crate::source::{RawPacket, SourceStats};

/// An address prefix (`192.0.2.0/24`, `2001:db8::/32`; a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    net: IpAddr,
    len: u8,
}

impl Prefix {
    /// The prefix of `ip` of `len` bits (host bits cleared); `None` when `len` is too long.
    pub fn new(ip: IpAddr, len: u8) -> Option<Self> {
        let net = match ip {
            IpAddr::V4(v4) if len <= 32 => {
                let bits = u32::from(v4);
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                IpAddr::from((bits & mask).to_be_bytes())
            }
            IpAddr::V6(v6) if len <= 128 => {
                let bits = u128::from(v6);
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                IpAddr::from((bits & mask).to_be_bytes())
            }
            _ => return None,
        };
        Some(Prefix { net, len })
    }

    /// True when `ip` lies in the prefix.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        Prefix::new(ip, self.len).is_some_and(|p| p.net == self.net)
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

impl FromStr for Prefix {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (s, None),
        };
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("'{s}': not an address or CIDR prefix (e.g. 192.0.2.0/24)"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {max}"))?,
        };
        Prefix::new(ip, len).ok_or_else(|| format!("'{s}': bad prefix"))
    }
}

/// Which addresses are clients, as the user asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSpec {
    /// Every address in these prefixes (`--clients CIDR[,CIDR…]`).
    Prefixes(Vec<Prefix>),
    /// Decided from the capture (`--clients auto`), see [`ClientRule::detect`].
    Auto,
}

/// Which addresses are clients, decided: what the analyzer applies to every packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRule {
    /// Addresses in the prefixes given.
    Prefixes(Vec<Prefix>),
    /// Ethernet at a tap beside a router: the router's MAC carries every remote address, so a
    /// client is an address sent from, or sent to, any other (unicast) MAC.
    BehindMac {
        /// The router's MAC.
        gateway: [u8; 6],
        /// Distinct source addresses seen behind it in the prescan.
        addresses: usize,
    },
    /// The address plan: private and shared addresses (RFC 1918, RFC 6598 100.64/10, RFC 4193
    /// fc00::/7; link-local too, see [`is_private`]).
    Private,
}

/// Frames read ahead by `--clients auto` to find the router's MAC.
pub const PRESCAN_FRAMES: usize = 65_536;
/// Fewest distinct source addresses behind one MAC for it to be a router's (a host has one
/// or two; a router relays every remote peer, tracker and server).
pub const MIN_ROUTER_ADDRESSES: usize = 8;
/// Most source addresses counted per MAC in the prescan.
const PRESCAN_ADDRESS_CAP: usize = 4096;

impl ClientRule {
    /// `--clients auto`: reads the first [`PRESCAN_FRAMES`] frames of the inputs (a partial
    /// read, not a pass) and decides, strongest evidence first:
    ///
    /// 1. Ethernet: the MAC with the most distinct source addresses, at least
    ///    [`MIN_ROUTER_ADDRESSES`] and twice as many as any other MAC, is the router's; every
    ///    address behind another MAC is a client ([`ClientRule::BehindMac`]). This is what
    ///    decides for generated captures, whose addresses are all documentation ranges.
    /// 2. Else, when private or shared addresses exchange traffic: those ([`ClientRule::Private`]).
    /// 3. Else there is no evidence: `None` (the caller asks for `--clients CIDR`).
    ///
    /// Standard input cannot be read ahead: only rule 2 applies.
    pub fn detect(paths: &[String]) -> Result<Option<ClientRule>, AnalysisError> {
        let mut macs: FastMap<[u8; 6], FastSet<IpAddr>> = FastMap::default();
        let mut private = false;
        let readable: Vec<&String> = paths.iter().filter(|p| p.as_str() != "-").collect();
        if !readable.is_empty() {
            let names: Vec<String> = readable.iter().map(|p| p.to_string()).collect();
            let (files, _) = super::open_files(&names)?;
            let per_file = (PRESCAN_FRAMES / files.len()).max(1);
            for mut file in files {
                let mut n = 0;
                while n < per_file
                    && file.next_packet(|raw| {
                        if let Decoded::Packet(p) = decode::decode(&raw) {
                            private |= (is_private(p.src) && is_unicast_host(p.src))
                                || (is_private(p.dst) && is_unicast_host(p.dst));
                            if let Some((src, _)) = p.link.macs {
                                let set = macs.entry(src).or_default();
                                if set.len() < PRESCAN_ADDRESS_CAP && is_unicast_host(p.src) {
                                    set.insert(p.src);
                                }
                            }
                        }
                    })
                {
                    n += 1;
                }
            }
        } else {
            private = true;
        }
        let mut ranked: Vec<([u8; 6], usize)> = macs.iter().map(|(m, s)| (*m, s.len())).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        if let Some(&(gateway, addresses)) = ranked.first() {
            let runner_up = ranked.get(1).map_or(0, |r| r.1);
            if addresses >= MIN_ROUTER_ADDRESSES && addresses >= 2 * runner_up {
                return Ok(Some(ClientRule::BehindMac { gateway, addresses }));
            }
        }
        Ok(private.then_some(ClientRule::Private))
    }

    /// The packet's source and destination: whether each is a client.
    #[inline]
    fn sides(&self, p: &Packet<'_>, known: &FastMap<IpAddr, u32>) -> (bool, bool) {
        let host = |ip: IpAddr| is_unicast_host(ip);
        match self {
            ClientRule::Prefixes(prefixes) => {
                let is = |ip: IpAddr| host(ip) && prefixes.iter().any(|n| n.contains(ip));
                (is(p.src), is(p.dst))
            }
            ClientRule::Private => {
                let is = |ip: IpAddr| host(ip) && is_private(ip);
                (is(p.src), is(p.dst))
            }
            ClientRule::BehindMac { gateway, .. } => match p.link.macs {
                Some((src, dst)) => (
                    host(p.src) && src != *gateway,
                    host(p.dst) && dst != *gateway && dst[0] & 1 == 0,
                ),
                // Without a MAC (another link type in the same input): the clients already met.
                None => (known.contains_key(&p.src), known.contains_key(&p.dst)),
            },
        }
    }

    /// How clients were chosen, for the index and the summary.
    pub fn describe(&self) -> String {
        match self {
            ClientRule::Prefixes(p) => format!(
                "given: {}",
                p.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ),
            ClientRule::BehindMac { gateway, addresses } => format!(
                "auto: addresses behind any MAC but the router's {} (which carries {addresses} distinct source addresses in the first {PRESCAN_FRAMES} frames)",
                gateway
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            ),
            ClientRule::Private => "auto: private and shared addresses (RFC 1918, RFC 6598, RFC 4193, link-local)".into(),
        }
    }
}

/// What gateway mode needs beyond one client's [`AnalysisConfig`].
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Each client's analysis (its `table.given.local` is set per client; `table.max_pairs` is
    /// replaced by the budget below).
    pub analysis: AnalysisConfig,
    /// Which addresses are clients.
    pub clients: ClientSpec,
    /// Address pairs tracked over all clients together (`--max-pairs`).
    pub max_pairs: usize,
    /// Most pairs one client's table may hold (a share of `max_pairs`).
    pub max_pairs_per_client: usize,
    /// Most clients analysed (`--max-clients`).
    pub max_clients: usize,
}

/// Default `--max-clients`.
pub const DEFAULT_MAX_CLIENTS: usize = 65_536;
/// Distinct over-cap addresses remembered (beyond, they are counted as packets and bytes).
const OVER_CAP_REMEMBERED: usize = 1 << 16;

impl GatewayConfig {
    /// The per-client cap this budget gives by default: an eighth of it (at least 1).
    pub fn default_per_client(max_pairs: usize) -> usize {
        (max_pairs / 8).max(1)
    }
}

/// Clients that were not analysed, and their traffic (a packet between two of them may count
/// for each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverCap {
    /// Distinct addresses (exact up to 65,536, then a lower bound).
    pub clients: u64,
    pub packets: u64,
    /// Bytes of the frames, as captured on the wire (`orig_len`).
    pub bytes: u64,
    /// Some were refused because the pair budget was spent (else only `--max-clients`).
    pub by_pairs: bool,
    seen: FastSet<IpAddr>,
}

impl OverCap {
    fn add(&mut self, ip: IpAddr, by_pairs: bool) {
        if self.seen.len() < OVER_CAP_REMEMBERED && self.seen.insert(ip) {
            self.clients += 1;
        }
        self.by_pairs |= by_pairs;
    }
}

/// Frames that reached no client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unrouted {
    /// Decoded packets with no client on either side.
    pub packets: u64,
    pub not_ip: u64,
    pub malformed: u64,
    pub filtered: u64,
}

/// The reading side's view of one client: its identifier and what it sent and received.
struct Routed {
    ip: IpAddr,
    ident: Identifier,
    packets: u64,
    bytes: u64,
}

/// What crosses from the reading side to the tables: a client opened, or an item for one.
enum Msg {
    Open {
        client: u32,
        ip: IpAddr,
        pinned: Option<Decision>,
    },
    Item(u32, Item),
}

/// The reading side: filter, decode, decide which addresses are clients (and which are
/// over `--max-clients`), identify, and turn each packet into its clients' items.
struct Router {
    rule: ClientRule,
    filter: Option<Filter>,
    index: FastMap<IpAddr, u32>,
    clients: Vec<Routed>,
    /// Second pass: only these clients, each with the decision its first pass settled on.
    only: Option<FastMap<IpAddr, Decision>>,
    max_clients: usize,
    over: OverCap,
    unrouted: Unrouted,
    scratch: Vec<Item>,
}

impl Router {
    /// The client index of `ip`, opened (and announced in `out`) when the cap allows.
    #[inline]
    fn client(&mut self, ip: IpAddr, out: &mut Vec<Msg>) -> Option<u32> {
        if let Some(&i) = self.index.get(&ip) {
            return Some(i);
        }
        let pinned = match &self.only {
            Some(only) => Some(*only.get(&ip)?),
            None => None,
        };
        if self.clients.len() >= self.max_clients {
            self.over.add(ip, false);
            return None;
        }
        let i = self.clients.len() as u32;
        self.clients.push(Routed {
            ip,
            ident: Identifier::new(),
            packets: 0,
            bytes: 0,
        });
        self.index.insert(ip, i);
        out.push(Msg::Open {
            client: i,
            ip,
            pinned,
        });
        Some(i)
    }

    /// Takes one frame; its clients' items go to `out`.
    #[inline]
    fn route(&mut self, raw: &RawPacket<'_>, out: &mut Vec<Msg>) {
        if let Some(f) = self.filter.as_mut() {
            if !f.matches(raw) {
                self.unrouted.filtered += 1;
                return;
            }
        }
        let p = match decode::decode(raw) {
            Decoded::Packet(p) => p,
            Decoded::NotIp(_) => {
                self.unrouted.not_ip += 1;
                return;
            }
            Decoded::Malformed(_) => {
                self.unrouted.malformed += 1;
                return;
            }
        };
        let (src, dst) = self.rule.sides(&p, &self.index);
        let a = if src { self.client(p.src, out) } else { None };
        let b = if dst && p.dst != p.src {
            self.client(p.dst, out)
        } else {
            None
        };
        if a.is_none() && b.is_none() {
            if (src || dst) && self.only.is_none() {
                self.over.packets += 1;
                self.over.bytes += u64::from(raw.orig_len);
            } else {
                self.unrouted.packets += 1;
            }
            return;
        }
        for i in [a, b].into_iter().flatten() {
            let Some(c) = self.clients.get_mut(i as usize) else {
                continue;
            };
            c.packets += 1;
            c.bytes += u64::from(raw.orig_len);
            stream::packet_items(&p, &mut c.ident, &mut self.scratch);
            out.extend(self.scratch.drain(..).map(|item| Msg::Item(i, item)));
        }
    }
}

/// A client's table, or why it has none.
enum Slot {
    /// Boxed: a table is large, and the slots of many clients stay compact.
    Open(Box<Table>),
    /// The pair budget was spent when the client appeared.
    Refused,
}

/// The table side: one flow table per client, all drawing from one pair budget.
struct Tables {
    cfg: AnalysisConfig,
    slots: Vec<Slot>,
    budget: usize,
    per_client: usize,
    used: usize,
}

impl Tables {
    /// Applies a batch of messages. When the pair budget has room for every message of the
    /// batch (each opens at most one pair, or one client), no client can be refused in it
    /// and the clients' tables are independent: the batch is then applied client by client
    /// (each client's messages in their order), so that a client's table, maps and bins are
    /// fetched into cache once per batch rather than once per packet — the difference that
    /// matters with hundreds of clients interleaved. Otherwise it is applied in order, so
    /// the budget stays first come, first served. Either way each table sees the same
    /// packets in the same order: the result is the same.
    fn apply_batch(&mut self, batch: &[Msg], order: &mut Vec<u64>) {
        if self.budget.saturating_sub(self.used) < batch.len() {
            for m in batch {
                self.apply(m);
            }
            return;
        }
        order.clear();
        order.extend(batch.iter().enumerate().map(|(pos, m)| {
            let client = match m {
                Msg::Open { client, .. } | Msg::Item(client, _) => *client,
            };
            (u64::from(client) << 32) | pos as u64
        }));
        // Keys are distinct: an unstable sort keeps each client's messages in order.
        order.sort_unstable();
        for key in order.iter() {
            if let Some(m) = batch.get((key & u64::from(u32::MAX)) as usize) {
                self.apply(m);
            }
        }
    }

    #[inline]
    fn apply(&mut self, msg: &Msg) {
        match msg {
            Msg::Open { client, ip, pinned } => {
                let slot = if self.used >= self.budget {
                    Slot::Refused
                } else {
                    let mut cfg = self.cfg.table.clone();
                    cfg.given.local = Some(*ip);
                    cfg.pinned = *pinned;
                    Slot::Open(Box::new(Table::new(cfg)))
                };
                // Clients are opened in index order.
                debug_assert_eq!(*client as usize, self.slots.len());
                self.slots.push(slot);
            }
            Msg::Item(i, item) => {
                let Some(Slot::Open(table)) = self.slots.get_mut(*i as usize) else {
                    return;
                };
                let before = table.pairs_tracked();
                let room = self.budget.saturating_sub(self.used);
                table.set_max_pairs(self.per_client.min(before.saturating_add(room)));
                stream::apply_item(table, item);
                self.used += table.pairs_tracked() - before;
            }
        }
    }
}

/// Streams frames into per-client tables, one frame at a time (the two-thread pass of
/// [`analyze_gateway`] runs the same two halves on two threads).
pub struct GatewayAnalyzer {
    router: Router,
    tables: Tables,
    msgs: Vec<Msg>,
}

/// A client's finished pass.
pub struct ClientPass {
    pub ip: IpAddr,
    pub pass: Pass,
    /// Frames and wire bytes of the client's packets.
    pub packets: u64,
    pub bytes: u64,
}

/// What one gateway pass gives.
pub struct GatewayPass {
    /// Clients in order of first appearance.
    pub clients: Vec<ClientPass>,
    pub over: OverCap,
    pub unrouted: Unrouted,
    /// Pairs tracked over all clients.
    pub pairs_used: usize,
    pub filter_warnings: Vec<String>,
}

/// Buffered records of a client's warm-up in gateway mode (the single-client default is
/// 200,000): a client's provisional threshold is chosen after this many of its packets, and a
/// client whose final threshold would have put a packet in another class is read again.
/// Bounds the warm-up to 64 kB per client (32-byte records).
pub const CLIENT_WARMUP_RECORDS: usize = 2048;

impl GatewayAnalyzer {
    /// A new analyzer applying `rule`; fails only on a bad filter expression.
    pub fn new(cfg: &GatewayConfig, rule: ClientRule) -> Result<Self, AnalysisError> {
        let mut analysis = cfg.analysis.clone();
        analysis.table.max_pairs = cfg.max_pairs;
        analysis.table.warmup_records = analysis.table.warmup_records.min(CLIENT_WARMUP_RECORDS);
        Ok(GatewayAnalyzer {
            router: Router {
                rule,
                filter: stream::compile_filter(&cfg.analysis)?,
                index: FastMap::default(),
                clients: Vec::new(),
                only: None,
                max_clients: cfg.max_clients,
                over: OverCap::default(),
                unrouted: Unrouted::default(),
                scratch: Vec::with_capacity(8),
            },
            tables: Tables {
                cfg: analysis,
                slots: Vec::new(),
                budget: cfg.max_pairs,
                per_client: cfg.max_pairs_per_client.max(1),
                used: 0,
            },
            msgs: Vec::with_capacity(16),
        })
    }

    /// A second pass: only these clients are analysed, each classified with its decision.
    fn restricted(mut self, only: FastMap<IpAddr, Decision>) -> Self {
        self.router.only = Some(only);
        self
    }

    /// Takes one frame.
    #[inline]
    pub fn push(&mut self, raw: &RawPacket<'_>) {
        self.router.route(raw, &mut self.msgs);
        for m in &self.msgs {
            self.tables.apply(m);
        }
        self.msgs.clear();
    }

    /// Ends the pass.
    pub fn finish(self) -> GatewayPass {
        finish(self.router, self.tables)
    }
}

fn finish(router: Router, tables: Tables) -> GatewayPass {
    let warnings = router.filter.map(|f| f.warnings).unwrap_or_default();
    let mut over = router.over;
    let mut clients = Vec::with_capacity(router.clients.len());
    for (c, slot) in router.clients.into_iter().zip(tables.slots) {
        match slot {
            Slot::Open(table) => clients.push(ClientPass {
                ip: c.ip,
                pass: Pass {
                    fin: table.finish(),
                    findings: c.ident.finish(),
                    feed: None,
                    filter_warnings: warnings.clone(),
                },
                packets: c.packets,
                bytes: c.bytes,
            }),
            Slot::Refused => {
                over.add(c.ip, true);
                over.packets += c.packets;
                over.bytes += c.bytes;
            }
        }
    }
    GatewayPass {
        clients,
        over,
        unrouted: router.unrouted,
        pairs_used: tables.used,
        filter_warnings: warnings,
    }
}

/// One client's outcome, handed to the caller of [`analyze_gateway`].
pub struct ClientOutcome<'a> {
    pub ip: IpAddr,
    pub analysis: &'a Analysis,
    pub report: &'a Report,
    /// Frames and wire bytes of its packets.
    pub packets: u64,
    pub bytes: u64,
}

/// What a gateway analysis found beyond the clients' reports.
#[derive(Debug, Clone)]
pub struct GatewaySummary {
    /// How clients were chosen.
    pub rule: ClientRule,
    /// Clients analysed.
    pub clients: u64,
    pub over: OverCap,
    pub unrouted: Unrouted,
    pub pairs_cap: usize,
    pub pairs_per_client_cap: usize,
    pub pairs_used: usize,
    pub max_clients: usize,
    /// Frames read.
    pub packets: u64,
    /// Passes over the input (2 when some client needed a second).
    pub passes: u32,
    /// Clients read twice.
    pub second_pass_clients: u64,
    /// Problems with the input, as sentences.
    pub warnings: Vec<String>,
}

/// Why gateway mode could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// `--clients auto` found neither a router's MAC nor private addresses.
    #[error("--clients auto: the capture shows no router MAC (an Ethernet MAC carrying many source addresses) and no private addresses; give the clients' prefixes with --clients CIDR[,CIDR…]")]
    NoClientEvidence,
    /// The caller's sink failed (writing a report).
    #[error("{0}")]
    Sink(String),
}

/// Messages per batch between the threads, and batches in flight (a few MB at most).
const BATCH: usize = 4096;
const BATCHES_IN_FLIGHT: usize = 8;

fn gateway_pass(
    paths: &[String],
    analyzer: GatewayAnalyzer,
    parallel: bool,
    progress: &dyn Progress,
) -> Result<(GatewayPass, SourceStats, Vec<Warning>), AnalysisError> {
    let (mut merged, problems, counters) = super::files::open_merged(paths, None, progress)?;
    let tick = |n: u64| {
        if n % stream::TICK_PACKETS == 0 {
            progress.advance(counters.iter().map(|c| c.load(Ordering::Relaxed)).sum(), n);
        }
    };
    let pass = if parallel {
        let GatewayAnalyzer {
            mut router,
            mut tables,
            ..
        } = analyzer;
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<Msg>>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Msg>>();
        std::thread::scope(|scope| {
            let feeder = scope.spawn(move || {
                let mut order = Vec::with_capacity(BATCH + 64);
                for mut batch in full_rx {
                    tables.apply_batch(&batch, &mut order);
                    batch.clear();
                    // The reader may have finished; a lost spare buffer is harmless.
                    let _ = empty_tx.send(batch);
                }
                tables
            });
            let mut batch: Vec<Msg> = Vec::with_capacity(BATCH + 64);
            let mut n: u64 = 0;
            merged.for_each(|raw| {
                router.route(&raw, &mut batch);
                if batch.len() >= BATCH {
                    let spare = empty_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH + 64));
                    let full = std::mem::replace(&mut batch, spare);
                    // The feeder only stops when this side hangs up.
                    let _ = full_tx.send(full);
                }
                n += 1;
                tick(n);
            });
            if !batch.is_empty() {
                let _ = full_tx.send(batch);
            }
            drop(full_tx);
            let tables = feeder
                .join()
                .map_err(|_| AnalysisError::Internal("the flow-table thread failed"))?;
            Ok::<_, AnalysisError>(finish(router, tables))
        })?
    } else {
        let mut analyzer = analyzer;
        let mut n: u64 = 0;
        merged.for_each(|raw| {
            analyzer.push(&raw);
            n += 1;
            tick(n);
        });
        analyzer.finish()
    };
    progress.finish();
    Ok((pass, merged.stats(), problems))
}

/// Analyses capture files in gateway mode: one pass (a second, over the clients whose
/// provisional decision proved wrong, when the input can be read again), then each client's
/// report, handed to `sink` in order of first appearance and dropped after it.
pub fn analyze_gateway(
    paths: &[String],
    cfg: &GatewayConfig,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(ClientOutcome<'_>) -> Result<(), String>,
) -> Result<GatewaySummary, GatewayError> {
    let rule = match &cfg.clients {
        ClientSpec::Prefixes(p) => ClientRule::Prefixes(p.clone()),
        ClientSpec::Auto => ClientRule::detect(paths)?.ok_or(GatewayError::NoClientEvidence)?,
    };
    let parallel =
        !cfg.analysis.sequential && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let (first, stats, problems) = gateway_pass(
        paths,
        GatewayAnalyzer::new(cfg, rule.clone())?,
        parallel,
        progress,
    )?;
    let redo: FastMap<IpAddr, Decision> = first
        .clients
        .iter()
        .filter(|c| c.pass.fin.needs_second_pass)
        .filter_map(|c| Some((c.ip, c.pass.fin.decision()?)))
        .collect();
    let stdin = paths.iter().any(|p| p == "-");
    let mut second: FastMap<IpAddr, ClientPass> = FastMap::default();
    let mut approximate = false;
    if !redo.is_empty() {
        if stdin || stats.interrupted {
            approximate = true;
        } else {
            let analyzer = GatewayAnalyzer::new(cfg, rule.clone())?.restricted(redo.clone());
            let (pass, _, _) = gateway_pass(paths, analyzer, parallel, progress)?;
            second = pass.clients.into_iter().map(|c| (c.ip, c)).collect();
        }
    }
    let mut summary = GatewaySummary {
        rule,
        clients: first.clients.len() as u64,
        over: first.over,
        unrouted: first.unrouted,
        pairs_cap: cfg.max_pairs,
        pairs_per_client_cap: cfg.max_pairs_per_client,
        pairs_used: first.pairs_used,
        max_clients: cfg.max_clients,
        packets: stats.packets,
        passes: if second.is_empty() { 1 } else { 2 },
        second_pass_clients: second.len() as u64,
        warnings: problems.iter().map(ToString::to_string).collect(),
    };
    summary.warnings.extend(stats.warnings.iter().cloned());
    if summary.over.clients > 0 {
        summary.warnings.push(over_cap_sentence(&summary));
    }
    let mut client_cfg = cfg.analysis.clone();
    client_cfg.table.max_pairs = cfg.max_pairs;
    for c in first.clients {
        let (c, passes) = match second.remove(&c.ip) {
            Some(again) => (again, 2),
            None => (c, 1),
        };
        let mut warnings: Vec<Warning> = problems
            .iter()
            .map(|w| Warning::Source(w.to_string()))
            .collect();
        if approximate && redo.contains_key(&c.ip) {
            warnings.push(Warning::ApproximateTimeline);
        }
        let fin = &c.pass.fin;
        if fin.overflow.pairs_refused > 0 {
            warnings.push(Warning::ClientPairsFull {
                held: fin.pairs.len(),
                per_client: cfg.max_pairs_per_client,
                budget: cfg.max_pairs,
                pairs: fin.overflow.pairs,
                packets: fin.overflow.packets,
            });
        }
        // The client's own frames are its capture; what the reader said of the input holds
        // for every client.
        let client_stats = SourceStats {
            packets: c.packets,
            ..stats.clone()
        };
        client_cfg.table.given.local = Some(c.ip);
        let (analysis, report) = assemble::analysis_and_report(
            c.pass,
            &client_stats,
            paths,
            &client_cfg,
            warnings,
            passes,
        );
        sink(ClientOutcome {
            ip: c.ip,
            analysis: &analysis,
            report: &report,
            packets: c.packets,
            bytes: c.bytes,
        })
        .map_err(GatewayError::Sink)?;
    }
    Ok(summary)
}

/// The warning for clients that were not analysed.
pub fn over_cap_sentence(s: &GatewaySummary) -> String {
    let why = if s.over.by_pairs {
        format!(
            "the shared pair budget (--max-pairs {}) was spent",
            s.pairs_cap
        )
    } else {
        format!("--max-clients {} was reached", s.max_clients)
    };
    format!(
        "{} client addresses were not analysed because {why}: {} packets, {} bytes of theirs are in no client report (clients_over_cap in clients.json)",
        s.over.clients, s.over.packets, s.over.bytes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_match() {
        let p: Prefix = "192.0.2.77/24".parse().unwrap();
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert!(p.contains("192.0.2.1".parse().unwrap()));
        assert!(!p.contains("198.51.100.1".parse().unwrap()));
        assert!(!p.contains("2001:db8::1".parse().unwrap()));
        let host: Prefix = "198.51.100.9".parse().unwrap();
        assert!(host.contains("198.51.100.9".parse().unwrap()));
        assert!(!host.contains("198.51.100.8".parse().unwrap()));
        let v6: Prefix = "2001:db8:1::/48".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db8:2::5".parse().unwrap()));
        let all: Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.4".parse().unwrap()));
        assert!("192.0.2.0/33".parse::<Prefix>().is_err());
        assert!("nope/8".parse::<Prefix>().is_err());
    }
}
