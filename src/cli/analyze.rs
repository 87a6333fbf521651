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
    /// peerscope decodes); `-` reads stdin
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
    /// Analyse the readable files when some of several cannot be opened (they are named in
    /// capture.warnings); without it, that is an error
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub chatter: Chatter,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
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

/// `peerscope analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let files = args.inputs();
    args.analysis.config().map_err(UsageError)?;
    let bare_flows = args.flows.as_ref().is_some_and(|f| f.is_empty());
    if bare_flows && args.json && args.out.is_none() {
        return Err(UsageError(
            "--flows writes flows.ndjson into the output directory: give -o DIR or --flows=FILE (with --json and no -o nothing is written)".into(),
        )
        .into());
    }
    if args.csv && args.json && args.out.is_none() {
        return Err(UsageError(
            "--csv writes series.csv and peers.csv into the output directory: give -o DIR (with --json and no -o nothing is written)".into(),
        )
        .into());
    }
    // Outputs first, then inputs: nothing is read until everything can be written.
    let mut out = match (&args.out, args.json) {
        (Some(dir), _) => Some(OutDir::prepare(dir, args.force)?),
        (None, true) => None,
        (None, false) => Some(OutDir::prepare(&default_out_dir(&files[0]), args.force)?),
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
    analysis_args.track_flows = flows_path.is_some();
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
    let flows = match &flows_path {
        Some(path) => {
            let f = &analysis.flows;
            if f.refused_packets > 0 {
                let w = format!(
                    "--flows: the flow table was full ({} flows): {} packets of further flows are in no line of {}",
                    f.max,
                    f.refused_packets,
                    path.display()
                );
                eprintln!("peerscope: warning: {w}");
                report.capture.warnings.push(w);
            }
            let mut text = Vec::new();
            for rec in &f.records {
                let mut rec = rec.clone();
                if let Some(anon) = anon.as_mut() {
                    rec.orig_h = anon.text(&rec.orig_h);
                    rec.resp_h = anon.text(&rec.resp_h);
                }
                serde_json::to_writer(&mut text, &rec)?;
                text.push(b'\n');
            }
            Some((path.clone(), text))
        }
        None => None,
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
        if args.csv {
            for path in super::export::write_csv(&report, dir.path())? {
                written.push(("csv", path));
            }
        }
        dir.keep();
    }
    let written: Vec<(&str, &std::path::Path)> =
        written.iter().map(|(l, p)| (*l, p.as_path())).collect();
    print_outcome(&report, &json, args.json, args.chatter.quiet, &written)
}
