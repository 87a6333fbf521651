//! The study's capacity model as a calculator (`peerscope plan`).
//!
//! Principal types: [`PlanInput`] (what the user gave, already in base units) goes through
//! [`plan`] into a [`Plan`] (a serde-only model holding only what the inputs allow to compute).
//! [`text`] and [`svg`] render a `Plan` to any writer; JSON is `serde_json` on the model.
//!
//! The model is the one of Sentinelli et al., "Will IPTV ride the peer-to-peer stream?" (IEEE
//! Communications Magazine, 2007), see SPEC §1 "The study's capacity model":
//!
//! ```text
//! demand          = users × rate
//! peer supply     = users × mean effective upstream            (fluid: shares need not be whole)
//! mean upstream   = Σ share_i × supply_i + (1 − Σ share_i) × upstream × utilisation
//! server capacity = max(0, demand − peer supply)
//! max P2P rate    = mean effective upstream                     (the rate peers alone carry)
//! buffer          = delay tolerance × rate
//! chunks          = buffer / chunk size                          (fractional, see below)
//! efficiency      = max(0, 1 − 1/chunks)
//! ```
//!
//! Chunk counts are kept fractional. `1 − 1/chunks` equals `(buffer − chunk) / buffer`: the share
//! of the buffer not tied up in the one chunk still being assembled (a chunk can only be
//! exchanged once complete). Read that way the formula is continuous in the chunk size, and a
//! chunk straddling the edge of the delay window counts for its part. The whole number of
//! chunks (`whole_chunks`, the floor) is reported next to it. With one chunk or less in the
//! buffer (a chunk takes at least the whole delay tolerance to fill) no complete chunk can be
//! exchanged in time: efficiency is reported as 0 and a note says so.

use serde::Serialize;

pub mod svg;
pub mod text;

/// Version of the JSON document written by `peerscope plan --json`.
pub const SCHEMA: &str = "peerscope/plan-v1";

/// Tolerance for sums of shares (0.05 + 0.95 is not exactly 1 in binary).
const SHARE_EPS: f64 = 1e-9;

/// The study's rule of thumb on neighbours: Coolstreaming found 4 active neighbours enough…
pub const ENOUGH_NEIGHBOURS: u32 = 4;
/// …and more than about 8 brings little.
pub const MANY_NEIGHBOURS: u32 = 8;

/// Chunk sizes of the table printed for a buffer: powers of two from 4 KiB to 2 MiB.
pub const TABLE_CHUNKS_BYTES: [f64; 10] = [
    4096.0,
    8192.0,
    16384.0,
    32768.0,
    65536.0,
    131_072.0,
    262_144.0,
    524_288.0,
    1_048_576.0,
    2_097_152.0,
];

/// An input the model cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error("utilisation must be between 0 and 1, got {value}")]
    Utilization { value: f64 },
    #[error("a class share must be between 0 and 1, got {value}")]
    Share { value: f64 },
    #[error("class shares add up to {sum}, more than 1 (100 % of the users)")]
    SharesOverOne { sum: f64 },
    #[error("{rest_percent:.1} % of the users are in no --class: give --upstream for them")]
    MissingUpstream { rest_percent: f64 },
    #[error("{what} must be a finite number ≥ 0, got {value}")]
    Negative { what: &'static str, value: f64 },
    #[error("the chunk size must be more than 0 bytes")]
    ZeroChunk,
    #[error("the target efficiency must be in [0, 1), got {value}")]
    TargetEfficiency { value: f64 },
}

/// A group of users with its own effective upstream (already multiplied by its utilisation):
/// `--class 0.05:7.5Mbps` is 5 % of the users giving 7.5 Mb/s each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UserClass {
    #[serde(serialize_with = "round::num")]
    pub share: f64,
    #[serde(serialize_with = "round::num")]
    pub supply_kbps: f64,
}

/// The upload side of the audience: the classes, and everyone else at `upstream × utilisation`.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    upstream_kbps: Option<f64>,
    utilization: f64,
    classes: Vec<UserClass>,
}

impl Population {
    /// Validates utilisation in [0, 1], each share in [0, 1], shares adding up to at most 1,
    /// and that users in no class have an `upstream`.
    pub fn new(
        upstream_kbps: Option<f64>,
        utilization: f64,
        classes: Vec<UserClass>,
    ) -> Result<Self, PlanError> {
        if !(0.0..=1.0).contains(&utilization) {
            return Err(PlanError::Utilization { value: utilization });
        }
        if let Some(up) = upstream_kbps {
            check_non_negative("the upstream", up)?;
        }
        let mut sum = 0.0;
        for class in &classes {
            if !(0.0..=1.0).contains(&class.share) {
                return Err(PlanError::Share { value: class.share });
            }
            check_non_negative("a class's upstream", class.supply_kbps)?;
            sum += class.share;
        }
        if sum > 1.0 + SHARE_EPS {
            return Err(PlanError::SharesOverOne { sum });
        }
        let rest = (1.0 - sum).max(0.0);
        if upstream_kbps.is_none() && rest > SHARE_EPS {
            return Err(PlanError::MissingUpstream {
                rest_percent: rest * 100.0,
            });
        }
        Ok(Self {
            upstream_kbps,
            utilization,
            classes,
        })
    }

    /// Share of the users in no class (0 when the classes cover everyone).
    pub fn rest_share(&self) -> f64 {
        let sum: f64 = self.classes.iter().map(|c| c.share).sum();
        (1.0 - sum).max(0.0)
    }

    /// Mean effective upstream per user, kb/s: what each user gives on average.
    pub fn mean_supply_kbps(&self) -> f64 {
        let classes: f64 = self.classes.iter().map(|c| c.share * c.supply_kbps).sum();
        let rest = match self.upstream_kbps {
            Some(up) if self.rest_share() > SHARE_EPS => self.rest_share() * up * self.utilization,
            _ => 0.0,
        };
        classes + rest
    }

    pub fn upstream_kbps(&self) -> Option<f64> {
        self.upstream_kbps
    }

    pub fn utilization(&self) -> f64 {
        self.utilization
    }

    pub fn classes(&self) -> &[UserClass] {
        &self.classes
    }
}

fn check_non_negative(what: &'static str, value: f64) -> Result<(), PlanError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(PlanError::Negative { what, value })
    }
}

/// Supply and demand for `users` watching a stream of `rate_kbps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub demand_kbps: f64,
    pub peer_supply_kbps: f64,
    pub server_kbps: f64,
}

/// demand = users × rate; supply = users × mean effective upstream; server = max(0, d − s).
pub fn capacity(rate_kbps: f64, users: u64, population: &Population) -> Capacity {
    let users = users as f64;
    let demand_kbps = users * rate_kbps;
    let peer_supply_kbps = users * population.mean_supply_kbps();
    Capacity {
        demand_kbps,
        peer_supply_kbps,
        server_kbps: server_kbps(demand_kbps, peer_supply_kbps),
    }
}

/// Server capacity needed: what demand the peers leave uncovered, never below 0.
pub fn server_kbps(demand_kbps: f64, peer_supply_kbps: f64) -> f64 {
    (demand_kbps - peer_supply_kbps).max(0.0)
}

/// Buffer bytes holding `delay_s` seconds of a stream at `rate_kbps` (kb/s = 1000 bit/s).
pub fn buffer_bytes(delay_s: f64, rate_kbps: f64) -> f64 {
    delay_s * rate_kbps * 1000.0 / 8.0
}

/// Efficiency of a chunk-based scheme with `chunks` chunks in the buffer: `1 − 1/chunks`,
/// and 0 when there is one chunk or less (no complete chunk can be exchanged in time).
pub fn efficiency(chunks: f64) -> f64 {
    if chunks > 1.0 {
        1.0 - 1.0 / chunks
    } else {
        0.0
    }
}

/// One chunk size against one buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chunking {
    pub chunk_bytes: f64,
    /// buffer / chunk, fractional.
    pub chunks: f64,
    /// The complete chunks that fit in the buffer.
    pub whole_chunks: u64,
    pub efficiency: f64,
}

/// Chunks of `chunk_bytes` in a buffer of `buffer_bytes`, and the scheme's efficiency.
pub fn chunking(buffer_bytes: f64, chunk_bytes: f64) -> Result<Chunking, PlanError> {
    check_non_negative("the buffer", buffer_bytes)?;
    if !(chunk_bytes.is_finite() && chunk_bytes > 0.0) {
        return Err(PlanError::ZeroChunk);
    }
    let chunks = buffer_bytes / chunk_bytes;
    Ok(Chunking {
        chunk_bytes,
        chunks,
        // Float-to-int `as` saturates; chunks is finite and ≥ 0 here.
        whole_chunks: chunks.floor() as u64,
        efficiency: efficiency(chunks),
    })
}

/// The largest chunk size (bytes) that keeps the efficiency at `target` or above for this
/// buffer: chunks ≥ 1 / (1 − target), so chunk ≤ buffer × (1 − target).
pub fn max_chunk_for_efficiency(buffer_bytes: f64, target: f64) -> Result<f64, PlanError> {
    check_non_negative("the buffer", buffer_bytes)?;
    if !(0.0..1.0).contains(&target) {
        return Err(PlanError::TargetEfficiency { value: target });
    }
    Ok(buffer_bytes * (1.0 - target))
}

/// Where a neighbour count stands against the study's rule of thumb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NeighbourVerdict {
    /// Fewer than the 4 active neighbours Coolstreaming found enough.
    FewerThanFound,
    /// 4 to 8: within the rule of thumb.
    WithinRule,
    /// More than about 8: the study says the extra ones bring little.
    MoreThanUseful,
}

/// Advice on a neighbour count, worded as the study's rule of thumb, not as a law.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeighbourAdvice {
    pub count: u32,
    pub verdict: NeighbourVerdict,
    pub note: String,
}

pub fn neighbour_advice(count: u32) -> NeighbourAdvice {
    let (verdict, note) = if count > MANY_NEIGHBOURS {
        (
            NeighbourVerdict::MoreThanUseful,
            format!(
                "{count} neighbours: the study's rule of thumb is that more than about \
                 {MANY_NEIGHBOURS} brings little (Coolstreaming found {ENOUGH_NEIGHBOURS} active \
                 neighbours enough); a rule of thumb, not a measured limit"
            ),
        )
    } else if count < ENOUGH_NEIGHBOURS {
        (
            NeighbourVerdict::FewerThanFound,
            format!(
                "{count} neighbours: fewer than the {ENOUGH_NEIGHBOURS} active neighbours \
                 Coolstreaming found enough (as cited by the study); the study gives no figure \
                 for what fewer costs"
            ),
        )
    } else {
        (
            NeighbourVerdict::WithinRule,
            format!(
                "{count} neighbours: within the study's rule of thumb ({ENOUGH_NEIGHBOURS} active \
                 neighbours were enough for Coolstreaming, more than about {MANY_NEIGHBOURS} \
                 brings little)"
            ),
        )
    };
    NeighbourAdvice {
        count,
        verdict,
        note,
    }
}

/// Where the buffer size comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BufferSpec {
    /// Delay tolerance in seconds; the buffer is this many seconds of the stream.
    DelayTolerance(f64),
    /// A buffer size in bytes, given directly.
    Bytes(f64),
}

/// Everything the calculator was given, in base units (kb/s, s, bytes). `None` means "not
/// given": whatever depends on it is left out of the [`Plan`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanInput {
    pub rate_kbps: Option<f64>,
    pub users: Option<u64>,
    /// `None` when neither `--upstream` nor `--class` was given.
    pub population: Option<Population>,
    pub buffer: Option<BufferSpec>,
    pub chunk_bytes: Option<f64>,
    pub target_efficiency: Option<f64>,
    pub peers: Option<u32>,
}

/// The echo of the inputs inside a [`Plan`], in base units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanInputs {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub rate_kbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub upstream_kbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub utilization: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<UserClass>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub delay_tolerance_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub chunk_bytes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub target_efficiency: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<u32>,
}

/// A row of the chunk-size table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChunkRow {
    #[serde(serialize_with = "round::num")]
    pub chunk_bytes: f64,
    #[serde(serialize_with = "round::num")]
    pub chunks: f64,
    #[serde(serialize_with = "round::num")]
    pub efficiency: f64,
}

/// The results: serde-only, every key present only when its inputs were given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub schema: &'static str,
    pub inputs: PlanInputs,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub demand_kbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub peer_supply_kbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub server_kbps: Option<f64>,
    /// Mean effective upstream per user: the largest stream rate the peers alone carry.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub max_p2p_rate_kbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub buffer_bytes: Option<f64>,
    /// Seconds of stream the buffer holds (when both the buffer and the rate are known).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub buffer_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub chunks: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whole_chunks: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub efficiency: Option<f64>,
    /// The largest chunk meeting `inputs.target_efficiency` for this buffer.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "round::opt")]
    pub max_chunk_bytes_for_target: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chunk_table: Vec<ChunkRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<NeighbourAdvice>,
    /// Caveats worth reading next to the numbers.
    pub notes: Vec<String>,
}

impl Plan {
    /// True when no figure could be computed from the inputs given.
    pub fn is_empty(&self) -> bool {
        self.demand_kbps.is_none()
            && self.peer_supply_kbps.is_none()
            && self.max_p2p_rate_kbps.is_none()
            && self.buffer_bytes.is_none()
            && self.neighbours.is_none()
    }
}

/// Fixed precision in the JSON document: numbers rounded to 6 decimals, so output is
/// byte-stable and free of float noise such as `0.30000000000000004`.
mod round {
    use serde::Serializer;

    const SCALE: f64 = 1e6;

    fn r(value: f64) -> f64 {
        let rounded = (value * SCALE).round() / SCALE;
        // Very large values would overflow the scaling; keep them as they are.
        if rounded.is_finite() {
            rounded
        } else {
            value
        }
    }

    pub fn num<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(r(*value))
    }

    // serde's `serialize_with` hands Option fields over by reference.
    #[allow(clippy::ref_option)]
    pub fn opt<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(&r(*v)),
            None => s.serialize_none(),
        }
    }
}

/// Runs the model on whatever the inputs allow.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    if let Some(rate) = input.rate_kbps {
        check_non_negative("the rate", rate)?;
    }
    let mut notes = Vec::new();
    let population = input.population.as_ref();
    let max_p2p_rate_kbps = population.map(Population::mean_supply_kbps);
    let demand_kbps = match (input.rate_kbps, input.users) {
        (Some(rate), Some(users)) => Some(users as f64 * rate),
        _ => None,
    };
    let peer_supply_kbps = match (input.users, max_p2p_rate_kbps) {
        (Some(users), Some(mean)) => Some(users as f64 * mean),
        _ => None,
    };
    let server = match (demand_kbps, peer_supply_kbps) {
        (Some(d), Some(s)) => Some(server_kbps(d, s)),
        _ => None,
    };

    let (buffer_bytes, delay_tolerance_s) = match input.buffer {
        Some(BufferSpec::DelayTolerance(delay)) => {
            check_non_negative("the delay tolerance", delay)?;
            match input.rate_kbps {
                Some(rate) => (Some(self::buffer_bytes(delay, rate)), Some(delay)),
                None => (None, Some(delay)),
            }
        }
        Some(BufferSpec::Bytes(bytes)) => {
            check_non_negative("the buffer", bytes)?;
            (Some(bytes), None)
        }
        None => (None, None),
    };
    let buffer_s = match (buffer_bytes, input.rate_kbps) {
        (Some(b), Some(rate)) if rate > 0.0 => Some(b * 8.0 / (rate * 1000.0)),
        _ => None,
    };

    let mut chunk_table = Vec::new();
    let mut chunk = None;
    let mut max_chunk = None;
    if let Some(buffer) = buffer_bytes {
        for size in TABLE_CHUNKS_BYTES {
            let c = chunking(buffer, size)?;
            chunk_table.push(ChunkRow {
                chunk_bytes: c.chunk_bytes,
                chunks: c.chunks,
                efficiency: c.efficiency,
            });
        }
        if let Some(size) = input.chunk_bytes {
            let c = chunking(buffer, size)?;
            if buffer == 0.0 {
                notes.push(
                    "the buffer is empty (rate or delay tolerance 0): there is nothing to split \
                     into chunks, efficiency is reported as 0"
                        .to_string(),
                );
            } else if c.chunks <= 1.0 {
                notes.push(format!(
                    "the chunk is larger than or equal to the buffer ({:.2} chunks): a chunk takes \
                     at least the whole delay tolerance to fill, so no complete chunk can be \
                     exchanged in time; efficiency is reported as 0 (1 − 1/chunks would be {})",
                    c.chunks,
                    if c.chunks > 0.0 {
                        format!("{:.3}", 1.0 - 1.0 / c.chunks)
                    } else {
                        "undefined".to_string()
                    }
                ));
            }
            chunk = Some(c);
        }
        if let Some(target) = input.target_efficiency {
            max_chunk = Some(max_chunk_for_efficiency(buffer, target)?);
        }
    } else if let Some(target) = input.target_efficiency {
        // Validate even when it cannot be used, so a bad value is never silently accepted.
        max_chunk_for_efficiency(0.0, target)?;
    }
    if let Some(size) = input.chunk_bytes {
        if !(size.is_finite() && size > 0.0) {
            return Err(PlanError::ZeroChunk);
        }
    }

    if let (Some(pop), Some(users)) = (population, input.users) {
        let fractional = pop
            .classes()
            .iter()
            .any(|c| (c.share * users as f64).fract().abs() > 1e-6);
        if fractional {
            notes.push(
                "class shares of this many users are not whole numbers of users; the model is \
                 fluid and uses the fractions as they are"
                    .to_string(),
            );
        }
    }

    let inputs = PlanInputs {
        rate_kbps: input.rate_kbps,
        users: input.users,
        upstream_kbps: population.and_then(Population::upstream_kbps),
        utilization: population
            .filter(|p| p.upstream_kbps().is_some())
            .map(Population::utilization),
        classes: population.map(|p| p.classes().to_vec()).unwrap_or_default(),
        delay_tolerance_s,
        chunk_bytes: input.chunk_bytes,
        target_efficiency: input.target_efficiency,
        peers: input.peers,
    };

    Ok(Plan {
        schema: SCHEMA,
        inputs,
        demand_kbps,
        peer_supply_kbps,
        server_kbps: server,
        max_p2p_rate_kbps,
        buffer_bytes,
        buffer_s,
        chunks: chunk.map(|c| c.chunks),
        whole_chunks: chunk.map(|c| c.whole_chunks),
        efficiency: chunk.map(|c| c.efficiency),
        max_chunk_bytes_for_target: max_chunk,
        chunk_table,
        neighbours: input.peers.map(neighbour_advice),
        notes,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn study_example_homogeneous() {
        let pop = Population::new(Some(400.0), 0.9, vec![]).unwrap();
        let c = capacity(700.0, 100_000, &pop);
        assert!(close(c.demand_kbps, 70e6, 1e-6));
        assert!(close(c.peer_supply_kbps, 36e6, 1e-3));
        assert!(close(c.server_kbps, 34e6, 1e-3));
    }

    #[test]
    fn study_example_mixed() {
        let class = UserClass {
            share: 0.05,
            supply_kbps: 7500.0,
        };
        let pop = Population::new(Some(400.0), 0.9, vec![class]).unwrap();
        let c = capacity(700.0, 20, &pop);
        assert!(close(c.peer_supply_kbps, 14_340.0, 1e-6));
        assert_eq!(c.server_kbps, 0.0);
    }

    #[test]
    fn study_buffer_binary_reading() {
        // The study's 1.75 MB / 256 KB = 7 and / 16 KB = 112 only hold in binary units.
        let buffer = 1.75 * 1024.0 * 1024.0;
        let big = chunking(buffer, 256.0 * 1024.0).unwrap();
        let small = chunking(buffer, 16.0 * 1024.0).unwrap();
        assert_eq!((big.chunks, big.whole_chunks), (7.0, 7));
        assert_eq!((small.chunks, small.whole_chunks), (112.0, 112));
        assert!(close(big.efficiency, 6.0 / 7.0, 1e-12));
    }

    #[test]
    fn population_errors() {
        assert!(matches!(
            Population::new(Some(400.0), 1.1, vec![]),
            Err(PlanError::Utilization { .. })
        ));
        let half = UserClass {
            share: 0.6,
            supply_kbps: 1.0,
        };
        assert!(matches!(
            Population::new(Some(400.0), 0.9, vec![half, half]),
            Err(PlanError::SharesOverOne { .. })
        ));
        assert!(matches!(
            Population::new(None, 0.9, vec![half]),
            Err(PlanError::MissingUpstream { .. })
        ));
        let rest = UserClass {
            share: 0.4,
            supply_kbps: 2.0,
        };
        let pop = Population::new(None, 0.9, vec![half, rest]).unwrap();
        assert!(close(pop.mean_supply_kbps(), 1.4, 1e-12));
    }

    #[test]
    fn chunk_edge_cases() {
        assert_eq!(chunking(100.0, 0.0), Err(PlanError::ZeroChunk));
        assert_eq!(chunking(100.0, 200.0).unwrap().efficiency, 0.0);
        assert_eq!(chunking(0.0, 200.0).unwrap().efficiency, 0.0);
        assert_eq!(
            max_chunk_for_efficiency(100.0, 0.99),
            Ok(100.0 * (1.0 - 0.99))
        );
        assert!(max_chunk_for_efficiency(100.0, 1.0).is_err());
    }
}
