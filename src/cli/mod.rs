//! The command line: clap definitions (raw arguments) are turned into validated configurations
//! of the lower layers here and nowhere else. Each subcommand lives in its own file and exposes
//! `run(args) -> anyhow::Result<ExitCode>`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod analyze;
pub mod capture;
pub mod compare;
pub mod interfaces;
pub mod output;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod simulate;
pub mod units;

/// Exit code when nothing usable could be read (empty, garbage, missing input).
pub const EXIT_NO_INPUT: u8 = 2;

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
}

/// Parses the arguments, runs the subcommand and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Capture(args) => capture::run(args),
        Command::Interfaces(args) => interfaces::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Plot(args) => plot::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("peerscope: {err:#}");
            match err.downcast_ref::<InputError>() {
                Some(_) => ExitCode::from(EXIT_NO_INPUT),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// An error meaning "nothing usable could be read": exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// The CLI's error for a failed analysis: input problems (nothing readable, a bad filter) exit
/// 2 as [`InputError`]; an internal failure exits 1.
pub fn analysis_error(e: crate::pipeline::AnalysisError) -> anyhow::Error {
    use crate::pipeline::AnalysisError;
    match e {
        AnalysisError::NoInput(_) | AnalysisError::Filter(_) => InputError(e.to_string()).into(),
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
