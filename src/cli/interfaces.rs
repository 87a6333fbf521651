//! `peerscope interfaces`: what `capture -i` accepts, listed like `tcpdump -D`: number, name,
//! description, flags and addresses.

use std::io::Write;
use std::process::ExitCode;

use crate::source::live::{self, Interface};

/// Arguments of `interfaces`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  peerscope interfaces\n  1.eth0 [Up, Running] 192.0.2.10 fe80::1\n  2.any (Pseudo-device that captures on all interfaces) [Up, Running]\n  3.lo [Up, Running, Loopback] 127.0.0.1 ::1"
)]
pub struct InterfacesArgs {}

/// One line per interface.
pub fn line(n: usize, i: &Interface) -> String {
    let mut flags = Vec::new();
    if i.up {
        flags.push("Up");
    }
    if i.running {
        flags.push("Running");
    }
    if i.wireless {
        flags.push("Wireless");
    }
    if i.loopback {
        flags.push("Loopback");
    }
    let mut s = format!("{n}.{}", i.name);
    if let Some(d) = &i.description {
        s.push_str(&format!(" ({d})"));
    }
    if !flags.is_empty() {
        s.push_str(&format!(" [{}]", flags.join(", ")));
    }
    for a in &i.addresses {
        s.push_str(&format!(" {a}"));
    }
    s
}

/// `peerscope interfaces`.
pub fn run(_args: InterfacesArgs) -> anyhow::Result<ExitCode> {
    let list = live::interfaces()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, i) in list.iter().enumerate() {
        writeln!(out, "{}", line(n + 1, i))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
