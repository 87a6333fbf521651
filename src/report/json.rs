//! `report.json`: the model serialised with sorted, stable keys (struct order) and floats
//! already rounded by the metrics, so the same capture gives the same bytes.

use std::io::Write;

use super::Report;

/// Writes the report as pretty JSON followed by a newline.
pub fn write<W: Write>(report: &Report, mut out: W) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
