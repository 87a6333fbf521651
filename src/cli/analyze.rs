//! `peerscope analyze`: capture files in, `report.json` and a human summary out.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::output::{anonymizer, default_out_dir, prepare_out_dir, print_outcome, write_atomic};
use super::InputError;
use crate::flow::{Given, TableConfig};
use crate::metrics::playback::{PlaybackOptions, TuneIn};
use crate::pipeline::{self, AnalysisConfig};
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
    /// Smallest UDP payload counted as video (default: chosen from the size distribution)
    #[arg(long, value_name = "BYTES")]
    pub video_min: Option<u32>,
    /// Width of a series window in seconds (a multiple of 0.1)
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_window)]
    pub window: f64,
    /// The stream's rate, e.g. 360kbps (default: measured from player or video traffic)
    #[arg(long, value_name = "RATE", value_parser = super::units::parse_rate_kbps)]
    pub stream_rate: Option<f64>,
    /// Tune-in time: seconds into the capture, or an RFC 3339 time (default: the first packet
    /// the client sends to a DNS server, the tracker or a peer)
    #[arg(long, value_name = "TIME")]
    pub tune_in: Option<String>,
    /// TCP port on loopback where the client serves its player (repeatable)
    #[arg(long = "player-port", value_name = "PORT", default_value = "8902")]
    pub player_ports: Vec<u16>,
    /// Most address pairs tracked; traffic of further pairs is counted in peers.overflow
    #[arg(long, value_name = "N", default_value_t = 262_144)]
    pub max_pairs: usize,
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
    /// Read, decode and count on one thread (the report is the same; for comparisons)
    #[arg(long)]
    pub single_thread: bool,
}

impl AnalysisArgs {
    /// The anonymiser asked for, if any.
    pub fn anonymizer(&self) -> anyhow::Result<Option<Anonymizer>> {
        anonymizer(self.anonymize, self.anonymize_key.as_deref())
    }
}

fn parse_window(text: &str) -> Result<f64, String> {
    let s = super::units::parse_duration_s(text)?;
    if s < 0.1 {
        return Err("the window must be at least 0.1 s".into());
    }
    Ok(s)
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
        let bin_ns = 100_000_000i64;
        let window_ns = ((self.window * 1e9 / bin_ns as f64).round() as i64).max(1) * bin_ns;
        let table = TableConfig {
            given: Given {
                local: self.local,
                video_min: self.video_min,
            },
            window_ns,
            player_ports: self.player_ports.clone(),
            max_pairs: self.max_pairs.max(1),
            ..TableConfig::default()
        };
        let cfg = AnalysisConfig {
            table,
            playback: PlaybackOptions {
                stream_rate_kbps: self.stream_rate,
                tune_in,
            },
            filter: self.filter.clone(),
            sequential: self.single_thread,
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
    /// Capture files (pcap or pcapng, any link type peerscope decodes); `-` reads stdin
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Output directory for report.json (default: reports/<first file's stem>/)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the report as JSON on stdout instead of the summary
    #[arg(long)]
    pub json: bool,
    /// Write into an output directory that already holds files (overwriting the reports)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// Runs one analysis of files (a relative tune-in is resolved inside the playback metrics).
pub fn analyze(files: &[String], args: &AnalysisArgs) -> anyhow::Result<Report> {
    let cfg = args.config().map_err(InputError)?;
    let (_, report) = pipeline::analyze_files(files, &cfg, &super::progress::Bar::new())
        .map_err(super::analysis_error)?;
    Ok(report)
}

/// `peerscope analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let mut report = analyze(&args.files, &args.analysis)?;
    if let Some(mut anon) = args.analysis.anonymizer()? {
        report = anon.report(&report).context("anonymising the report")?;
    }
    let names = args.files.join(", ");
    if report.capture.packets == 0 {
        // Nothing to report: one line naming the input, with what the reader found in it.
        let found: Vec<&str> = report
            .capture
            .warnings
            .iter()
            .map(|w| {
                args.files
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
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&args.files[0]));
    prepare_out_dir(&out, args.force)?;
    let mut json = Vec::new();
    report::json::write(&report, &mut json)?;
    write_atomic(&out.join("report.json"), &json)?;
    super::plot::write_all(&report, &out)?;
    let report_path = out.join("report.json");
    print_outcome(
        &report,
        &json,
        args.json,
        &[("report", &report_path)],
        &names,
    )
}
