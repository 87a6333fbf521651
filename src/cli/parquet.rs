//! Columnar exports for DuckDB, Spark, Trino or pandas: `--export parquet` and
//! `peerscope export` write one Parquet file per table of a run beside its JSON.
//!
//! The principal types: a [`Table`] is declared [`Column`]s (name, [`Kind`], unit, meaning —
//! the schema the README documents, checked by a test) and the rows, JSON objects as serde
//! writes the report model. [`Table::from_rows`] flattens nested objects (`video.download_kbps`
//! becomes `video_download_kbps`), turns lists into one text cell of space-separated values
//! (as `--csv` does), and orders the columns as [`super::export::columns`] does for CSV — the
//! declared ones first, then any field the model gained since, alphabetically — so the CSV and
//! Parquet exports of a table never disagree. [`Table::to_parquet`] writes it with parquet's
//! low-level column writer (no Arrow: about half the compile time, see the README).
//!
//! Every file starts with a `run` column (the output directory's name), so a campaign
//! directory of many outputs reads with one glob and groups by run. Declared columns are
//! written even when a report lacks them (as nulls), so every run's file has the same schema.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde_json::{Map, Value};

use super::output::write_atomic;
use crate::flow::conns::ConnRecord;
use crate::report::compare::Compare;
use crate::report::Report;

/// The name of the identifying column every file starts with.
pub const RUN_COLUMN: &str = "run";

/// A column's type in the file (Parquet physical type and, for text, the STRING annotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// INT64.
    Int,
    /// DOUBLE.
    Float,
    /// BOOLEAN.
    Bool,
    /// BYTE_ARRAY annotated STRING (UTF-8).
    Text,
}

impl Kind {
    /// The name the README's schema tables give.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Int => "INT64",
            Kind::Float => "DOUBLE",
            Kind::Bool => "BOOLEAN",
            Kind::Text => "STRING",
        }
    }
}

/// One declared column: what the README documents.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// The unit (`-` for none).
    pub unit: &'static str,
    pub meaning: &'static str,
}

const fn col(name: &'static str, kind: Kind, unit: &'static str, meaning: &'static str) -> Column {
    Column {
        name,
        kind,
        unit,
        meaning,
    }
}

const RUN: Column = col(
    RUN_COLUMN,
    Kind::Text,
    "-",
    "the output directory's name: which run the row belongs to",
);

/// `peers.parquet`: one row per `peers.list[]` entry, the columns of `peers.csv`.
pub const PEERS: &[Column] = &[
    RUN,
    col("ip", Kind::Text, "-", "the remote address"),
    col(
        "name",
        Kind::Text,
        "-",
        "its name from a captured DNS answer",
    ),
    col(
        "role",
        Kind::Text,
        "-",
        "supplier, consumer, tracker or control-only",
    ),
    col(
        "ports",
        Kind::Text,
        "-",
        "ports the remote side used, space-separated",
    ),
    col(
        "video_in_bytes",
        Kind::Int,
        "bytes",
        "UDP payload of video received from it",
    ),
    col(
        "video_out_bytes",
        Kind::Int,
        "bytes",
        "UDP payload of video sent to it",
    ),
    col(
        "control_in_bytes",
        Kind::Int,
        "bytes",
        "UDP payload of control received from it",
    ),
    col(
        "control_out_bytes",
        Kind::Int,
        "bytes",
        "UDP payload of control sent to it",
    ),
    col(
        "tcp_in_bytes",
        Kind::Int,
        "bytes",
        "TCP payload received from it",
    ),
    col(
        "tcp_out_bytes",
        Kind::Int,
        "bytes",
        "TCP payload sent to it",
    ),
    col(
        "share_in",
        Kind::Float,
        "fraction",
        "its share of all video payload received (0 to 1)",
    ),
    col(
        "first_seen_s",
        Kind::Float,
        "s",
        "its first packet, from the capture's first packet",
    ),
    col(
        "last_seen_s",
        Kind::Float,
        "s",
        "its last packet, from the capture's first packet",
    ),
    col(
        "ttl_hops",
        Kind::Int,
        "hops",
        "hops guessed from the largest TTL received",
    ),
    col(
        "transport",
        Kind::Text,
        "-",
        "transports of its peer traffic (udp utp tcp), space-separated",
    ),
    col(
        "sessions",
        Kind::Int,
        "sessions",
        "its sessions (gaps above --idle-timeout split them)",
    ),
    col(
        "rtt_ms_min",
        Kind::Float,
        "ms",
        "smallest passive RTT sample",
    ),
    col("rtt_ms_median", Kind::Float, "ms", "median passive RTT"),
    col("rtt_ms_samples", Kind::Int, "samples", "RTT samples"),
    col(
        "rtt_ms_method",
        Kind::Text,
        "-",
        "how the RTT was measured (tcp-handshake, stun, utp-timestamps, udp-request-response)",
    ),
    col("rtt_ms_how", Kind::Text, "-", "the RTT method in words"),
    col("asn", Kind::Int, "-", "its AS number (--asn-db)"),
    col("as_org", Kind::Text, "-", "its AS organisation (--asn-db)"),
    col("country", Kind::Text, "-", "its country code (--geo-db)"),
    col(
        "reciprocity_out_in_ratio",
        Kind::Float,
        "ratio",
        "video sent to it / video received from it",
    ),
    col(
        "reciprocity_video_minutes",
        Kind::Int,
        "minutes",
        "minutes in which video flowed between them",
    ),
    col(
        "reciprocity_both_ways_minutes",
        Kind::Int,
        "minutes",
        "minutes in which video flowed both ways",
    ),
];

/// `series.parquet`: one row per `series.rows[]` window, the columns of `series.csv`.
pub const SERIES: &[Column] = &[
    RUN,
    col(
        "t_s",
        Kind::Float,
        "s",
        "window start, from the capture's first packet",
    ),
    col(
        "down_kbps",
        Kind::Float,
        "kb/s",
        "IP bytes received by the local host",
    ),
    col("up_kbps", Kind::Float, "kb/s", "IP bytes sent"),
    col(
        "video_down_kbps",
        Kind::Float,
        "kb/s",
        "video IP bytes received",
    ),
    col("video_up_kbps", Kind::Float, "kb/s", "video IP bytes sent"),
    col(
        "suppliers",
        Kind::Int,
        "peers",
        "peers that sent ≥ 1 % of the window's video",
    ),
    col(
        "buffer_s",
        Kind::Float,
        "s",
        "client buffer at the window's end, in seconds of stream",
    ),
];

/// `flows.parquet`: one row per 5-tuple flow, the fields of `flows.ndjson` (Zeek conn.log
/// names, `.` written `_`: `id.orig_h` is `id_orig_h`).
pub const FLOWS: &[Column] = &[
    RUN,
    col(
        "ts",
        Kind::Float,
        "s since 1970",
        "first packet (Unix time, µs precision)",
    ),
    col(
        "uid",
        Kind::Text,
        "-",
        "F and a number, in order of first packet",
    ),
    col(
        "id_orig_h",
        Kind::Text,
        "-",
        "originator address (sent the first packet)",
    ),
    col("id_orig_p", Kind::Int, "-", "originator port"),
    col("id_resp_h", Kind::Text, "-", "responder address"),
    col("id_resp_p", Kind::Int, "-", "responder port"),
    col(
        "proto",
        Kind::Text,
        "-",
        "udp, tcp, or the IP protocol number",
    ),
    col("duration", Kind::Float, "s", "last packet minus first"),
    col(
        "orig_bytes",
        Kind::Int,
        "bytes",
        "transport payload sent by the originator",
    ),
    col(
        "resp_bytes",
        Kind::Int,
        "bytes",
        "transport payload sent by the responder",
    ),
    col(
        "orig_pkts",
        Kind::Int,
        "packets",
        "packets sent by the originator",
    ),
    col(
        "orig_ip_bytes",
        Kind::Int,
        "bytes",
        "IP bytes sent by the originator",
    ),
    col(
        "resp_pkts",
        Kind::Int,
        "packets",
        "packets sent by the responder",
    ),
    col(
        "resp_ip_bytes",
        Kind::Int,
        "bytes",
        "IP bytes sent by the responder",
    ),
    col(
        "orig_video_pkts",
        Kind::Int,
        "packets",
        "originator's UDP packets at or above the video threshold",
    ),
    col(
        "orig_control_pkts",
        Kind::Int,
        "packets",
        "originator's UDP packets below it",
    ),
    col(
        "resp_video_pkts",
        Kind::Int,
        "packets",
        "responder's UDP packets at or above the video threshold",
    ),
    col(
        "resp_control_pkts",
        Kind::Int,
        "packets",
        "responder's UDP packets below it",
    ),
    col(
        "application",
        Kind::Text,
        "-",
        "the application identified for the flow (not yet per flow: null)",
    ),
];

/// `report.parquet`: one row per report, its headline figures; each column is read from the
/// JSON pointer beside it in [`REPORT_POINTERS`].
pub const REPORT: &[Column] = &[
    RUN,
    col(
        "files",
        Kind::Text,
        "-",
        "the capture files (or interface), space-separated",
    ),
    col("start", Kind::Text, "RFC 3339 UTC", "first packet"),
    col("duration_s", Kind::Float, "s", "capture duration"),
    col("packets", Kind::Int, "packets", "packets read"),
    col("local_ip", Kind::Text, "-", "the vantage point's address"),
    col(
        "application",
        Kind::Text,
        "-",
        "the application identified (sopcast, pplive, …)",
    ),
    col(
        "application_confidence",
        Kind::Float,
        "fraction",
        "confidence of that identification (0 to 1)",
    ),
    col(
        "verdict",
        Kind::Text,
        "-",
        "what the traffic is (the report's verdict.kind)",
    ),
    col(
        "download_kbps",
        Kind::Float,
        "kb/s",
        "IP bytes received, mean over the capture",
    ),
    col("upload_kbps", Kind::Float, "kb/s", "IP bytes sent"),
    col(
        "video_download_kbps",
        Kind::Float,
        "kb/s",
        "video IP bytes received",
    ),
    col(
        "video_upload_kbps",
        Kind::Float,
        "kb/s",
        "video IP bytes sent",
    ),
    col(
        "overhead",
        Kind::Float,
        "fraction",
        "(IP bytes received − video payload) / video payload",
    ),
    col(
        "threshold_bytes",
        Kind::Int,
        "bytes",
        "smallest UDP payload counted as video",
    ),
    col(
        "peers_contacted",
        Kind::Int,
        "peers",
        "distinct remote addresses exchanging peer UDP",
    ),
    col(
        "suppliers",
        Kind::Int,
        "peers",
        "peers that sent ≥ 1 % of the video",
    ),
    col(
        "top1_share",
        Kind::Float,
        "fraction",
        "share of video from the largest supplier",
    ),
    col(
        "top2_share",
        Kind::Float,
        "fraction",
        "share of video from the two largest",
    ),
    col("tracker_ip", Kind::Text, "-", "the tracker's address"),
    col(
        "tracker_name",
        Kind::Text,
        "-",
        "its name from a captured DNS answer",
    ),
    col(
        "stream_rate_kbps",
        Kind::Float,
        "kb/s",
        "the stream's rate (application bytes)",
    ),
    col(
        "stream_estimated",
        Kind::Bool,
        "-",
        "true when the stream rate is an estimate",
    ),
    col(
        "first_video_s",
        Kind::Float,
        "s",
        "first video packet, from the capture's first packet",
    ),
    col(
        "startup_delay_s",
        Kind::Float,
        "s",
        "tune-in to playback start (null without player traffic)",
    ),
    col(
        "buffer_bytes",
        Kind::Float,
        "bytes",
        "client buffer, median over playback",
    ),
    col(
        "buffer_s",
        Kind::Float,
        "s",
        "the same in seconds of stream",
    ),
    col(
        "continuity_index",
        Kind::Float,
        "fraction",
        "time played / time demanded (1 = no stall)",
    ),
    col(
        "continuity_estimated",
        Kind::Bool,
        "-",
        "true when the index rests on an estimated rate",
    ),
    col(
        "lost_ts_packets",
        Kind::Int,
        "packets",
        "TS packets missing by the continuity counters",
    ),
    col(
        "dropped_by_kernel",
        Kind::Int,
        "packets",
        "frames the kernel dropped (live capture only)",
    ),
];

/// Where each [`REPORT`] column after `run` comes from in `report.json`.
pub const REPORT_POINTERS: &[&str] = &[
    "/capture/files",
    "/capture/start",
    "/capture/duration_s",
    "/capture/packets",
    "/local/ip",
    "/application/name",
    "/application/confidence",
    "/verdict/kind",
    "/traffic/download_kbps",
    "/traffic/upload_kbps",
    "/traffic/video/download_kbps",
    "/traffic/video/upload_kbps",
    "/traffic/overhead",
    "/sizes/threshold",
    "/peers/contacted",
    "/peers/suppliers",
    "/peers/concentration/top1_share",
    "/peers/concentration/top2_share",
    "/tracker/ip",
    "/tracker/name",
    "/stream/rate_kbps",
    "/stream/estimated",
    "/startup/first_video_s",
    "/startup/delay_s",
    "/buffer/bytes",
    "/buffer/seconds",
    "/continuity/index",
    "/continuity/estimated",
    "/continuity/lost_ts_packets",
    "/capture/dropped_by_kernel",
];

/// `runs.parquet` (compare): one row per `--run`, continuity against the input rate.
pub const RUNS: &[Column] = &[
    RUN,
    col(
        "label",
        Kind::Text,
        "-",
        "the run's label as given (e.g. 380kbps)",
    ),
    col("input_kbps", Kind::Float, "kb/s", "the run's input rate"),
    col("file", Kind::Text, "-", "its capture file"),
    col(
        "continuity",
        Kind::Float,
        "fraction",
        "its continuity index (1 = no stall)",
    ),
    col(
        "stream_rate_kbps",
        Kind::Float,
        "kb/s",
        "the stream rate measured",
    ),
    col("stalls", Kind::Int, "stalls", "stalls of the playout model"),
    col(
        "reason",
        Kind::Text,
        "-",
        "why continuity is null, when it is",
    ),
];

/// `nodes.parquet` (compare): one row per vantage point, `compare.json`'s `nodes[]` with
/// nested objects flattened (`playback_delay.median_s` is `playback_delay_median_s`).
pub const NODES: &[Column] = &[
    RUN,
    col("name", Kind::Text, "-", "the node's name"),
    col("role", Kind::Text, "-", "source or receiver"),
    col("ip", Kind::Text, "-", "its address"),
    col(
        "file",
        Kind::Text,
        "-",
        "its capture file(s), space-separated",
    ),
    col(
        "download_kbps",
        Kind::Float,
        "kb/s",
        "IP bytes received, mean",
    ),
    col("upload_kbps", Kind::Float, "kb/s", "IP bytes sent, mean"),
    col(
        "video_download_kbps",
        Kind::Float,
        "kb/s",
        "video IP bytes received",
    ),
    col(
        "video_upload_kbps",
        Kind::Float,
        "kb/s",
        "video IP bytes sent",
    ),
    col(
        "playback_delay_median_s",
        Kind::Float,
        "s",
        "median delay behind the source",
    ),
    col(
        "playback_delay_matched_share",
        Kind::Float,
        "fraction",
        "share of its video packets matched to the source's",
    ),
    col(
        "continuity",
        Kind::Float,
        "fraction",
        "its continuity index (1 = no stall)",
    ),
];

/// `clients.parquet` (gateway mode's `clients.json`): one row per `clients[]` entry, its
/// scalar fields flattened; only the identifying columns are fixed, the others follow the
/// file (types inferred from the values).
pub const CLIENTS: &[Column] = &[RUN, col("ip", Kind::Text, "-", "the client's address")];

/// Every table, with its file name: what the README documents.
pub const TABLES: &[(&str, &[Column])] = &[
    (PEERS_PARQUET, PEERS),
    (SERIES_PARQUET, SERIES),
    (FLOWS_PARQUET, FLOWS),
    (REPORT_PARQUET, REPORT),
    (RUNS_PARQUET, RUNS),
    (NODES_PARQUET, NODES),
    (CLIENTS_PARQUET, CLIENTS),
];

/// File names.
pub const PEERS_PARQUET: &str = "peers.parquet";
pub const SERIES_PARQUET: &str = "series.parquet";
pub const FLOWS_PARQUET: &str = "flows.parquet";
pub const REPORT_PARQUET: &str = "report.parquet";
pub const RUNS_PARQUET: &str = "runs.parquet";
pub const NODES_PARQUET: &str = "nodes.parquet";
pub const CLIENTS_PARQUET: &str = "clients.parquet";

/// Why a table could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParquetError {
    /// A value does not fit its column's declared type.
    #[error("{table}: column {column} is {kind} but a row holds {value}")]
    Type {
        table: String,
        column: String,
        kind: &'static str,
        value: String,
    },
    /// The rows are not JSON objects.
    #[error("{table}: a row is not an object")]
    NotObject { table: String },
    /// serde could not turn the model into JSON.
    #[error("{table}: {source}")]
    Json {
        table: String,
        source: serde_json::Error,
    },
    /// The Parquet writer failed.
    #[error("{table}: {source}")]
    Writer {
        table: String,
        source: parquet::errors::ParquetError,
    },
}

/// One table: columns in file order and the rows, flattened.
#[derive(Debug, Clone)]
pub struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    rows: Vec<Map<String, Value>>,
}

/// A list as one cell: its items space-separated (as `--csv` writes it).
fn list_text(items: &[Value]) -> String {
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => list_text(a),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Flattens one object: nested objects become `parent_child` columns (`export::flatten`, as
/// the CSV does), lists text.
fn flatten_into(prefix: &str, obj: &Map<String, Value>, out: &mut Map<String, Value>) {
    let mut flat = Map::new();
    super::export::flatten(prefix, obj, &mut flat);
    for (name, v) in flat {
        let v = match v {
            Value::Array(items) => Value::String(list_text(&items)),
            other => other,
        };
        out.insert(name, v);
    }
}

/// The type a column of undeclared values gets: INT64 when every value is an integer, DOUBLE
/// when every one is a number, BOOLEAN when every one is a boolean, else text.
fn infer(values: impl Iterator<Item = Value>) -> Kind {
    let mut kind: Option<Kind> = None;
    for v in values {
        let k = match v {
            Value::Null => continue,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_i64() => Kind::Int,
            Value::Number(_) => Kind::Float,
            _ => Kind::Text,
        };
        kind = Some(match (kind, k) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (Some(Kind::Int | Kind::Float), Kind::Int | Kind::Float) => Kind::Float,
            _ => Kind::Text,
        });
    }
    kind.unwrap_or(Kind::Text)
}

impl Table {
    /// A table of serde rows: flattened, `run` first, the declared columns, then any other
    /// field of any row (alphabetically).
    pub fn from_rows(
        name: &str,
        declared: &[Column],
        run: &str,
        rows: &[Value],
    ) -> Result<Table, ParquetError> {
        let mut flat = Vec::with_capacity(rows.len());
        for row in rows {
            let Value::Object(obj) = row else {
                return Err(ParquetError::NotObject { table: name.into() });
            };
            let mut out = Map::new();
            flatten_into("", obj, &mut out);
            out.insert(RUN_COLUMN.into(), Value::String(run.into()));
            flat.push(out);
        }
        let first: Vec<&str> = declared.iter().map(|c| c.name).collect();
        let names = super::export::columns(&flat, &first);
        let columns = names
            .into_iter()
            .map(|n| {
                let kind = declared
                    .iter()
                    .find(|c| c.name == n)
                    .map(|c| c.kind)
                    .unwrap_or_else(|| infer(flat.iter().filter_map(|r| r.get(&n).cloned())));
                (n, kind)
            })
            .collect();
        Ok(Table {
            name: name.into(),
            columns,
            rows: flat,
        })
    }

    /// Rows of a serde type.
    pub fn of<T: serde::Serialize>(
        name: &str,
        declared: &[Column],
        run: &str,
        rows: &[T],
    ) -> Result<Table, ParquetError> {
        let values = rows
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| ParquetError::Json {
                table: name.into(),
                source,
            })?;
        Table::from_rows(name, declared, run, &values)
    }

    /// The column names and types, in file order.
    pub fn columns(&self) -> &[(String, Kind)] {
        &self.columns
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn mismatch(&self, column: &str, kind: Kind, v: &Value) -> ParquetError {
        ParquetError::Type {
            table: self.name.clone(),
            column: column.into(),
            kind: kind.name(),
            value: v.to_string(),
        }
    }

    /// The table as a Parquet file (one row group, Snappy-compressed, every column optional).
    pub fn to_parquet(&self) -> Result<Vec<u8>, ParquetError> {
        let writer_err = |source| ParquetError::Writer {
            table: self.name.clone(),
            source,
        };
        let fields = self
            .columns
            .iter()
            .map(|(name, kind)| {
                let (physical, logical) = match kind {
                    Kind::Int => (Physical::INT64, None),
                    Kind::Float => (Physical::DOUBLE, None),
                    Kind::Bool => (Physical::BOOLEAN, None),
                    Kind::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                };
                Type::primitive_type_builder(name, physical)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(logical)
                    .build()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(writer_err)?;
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(writer_err)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("peerscope {}", env!("CARGO_PKG_VERSION")))
            .build();
        let mut buf = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut buf, Arc::new(schema), Arc::new(props))
            .map_err(writer_err)?;
        let mut group = writer.next_row_group().map_err(writer_err)?;
        let mut index = 0;
        while let Some(mut column) = group.next_column().map_err(writer_err)? {
            let Some((name, kind)) = self.columns.get(index) else {
                break;
            };
            index += 1;
            let cells = self
                .rows
                .iter()
                .map(|r| r.get(name).unwrap_or(&Value::Null));
            let mut def = Vec::with_capacity(self.rows.len());
            // A cell that is none of the column's type is an error naming the column.
            let bad = |v: &Value| self.mismatch(name, *kind, v);
            match kind {
                Kind::Int => {
                    let vals = present(cells, &mut def, |v| match v {
                        Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
                        // A whole number serde wrote as a float (`2.0`) is still one.
                        Value::Number(n)
                            if n.as_f64()
                                .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e15) =>
                        {
                            n.as_f64().map(|f| f as i64)
                        }
                        _ => None,
                    })
                    .map_err(bad)?;
                    column
                        .typed::<Int64Type>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(writer_err)?;
                }
                Kind::Float => {
                    let vals = present(cells, &mut def, |v| match v {
                        Value::Number(n) => Some(n.as_f64().unwrap_or(f64::NAN)),
                        _ => None,
                    })
                    .map_err(bad)?;
                    column
                        .typed::<DoubleType>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(writer_err)?;
                }
                Kind::Bool => {
                    let vals = present(cells, &mut def, Value::as_bool).map_err(bad)?;
                    column
                        .typed::<BoolType>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(writer_err)?;
                }
                Kind::Text => {
                    let vals = present(cells, &mut def, |v| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            Value::Array(a) => list_text(a),
                            other => other.to_string(),
                        };
                        Some(ByteArray::from(text.into_bytes()))
                    })
                    .map_err(bad)?;
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(writer_err)?;
                }
            }
            column.close().map_err(writer_err)?;
        }
        group.close().map_err(writer_err)?;
        writer.close().map_err(writer_err)?;
        Ok(buf)
    }
}

/// The values of one column's non-null cells (`convert`ed), with the definition levels (0 for
/// a null, 1 for a value); the first cell `convert` refuses is the error.
fn present<'a, T>(
    cells: impl Iterator<Item = &'a Value>,
    def: &mut Vec<i16>,
    convert: impl Fn(&'a Value) -> Option<T>,
) -> Result<Vec<T>, &'a Value> {
    let mut vals = Vec::new();
    for v in cells {
        if v.is_null() {
            def.push(0);
            continue;
        }
        vals.push(convert(v).ok_or(v)?);
        def.push(1);
    }
    Ok(vals)
}

/// The name identifying a run: the output directory's last component.
pub fn run_name(dir: &Path) -> String {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into())
}

/// `report.parquet`'s one row, read from the report's JSON by [`REPORT_POINTERS`].
pub fn report_row(report: &Value) -> Value {
    let mut row = Map::new();
    for (c, pointer) in REPORT.iter().skip(1).zip(REPORT_POINTERS) {
        let v = report.pointer(pointer).cloned().unwrap_or(Value::Null);
        row.insert(c.name.into(), v);
    }
    Value::Object(row)
}

/// Writes the tables into `dir`, each atomically; every one is encoded before the first is
/// written, so a table that cannot be leaves no half-export.
fn write_tables(dir: &Path, tables: &[(&str, Table)]) -> anyhow::Result<Vec<PathBuf>> {
    let encoded = tables
        .iter()
        .map(|(file, table)| Ok((dir.join(file), table.to_parquet()?)))
        .collect::<Result<Vec<_>, ParquetError>>()?;
    let mut written = Vec::new();
    for (path, bytes) in encoded {
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// The tables of an `analyze` run: peers, series and the report's row; flows when given.
pub fn report_tables(
    report_json: &Value,
    run: &str,
    flows: Option<&[Value]>,
) -> Result<Vec<(&'static str, Table)>, ParquetError> {
    let list = |p: &str| {
        report_json
            .pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut tables = vec![
        (
            PEERS_PARQUET,
            Table::from_rows(PEERS_PARQUET, PEERS, run, &list("/peers/list"))?,
        ),
        (
            SERIES_PARQUET,
            Table::from_rows(SERIES_PARQUET, SERIES, run, &list("/series/rows"))?,
        ),
        (
            REPORT_PARQUET,
            Table::from_rows(REPORT_PARQUET, REPORT, run, &[report_row(report_json)])?,
        ),
    ];
    if let Some(flows) = flows {
        tables.push((
            FLOWS_PARQUET,
            Table::from_rows(FLOWS_PARQUET, FLOWS, run, flows)?,
        ));
    }
    Ok(tables)
}

/// Writes `peers.parquet`, `series.parquet`, `report.parquet` and (given flows)
/// `flows.parquet` into `dir`; returns their paths.
pub fn write_report(
    report: &Report,
    flows: Option<&[ConnRecord]>,
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let json = serde_json::to_value(report)?;
    let flows = flows
        .map(|f| {
            f.iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let tables = report_tables(&json, &run_name(dir), flows.as_deref())?;
    write_tables(dir, &tables)
}

/// The tables of a `compare` run.
pub fn compare_tables(
    compare_json: &Value,
    run: &str,
) -> Result<Vec<(&'static str, Table)>, ParquetError> {
    let list = |p: &str| {
        compare_json
            .pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    Ok(vec![
        (
            RUNS_PARQUET,
            Table::from_rows(RUNS_PARQUET, RUNS, run, &list("/runs"))?,
        ),
        (
            NODES_PARQUET,
            Table::from_rows(NODES_PARQUET, NODES, run, &list("/nodes"))?,
        ),
    ])
}

/// Writes `runs.parquet` and `nodes.parquet` into `dir`; returns their paths.
pub fn write_compare(compare: &Compare, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let json = serde_json::to_value(compare)?;
    write_tables(dir, &compare_tables(&json, &run_name(dir))?)
}

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  peerscope export reports/sopcast-sim-any\n  peerscope export reports/*/ && duckdb -c \"SELECT run, count(*) FROM 'reports/*/peers.parquet' GROUP BY run\""
)]
pub struct ExportArgs {
    /// Output directories of analyze, capture or compare (report.json, flows.ndjson,
    /// compare.json, clients.json): the Parquet files are written beside them, replacing
    /// earlier exports
    #[arg(required = true, value_name = "REPORT_DIR")]
    pub dirs: Vec<PathBuf>,
    /// No list of the files written
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn read_json(path: &Path) -> anyhow::Result<Option<Value>> {
    use anyhow::Context;
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{}: not JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

/// `flows.ndjson`: one JSON object a line.
fn read_ndjson(path: &Path) -> anyhow::Result<Option<Vec<Value>>> {
    use anyhow::Context;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display())))
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not JSON", path.display(), i + 1))
        })
        .collect::<anyhow::Result<Vec<Value>>>()
        .map(Some)
}

/// The tables of one output directory, from the JSON files in it.
pub fn dir_tables(dir: &Path) -> anyhow::Result<Vec<(&'static str, Table)>> {
    let run = run_name(dir);
    let mut tables = Vec::new();
    if let Some(report) = read_json(&dir.join("report.json"))? {
        let flows = read_ndjson(&dir.join(super::analyze::FLOWS_NAME))?;
        tables.extend(report_tables(&report, &run, flows.as_deref())?);
    }
    if let Some(compare) = read_json(&dir.join("compare.json"))? {
        tables.extend(compare_tables(&compare, &run)?);
    }
    if let Some(clients) = read_json(&dir.join("clients.json"))? {
        tables.push((CLIENTS_PARQUET, clients_table(&clients, &run)?));
    }
    Ok(tables)
}

/// `peerscope export`.
pub fn run(args: ExportArgs) -> anyhow::Result<std::process::ExitCode> {
    use std::io::Write;
    let mut plans = Vec::new();
    for dir in &args.dirs {
        if !dir.is_dir() {
            return Err(super::InputError(format!("{}: not a directory", dir.display())).into());
        }
        let tables = dir_tables(dir)?;
        if tables.is_empty() {
            return Err(super::InputError(format!(
                "{}: no report.json, compare.json or clients.json to export",
                dir.display()
            ))
            .into());
        }
        plans.push((dir, tables));
    }
    // Every directory was read and converted before the first file is written.
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (dir, tables) in plans {
        for path in write_tables(dir, &tables)? {
            if !args.quiet {
                writeln!(out, "parquet   {}", path.display())?;
            }
        }
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The `clients.parquet` table of a `clients.json` document.
pub fn clients_table(clients_json: &Value, run: &str) -> Result<Table, ParquetError> {
    let rows = clients_json
        .get("clients")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Table::from_rows(CLIENTS_PARQUET, CLIENTS, run, &rows)
}

/// Writes `clients.parquet` into `dir` from gateway mode's `clients.json` document
/// (`{"clients": [...]}`); returns its path. For gateway mode's `--export parquet`.
pub fn write_clients(clients_json: &Value, dir: &Path) -> anyhow::Result<PathBuf> {
    let table = clients_table(clients_json, &run_name(dir))?;
    let mut written = write_tables(dir, &[(CLIENTS_PARQUET, table)])?;
    written
        .pop()
        .ok_or_else(|| anyhow::anyhow!("clients.parquet was not written"))
}

/// The README's schema table of one file (Markdown).
pub fn schema_markdown(file: &str, columns: &[Column]) -> String {
    let mut out = format!("`{file}`\n\n| column | type | unit | meaning |\n|---|---|---|---|\n");
    for c in columns {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.name,
            c.kind.name(),
            c.unit,
            c.meaning
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_flattened_and_typed() {
        let rows = [
            json!({"ip": "192.0.2.1", "ports": [8902, 3908], "video": {"download_kbps": 1.5}, "n": 3, "id.orig_h": "a"}),
            json!({"ip": "192.0.2.2", "ports": [], "video": {"download_kbps": 2}, "n": null, "x": true}),
        ];
        let t = Table::from_rows("t", &[RUN, col("ip", Kind::Text, "-", "")], "r1", &rows).unwrap();
        let cols: Vec<(&str, Kind)> = t.columns().iter().map(|(n, k)| (n.as_str(), *k)).collect();
        assert_eq!(
            cols,
            vec![
                ("run", Kind::Text),
                ("ip", Kind::Text),
                ("id_orig_h", Kind::Text),
                ("n", Kind::Int),
                ("ports", Kind::Text),
                ("video_download_kbps", Kind::Float),
                ("x", Kind::Bool),
            ]
        );
        assert_eq!(t.rows[0].get("ports"), Some(&json!("8902 3908")));
        let bytes = t.to_parquet().unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error() {
        let rows = [json!({"video_in_bytes": "many"})];
        let t = Table::from_rows("peers", PEERS, "r", &rows).unwrap();
        let e = t.to_parquet().unwrap_err().to_string();
        assert!(e.contains("video_in_bytes is INT64"), "{e}");
    }

    #[test]
    fn declared_columns_match_the_model() {
        // Every field the model writes is declared (so the README documents it), and every
        // report pointer resolves in a real report.
        let text = include_str!("../../reports/sopcast-sim-any/report.json");
        let report: Value = serde_json::from_str(text).unwrap();
        let tables = report_tables(&report, "r", None).unwrap();
        for (file, table) in &tables {
            let declared = TABLES.iter().find(|(f, _)| f == file).unwrap().1;
            for (name, _) in table.columns() {
                assert!(
                    declared.iter().any(|c| c.name == name),
                    "{file}: column {name} is not declared"
                );
            }
        }
        let row = report_row(&report);
        for (c, p) in REPORT.iter().skip(1).zip(REPORT_POINTERS) {
            // Only a live capture has drop counters.
            let optional = *p == "/capture/dropped_by_kernel";
            assert!(
                optional || report.pointer(p).is_some(),
                "{} ({p}) absent",
                c.name
            );
            assert!(row.get(c.name).is_some());
        }
        assert_eq!(REPORT.len(), REPORT_POINTERS.len() + 1);
    }

    #[test]
    fn the_readme_documents_every_table() {
        let readme = include_str!("../../README.md");
        let missing: Vec<String> = TABLES
            .iter()
            .map(|(file, columns)| schema_markdown(file, columns))
            .filter(|table| !readme.contains(table.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "README lacks these schema tables (as they are now):\n\n{}",
            missing.join("\n")
        );
    }
}
