//! The readable table printed by `peerscope plan` without `--json`: a pure function from a
//! [`Plan`] to a writer. Rates are shown in the largest unit that keeps them ≥ 1 (kb/s, Mb/s,
//! Gb/s, all decimal); sizes in bytes with their decimal and binary readings, because the study
//! mixes the two.

use std::io::{self, Write};

use super::Plan;

/// A rate in kb/s as "14.34 Mb/s".
pub fn fmt_rate(kbps: f64) -> String {
    if kbps >= 1e6 {
        format!("{:.2} Gb/s", kbps / 1e6)
    } else if kbps >= 1e3 {
        format!("{:.2} Mb/s", kbps / 1e3)
    } else {
        format!("{kbps:.2} kb/s")
    }
}

/// A whole number with thousands separators: 1750000 → "1,750,000".
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.round());
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest.to_string()),
        None => ("", digits),
    };
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

/// A size in bytes, short: "256 KiB" for a power-of-two multiple of 1 KiB, else "17,500 B".
pub fn fmt_size_short(bytes: f64) -> String {
    let kib = bytes / 1024.0;
    let mib = kib / 1024.0;
    if bytes >= 1024.0 * 1024.0 && mib.fract() == 0.0 {
        format!("{mib:.0} MiB")
    } else if bytes >= 1024.0 && kib.fract() == 0.0 {
        format!("{kib:.0} KiB")
    } else {
        format!("{} B", grouped(bytes))
    }
}

/// A size in bytes with both readings: "1,750,000 B (1.75 MB = 1.67 MiB)".
pub fn fmt_size(bytes: f64) -> String {
    if bytes >= 1e6 {
        format!(
            "{} B ({:.2} MB = {:.2} MiB)",
            grouped(bytes),
            bytes / 1e6,
            bytes / (1024.0 * 1024.0)
        )
    } else if bytes >= 1e3 {
        format!(
            "{} B ({:.1} KB = {:.1} KiB)",
            grouped(bytes),
            bytes / 1e3,
            bytes / 1024.0
        )
    } else {
        format!("{} B", grouped(bytes))
    }
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// Writes the plan as aligned text sections; only the sections the inputs allow appear.
pub fn write<W: Write>(plan: &Plan, mut out: W) -> io::Result<()> {
    let inputs = &plan.inputs;
    writeln!(
        out,
        "peerscope plan: the capacity model of the SopCast study (Sentinelli et al., 2007)"
    )?;

    let has_capacity = plan.demand_kbps.is_some()
        || plan.peer_supply_kbps.is_some()
        || plan.max_p2p_rate_kbps.is_some();
    if has_capacity {
        writeln!(out)?;
        writeln!(out, "Supply and demand")?;
        if let Some(rate) = inputs.rate_kbps {
            writeln!(out, "  stream rate              {}", fmt_rate(rate))?;
        }
        if let Some(users) = inputs.users {
            writeln!(out, "  users                    {}", grouped(users as f64))?;
        }
        if let Some(up) = inputs.upstream_kbps {
            let util = inputs.utilization.unwrap_or(1.0);
            writeln!(
                out,
                "  upstream                 {} at {} utilisation = {} effective",
                fmt_rate(up),
                percent(util),
                fmt_rate(up * util)
            )?;
        }
        for class in &inputs.classes {
            writeln!(
                out,
                "  class                    {} of users give {} each (effective)",
                percent(class.share),
                fmt_rate(class.supply_kbps)
            )?;
        }
        if let Some(demand) = plan.demand_kbps {
            writeln!(
                out,
                "  demand                   {:<14} users × rate",
                fmt_rate(demand)
            )?;
        }
        if let Some(supply) = plan.peer_supply_kbps {
            writeln!(
                out,
                "  peer supply              {:<14} users × mean effective upstream",
                fmt_rate(supply)
            )?;
        }
        if let Some(server) = plan.server_kbps {
            writeln!(
                out,
                "  server capacity needed   {:<14} max(0, demand − peer supply){}",
                fmt_rate(server),
                if server == 0.0 {
                    ": peers alone suffice"
                } else {
                    ""
                }
            )?;
        }
        if let Some(max) = plan.max_p2p_rate_kbps {
            writeln!(
                out,
                "  largest P2P-only rate    {:<14} mean effective upstream per user",
                fmt_rate(max)
            )?;
        }
    }

    if let Some(buffer) = plan.buffer_bytes {
        writeln!(out)?;
        writeln!(out, "Buffer and chunks")?;
        if let Some(delay) = inputs.delay_tolerance_s {
            writeln!(out, "  delay tolerance          {delay} s")?;
        }
        writeln!(out, "  buffer                   {}", fmt_size(buffer))?;
        if let (None, Some(seconds)) = (inputs.delay_tolerance_s, plan.buffer_s) {
            writeln!(out, "  buffer in time           {seconds:.2} s of stream")?;
        }
        if let (Some(size), Some(chunks), Some(whole), Some(eff)) = (
            inputs.chunk_bytes,
            plan.chunks,
            plan.whole_chunks,
            plan.efficiency,
        ) {
            writeln!(out, "  chunk                    {}", fmt_size(size))?;
            writeln!(
                out,
                "  chunks in buffer         {chunks:.2} ({whole} whole)"
            )?;
            writeln!(
                out,
                "  efficiency               {:<14} 1 − 1/chunks, fractional chunks; 0 if ≤ 1 chunk",
                percent(eff)
            )?;
        }
        if let (Some(target), Some(max)) =
            (inputs.target_efficiency, plan.max_chunk_bytes_for_target)
        {
            writeln!(
                out,
                "  target efficiency        {:<14} needs chunks of at most {}",
                percent(target),
                fmt_size(max)
            )?;
        }
        writeln!(out)?;
        writeln!(out, "  chunk        chunks   efficiency")?;
        for row in &plan.chunk_table {
            writeln!(
                out,
                "  {:<9} {:>9.2}   {:>8}",
                fmt_size_short(row.chunk_bytes),
                row.chunks,
                percent(row.efficiency)
            )?;
        }
    }

    if let Some(advice) = &plan.neighbours {
        writeln!(out)?;
        writeln!(out, "Neighbours")?;
        writeln!(out, "  note: {}", advice.note)?;
    }

    if !plan.notes.is_empty() {
        writeln!(out)?;
        for note in &plan.notes {
            writeln!(out, "note: {note}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_rate(14_340.0), "14.34 Mb/s");
        assert_eq!(fmt_rate(36e6), "36.00 Gb/s");
        assert_eq!(fmt_rate(360.0), "360.00 kb/s");
        assert_eq!(grouped(1_750_000.0), "1,750,000");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(fmt_size_short(262_144.0), "256 KiB");
        assert_eq!(fmt_size_short(2_097_152.0), "2 MiB");
        assert_eq!(fmt_size_short(17_500.0), "17,500 B");
        assert_eq!(fmt_size(1_750_000.0), "1,750,000 B (1.75 MB = 1.67 MiB)");
    }
}
