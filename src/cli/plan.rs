//! `peerscope plan`: the study's capacity model as a calculator (issue 9).
//!
//! Raw clap arguments → [`PlanInput`] (base units, validated) → [`crate::plan::plan`] → text,
//! JSON or SVG. Bad values and impossible combinations are usage errors (exit code 64, as every
//! usage error), reported the way clap reports its own.
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;

use super::units::{parse_duration_s, parse_positive_rate_kbps, parse_rate_kbps, parse_size_bytes};
use crate::plan::{self, BufferSpec, PlanInput, Population, UserClass};

const AFTER_HELP: &str = "\
Chunk counts are fractional: chunks = buffer / chunk size, and efficiency = 1 - 1/chunks, which is
the share of the buffer not tied up in the one chunk still being filled. With 1 chunk or less in
the buffer, efficiency is 0 (no complete chunk arrives within the delay tolerance). The whole
number of chunks is shown next to it. KB/MB are decimal, KiB/MiB binary; kb/s is 1000 bit/s.

The neighbour advice of --peers is the study's rule of thumb (more than about 8 neighbours brings
little; Coolstreaming found 4 active neighbours enough), not a measured limit.

Examples (the study's own):
  peerscope plan --rate 700kbps --users 100000 --upstream 400kbps --utilization 0.9
      peers give 36 Gb/s of the 70 Gb/s; servers must supply 34 Gb/s
  peerscope plan --rate 700kbps --users 20 --upstream 400kbps --class 0.05:7.5Mbps
      1 user at 7.5 Mb/s and 19 at 0.9 x 400 kb/s give 14.34 Mb/s >= 14 Mb/s: no servers
  peerscope plan --rate 700kbps --delay-tolerance 20s --chunk 256KiB --target-efficiency 0.99
      buffer 1,750,000 B; 6.68 chunks of 256 KiB: 85 % (the study says 7 chunks, about 87 %)
  peerscope plan --buffer 1.75MiB --chunk 16KiB --peers 12 --json
      112 chunks, 99.1 %; the study's 1.75 MB read in binary units gives its 7 and 112 chunks";

#[derive(Debug, clap::Args)]
#[command(
    after_help = AFTER_HELP,
    group = clap::ArgGroup::new("buffer_source").args(["delay_tolerance", "buffer"]),
)]
pub struct PlanArgs {
    /// Stream rate, more than 0 up to 10 Gb/s, e.g. 700kbps, 7.5Mbps (bare number: kb/s)
    #[arg(long, value_name = "RATE", value_parser = parse_positive_rate_kbps)]
    rate: Option<f64>,

    /// Number of users watching the stream
    #[arg(long, value_name = "N")]
    users: Option<u64>,

    /// Upstream of each user outside any --class, e.g. 400kbps (multiplied by --utilization)
    #[arg(long, value_name = "RATE", value_parser = parse_rate_kbps)]
    upstream: Option<f64>,

    /// Share of --upstream users actually give, 0 to 1 or a percentage (the study: 0.9)
    #[arg(long, value_name = "FRACTION", default_value = "0.9", value_parser = parse_fraction)]
    utilization: f64,

    /// A group of users with its own effective upstream: SHARE:UPSTREAM, e.g. 0.05:7.5Mbps or
    /// 5%:7.5Mbps (5 % of the users give 7.5 Mb/s each; not multiplied by --utilization).
    /// Repeatable; shares must add up to at most 1
    #[arg(long = "class", value_name = "SHARE:UPSTREAM", value_parser = parse_class)]
    classes: Vec<UserClass>,

    /// How far behind the source playback may be, e.g. 20s, 1min; the buffer is this much
    /// stream (needs --rate)
    #[arg(long, value_name = "TIME", value_parser = parse_duration_s, requires = "rate")]
    delay_tolerance: Option<f64>,

    /// A buffer size given directly instead of --delay-tolerance, e.g. 1.75MiB, 2.3MB
    #[arg(long, value_name = "SIZE", value_parser = parse_size_bytes)]
    buffer: Option<f64>,

    /// Chunk size, e.g. 256KiB, 16KB (needs --delay-tolerance or --buffer)
    #[arg(long, value_name = "SIZE", value_parser = parse_chunk, requires = "buffer_source")]
    chunk: Option<f64>,

    /// Efficiency to reach: prints the largest chunk size that reaches it, e.g. 0.99 or 99%
    #[arg(long, value_name = "FRACTION", value_parser = parse_target, requires = "buffer_source")]
    target_efficiency: Option<f64>,

    /// Neighbours per peer: prints the study's rule of thumb (4 enough, more than ~8 brings little)
    #[arg(long, value_name = "N")]
    peers: Option<u32>,

    /// Print a JSON object ("schema": "peerscope/plan-v1") instead of the table
    #[arg(long)]
    json: bool,

    /// Also write a figure: efficiency against chunk size, server capacity against rate
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

/// A fraction in [0, 1]: `0.9` or `90%`.
fn parse_fraction(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let (number, divisor) = match trimmed.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (trimmed, 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a number (use 0.9 or 90%)"))?;
    let value = value / divisor;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("'{text}' is outside 0 to 1 (0 % to 100 %)"));
    }
    Ok(value)
}

/// A target efficiency in [0, 1): 1 would need infinitely many chunks.
fn parse_target(text: &str) -> Result<f64, String> {
    let value = parse_fraction(text)?;
    if value >= 1.0 {
        return Err(format!(
            "'{text}': an efficiency of 1 needs infinitely many chunks; use less than 1, e.g. 0.99"
        ));
    }
    Ok(value)
}

/// A chunk size: a size with a unit, more than 0 bytes.
fn parse_chunk(text: &str) -> Result<f64, String> {
    let value = parse_size_bytes(text)?;
    if value <= 0.0 {
        return Err(format!("'{text}': a chunk must be more than 0 bytes"));
    }
    Ok(value)
}

/// `SHARE:UPSTREAM`, e.g. `0.05:7.5Mbps` or `5%:7.5Mbps`.
fn parse_class(text: &str) -> Result<UserClass, String> {
    let (share, rate) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}': expected SHARE:UPSTREAM, e.g. 0.05:7.5Mbps"))?;
    Ok(UserClass {
        share: parse_fraction(share)?,
        supply_kbps: parse_rate_kbps(rate)?,
    })
}

/// Prints a usage error the way clap does and gives the usage exit code (64).
fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    use clap::Args as _;
    let mut cmd = PlanArgs::augment_args(clap::Command::new("plan")).bin_name("peerscope plan");
    let err = clap::Error::raw(ErrorKind::ValueValidation, message.to_string()).format(&mut cmd);
    // If stderr is gone there is no one left to tell.
    let _ = err.print();
    ExitCode::from(super::EXIT_USAGE)
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let population = if args.upstream.is_some() || !args.classes.is_empty() {
        match Population::new(args.upstream, args.utilization, args.classes.clone()) {
            Ok(p) => Some(p),
            Err(err) => return Ok(usage_error(err)),
        }
    } else {
        None
    };
    let buffer = match (args.delay_tolerance, args.buffer) {
        (Some(delay), _) => Some(BufferSpec::DelayTolerance(delay)),
        (None, Some(bytes)) => Some(BufferSpec::Bytes(bytes)),
        (None, None) => None,
    };
    let input = PlanInput {
        rate_kbps: args.rate,
        users: args.users,
        population,
        buffer,
        chunk_bytes: args.chunk,
        target_efficiency: args.target_efficiency,
        peers: args.peers,
    };
    let plan = match plan::plan(&input) {
        Ok(p) => p,
        Err(err) => return Ok(usage_error(err)),
    };
    if plan.is_empty() {
        return Ok(usage_error(
            "nothing to compute: give --rate and --users (demand), with --upstream or --class \
             (supply, server capacity); --rate with --delay-tolerance, or --buffer (buffer and \
             chunks); or --peers",
        ));
    }

    if let Some(path) = &args.svg {
        let mut svg = Vec::new();
        match plan::svg::write(&plan, &mut svg) {
            Ok(()) => {}
            // Nothing is written for a usage mistake.
            Err(err @ plan::svg::SvgError::NothingToDraw) => return Ok(usage_error(err)),
            Err(err) => return Err(err).with_context(|| format!("writing {}", path.display())),
        }
        super::output::write_atomic(path, &svg)?;
    }

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &plan).context("writing JSON")?;
        writeln!(out).context("writing JSON")?;
    } else {
        plan::text::write(&plan, &mut out).context("writing the table")?;
    }
    out.flush().context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn value_parsers() {
        assert_eq!(parse_fraction("0.9"), Ok(0.9));
        assert_eq!(parse_fraction("90%"), Ok(0.9));
        assert!(parse_fraction("1.1").is_err());
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_target("1").is_err());
        assert!(parse_chunk("0KiB").is_err());
        assert_eq!(
            parse_class("0.05:7.5Mbps"),
            Ok(UserClass {
                share: 0.05,
                supply_kbps: 7500.0
            })
        );
        assert!(parse_class("0.05").is_err());
        assert!(parse_class("2:7.5Mbps").is_err());
        assert!(parse_class("0.05:7.5 furlongs").is_err());
    }
}
