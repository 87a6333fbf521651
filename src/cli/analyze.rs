//! `peerscope analyze`: capture files in, `report.json` and a human summary out.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::InputError;
use crate::analysis::{self, AnalysisConfig, AnalysisError};
use crate::flow::TableConfig;
use crate::metrics::playback::PlaybackOptions;
use crate::report::anonymize::Anonymizer;
use crate::report::{self, Report};

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

/// The anonymiser for `--anonymize` / `--anonymize-key FILE`, if either was given.
pub fn anonymizer(wanted: bool, key_file: Option<&Path>) -> anyhow::Result<Option<Anonymizer>> {
    let key = match (key_file, wanted) {
        (Some(path), _) => {
            let bytes = fs::read(path)
                .with_context(|| format!("cannot read key file {}", path.display()))?;
            Anonymizer::key_from_bytes(&bytes)
                .map_err(|e| InputError(format!("{}: {e}", path.display())))?
        }
        (None, true) => Anonymizer::random_key().context("no random key available")?,
        (None, false) => return Ok(None),
    };
    Ok(Some(Anonymizer::new(&key)))
}

/// Refuses to mix a run's files with an earlier run's: a directory that exists and holds
/// anything needs `--force`.
pub fn prepare_out_dir(out: &Path, force: bool) -> anyhow::Result<()> {
    if let Ok(mut entries) = fs::read_dir(out) {
        if entries.next().is_some() && !force {
            anyhow::bail!(
                "{} exists and is not empty: use --force to overwrite its reports, or -o to choose another directory",
                out.display()
            );
        }
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))
}

fn parse_window(text: &str) -> Result<f64, String> {
    let s = super::units::parse_duration_s(text)?;
    if s < 0.1 {
        return Err("the window must be at least 0.1 s".into());
    }
    Ok(s)
}

/// Tune-in as given: seconds into the capture or an absolute time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TuneIn {
    Relative(f64),
    Absolute(i64),
}

/// Parses `--tune-in`.
pub fn parse_tune_in(text: &str) -> Result<TuneIn, String> {
    if let Ok(s) = super::units::parse_duration_s(text) {
        return Ok(TuneIn::Relative(s));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("--tune-in '{text}': neither seconds nor an RFC 3339 time ({e})"))
        .and_then(|t| {
            t.timestamp_nanos_opt()
                .map(TuneIn::Absolute)
                .ok_or_else(|| format!("--tune-in '{text}': out of range"))
        })
}

impl AnalysisArgs {
    /// The validated configuration. A relative tune-in needs the capture's first timestamp,
    /// which is only known after reading, so it is resolved by the caller.
    pub fn config(&self, progress: bool) -> Result<(AnalysisConfig, Option<TuneIn>), String> {
        let tune_in = self.tune_in.as_deref().map(parse_tune_in).transpose()?;
        let bin_ns = 100_000_000i64;
        let window_ns = ((self.window * 1e9 / bin_ns as f64).round() as i64).max(1) * bin_ns;
        let table = TableConfig {
            local: self.local,
            video_min: self.video_min,
            window_ns,
            player_ports: self.player_ports.clone(),
            max_pairs: self.max_pairs.max(1),
            ..TableConfig::default()
        };
        let cfg = AnalysisConfig {
            table,
            playback: PlaybackOptions {
                stream_rate_kbps: self.stream_rate,
                tune_in_ns: match tune_in {
                    Some(TuneIn::Absolute(ns)) => Some(ns),
                    _ => None,
                },
            },
            filter: self.filter.clone(),
            progress,
            sequential: self.single_thread,
        };
        Ok((cfg, tune_in))
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

/// The default output directory for a run: `reports/<stem of the first file>`.
pub fn default_out_dir(first: &str) -> PathBuf {
    let stem = if first == "-" {
        "stdin".to_string()
    } else {
        Path::new(first)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "capture".into())
    };
    Path::new("reports").join(stem)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Runs an analysis of files and resolves a relative tune-in against the capture's start.
pub fn analyze(files: &[String], args: &AnalysisArgs, progress: bool) -> anyhow::Result<Report> {
    let (mut cfg, tune_in) = args.config(progress).map_err(InputError)?;
    let mut report = match analysis::analyze_files(files, &cfg) {
        Ok(r) => r,
        Err(AnalysisError::NoInput(e)) => return Err(InputError(e).into()),
        Err(e) => return Err(InputError(e.to_string()).into()),
    };
    if let Some(TuneIn::Relative(s)) = tune_in {
        // The capture's start is known only now: run the playback metrics with it.
        let start = report
            .capture
            .start
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| t.timestamp_nanos_opt());
        if let Some(start) = start {
            cfg.playback.tune_in_ns = Some(start + (s * 1e9) as i64);
            report = match analysis::analyze_files(files, &cfg) {
                Ok(r) => r,
                Err(e) => return Err(InputError(e.to_string()).into()),
            };
        }
    }
    Ok(report)
}

/// `peerscope analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let mut report = analyze(&args.files, &args.analysis, true)?;
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

/// The end of a run that wrote a report: the JSON or the human summary on stdout with the
/// paths written (`(label, path)`), then exit code 2 if not one packet could be decoded.
pub fn print_outcome(
    report: &Report,
    json: &[u8],
    as_json: bool,
    written: &[(&str, &Path)],
    names: &str,
) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if as_json {
        lock.write_all(json)?;
    } else {
        report::text::write(report, &mut lock)?;
        for (label, path) in written {
            writeln!(lock, "{label:<9} {}", path.display())?;
        }
    }
    lock.flush()?;
    if report.capture.decoded_packets == 0 {
        return Err(InputError(format!(
            "{names}: none of {} packets could be decoded",
            report.capture.packets
        ))
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
