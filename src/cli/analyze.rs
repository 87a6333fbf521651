//! `peerscope analyze`: capture files in, `report.json` and a human summary out.
//!
//! The order of a run is what keeps it from losing anything: options are checked (clap, then
//! [`AnalysisArgs::config`]), then the outputs (the directory exists empty or `--force`, and
//! is writable), then the inputs ([`super::inputs::check`]); only then is one byte of input
//! read. SIGINT/SIGTERM end the input; the report of what was read is written.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use super::output::{
    anonymizer, check_decoded, check_new_file, default_out_dir, parse_out_dir, print_outcome,
    write_atomic, Chatter, OutDir,
};
use super::units::{parse_positive_rate_kbps, parse_window};
use super::{InputError, UsageError};
use crate::flow::{Given, TableConfig};
use crate::metrics::playback::{PlaybackOptions, TuneIn};
use crate::pipeline::gateway::{self, ClientSpec, GatewayConfig, GatewayError, Prefix};
use crate::pipeline::{self, Analysis, AnalysisConfig};
use crate::report::anonymize::Anonymizer;
use crate::report::{self, Report};
use crate::time::{Span, Timestamp};

/// Options shared by every subcommand that analyses packets (`analyze`, `capture`).
#[derive(Debug, Clone, clap::Args)]
pub struct AnalysisArgs {
    /// The vantage point's address (default: inferred — the address exchanging UDP with the
    /// most distinct remote addresses)
    #[arg(long, value_name = "IP")]
    pub local: Option<IpAddr>,
    /// Smallest UDP payload counted as video, 1 to 65535 (default: chosen from the size
    /// distribution)
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub video_min: Option<u32>,
    /// Width of a series window: a multiple of 0.1 s from 0.1 s to 1 h
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_window)]
    pub window: f64,
    /// The stream's rate, more than 0 up to 10 Gb/s, e.g. 360kbps (default: measured from
    /// player or video traffic)
    #[arg(long, value_name = "RATE", value_parser = parse_positive_rate_kbps)]
    pub stream_rate: Option<f64>,
    /// Tune-in time: seconds into the capture, or an RFC 3339 time (default: the first packet
    /// the client sends to a DNS server, the tracker or a peer)
    #[arg(long, value_name = "TIME")]
    pub tune_in: Option<String>,
    /// TCP port on loopback where the client serves its player (repeatable; default 8902, SopCast, and 6878, Ace Stream)
    #[arg(long = "player-port", value_name = "PORT", default_values_t = [8902u16, 6878], value_parser = clap::value_parser!(u16).range(1..))]
    pub player_ports: Vec<u16>,
    /// Most address pairs tracked, 1 to 67108864; traffic of further pairs is counted in
    /// peers.overflow
    #[arg(long, value_name = "N", default_value_t = 262_144, value_parser = clap::value_parser!(u64).range(1..=MAX_PAIRS))]
    pub max_pairs: u64,
    /// Capture filter in tcpdump (BPF) syntax, applied to every frame
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Replace every address in the report (and figures) with a keyed prefix-preserving
    /// pseudonym (Crypto-PAn); a random key unless --anonymize-key is given
    #[arg(long)]
    pub anonymize: bool,
    /// Key for --anonymize: a file of 32 bytes or 64 hex digits (implies --anonymize); the
    /// same key gives the same pseudonyms across runs
    #[arg(long, value_name = "FILE")]
    pub anonymize_key: Option<PathBuf>,
    /// Write the random key of --anonymize to FILE (64 hex digits, readable by you only;
    /// implies --anonymize), to anonymise later runs alike with --anonymize-key FILE
    #[arg(long, value_name = "FILE")]
    pub anonymize_key_out: Option<PathBuf>,
    /// Read, decode and count on one thread (the report is the same; for comparisons)
    #[arg(long)]
    pub single_thread: bool,
    /// A peer silent for longer than this ends its session (swarm churn and lifetimes), e.g.
    /// 30 or 2m
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_idle_timeout)]
    pub idle_timeout: f64,
    /// ASN database for locality: a MaxMind DB (.mmdb, e.g. GeoLite2-ASN) or a CSV/TSV range
    /// table (ip-location-db asn, iptoasn ip2asn); never downloaded
    #[arg(long, value_name = "FILE")]
    pub asn_db: Option<PathBuf>,
    /// Country database for locality: a MaxMind DB (.mmdb) or a CSV range table
    /// (ip-location-db country: start,end,country)
    #[arg(long, value_name = "FILE")]
    pub geo_db: Option<PathBuf>,
    /// Track 5-tuple flows for `--flows` (set by the subcommand, not an option).
    #[arg(skip)]
    pub track_flows: bool,
}

impl AnalysisArgs {
    /// The anonymiser asked for, if any (writing its key when asked: call before reading).
    pub fn anonymizer(&self, force: bool) -> anyhow::Result<Option<Anonymizer>> {
        anonymizer(
            self.anonymize,
            self.anonymize_key.as_deref(),
            self.anonymize_key_out.as_deref(),
            force,
        )
    }
}

/// The largest `--max-pairs` (2^26 pairs: a few GB of table).
const MAX_PAIRS: u64 = 1 << 26;
/// Most 5-tuple flows `--flows` tracks (a few hundred bytes each); the export says when this
/// cap was hit.
pub const MAX_FLOWS: usize = 262_144;
/// The name of the flow export in the output directory (bare `--flows`).
pub const FLOWS_NAME: &str = "flows.ndjson";

/// Parses `--idle-timeout`: a duration from 1 s to 1 day.
fn parse_idle_timeout(text: &str) -> Result<f64, String> {
    let s = super::units::parse_duration_s(text)?;
    if (1.0..=86_400.0).contains(&s) {
        Ok(s)
    } else {
        Err(format!("--idle-timeout must be 1 s to 1 day, got {s} s"))
    }
}

/// Parses `--tune-in`: seconds into the capture, or an RFC 3339 time.
pub fn parse_tune_in(text: &str) -> Result<TuneIn, String> {
    if let Ok(s) = super::units::parse_duration_s(text) {
        return Ok(TuneIn::Relative(Span::from_secs_f64(s)));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("--tune-in '{text}': neither seconds nor an RFC 3339 time ({e})"))
        .and_then(|t| {
            t.timestamp_nanos_opt()
                .map(|ns| TuneIn::Absolute(Timestamp::from_ns(ns)))
                .ok_or_else(|| format!("--tune-in '{text}': out of range"))
        })
}

impl AnalysisArgs {
    /// The validated configuration.
    pub fn config(&self) -> Result<AnalysisConfig, String> {
        let tune_in = self.tune_in.as_deref().map(parse_tune_in).transpose()?;
        // parse_window admits exact multiples of the 0.1 s bin only: this rounding is exact.
        let bin_ns = 100_000_000i64;
        let window_ns = ((self.window * 1e9 / bin_ns as f64).round() as i64).max(1) * bin_ns;
        let table = TableConfig {
            given: Given {
                local: self.local,
                video_min: self.video_min,
            },
            window_ns,
            player_ports: self.player_ports.clone(),
            max_pairs: usize::try_from(self.max_pairs).unwrap_or(usize::MAX),
            max_conns: if self.track_flows { MAX_FLOWS } else { 0 },
            idle_timeout_ns: (self.idle_timeout * 1e9).round() as i64,
            ..TableConfig::default()
        };
        let locator = crate::geo::Locator::open(self.asn_db.as_deref(), self.geo_db.as_deref())
            .map_err(|e| e.to_string())?;
        let cfg = AnalysisConfig {
            table,
            playback: PlaybackOptions {
                stream_rate_kbps: self.stream_rate,
                tune_in,
            },
            filter: self.filter.clone(),
            sequential: self.single_thread,
            window: None,
            locator: std::sync::Arc::new(locator),
        };
        Ok(cfg)
    }
}

/// Arguments of `analyze`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  peerscope analyze captures/sopcast-sim.pcap\n  peerscope analyze a.pcap b.pcapng -o out/ --local 192.0.2.10\n  tcpdump -i any -w - | peerscope analyze - --json"
)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, plain or gzip/zstd/xz-compressed, any link type
    /// peerscope decodes); `-` reads stdin; a directory gives every capture file in it and a
    /// quoted glob pattern ('rot/part*') the files it matches: several files are merged in
    /// time order and read as one capture (rotated captures)
    #[arg(required_unless_present = "read", value_name = "FILE")]
    pub files: Vec<String>,
    /// A capture file, as tcpdump -r (repeatable; read before the FILE arguments)
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<String>,
    /// Output directory for report.json and the figures (default: reports/<first file's
    /// stem>/; with --json, none unless -o is given)
    #[arg(short = 'o', long = "out", value_name = "DIR", value_parser = parse_out_dir)]
    pub out: Option<PathBuf>,
    /// Print the report as JSON on stdout instead of the summary; nothing is written to disk
    /// unless -o is given too
    #[arg(long)]
    pub json: bool,
    /// Write into an output directory that already holds files (overwriting the reports)
    #[arg(long)]
    pub force: bool,
    /// Also write one line per 5-tuple flow (Zeek conn.log-like JSON): --flows=FILE, or bare
    /// --flows for flows.ndjson in the output directory
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub flows: Option<String>,
    /// Also write the series and the peer table as CSV (series.csv, peers.csv) into the output
    /// directory, for pandas or gnuplot
    #[arg(long)]
    pub csv: bool,
    /// Also write tables for other tools into the output directory (repeatable): csv (as
    /// --csv), parquet (peers, series, report and flows .parquet, for DuckDB or Spark; flows
    /// are tracked for it even without --flows)
    #[arg(long = "export", value_name = "FORMAT", value_enum)]
    pub export: Vec<super::export::ExportFormat>,
    /// Analyse the readable files when some of several cannot be opened (they are named in
    /// capture.warnings); without it, that is an error
    #[arg(long)]
    pub keep_going: bool,
    /// Gateway mode: every address in these prefixes (CIDR[,CIDR…]) that exchanges traffic
    /// is its own vantage point, all in one pass; `auto` takes the clients' side of a tap (the
    /// addresses behind any MAC but the router's, else private addresses). Writes
    /// clients/IP/report.json, clients.json and clients.html; --max-pairs is then the budget
    /// shared by all clients
    #[arg(long, value_name = "CIDR|auto", value_parser = parse_clients, conflicts_with_all = ["local", "json", "flows", "csv", "anonymize", "anonymize_key", "anonymize_key_out"])]
    pub clients: Option<ClientSpec>,
    /// Gateway mode: most clients analysed, 1 to 1048576; further client addresses are
    /// counted (clients_over_cap), not analysed. Each client analysed holds about 0.15 MB
    /// beside its pairs (warm-up buffer, identification, timeline) [default: 65536]
    #[arg(long, value_name = "N", requires = "clients", value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub max_clients: Option<u64>,
    /// Gateway mode: most address pairs one client may draw from the shared --max-pairs
    /// budget [default: an eighth of --max-pairs]
    #[arg(long, value_name = "N", requires = "clients", value_parser = clap::value_parser!(u64).range(1..=MAX_PAIRS))]
    pub max_pairs_per_client: Option<u64>,
    /// Gateway mode: also write each client's figures and page (clients/IP/index.html);
    /// off by default, as it costs more than the analysis itself for thousands of clients
    #[arg(long, requires = "clients")]
    pub client_pages: bool,
    #[command(flatten)]
    pub chatter: Chatter,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// Parses `--clients`: `auto`, or a comma-separated list of prefixes.
pub fn parse_clients(text: &str) -> Result<ClientSpec, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(ClientSpec::Auto);
    }
    let prefixes = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse::<Prefix>)
        .collect::<Result<Vec<_>, _>>()?;
    if prefixes.is_empty() {
        return Err("give one or more prefixes (192.0.2.0/24,2001:db8::/32) or auto".into());
    }
    Ok(ClientSpec::Prefixes(prefixes))
}

impl AnalyzeArgs {
    /// Every input: the `-r` files, then the positional ones.
    pub fn inputs(&self) -> Vec<String> {
        self.read.iter().chain(&self.files).cloned().collect()
    }
}

/// Runs one analysis of files (a relative tune-in is resolved inside the playback metrics),
/// then checks that `--tune-in` lies within the capture.
pub fn analyze(
    files: &[String],
    args: &AnalysisArgs,
    progress: bool,
) -> anyhow::Result<(Analysis, Report)> {
    let cfg = args.config().map_err(UsageError)?;
    let (analysis, report) =
        pipeline::analyze_files(files, &cfg, &super::progress::Bar::new(progress))
            .map_err(super::analysis_error)?;
    if report.capture.packets > 0 {
        check_tune_in(cfg.playback.tune_in, args.tune_in.as_deref(), &analysis)?;
    }
    Ok((analysis, report))
}

/// `--tune-in` outside the capture's span (after its last packet, or an absolute time before
/// its first) is a usage error: the start-up delay would be measured from a time the capture
/// says nothing about.
pub fn check_tune_in(
    tune_in: Option<TuneIn>,
    text: Option<&str>,
    a: &Analysis,
) -> Result<(), UsageError> {
    let Some(t) = tune_in else { return Ok(()) };
    let span = a.last.since(a.first);
    let at = match t {
        TuneIn::Relative(s) => a.first + s,
        TuneIn::Absolute(ts) => ts,
    };
    if at < a.first || at > a.last {
        let show = |ts: crate::time::Timestamp| ts.rfc3339().unwrap_or_else(|| ts.to_string());
        return Err(UsageError(format!(
            "--tune-in {}: outside the capture, which lasts {:.3} s from {} to {}; give 0 to {:.3} seconds into it, or a time between those two",
            text.unwrap_or("?"),
            span.as_secs_f64(),
            show(a.first),
            show(a.last),
            span.as_secs_f64()
        )));
    }
    Ok(())
}

/// Rows of the client table printed on stdout (all are in clients.json).
const CLIENT_ROWS_SHOWN: usize = 40;

/// `peerscope analyze --clients`: gateway mode.
fn run_gateway(args: &AnalyzeArgs, spec: ClientSpec) -> anyhow::Result<ExitCode> {
    use crate::report::clients::{self, ClientRow, ClientsIndex, CLIENTS_SCHEMA};
    // A directory or a quoted glob of rotated captures, as for one client.
    let files = super::inputs::expand(&args.inputs())?.files;
    let analysis = args.analysis.config().map_err(UsageError)?;
    let max_pairs = analysis.table.max_pairs;
    let cfg = GatewayConfig {
        analysis,
        clients: spec,
        max_pairs,
        max_pairs_per_client: args.max_pairs_per_client.map_or_else(
            || GatewayConfig::default_per_client(max_pairs),
            |n| usize::try_from(n).unwrap_or(usize::MAX),
        ),
        max_clients: args.max_clients.map_or(gateway::DEFAULT_MAX_CLIENTS, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        }),
    };
    let out_path = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&files[0]));
    let mut out = OutDir::prepare(&out_path, args.force)?;
    super::inputs::check(&files, args.keep_going)?;
    super::stop_reading_on_signal()?;
    let started = Instant::now();
    let clients_dir = out.path().join("clients");
    std::fs::create_dir_all(&clients_dir)
        .with_context(|| format!("cannot create {}", clients_dir.display()))?;
    let mut rows: Vec<(IpAddr, ClientRow)> = Vec::new();
    let mut warned_clients = 0u64;
    let pages = args.client_pages;
    let mut sink = |c: gateway::ClientOutcome<'_>| -> Result<(), String> {
        let name = c.ip.to_string();
        let dir = clients_dir.join(&name);
        let write = || -> anyhow::Result<()> {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut json = Vec::new();
            report::json::write(c.report, &mut json)?;
            write_atomic(&dir.join("report.json"), &json)?;
            if pages {
                super::plot::write_all(c.report, &dir)?;
            }
            Ok(())
        };
        write().map_err(|e| format!("{e:#}"))?;
        if !c.report.capture.warnings.is_empty() {
            warned_clients += 1;
        }
        let page = pages.then(|| format!("clients/{name}/index.html"));
        let row = ClientRow::new(
            c.report,
            &name,
            c.packets,
            c.bytes,
            format!("clients/{name}/report.json"),
            page,
        );
        rows.push((c.ip, row));
        Ok(())
    };
    let summary = gateway::analyze_gateway(
        &files,
        &cfg,
        &super::progress::Bar::new(args.chatter.progress()),
        &mut sink,
    )
    .map_err(|e| match e {
        GatewayError::Analysis(e) => super::analysis_error(e),
        GatewayError::NoClientEvidence => InputError(e.to_string()).into(),
        other => anyhow::Error::new(other),
    })?;
    let names = files.join(", ");
    if summary.packets == 0 {
        return Err(InputError(format!("{names}: no packets in the capture")).into());
    }
    let mut warnings = summary.warnings.clone();
    if summary.clients == 0 {
        warnings.push(format!(
            "no client address ({}) exchanged traffic in the capture",
            summary.rule.describe()
        ));
    }
    if warned_clients > 0 {
        warnings.push(format!(
            "{warned_clients} client reports carry warnings of their own (capture.warnings in clients/<IP>/report.json)"
        ));
    }
    for w in &warnings {
        eprintln!("peerscope: warning: {w}");
    }
    rows.sort_by_key(|r| r.0);
    let index = ClientsIndex {
        schema: CLIENTS_SCHEMA.into(),
        rule: summary.rule.describe(),
        clients_seen: summary.clients + summary.over.clients,
        clients_analysed: summary.clients,
        clients_over_cap: summary.over.clients,
        over_cap_packets: summary.over.packets,
        over_cap_bytes: summary.over.bytes,
        pairs_cap: summary.pairs_cap as u64,
        pairs_per_client_cap: summary.pairs_per_client_cap as u64,
        pairs_used: summary.pairs_used as u64,
        max_clients: summary.max_clients as u64,
        packets: summary.packets,
        unrouted_packets: summary.unrouted.packets,
        passes: summary.passes,
        warnings,
        clients: rows.into_iter().map(|(_, r)| r).collect(),
    };
    let mut json = Vec::new();
    clients::write_json(&index, &mut json)?;
    let json_path = out.path().join("clients.json");
    write_atomic(&json_path, &json)?;
    if args.export.contains(&super::export::ExportFormat::Parquet) {
        let value: serde_json::Value = serde_json::from_slice(&json)?;
        super::parquet::write_clients(&value, out.path())?;
    }
    let mut html = Vec::new();
    clients::write_html(&index, &mut html)?;
    let html_path = out.path().join("clients.html");
    write_atomic(&html_path, &html)?;
    out.keep();
    if args.chatter.verbose {
        eprintln!(
            "peerscope: read {} packets from {} in {} pass(es), {} clients, {:.2} s",
            summary.packets,
            names,
            summary.passes,
            summary.clients,
            started.elapsed().as_secs_f64()
        );
    }
    if !args.chatter.quiet {
        use std::io::Write;
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        clients::write_text(&index, CLIENT_ROWS_SHOWN, &mut lock)?;
        writeln!(lock, "{:<9} {}", "clients", json_path.display())?;
        writeln!(lock, "{:<9} {}", "index", html_path.display())?;
        writeln!(lock, "{:<9} {}", "reports", clients_dir.display())?;
        lock.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `peerscope analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if let Some(spec) = args.clients.clone() {
        return run_gateway(&args, spec);
    }
    let given = args.inputs();
    let expanded = super::inputs::expand(&given)?;
    let files = expanded.files;
    // The default output directory is named after the directory given, else the first file.
    let first_name = match given.first() {
        Some(g) if g != "-" && std::path::Path::new(g).is_dir() => g.clone(),
        _ => files.first().cloned().unwrap_or_else(|| "-".into()),
    };
    args.analysis.config().map_err(UsageError)?;
    let bare_flows = args.flows.as_ref().is_some_and(|f| f.is_empty());
    if bare_flows && args.json && args.out.is_none() {
        return Err(UsageError(
            "--flows writes flows.ndjson into the output directory: give -o DIR or --flows=FILE (with --json and no -o nothing is written)".into(),
        )
        .into());
    }
    let want_csv = args.csv || args.export.contains(&super::export::ExportFormat::Csv);
    let want_parquet = args.export.contains(&super::export::ExportFormat::Parquet);
    if want_csv && args.json && args.out.is_none() {
        return Err(UsageError(
            "--csv writes series.csv and peers.csv into the output directory: give -o DIR (with --json and no -o nothing is written)".into(),
        )
        .into());
    }
    if want_parquet && args.json && args.out.is_none() {
        return Err(UsageError(
            "--export parquet writes its files into the output directory: give -o DIR (with --json and no -o nothing is written)".into(),
        )
        .into());
    }
    // Outputs first, then inputs: nothing is read until everything can be written.
    let mut out = match (&args.out, args.json) {
        (Some(dir), _) => Some(OutDir::prepare(dir, args.force)?),
        (None, true) => None,
        (None, false) => Some(OutDir::prepare(&default_out_dir(&first_name), args.force)?),
    };
    let flows_path = match (&args.flows, &out) {
        (None, _) => None,
        (Some(f), Some(dir)) if f.is_empty() => Some(dir.path().join(FLOWS_NAME)),
        (Some(f), _) => {
            let f = PathBuf::from(f);
            check_new_file(&f, args.force, "--flows")?;
            Some(f)
        }
    };
    let mut anon = args.analysis.anonymizer(args.force)?;
    super::inputs::check(&files, args.keep_going)?;
    super::stop_reading_on_signal()?;
    let started = Instant::now();
    let mut analysis_args = args.analysis.clone();
    analysis_args.track_flows = flows_path.is_some() || want_parquet;
    let (analysis, mut report) = analyze(&files, &analysis_args, args.chatter.progress())?;
    if args.chatter.verbose {
        eprintln!(
            "peerscope: read {} packets ({} decoded) from {} in {} pass(es), {:.2} s",
            report.capture.packets,
            report.capture.decoded_packets,
            files.join(", "),
            analysis.passes,
            started.elapsed().as_secs_f64()
        );
    }
    report.capture.warnings.extend(expanded.skipped);
    if let Some(anon) = anon.as_mut() {
        report = anon.report(&report).context("anonymising the report")?;
    }
    let names = files.join(", ");
    if report.capture.packets == 0 {
        // Nothing to report: one line naming the input, with what the reader found in it.
        let found: Vec<&str> = report
            .capture
            .warnings
            .iter()
            .map(|w| {
                files
                    .iter()
                    .find_map(|f| w.strip_prefix(f.as_str())?.strip_prefix(": "))
                    .unwrap_or(w)
            })
            .collect();
        let detail = if found.is_empty() {
            String::new()
        } else {
            format!(" ({})", found.join("; "))
        };
        return Err(InputError(format!("{names}: no packets in the capture{detail}")).into());
    }
    for w in &report.capture.warnings {
        eprintln!("peerscope: warning: {w}");
    }
    check_decoded(&report, &names)?;
    // The flow records (anonymised when asked), for --flows and --export parquet.
    let records = if analysis_args.track_flows {
        let f = &analysis.flows;
        if f.refused_packets > 0 {
            let into: Vec<String> = flows_path
                .iter()
                .map(|p| p.display().to_string())
                .chain(want_parquet.then(|| super::parquet::FLOWS_PARQUET.to_string()))
                .collect();
            let w = format!(
                "--flows: the flow table was full ({} flows): {} packets of further flows are in no line of {}",
                f.max,
                f.refused_packets,
                into.join(" or ")
            );
            eprintln!("peerscope: warning: {w}");
            report.capture.warnings.push(w);
        }
        let mut records = f.records.clone();
        if let Some(anon) = anon.as_mut() {
            for rec in &mut records {
                rec.orig_h = anon.text(&rec.orig_h);
                rec.resp_h = anon.text(&rec.resp_h);
            }
        }
        Some(records)
    } else {
        None
    };
    let flows = match (&flows_path, &records) {
        (Some(path), Some(records)) => {
            let mut text = Vec::new();
            for rec in records {
                serde_json::to_writer(&mut text, rec)?;
                text.push(b'\n');
            }
            Some((path.clone(), text))
        }
        _ => None,
    };
    let mut json = Vec::new();
    report::json::write(&report, &mut json)?;
    let mut written = Vec::new();
    if let Some((path, text)) = &flows {
        write_atomic(path, text)?;
        written.push(("flows", path.clone()));
    }
    if let Some(dir) = out.as_mut() {
        let report_path = dir.path().join("report.json");
        write_atomic(&report_path, &json)?;
        super::plot::write_all(&report, dir.path())?;
        written.push(("report", report_path));
        if want_csv {
            for path in super::export::write_csv(&report, dir.path())? {
                written.push(("csv", path));
            }
        }
        if want_parquet {
            for path in super::parquet::write_report(&report, records.as_deref(), dir.path())? {
                written.push(("parquet", path));
            }
        }
        dir.keep();
    }
    let written: Vec<(&str, &std::path::Path)> =
        written.iter().map(|(l, p)| (*l, p.as_path())).collect();
    print_outcome(&report, &json, args.json, args.chatter.quiet, &written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_option_parses_prefixes_and_auto() {
        assert_eq!(parse_clients("auto").unwrap(), ClientSpec::Auto);
        assert_eq!(parse_clients(" AUTO ").unwrap(), ClientSpec::Auto);
        let ClientSpec::Prefixes(p) =
            parse_clients("192.0.2.0/24, 2001:db8::/32,198.51.100.9").unwrap()
        else {
            panic!("prefixes expected");
        };
        let shown: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["192.0.2.0/24", "2001:db8::/32", "198.51.100.9/32"]);
        assert!(parse_clients("").is_err());
        assert!(parse_clients(",").is_err());
        assert!(parse_clients("192.0.2.0/40").is_err());
        assert!(parse_clients("clients").is_err());
    }
}
