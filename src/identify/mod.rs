//! Application identification from headers and behaviour — never from ports alone — and the
//! verdict on what kind of traffic a capture holds.
//!
//! Principal types and the data flow:
//!
//! ```text
//! decode::Packet ─► Identifier::ingest      per-flow counters; the matchers (rules::classify)
//!                                           read the payload of a flow's first INSPECT packets
//!                   Identifier::finish ───► Findings { evidence: Vec<Evidence>, flows, totals }
//!                   identify(&Findings) ──► Application { name, confidence, evidence }
//! pipeline summary ─► verdict::Features ──► verdict::verdict ─► Verdict { kind, reasons }
//! ```
//!
//! - [`rules`]: one stateless matcher per [`Rule`], on (transport, payload prefix, wire
//!   payload length); each rule's doc says what it is, where it comes from, how it was tested.
//! - [`accumulator`]: the bounded flow table and the per-flow tests (how many packets, which
//!   share, which keys must hold) that turn matches into a flow's application.
//! - [`identify`]: the capture's application — the one whose confirmed flows carry the most
//!   IP bytes — with a confidence from the strength of its rules and the share of the peer
//!   traffic they explain.
//! - [`mod@verdict`]: `p2p-live-streaming`, `p2p-bulk`, `two-party-call`, `client-server-stream`
//!   or `unknown`, from summary features the pipeline computes.

pub mod accumulator;
pub mod rules;
pub mod verdict;

pub use accumulator::{Findings, FlowIdent, FlowKey, Identifier, RuleSet};
pub use rules::{Proto, Rule};
pub use verdict::{verdict, Features, Reason, Verdict, VerdictKind};

use std::fmt;

/// The applications peerscope names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppName {
    Bittorrent,
    Sopcast,
    Ppstream,
    Webrtc,
    Srt,
    Rtp,
    Quic,
    Unknown,
}

impl AppName {
    /// The name as written in reports: `bittorrent`, `sopcast`, …
    pub fn as_str(self) -> &'static str {
        match self {
            AppName::Bittorrent => "bittorrent",
            AppName::Sopcast => "sopcast",
            AppName::Ppstream => "ppstream",
            AppName::Webrtc => "webrtc",
            AppName::Srt => "srt",
            AppName::Rtp => "rtp",
            AppName::Quic => "quic",
            AppName::Unknown => "unknown",
        }
    }

    /// P2P-TV clients: their protocol is itself evidence of live streaming.
    pub fn is_p2p_tv(self) -> bool {
        matches!(self, AppName::Sopcast | AppName::Ppstream)
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of evidence: the flows of `app` that `rule` confirmed, the packets that matched
/// it there, and the IP bytes of those flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub app: AppName,
    pub rule: Rule,
    pub flows: u64,
    pub packets: u64,
    pub ip_bytes: u64,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} packet{} in {} flow{} ({} IP bytes)",
            self.rule,
            self.packets,
            if self.packets == 1 { "" } else { "s" },
            self.flows,
            if self.flows == 1 { "" } else { "s" },
            self.ip_bytes
        )
    }
}

/// The capture's application.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub name: AppName,
    /// 0–1, two decimals: see [`identify`].
    pub confidence: f64,
    /// The evidence for `name`, strongest rule first.
    pub evidence: Vec<Evidence>,
}

impl fmt::Display for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (confidence {:.2})", self.name, self.confidence)
    }
}

/// How much one rule, on its own, says about its application. Signatures of several bytes
/// and lengths that agree: 0.9; keys that hold over a flow (uTP connection id, SRT socket):
/// 0.75; short patterns and generic media framing (PPStream peer bytes, RTP, STUN, DTLS): 0.6.
pub fn rule_strength(r: Rule) -> f64 {
    match r {
        Rule::BtHandshake
        | Rule::UdpTracker
        | Rule::HttpAnnounce
        | Rule::Dht
        | Rule::Sopcast
        | Rule::PpsControl
        | Rule::SrtHandshake
        | Rule::QuicLong
        | Rule::GQuic => 0.9,
        Rule::Utp | Rule::SrtControl => 0.75,
        Rule::PpsPeer | Rule::Stun | Rule::Dtls | Rule::Rtp | Rule::Rtcp | Rule::QuicShort => 0.6,
    }
}

/// Names the capture's application from the accumulator's findings.
///
/// The application is the one whose confirmed flows carry the most IP bytes (ties: more
/// flows, then the order of [`AppName`]); flows no rule confirmed do not compete. Its
/// confidence combines the strength of its distinct rules (1 − Π(1 − s), at most 0.99; see
/// [`rule_strength`]) with the share of all peer-flow IP bytes its flows carry:
/// `strength × (0.5 + 0.5 × share)`. With no confirmed flow: `unknown`, confidence 0.
pub fn identify(findings: &Findings) -> Application {
    let mut per_app: Vec<(AppName, u64, u64)> = Vec::new();
    for f in &findings.flows {
        match per_app.iter_mut().find(|(a, _, _)| *a == f.app) {
            Some(e) => {
                e.1 += f.ip_bytes;
                e.2 += 1;
            }
            None => per_app.push((f.app, f.ip_bytes, 1)),
        }
    }
    per_app.sort_by(|x, y| y.1.cmp(&x.1).then(y.2.cmp(&x.2)).then(x.0.cmp(&y.0)));
    let Some(&(name, bytes, _)) = per_app.first() else {
        return Application {
            name: AppName::Unknown,
            confidence: 0.0,
            evidence: Vec::new(),
        };
    };
    let mut evidence: Vec<Evidence> = findings
        .evidence
        .iter()
        .filter(|e| e.app == name)
        .copied()
        .collect();
    evidence.sort_by(|x, y| {
        rule_strength(y.rule)
            .total_cmp(&rule_strength(x.rule))
            .then(y.flows.cmp(&x.flows))
            .then(x.rule.cmp(&y.rule))
    });
    let miss: f64 = evidence
        .iter()
        .map(|e| 1.0 - rule_strength(e.rule))
        .product();
    let strength = (1.0 - miss).min(0.99);
    let share = if findings.total_ip_bytes == 0 {
        0.0
    } else {
        (bytes as f64 / findings.total_ip_bytes as f64).min(1.0)
    };
    let confidence = (strength * (0.5 + 0.5 * share) * 100.0).round() / 100.0;
    Application {
        name,
        confidence,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn flow(app: AppName, rule: Rule, bytes: u64, port: u16) -> FlowIdent {
        let mut rules = RuleSet::default();
        rules.insert(rule);
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        FlowIdent {
            key: FlowKey {
                proto: Proto::Udp,
                a: (ip, port),
                b: (ip, port + 1),
            },
            app,
            rules,
            packets: 10,
            ip_bytes: bytes,
        }
    }

    fn ev(app: AppName, rule: Rule, flows: u64, bytes: u64) -> Evidence {
        Evidence {
            app,
            rule,
            flows,
            packets: flows * 3,
            ip_bytes: bytes,
        }
    }

    #[test]
    fn the_application_with_most_bytes_wins() {
        let findings = Findings {
            evidence: vec![
                ev(AppName::Bittorrent, Rule::Dht, 1, 1_000),
                ev(AppName::Bittorrent, Rule::Utp, 2, 9_000),
                ev(AppName::Quic, Rule::QuicLong, 1, 5_000),
            ],
            flows: vec![
                flow(AppName::Bittorrent, Rule::Dht, 1_000, 10),
                flow(AppName::Bittorrent, Rule::Utp, 4_500, 20),
                flow(AppName::Bittorrent, Rule::Utp, 4_500, 30),
                flow(AppName::Quic, Rule::QuicLong, 5_000, 40),
            ],
            total_flows: 5,
            total_ip_bytes: 20_000,
            untracked_packets: 0,
        };
        let app = identify(&findings);
        assert_eq!(app.name, AppName::Bittorrent);
        // Strength 1 − 0.1 × 0.25 = 0.975; share 0.5 → 0.975 × 0.75 = 0.73.
        assert_eq!(app.confidence, 0.73);
        assert_eq!(app.evidence.len(), 2);
        assert_eq!(app.evidence[0].rule, Rule::Dht);
        assert_eq!(app.to_string(), "bittorrent (confidence 0.73)");
        assert_eq!(
            app.evidence[1].to_string(),
            "uTP header (BEP 29): 6 packets in 2 flows (9000 IP bytes)"
        );
    }

    #[test]
    fn nothing_confirmed_is_unknown() {
        let app = identify(&Findings::default());
        assert_eq!(app.name, AppName::Unknown);
        assert_eq!(app.confidence, 0.0);
        assert!(app.evidence.is_empty());
        assert_eq!(AppName::Unknown.to_string(), "unknown");
    }
}
