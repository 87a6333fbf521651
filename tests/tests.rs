//! The one integration-test binary: each module tests one subcommand or concern by running the
//! real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod analyze;
mod anonymize;
mod capture;
mod cli;
mod compare;
mod fuzz_regressions;
mod gateway;
mod hostile;
mod identify;
mod lab;
mod parquet;
mod plan;
mod report;
mod rotated;
mod sim;
mod swarm;
mod truth;
mod util;
