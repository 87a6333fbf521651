//! peerscope: passive traffic measurement of peer-to-peer live-streaming clients.
//!
//! Data crosses the layers once, in one direction:
//!
//! ```text
//! source  (capture files, stdin, live)  → RawPacket { ts, link type, bytes }
//! decode  (link → IP → UDP/TCP)         → Packet { addresses, ports, sizes, ttl, payload }
//! flow    (pair table, timeline)        → Table: per-pair and per-bin accumulators
//! metrics (sizes, peers, traffic, …)    → numbers computed from the table
//! report  (serde model, JSON, SVG)      → report.json and figures
//! ```
//!
//! `compare` runs that pipeline over several vantage points and matches their video for the
//! playback delay behind a source. `sim` writes synthetic captures whose true metrics are known (the ground truth of the tests),
//! `plan` is the study's capacity model, and `cli` is the only layer that knows about arguments.
//! `harness` (hidden) holds the fuzzing entry points shared by `fuzz/` and the regression tests.

pub mod cli;
pub mod compare;
pub mod decode;
pub mod flow;
pub mod geo;
#[doc(hidden)]
pub mod harness;
pub mod hash;
pub mod identify;
pub mod media;
pub mod metrics;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod sim;
pub mod source;
pub mod time;
