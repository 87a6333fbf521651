//! The command line: clap definitions (raw arguments) are turned into validated configurations
//! of the lower layers here and nowhere else. Each subcommand lives in its own file and exposes
//! `run(args) -> anyhow::Result<ExitCode>`.
//!
//! Exit codes (one table, also in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: a broken pipe on stdout; input ended by SIGINT/SIGTERM, report written) |
//! | 1 | failure that is not the input's fault: an output cannot be written, an internal error |
//! | 2 ([`EXIT_NO_INPUT`]) | unusable input: a file missing or unreadable, not a capture, the same file twice, nothing decoded |
//! | 64 ([`EXIT_USAGE`]) | usage error: unknown option, a value out of range, options that contradict each other or the capture (`--tune-in` outside it) |
//! | 130 ([`EXIT_ABORTED`]) | a second SIGINT/SIGTERM: given up at once, nothing written |

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub mod analyze;
pub mod capture;
pub mod compare;
pub mod export;
pub mod inputs;
pub mod interfaces;
pub mod output;
pub mod parquet;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod simulate;
pub mod units;

/// Exit code when nothing usable could be read (empty, garbage, missing input).
pub const EXIT_NO_INPUT: u8 = 2;
/// Exit code of a usage error (sysexits.h `EX_USAGE`): distinct from unusable input.
pub const EXIT_USAGE: u8 = 64;
/// Exit code when a second signal aborts a run (128 + SIGINT, as shells report it).
pub const EXIT_ABORTED: u8 = 130;

#[derive(Debug, Parser)]
#[command(
    name = "peerscope",
    version,
    about = "Passive traffic measurement of P2P live-streaming clients (SopCast, PPLive, PPStream, TVAnts)",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files and write report.json
    Analyze(analyze::AnalyzeArgs),
    /// Capture live from an interface, write the pcap file and report.json
    Capture(capture::CaptureArgs),
    /// List the interfaces `capture -i` can use
    Interfaces(interfaces::InterfacesArgs),
    /// Compare vantage points: per-node traffic, playback delay behind the source, continuity
    Compare(compare::CompareArgs),
    /// Write a synthetic SopCast-like capture and its ground truth
    Simulate(simulate::SimulateArgs),
    /// The study's capacity model: server capacity, buffer and chunk efficiency
    Plan(plan::PlanArgs),
    /// Re-render the figures and index.html of a report.json
    Plot(plot::PlotArgs),
    /// Convert output directories (report.json, flows.ndjson, compare.json, clients.json) to
    /// Parquet files beside them
    Export(parquet::ExportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Examples:\n  peerscope completions bash > /etc/bash_completion.d/peerscope\n  peerscope completions zsh > \"${fpath[1]}/_peerscope\""
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one page per subcommand into a directory
    #[command(
        after_help = "Examples:\n  peerscope man | man -l -\n  peerscope man --dir docs/man"
    )]
    Man {
        /// Write peerscope.1, peerscope-analyze.1, … into DIR instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// The version line: the crate's version and the libpcap it runs with.
fn version() -> &'static str {
    let pcap = crate::source::live::libpcap_version().map_or_else(
        || "libpcap version unknown".to_string(),
        |v| format!("libpcap {v}"),
    );
    // Built once per process, for clap, which keeps it for the process's life.
    Box::leak(format!("{} ({pcap})", env!("CARGO_PKG_VERSION")).into_boxed_str())
}

/// The clap command as the binary runs it (its `--version` names libpcap).
pub fn command() -> clap::Command {
    Cli::command().version(version())
}

/// The clap command with the crate version alone: what the completions and man pages are
/// generated from, so they do not depend on the machine.
pub fn command_for_docs() -> clap::Command {
    Cli::command()
}

/// Prints a clap error or help text and gives its exit code: 0 for help and version, else
/// [`EXIT_USAGE`].
fn clap_exit(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    if err.use_stderr() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Makes SIGINT and SIGTERM the end of the input: readers stop at their next record and the
/// report of what was read is written. A second signal gives up at once.
pub fn stop_reading_on_signal() -> anyhow::Result<()> {
    use anyhow::Context;
    ctrlc::set_handler(|| {
        if crate::source::interrupt::request() {
            eprintln!("peerscope: second signal: giving up, nothing written");
            std::process::exit(i32::from(EXIT_ABORTED));
        }
    })
    .context("cannot install the SIGINT/SIGTERM handler")
}

/// Parses the arguments, runs the subcommand and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_exit(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return clap_exit(&e),
    };
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Capture(args) => capture::run(args),
        Command::Interfaces(args) => interfaces::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Export(args) => parquet::run(args),
        Command::Completions { shell } => completions(shell),
        Command::Man { dir } => man(dir),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("peerscope: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else if err.downcast_ref::<InputError>().is_some() {
                ExitCode::from(EXIT_NO_INPUT)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command_for_docs(), "peerscope", &mut out);
    std::io::Write::flush(&mut out)?;
    Ok(ExitCode::SUCCESS)
}

fn man(dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    match dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command_for_docs()).render(&mut out)?;
            std::io::Write::flush(&mut out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command_for_docs(), &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            println!("man pages written to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A usage error found after clap's parsing (a value that contradicts another or the
/// capture): exit code 64, as clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An error meaning "nothing usable could be read": exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// The CLI's error for a failed analysis: input problems (nothing readable, a bad filter) exit
/// 2 as [`InputError`]; an internal failure exits 1.
pub fn analysis_error(e: crate::pipeline::AnalysisError) -> anyhow::Error {
    use crate::pipeline::AnalysisError;
    match e {
        AnalysisError::NoInput(_)
        | AnalysisError::Filter(_)
        | AnalysisError::LocalAbsent { .. } => InputError(e.to_string()).into(),
        other => anyhow::Error::new(other),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
