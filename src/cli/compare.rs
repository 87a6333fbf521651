//! `peerscope compare`: several vantage points (a source and its receivers, clocks in sync)
//! in, `compare.json`, figures, `index.html` and one `report.json` per node out.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::output::{parse_out_dir, write_atomic, OutDir};
use super::units::{parse_positive_duration_s, parse_rate_kbps};
use super::{InputError, UsageError};
use crate::compare::{self, CompareConfig, NodeInput, RunInput};
use crate::metrics::delay::MatchConfig;
use crate::report::{self, compare as model, compare_svg};

const EXAMPLES: &str = "\
Examples:
  peerscope simulate --lab --receivers 4 -o lab/
  peerscope compare --node source=lab/source.pcap --node r1=lab/r1.pcap --node r2=lab/r2.pcap \\
      --node r3=lab/r3.pcap --node r4=lab/r4.pcap -o out/
  peerscope compare --node home=a.pcap@192.0.2.10 --node home=b.pcap --node campus=c.pcap \\
      --source campus --run 330kbps=r330.pcap --run 380kbps=r380.pcap";

/// Arguments of `compare`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct CompareArgs {
    /// A vantage point: NAME=FILE, or NAME=FILE@IP to give its address; repeat a NAME to give
    /// it several files
    #[arg(long = "node", value_name = "NAME=FILE[@IP]", required = true, value_parser = parse_node)]
    pub nodes: Vec<NodeArg>,
    /// The node that is the source [default: the first node]
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// A run at a known input rate, e.g. 380kbps=run380.pcap (continuity against input rate)
    #[arg(long = "run", value_name = "LABEL=FILE", value_parser = parse_run)]
    pub runs: Vec<RunArg>,
    /// The channel's stream rate (e.g. 532kbps), for every node and run: it takes precedence
    /// over each capture's media clock and the estimates [default: each capture's own]
    #[arg(long, value_name = "RATE", value_parser = super::units::parse_positive_rate_kbps)]
    pub stream_rate: Option<f64>,
    /// Output directory [default: reports/compare; with --json, none unless -o is given]
    #[arg(short = 'o', long = "out", value_name = "DIR", value_parser = parse_out_dir)]
    pub out: Option<PathBuf>,
    /// Print compare.json on stdout instead of the summary; nothing is written to disk unless
    /// -o is given too
    #[arg(long)]
    pub json: bool,
    /// Source packets are remembered this long for matching (bounds memory), more than 0 up
    /// to 24 h
    #[arg(long, value_name = "DURATION", default_value = "5min", value_parser = parse_positive_duration_s)]
    pub horizon: f64,
    /// Largest lag searched by the rate cross-correlation, either way, more than 0 up to 24 h
    #[arg(long, value_name = "DURATION", default_value = "3min", value_parser = parse_positive_duration_s)]
    pub max_lag: f64,
    /// Analyses run at once, 1 to 256 [default: the number of cores]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: Option<u64>,
    /// ASN database for every node's locality (.mmdb or CSV/TSV ranges; see analyze)
    #[arg(long, value_name = "FILE")]
    pub asn_db: Option<std::path::PathBuf>,
    /// Country database for every node's locality (.mmdb or CSV ranges; see analyze)
    #[arg(long, value_name = "FILE")]
    pub geo_db: Option<std::path::PathBuf>,
    /// Replace every address in compare.json, the node reports, figures and page with a keyed
    /// prefix-preserving pseudonym (one key for the whole run: all files agree)
    #[arg(long)]
    pub anonymize: bool,
    /// Key for --anonymize (32 bytes or 64 hex digits); implies --anonymize
    #[arg(long, value_name = "FILE")]
    pub anonymize_key: Option<PathBuf>,
    /// Write the random key of --anonymize to FILE (64 hex digits, readable by you only;
    /// implies --anonymize)
    #[arg(long, value_name = "FILE")]
    pub anonymize_key_out: Option<PathBuf>,
    /// Write into an output directory that already holds files
    #[arg(long)]
    pub force: bool,
    /// Also write tables for other tools into the output directory: parquet (runs.parquet and
    /// nodes.parquet, for DuckDB or Spark)
    #[arg(long = "export", value_name = "FORMAT", value_enum)]
    pub export: Vec<super::export::ExportFormat>,
    /// No summary on stdout (warnings and errors are still printed)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// One `--node` value.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeArg {
    pub name: String,
    pub file: String,
    pub local: Option<IpAddr>,
}

/// One `--run` value.
#[derive(Debug, Clone, PartialEq)]
pub struct RunArg {
    pub label: String,
    pub kbps: f64,
    pub file: String,
}

/// Parses `NAME=FILE` or `NAME=FILE@IP` (a trailing `@…` that is no address stays part of the
/// file name).
pub fn parse_node(text: &str) -> Result<NodeArg, String> {
    let (name, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}': expected NAME=FILE or NAME=FILE@IP"))?;
    if !compare::valid_name(name) {
        return Err(format!(
            "'{name}': a node name is letters, digits, '.', '_' or '-'"
        ));
    }
    let (file, local) = match rest.rsplit_once('@') {
        Some((file, ip)) => match ip.parse::<IpAddr>() {
            Ok(ip) => (file, Some(ip)),
            Err(_) => (rest, None),
        },
        None => (rest, None),
    };
    if file.is_empty() {
        return Err(format!("'{text}': no file"));
    }
    Ok(NodeArg {
        name: name.to_string(),
        file: file.to_string(),
        local,
    })
}

/// Parses `LABEL=FILE`, where LABEL is a rate such as `380kbps`.
pub fn parse_run(text: &str) -> Result<RunArg, String> {
    let (label, file) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}': expected LABEL=FILE, e.g. 380kbps=run.pcap"))?;
    let kbps = parse_rate_kbps(label)?;
    if file.is_empty() {
        return Err(format!("'{text}': no file"));
    }
    Ok(RunArg {
        label: label.to_string(),
        kbps,
        file: file.to_string(),
    })
}

/// Groups repeated names into one node each, in order of first appearance.
fn group_nodes(args: &[NodeArg]) -> Result<Vec<NodeInput>, String> {
    let mut nodes: Vec<NodeInput> = Vec::new();
    for a in args {
        match nodes.iter_mut().find(|n| n.name == a.name) {
            Some(n) => {
                if a.local.is_some() && n.local.is_some() && a.local != n.local {
                    return Err(format!("node '{}' is given two addresses", a.name));
                }
                n.local = n.local.or(a.local);
                n.files.push(a.file.clone());
            }
            None => nodes.push(NodeInput {
                name: a.name.clone(),
                files: vec![a.file.clone()],
                local: a.local,
            }),
        }
    }
    Ok(nodes)
}

impl CompareArgs {
    /// The validated configuration.
    pub fn config(&self) -> Result<CompareConfig, String> {
        let nodes = group_nodes(&self.nodes)?;
        let source = match &self.source {
            Some(name) => nodes
                .iter()
                .position(|n| &n.name == name)
                .ok_or_else(|| format!("--source {name}: no --node of that name"))?,
            None => 0,
        };
        Ok(CompareConfig {
            nodes,
            source,
            runs: self
                .runs
                .iter()
                .map(|r| RunInput {
                    label: r.label.clone(),
                    input_kbps: r.kbps,
                    file: r.file.clone(),
                })
                .collect(),
            matching: MatchConfig {
                horizon_ns: (self.horizon * 1e9) as i64,
                ..MatchConfig::default()
            },
            max_lag_s: self.max_lag,
            threads: self.jobs.map_or(0, |j| j as usize),
            analysis: crate::pipeline::AnalysisConfig {
                playback: crate::metrics::playback::PlaybackOptions {
                    stream_rate_kbps: self.stream_rate,
                    ..Default::default()
                },
                locator: std::sync::Arc::new(
                    crate::geo::Locator::open(self.asn_db.as_deref(), self.geo_db.as_deref())
                        .map_err(|e| e.to_string())?,
                ),
                ..Default::default()
            },
            ..CompareConfig::default()
        })
    }
}

/// `peerscope compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let cfg = args.config().map_err(UsageError)?;
    if args.export.contains(&super::export::ExportFormat::Csv) {
        return Err(UsageError(
            "compare --export: csv is not a format of compare (parquet is)".into(),
        )
        .into());
    }
    let want_parquet = !args.export.is_empty();
    if want_parquet && args.json && args.out.is_none() {
        return Err(UsageError(
            "--export parquet writes runs.parquet and nodes.parquet into the output directory: give -o DIR (with --json and no -o nothing is written)".into(),
        )
        .into());
    }
    // Outputs first, then inputs: nothing is read until everything can be written.
    let mut out = match (&args.out, args.json) {
        (Some(dir), _) => Some(OutDir::prepare(dir, args.force)?),
        (None, true) => None,
        (None, false) => Some(OutDir::prepare(
            &PathBuf::from("reports").join("compare"),
            args.force,
        )?),
    };
    let anonymizer = super::output::anonymizer(
        args.anonymize,
        args.anonymize_key.as_deref(),
        args.anonymize_key_out.as_deref(),
        args.force,
    )?;
    for node in &cfg.nodes {
        super::inputs::check(&node.files, false)
            .map_err(|e| InputError(format!("node {}: {e}", node.name)))?;
    }
    for run in &cfg.runs {
        super::inputs::check(std::slice::from_ref(&run.file), false)
            .map_err(|e| InputError(format!("run {}: {e}", run.label)))?;
    }
    // Every failure here means some input could not be used: exit code 2.
    let outcome = compare::compare(&cfg).map_err(|e| InputError(e.to_string()))?;
    for (n, r) in cfg.nodes.iter().zip(&outcome.node_reports) {
        if r.capture.packets == 0 {
            return Err(InputError(format!("node {}: no packets in the capture", n.name)).into());
        }
    }
    let (compare_model, node_reports) = match anonymizer {
        Some(mut anon) => {
            let mut v = serde_json::to_value(&outcome.compare)?;
            anon.value(&mut v);
            let model: model::Compare = serde_json::from_value(v)?;
            let reports = outcome
                .node_reports
                .iter()
                .map(|r| anon.report(r))
                .collect::<Result<Vec<_>, _>>()?;
            (model, reports)
        }
        None => (outcome.compare.clone(), outcome.node_reports.clone()),
    };
    let c = &compare_model;
    for w in &c.warnings {
        eprintln!("peerscope: warning: {w}");
    }
    let mut json = Vec::new();
    model::write_json(c, &mut json)?;
    let mut written = None;
    if let Some(dir) = out.as_mut() {
        let out = dir.path().to_path_buf();
        for (n, r) in c.nodes.iter().zip(&node_reports) {
            let path = out.join(&n.report);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut json = Vec::new();
            report::json::write(r, &mut json)?;
            write_atomic(&path, &json)?;
        }
        let mut figures = Vec::new();
        for name in &c.figures {
            let mut svg = Vec::new();
            match name.as_str() {
                "traffic.svg" => compare_svg::traffic(c, &mut svg)?,
                "delay.svg" => compare_svg::delay(c, &mut svg)?,
                "continuity.svg" => compare_svg::continuity(c, &mut svg)?,
                _ => continue,
            }
            write_atomic(&out.join(name), &svg)?;
            figures.push((name.clone(), String::from_utf8_lossy(&svg).into_owned()));
        }
        let mut html = Vec::new();
        model::write_html(c, &figures, &mut html)?;
        write_atomic(&out.join("index.html"), &html)?;
        write_atomic(&out.join("compare.json"), &json)?;
        if want_parquet {
            super::parquet::write_compare(c, &out)?;
        }
        dir.keep();
        written = Some(out.join("compare.json"));
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if args.json {
        lock.write_all(&json)?;
    } else if !args.quiet {
        write_text(c, &mut lock)?;
        if let Some(path) = written {
            writeln!(lock, "report    {}", path.display())?;
        }
    }
    lock.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// The human summary: one line per node.
fn write_text<W: Write>(c: &model::Compare, out: &mut W) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<12} {:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:<14}",
        "node", "ip", "down", "up", "vid down", "vid up", "delay s", "matched", "method"
    )?;
    for n in &c.nodes {
        let d = &n.playback_delay;
        writeln!(
            out,
            "{:<12} {:<16} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>8} {:<14}{}",
            if n.role == model::NodeRole::Source {
                format!("{}*", n.name)
            } else {
                n.name.clone()
            },
            n.ip.as_deref().unwrap_or("?"),
            n.download_kbps,
            n.upload_kbps,
            n.video.download_kbps,
            n.video.upload_kbps,
            opt(d.median_s, 3),
            opt(d.matched_share.map(|x| x * 100.0), 1),
            d.method.map_or("-", |m| m.as_str()),
            match (&d.reason, n.role.as_str()) {
                (Some(r), "receiver") if d.method.is_none() => format!("  ({r})"),
                _ => String::new(),
            }
        )?;
    }
    for r in &c.runs {
        writeln!(
            out,
            "run {:<10} continuity {}",
            r.label,
            opt(r.continuity.map(|x| x * 100.0), 2)
        )?;
    }
    writeln!(
        out,
        "source upload {:.1} kb/s; receivers: mean download {} kb/s, upload {} kb/s (* = source)",
        c.summary.source_upload_kbps,
        opt(c.summary.mean_receiver_download_kbps, 1),
        opt(c.summary.mean_receiver_upload_kbps, 1)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn node_values() {
        let n = parse_node("r1=a.pcap@192.0.2.5").unwrap();
        assert_eq!(n.file, "a.pcap");
        assert_eq!(n.local, Some("192.0.2.5".parse().unwrap()));
        let n = parse_node("r1=me@home.pcap").unwrap();
        assert_eq!(n.file, "me@home.pcap");
        assert_eq!(n.local, None);
        assert!(parse_node("a.pcap").is_err());
        assert!(parse_node("../x=a.pcap").is_err());
        let r = parse_run("380kbps=x.pcap").unwrap();
        assert_eq!(r.kbps, 380.0);
        assert!(parse_run("fast=x.pcap").is_err());
    }

    #[test]
    fn repeated_names_are_one_node() {
        let args = [
            parse_node("a=1.pcap").unwrap(),
            parse_node("b=2.pcap").unwrap(),
            parse_node("a=3.pcap@192.0.2.1").unwrap(),
        ];
        let nodes = group_nodes(&args).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].files, vec!["1.pcap", "3.pcap"]);
        assert!(nodes[0].local.is_some());
    }
}
