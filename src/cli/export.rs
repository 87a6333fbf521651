//! Exports for tools that are not peerscope (pandas, gnuplot, R): `--csv` writes the report's
//! series and peer table as CSV (RFC 4180) beside `report.json`. The columns are the JSON
//! field names, so the two never disagree: those of [`SERIES_COLUMNS`] / [`PEER_COLUMNS`]
//! first, in that order, then any field the model gained since (alphabetically), so nothing
//! is ever left out. An absent value is an empty cell, a list (a peer's ports) one cell of
//! space-separated values.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::output::write_atomic;
use crate::report::Report;

/// A format of `--export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// series.csv and peers.csv (RFC 4180)
    Csv,
    /// peers, series, report and flows .parquet (compare: runs and nodes .parquet)
    Parquet,
}

/// The file names `--csv` writes.
pub const SERIES_CSV: &str = "series.csv";
pub const PEERS_CSV: &str = "peers.csv";
/// The columns of `series.csv`, in order (the fields of `series.rows[]`).
pub const SERIES_COLUMNS: &[&str] = &[
    "t_s",
    "down_kbps",
    "up_kbps",
    "video_down_kbps",
    "video_up_kbps",
    "suppliers",
    "buffer_s",
];
/// The columns of `peers.csv`, in order (the fields of `peers.list[]`).
pub const PEER_COLUMNS: &[&str] = &[
    "ip",
    "name",
    "role",
    "ports",
    "video_in_bytes",
    "video_out_bytes",
    "control_in_bytes",
    "control_out_bytes",
    "tcp_in_bytes",
    "tcp_out_bytes",
    "share_in",
    "first_seen_s",
    "last_seen_s",
    "ttl_hops",
    "transport",
    "sessions",
    "rtt_ms_min",
    "rtt_ms_median",
    "rtt_ms_samples",
    "rtt_ms_method",
    "rtt_ms_how",
    "asn",
    "as_org",
    "country",
    "reciprocity_out_in_ratio",
    "reciprocity_video_minutes",
    "reciprocity_both_ways_minutes",
];

/// Flattens one object for a table: nested objects become `parent_child` columns and a `.` in
/// a name `_` (Spark reads a dot as a nested field); lists stay lists (one cell each).
pub fn flatten(
    prefix: &str,
    obj: &serde_json::Map<String, Value>,
    out: &mut serde_json::Map<String, Value>,
) {
    for (k, v) in obj {
        let name = format!("{prefix}{}", k.replace('.', "_"));
        match v {
            Value::Object(inner) => flatten(&format!("{name}_"), inner, out),
            other => {
                out.insert(name, other.clone());
            }
        }
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(" "),
        Value::Object(_) => v.to_string(),
    }
}

/// RFC 4180 §2: a field with a comma, quote or line break is quoted, quotes doubled.
fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The column order of an export (CSV and Parquet alike): `first` in order, then every other
/// field any row has, alphabetically, so nothing is ever left out.
pub fn columns(rows: &[serde_json::Map<String, Value>], first: &[&str]) -> Vec<String> {
    let mut columns: Vec<String> = first.iter().map(|c| c.to_string()).collect();
    let mut extra = std::collections::BTreeSet::new();
    for row in rows {
        for k in row.keys() {
            if !first.contains(&k.as_str()) {
                extra.insert(k.clone());
            }
        }
    }
    columns.extend(extra);
    columns
}

/// Rows of one serde struct type as CSV: a header of field names (`first` in order, then any
/// other field), one line per row.
pub fn csv<T: Serialize>(rows: &[T], first: &[&str]) -> serde_json::Result<String> {
    let values = rows
        .iter()
        .map(serde_json::to_value)
        .collect::<serde_json::Result<Vec<_>>>()?;
    // Nested objects as `parent_child` columns, as in the Parquet export.
    let objects: Vec<serde_json::Map<String, Value>> = values
        .iter()
        .filter_map(|v| v.as_object())
        .map(|o| {
            let mut flat = serde_json::Map::new();
            flatten("", o, &mut flat);
            flat
        })
        .collect();
    let values: Vec<Value> = objects.iter().cloned().map(Value::Object).collect();
    let columns = columns(&objects, first);
    let mut out = columns
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for v in &values {
        let line = columns
            .iter()
            .map(|c| quoted(&cell(v.get(c).unwrap_or(&Value::Null))))
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(out, "{line}");
    }
    Ok(out)
}

/// Writes `series.csv` and `peers.csv` into `dir`; returns their paths.
pub fn write_csv(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let series = csv(&report.series.rows, SERIES_COLUMNS)?;
    let peers = csv(&report.peers.list, PEER_COLUMNS)?;
    let mut written = Vec::new();
    for (name, text) in [(SERIES_CSV, series), (PEERS_CSV, peers)] {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        ip: String,
        ports: Vec<u16>,
        share: Option<f64>,
    }

    #[test]
    fn rows_and_quoting() {
        let rows = [
            Row {
                ip: "192.0.2.1".into(),
                ports: vec![8902, 3908],
                share: Some(0.5),
            },
            Row {
                ip: "a \"b\", c".into(),
                ports: vec![],
                share: None,
            },
        ];
        assert_eq!(
            csv(&rows, &["share"]).unwrap(),
            "share,ip,ports\n0.5,192.0.2.1,8902 3908\n,\"a \"\"b\"\", c\",\n"
        );
        assert_eq!(csv::<Row>(&[], &["ip", "ports"]).unwrap(), "ip,ports\n");
    }
}
