//! The verdict: what kind of traffic a capture holds, from a few summary features the
//! pipeline computes ([`Features`]), with the reasons that led there ([`Reason`]).
//!
//! The decision, in order (thresholds are the constants below):
//! 1. **unknown** when the local host receives no video to speak of (below
//!    [`MIN_VIDEO_KBPS`] of video payload on average over the capture) — except that a
//!    `bittorrent` swarm with several suppliers is **p2p-bulk** at any rate.
//! 2. One source — at most one supplier, or the top supplier gives ≥ [`SINGLE_SOURCE_SHARE`]
//!    of the video: **two-party-call** when media flows both ways (video uploaded at
//!    ≥ [`SYMMETRIC_UPLOAD`] of the download rate, to at most two peers), else
//!    **client-server-stream**.
//! 3. Several suppliers: the application decides first when it is client-server by design
//!    (`quic`: **client-server-stream**) or a call (`webrtc`, `rtp` with symmetric media to at
//!    most two peers: **two-party-call**). Otherwise the rate decides: the coefficient of
//!    variation of the video download rate over [`WINDOW_S`]-second windows ≤
//!    [`STEADY_CV`] → **p2p-live-streaming** (a stream has a rate); above → **p2p-bulk** (many
//!    peers, no steady stream rate). With fewer than [`MIN_WINDOWS`] windows the rate cannot
//!    be judged: a P2P-TV application (`sopcast`, `ppstream`) gives **p2p-live-streaming**,
//!    `bittorrent` **p2p-bulk**, anything else **unknown**.

use std::fmt;

use super::AppName;

/// Below this video download rate (kb/s, payload) there is no stream to judge.
pub const MIN_VIDEO_KBPS: f64 = 50.0;
/// A top supplier with this share of the video is the one source.
pub const SINGLE_SOURCE_SHARE: f64 = 0.9;
/// Video upload at this fraction of the video download: media flows both ways.
pub const SYMMETRIC_UPLOAD: f64 = 0.25;
/// Window of the rate series whose variation is judged, seconds.
pub const WINDOW_S: f64 = 10.0;
/// Coefficient of variation at or below which a rate is steady.
pub const STEADY_CV: f64 = 0.5;
/// Fewest windows over which steadiness is judged.
pub const MIN_WINDOWS: u32 = 2;

/// The summary features the verdict needs. All about the local host's peer traffic
/// (infrastructure and self traffic left out); "video" is what the size classification calls
/// video, whatever the transport.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Capture span, seconds.
    pub duration_s: f64,
    /// Distinct remote addresses exchanging peer traffic with the local host.
    pub peers_contacted: u32,
    /// Peers that sent ≥ 1 % of the video bytes received.
    pub suppliers: u32,
    /// Shares of the video bytes received from the top supplier and the top two (0–1).
    pub top1_share: f64,
    pub top2_share: f64,
    /// Video payload download and upload rates over the capture span, kb/s.
    pub video_down_kbps: f64,
    pub video_up_kbps: f64,
    /// Video payload bytes received / all IP bytes received (0–1).
    pub video_share_of_download: f64,
    /// Peers that received ≥ 1 % of the video bytes uploaded.
    pub video_upload_peers: u32,
    /// Coefficient of variation (standard deviation / mean) of the video download rate over
    /// [`WINDOW_S`] windows, from the window of the first video packet to that of the last
    /// (the last, partial window left out); `None` when there are no such windows.
    pub video_rate_cv: Option<f64>,
    /// Number of windows behind `video_rate_cv`.
    pub video_windows: u32,
    /// The application identified ([`super::identify`]).
    pub application: AppName,
}

/// The kinds of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    P2pLiveStreaming,
    P2pBulk,
    TwoPartyCall,
    ClientServerStream,
    Unknown,
}

impl VerdictKind {
    /// The kind as written in reports: `p2p-live-streaming`, …
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::P2pLiveStreaming => "p2p-live-streaming",
            VerdictKind::P2pBulk => "p2p-bulk",
            VerdictKind::TwoPartyCall => "two-party-call",
            VerdictKind::ClientServerStream => "client-server-stream",
            VerdictKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the verdict is what it is; each carries the figures it was decided on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// Video download below [`MIN_VIDEO_KBPS`].
    NoVideo { video_down_kbps: f64 },
    /// Data from several peers, but below [`MIN_VIDEO_KBPS`]: no stream.
    LowRate { video_down_kbps: f64 },
    /// One source of video.
    OneSource { suppliers: u32, top1_share: f64 },
    /// Several suppliers share the video.
    SeveralSuppliers {
        suppliers: u32,
        top1_share: f64,
        top2_share: f64,
    },
    /// Video goes up as well as down.
    MediaBothWays {
        up_kbps: f64,
        down_kbps: f64,
        upload_peers: u32,
    },
    /// Video comes down, little goes up (or to many peers).
    MediaOneWay { up_kbps: f64, down_kbps: f64 },
    /// The video rate is steady over the windows.
    SteadyRate { cv: f64, windows: u32 },
    /// The video rate varies too much for a stream.
    UnsteadyRate { cv: f64, windows: u32 },
    /// Too few windows to judge the rate.
    TooShortToJudgeRate { windows: u32 },
    /// The application identified decided (or supported) the verdict.
    Application(AppName),
}

impl Reason {
    /// A stable key for reports, e.g. `one_source`, `steady_rate`.
    pub fn key(&self) -> &'static str {
        match self {
            Reason::NoVideo { .. } => "no_video",
            Reason::LowRate { .. } => "low_rate",
            Reason::OneSource { .. } => "one_source",
            Reason::SeveralSuppliers { .. } => "several_suppliers",
            Reason::MediaBothWays { .. } => "media_both_ways",
            Reason::MediaOneWay { .. } => "media_one_way",
            Reason::SteadyRate { .. } => "steady_rate",
            Reason::UnsteadyRate { .. } => "unsteady_rate",
            Reason::TooShortToJudgeRate { .. } => "too_short_to_judge_rate",
            Reason::Application(_) => "application",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::NoVideo { video_down_kbps } => write!(
                f,
                "no video stream: {video_down_kbps:.1} kb/s of video received (< {MIN_VIDEO_KBPS} kb/s)"
            ),
            Reason::LowRate { video_down_kbps } => write!(
                f,
                "no stream rate: {video_down_kbps:.1} kb/s of data received (< {MIN_VIDEO_KBPS} kb/s)"
            ),
            Reason::OneSource {
                suppliers,
                top1_share,
            } => write!(
                f,
                "one source: {suppliers} supplier(s), the top one gives {:.0} % of the video",
                top1_share * 100.0
            ),
            Reason::SeveralSuppliers {
                suppliers,
                top1_share,
                top2_share,
            } => write!(
                f,
                "{suppliers} suppliers: the top one gives {:.0} %, the top two {:.0} % of the video",
                top1_share * 100.0,
                top2_share * 100.0
            ),
            Reason::MediaBothWays {
                up_kbps,
                down_kbps,
                upload_peers,
            } => write!(
                f,
                "media both ways: {up_kbps:.0} kb/s up to {upload_peers} peer(s), {down_kbps:.0} kb/s down"
            ),
            Reason::MediaOneWay { up_kbps, down_kbps } => write!(
                f,
                "media one way: {down_kbps:.0} kb/s down, {up_kbps:.0} kb/s up"
            ),
            Reason::SteadyRate { cv, windows } => write!(
                f,
                "steady video rate: variation {cv:.2} over {windows} windows of {WINDOW_S} s (≤ {STEADY_CV})"
            ),
            Reason::UnsteadyRate { cv, windows } => write!(
                f,
                "no steady video rate: variation {cv:.2} over {windows} windows of {WINDOW_S} s (> {STEADY_CV})"
            ),
            Reason::TooShortToJudgeRate { windows } => write!(
                f,
                "too short to judge the rate: {windows} window(s) of {WINDOW_S} s (< {MIN_WINDOWS})"
            ),
            Reason::Application(app) => write!(f, "application identified: {app}"),
        }
    }
}

/// The verdict and its reasons, in the order they were weighed.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub reasons: Vec<Reason>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        for (i, r) in self.reasons.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Decides the verdict (see the module docs for the rules).
pub fn verdict(x: &Features) -> Verdict {
    let mut reasons = Vec::with_capacity(4);
    let done = |kind, reasons| Verdict { kind, reasons };
    if x.video_down_kbps.is_nan() || x.video_down_kbps < MIN_VIDEO_KBPS {
        // A BitTorrent swarm that trickles pieces from several peers is still a bulk
        // transfer; anything else without video is not judged.
        if x.application == AppName::Bittorrent && x.suppliers >= 2 {
            reasons.push(Reason::SeveralSuppliers {
                suppliers: x.suppliers,
                top1_share: x.top1_share,
                top2_share: x.top2_share,
            });
            reasons.push(Reason::LowRate {
                video_down_kbps: x.video_down_kbps,
            });
            reasons.push(Reason::Application(x.application));
            return done(VerdictKind::P2pBulk, reasons);
        }
        reasons.push(Reason::NoVideo {
            video_down_kbps: x.video_down_kbps,
        });
        return done(VerdictKind::Unknown, reasons);
    }
    let both_ways = x.video_up_kbps >= SYMMETRIC_UPLOAD * x.video_down_kbps
        && x.video_upload_peers >= 1
        && x.video_upload_peers <= 2;
    let direction = if both_ways {
        Reason::MediaBothWays {
            up_kbps: x.video_up_kbps,
            down_kbps: x.video_down_kbps,
            upload_peers: x.video_upload_peers,
        }
    } else {
        Reason::MediaOneWay {
            up_kbps: x.video_up_kbps,
            down_kbps: x.video_down_kbps,
        }
    };
    // Several suppliers speaking a P2P protocol are a swarm even when one of them (the source
    // of a small swarm, a well-placed peer) gives most of the video.
    let p2p_protocol = matches!(
        x.application,
        AppName::Bittorrent | AppName::Sopcast | AppName::Ppstream
    );
    if x.suppliers <= 1 || (x.top1_share >= SINGLE_SOURCE_SHARE && !p2p_protocol) {
        reasons.push(Reason::OneSource {
            suppliers: x.suppliers,
            top1_share: x.top1_share,
        });
        reasons.push(direction);
        let kind = if both_ways {
            VerdictKind::TwoPartyCall
        } else {
            VerdictKind::ClientServerStream
        };
        return done(kind, reasons);
    }
    reasons.push(Reason::SeveralSuppliers {
        suppliers: x.suppliers,
        top1_share: x.top1_share,
        top2_share: x.top2_share,
    });
    match x.application {
        AppName::Quic => {
            reasons.push(Reason::Application(x.application));
            return done(VerdictKind::ClientServerStream, reasons);
        }
        AppName::Webrtc | AppName::Rtp if both_ways => {
            reasons.push(direction);
            reasons.push(Reason::Application(x.application));
            return done(VerdictKind::TwoPartyCall, reasons);
        }
        _ => {}
    }
    match x.video_rate_cv {
        Some(cv) if x.video_windows >= MIN_WINDOWS => {
            let steady = cv <= STEADY_CV;
            reasons.push(if steady {
                Reason::SteadyRate {
                    cv,
                    windows: x.video_windows,
                }
            } else {
                Reason::UnsteadyRate {
                    cv,
                    windows: x.video_windows,
                }
            });
            if x.application != AppName::Unknown {
                reasons.push(Reason::Application(x.application));
            }
            let kind = if steady {
                VerdictKind::P2pLiveStreaming
            } else {
                VerdictKind::P2pBulk
            };
            done(kind, reasons)
        }
        _ => {
            reasons.push(Reason::TooShortToJudgeRate {
                windows: x.video_windows,
            });
            let kind = if x.application.is_p2p_tv() {
                VerdictKind::P2pLiveStreaming
            } else if x.application == AppName::Bittorrent {
                VerdictKind::P2pBulk
            } else {
                VerdictKind::Unknown
            };
            if x.application != AppName::Unknown {
                reasons.push(Reason::Application(x.application));
            }
            done(kind, reasons)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swarm() -> Features {
        Features {
            duration_s: 60.0,
            peers_contacted: 30,
            suppliers: 4,
            top1_share: 0.45,
            top2_share: 0.8,
            video_down_kbps: 400.0,
            video_up_kbps: 120.0,
            video_share_of_download: 0.9,
            video_upload_peers: 5,
            video_rate_cv: Some(0.15),
            video_windows: 5,
            application: AppName::Unknown,
        }
    }

    #[test]
    fn steady_multi_source_is_live_streaming() {
        let v = verdict(&swarm());
        assert_eq!(v.kind, VerdictKind::P2pLiveStreaming);
        assert!(matches!(v.reasons[1], Reason::SteadyRate { .. }));
        assert_eq!(v.reasons[1].key(), "steady_rate");
        assert!(v.to_string().starts_with("p2p-live-streaming: 4 suppliers"));
    }

    #[test]
    fn bursty_multi_source_is_bulk() {
        let x = Features {
            video_rate_cv: Some(1.4),
            application: AppName::Bittorrent,
            ..swarm()
        };
        let v = verdict(&x);
        assert_eq!(v.kind, VerdictKind::P2pBulk);
        assert_eq!(v.reasons[2], Reason::Application(AppName::Bittorrent));
        // Exactly at the threshold is still steady.
        let x = Features {
            video_rate_cv: Some(STEADY_CV),
            ..swarm()
        };
        assert_eq!(verdict(&x).kind, VerdictKind::P2pLiveStreaming);
    }

    #[test]
    fn one_source_call_or_stream() {
        let call = Features {
            suppliers: 1,
            top1_share: 1.0,
            video_up_kbps: 300.0,
            video_upload_peers: 1,
            ..swarm()
        };
        assert_eq!(verdict(&call).kind, VerdictKind::TwoPartyCall);
        let stream = Features {
            video_up_kbps: 2.0,
            ..call.clone()
        };
        assert_eq!(verdict(&stream).kind, VerdictKind::ClientServerStream);
        // A dominant top supplier among several is one source too.
        let dominant = Features {
            top1_share: 0.95,
            video_up_kbps: 0.0,
            ..swarm()
        };
        assert_eq!(verdict(&dominant).kind, VerdictKind::ClientServerStream);
    }

    #[test]
    fn no_video_and_too_short() {
        let none = Features {
            video_down_kbps: 3.0,
            ..swarm()
        };
        let v = verdict(&none);
        assert_eq!(v.kind, VerdictKind::Unknown);
        assert!(v.to_string().contains("no video stream"));
        let nan = Features {
            video_down_kbps: f64::NAN,
            ..swarm()
        };
        assert_eq!(verdict(&nan).kind, VerdictKind::Unknown);
        let short = Features {
            video_rate_cv: Some(0.1),
            video_windows: 1,
            ..swarm()
        };
        assert_eq!(verdict(&short).kind, VerdictKind::Unknown);
        let pps = Features {
            application: AppName::Ppstream,
            ..short.clone()
        };
        assert_eq!(verdict(&pps).kind, VerdictKind::P2pLiveStreaming);
        let bt = Features {
            application: AppName::Bittorrent,
            ..short
        };
        assert_eq!(verdict(&bt).kind, VerdictKind::P2pBulk);
        // A trickling swarm: bulk if BitTorrent, not judged otherwise.
        let trickle = Features {
            video_down_kbps: 13.0,
            ..bt.clone()
        };
        let v = verdict(&trickle);
        assert_eq!(v.kind, VerdictKind::P2pBulk);
        assert!(matches!(v.reasons[1], Reason::LowRate { .. }));
        let other = Features {
            application: AppName::Unknown,
            ..trickle
        };
        assert_eq!(verdict(&other).kind, VerdictKind::Unknown);
    }

    #[test]
    fn applications_that_decide() {
        let quic = Features {
            application: AppName::Quic,
            ..swarm()
        };
        assert_eq!(verdict(&quic).kind, VerdictKind::ClientServerStream);
        let mesh_call = Features {
            application: AppName::Webrtc,
            video_upload_peers: 2,
            video_up_kbps: 350.0,
            ..swarm()
        };
        assert_eq!(verdict(&mesh_call).kind, VerdictKind::TwoPartyCall);
        assert_eq!(VerdictKind::P2pBulk.to_string(), "p2p-bulk");
    }
}
