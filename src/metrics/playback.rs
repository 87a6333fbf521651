//! Playback quality, derived passively: the player hand-over flow, the stream rate, start-up
//! delay, the client's buffer, the continuity index of a fluid playout model, and the study's
//! one-row summary.
//!
//! Player traffic is the TCP flow on loopback in which the client hands the stream to its local
//! media player (SopCast serves it on 127.0.0.1:8902). It exists only in captures taken on `lo`
//! or `any`. Without it, start-up delay is `null` (never a guess), and the buffer and
//! continuity are estimated from the video download, with `how` saying so.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::flow::Finished;
use crate::media::FeedSummary;
use crate::time::{Span, Timestamp};

use super::peers::{first_video, Peers};
use super::{rel_s, round};

/// Windows over which the stream rate's median is taken (SPEC §2).
const RATE_WINDOW_S: f64 = 10.0;
/// Stalls closer than this are merged.
const STALL_MERGE_S: f64 = 0.2;
/// Stalls shorter than this are left out of the list (not out of the index).
const STALL_MIN_S: f64 = 0.1;

/// Tune-in as the user gave it: a time into the capture, or an absolute time. A relative one
/// is resolved here, against the capture's first timestamp, so the analysis runs once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuneIn {
    /// This long after the capture's first packet.
    Relative(Span),
    /// At this time.
    Absolute(Timestamp),
}

impl TuneIn {
    /// The instant, for a capture whose first packet is at `first`.
    pub fn resolve(self, first: Timestamp) -> Timestamp {
        match self {
            TuneIn::Relative(span) => first + span,
            TuneIn::Absolute(t) => t,
        }
    }
}

/// Playback options from the command line.
#[derive(Debug, Clone, Default)]
pub struct PlaybackOptions {
    /// `--stream-rate`, kb/s of application bytes.
    pub stream_rate_kbps: Option<f64>,
    /// `--tune-in`.
    pub tune_in: Option<TuneIn>,
}

/// `stream` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// kb/s of application bytes (video payload or bytes handed to the player).
    pub rate_kbps: Option<f64>,
    /// `given`, `player`, `video_download` or `none`, with a sentence after a colon.
    pub how: String,
    /// The player flow, when one was found: `127.0.0.1:8902 -> 127.0.0.1:51000`.
    pub player_flow: Option<String>,
    /// True when the rate is an estimate (neither `--stream-rate` nor a media clock).
    #[serde(default)]
    pub estimated: bool,
    /// The player feed as its container says (absent without a feed on a player port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
}

/// `stream.media`: the feed handed to the player, parsed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// `mpegts`, `hls`, `flv`, `asf`, `mp4` or `unknown`.
    pub container: String,
    /// `mpegts-pcr`, or `null` where the container's clock is not parsed.
    pub clock: Option<String>,
    /// Feed bytes over the PCR span, kb/s.
    pub nominal_kbps: Option<f64>,
    /// Body bytes handed to the player, in order.
    pub bytes: u64,
    pub pcr_span_s: Option<f64>,
    pub ts_packets: u64,
    pub cc_errors: u64,
    /// The HTTP exchange, when the feed is HTTP.
    pub http: Option<MediaHttp>,
    /// Bytes of the feed never seen (TCP gaps, snaplen cuts): not guessed over.
    pub gap_bytes: u64,
}

/// `stream.media.http`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MediaHttp {
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
}

/// `startup` in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Startup {
    pub tune_in_s: Option<f64>,
    pub first_video_s: Option<f64>,
    pub playback_start_s: Option<f64>,
    /// playback_start_s − tune_in_s; `null` without player traffic.
    pub delay_s: Option<f64>,
    pub how: String,
}

/// `buffer` in the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    pub bytes: Option<f64>,
    pub seconds: Option<f64>,
    pub how: String,
    /// True when it rests on an estimated stream rate or on no player traffic.
    #[serde(default)]
    pub estimated: bool,
    /// The player's own queue: media time handed over minus the playout position, median
    /// over playback, seconds (media clock only).
    #[serde(default)]
    pub player_queue_s: Option<f64>,
}

/// `continuity` in the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Continuity {
    pub index: Option<f64>,
    pub model: String,
    /// Stalls of a model driven by a known rate or the media clock: what the player went
    /// through, as far as the feed tells.
    pub stalls: Vec<Stall>,
    /// True when the index rests on an estimated stream rate: its stalls are then listed in
    /// `estimated_stalls`, never in `stalls`.
    #[serde(default)]
    pub estimated: bool,
    /// Stalls of the model on an estimated rate (hypothetical: an estimate is no observation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub estimated_stalls: Vec<Stall>,
    /// The study's lost frames: TS packets missing by the continuity counters and TCP gaps.
    #[serde(default)]
    pub lost_ts_packets: Option<u64>,
    /// lost_ts_packets / TS packets expected.
    #[serde(default)]
    pub lost_share: Option<f64>,
}

/// A stall of the playout model.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    pub start_s: f64,
    pub duration_s: f64,
}

/// `summary` in the report: one row like the study's table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub buffer_s: Option<f64>,
    pub playout_delay_s: Option<f64>,
    pub playout_delay_how: String,
    pub startup_delay_s: Option<f64>,
    pub data_rate_kbps: Option<f64>,
    pub pull_push: String,
    /// Why: the message timing it was decided from ([`pull_push`]).
    #[serde(default)]
    pub pull_push_how: String,
    pub tree_mesh: String,
    pub peers: u64,
}

/// Everything this module computes.
#[derive(Debug, Clone)]
pub struct Playback {
    pub stream: Stream,
    pub startup: Startup,
    pub buffer: Buffer,
    pub continuity: Continuity,
    /// Buffer level in bytes at the end of each bin from playback start (player traffic only).
    pub buffer_levels: Option<(usize, Vec<f64>)>,
}

/// The hand-over flow found on loopback.
struct Player {
    /// Payload bytes handed to the player per bin (dense, for the chosen flow only).
    bins: Vec<u64>,
    first: Timestamp,
    label: String,
    how: String,
}

fn find_player(fin: &Finished, video_rate_bps: f64) -> Option<Player> {
    let flows = fin.loopback.flows();
    let by_port = flows
        .iter()
        .flat_map(|f| (0..2).map(move |s| (f, s)))
        .filter(|(f, s)| fin.player_ports.contains(&f.port[*s]) && f.bytes[*s] > 0)
        .max_by_key(|(f, s)| f.bytes[*s]);
    let label = |f: &crate::flow::timeline::LoopFlow, s: usize| {
        format!(
            "{}:{} -> {}:{}",
            f.addr[s],
            f.port[s],
            f.addr[1 - s],
            f.port[1 - s]
        )
    };
    if let Some((f, s)) = by_port {
        return Some(Player {
            bins: f.dense_bins(s),
            first: f.first_payload[s]?,
            label: label(f, s),
            how: format!("TCP on loopback from player port {}", f.port[s]),
        });
    }
    // Auto-detection: the loopback direction whose rate over its active span is within a
    // factor 1.5 of the video download rate.
    let span_end = fin.last;
    flows
        .iter()
        .flat_map(|f| (0..2).map(move |s| (f, s)))
        .filter_map(|(f, s)| {
            let first = f.first_payload[s]?;
            let secs = span_end.secs_since(first);
            let rate = if secs > 1.0 {
                f.bytes[s] as f64 / secs
            } else {
                0.0
            };
            (video_rate_bps > 0.0 && rate >= video_rate_bps / 1.5 && rate <= video_rate_bps * 1.5)
                .then_some((f, s, first, rate))
        })
        .max_by_key(|(f, s, _, _)| f.bytes[*s])
        .map(|(f, s, first, rate)| Player {
            bins: f.dense_bins(s),
            first,
            label: label(f, s),
            how: format!(
                "auto-detected: loopback TCP from port {} carries {:.1} kb/s, close to the video download rate",
                f.port[s],
                rate * 8.0 / 1000.0
            ),
        })
}

/// Median of per-window sums of `bins` (bytes per bin) from bin `from`, as bytes/s.
fn median_rate(bins: &[u64], from: usize, bin_s: f64, total_bins: usize) -> Option<f64> {
    let per = ((RATE_WINDOW_S / bin_s).round() as usize).max(1);
    let end = total_bins.max(bins.len());
    let mut rates = Vec::new();
    let mut start = from;
    while start < end {
        let stop = (start + per).min(end);
        let sum: u64 = (start..stop)
            .map(|i| bins.get(i).copied().unwrap_or(0))
            .sum();
        let secs = (stop - start) as f64 * bin_s;
        // A partial last window counts only when it is the only one.
        if stop - start == per || rates.is_empty() && stop == end {
            rates.push(sum as f64 / secs);
        }
        start = stop;
    }
    if rates.is_empty() {
        return None;
    }
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    Some(if n % 2 == 1 {
        rates[n / 2]
    } else {
        (rates[n / 2 - 1] + rates[n / 2]) / 2.0
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Result of the fluid playout model.
#[derive(Debug, Clone, PartialEq)]
pub struct Playout {
    /// Bytes played / bytes demanded; 1.0 when nothing was demanded.
    pub index: f64,
    pub demanded: f64,
    pub played: f64,
    pub stalls: Vec<Stall>,
    /// Median of the queue at the end of each bin of playback (in the feed's units).
    pub queue_median: Option<f64>,
}

/// The fluid playout model on bins: from `start_s` (seconds from bin 0's start) to `end_s`
/// the player demands `rate` bytes/s from a queue fed by `feed[i]` bytes during bin `i`; while
/// the queue holds data it plays at the rate, when empty it plays what arrives; demand not met
/// is missed. Stalls are the stretches of missed demand (merged across gaps < 0.2 s, listed
/// when ≥ 0.1 s), from the first missed moment to the last.
pub fn playout(feed: &[u64], bin_s: f64, start_s: f64, end_s: f64, rate: f64) -> Playout {
    let mut queue = 0.0f64;
    let mut demanded = 0.0;
    let mut played = 0.0;
    let mut stalls: Vec<Stall> = Vec::new();
    let mut open: Option<(f64, f64, f64)> = None; // (start, missed seconds, last stall time)
    if rate <= 0.0 || end_s <= start_s || bin_s <= 0.0 {
        return Playout {
            index: 1.0,
            demanded: 0.0,
            played: 0.0,
            stalls,
            queue_median: None,
        };
    }
    let first_bin = (start_s / bin_s).floor() as usize;
    let last_bin = ((end_s / bin_s).ceil() as usize).max(first_bin + 1);
    let mut queues = Vec::with_capacity(last_bin - first_bin);
    for i in first_bin..last_bin {
        let b0 = i as f64 * bin_s;
        let b1 = b0 + bin_s;
        let lo = b0.max(start_s);
        let hi = b1.min(end_s);
        queue += feed.get(i).copied().unwrap_or(0) as f64;
        if hi <= lo {
            continue;
        }
        let demand = rate * (hi - lo);
        let play = queue.min(demand);
        queue -= play;
        queues.push(queue);
        demanded += demand;
        played += play;
        let missed = demand - play;
        // Numerical dust (below a thousandth of the bin's demand) is not a stall.
        if missed > demand * 1e-3 {
            let stall_start = lo + play / rate;
            let missed_s = missed / rate;
            open = match open {
                Some((s, m, last)) if stall_start - last < STALL_MERGE_S => {
                    Some((s, m + missed_s, stall_start + missed_s))
                }
                Some(prev) => {
                    push_stall(&mut stalls, prev);
                    Some((stall_start, missed_s, stall_start + missed_s))
                }
                None => Some((stall_start, missed_s, stall_start + missed_s)),
            };
        }
    }
    if let Some(prev) = open {
        push_stall(&mut stalls, prev);
    }
    Playout {
        index: if demanded > 0.0 {
            played / demanded
        } else {
            1.0
        },
        demanded,
        played,
        stalls,
        queue_median: median(queues),
    }
}

/// Lists a stall from its start to the end of its last missed stretch (the plays of a few
/// arriving bytes inside a merged stall are part of it), when it is long enough.
fn push_stall(stalls: &mut Vec<Stall>, (start, _, end): (f64, f64, f64)) {
    if end - start >= STALL_MIN_S {
        stalls.push(Stall {
            start_s: round(start, 3),
            duration_s: round(end - start, 3),
        });
    }
}

/// Tune-in: the first packet the local host sent to a DNS server, the tracker or a peer.
fn session_start(fin: &Finished, tracker: Option<IpAddr>) -> Option<Timestamp> {
    let local = fin.local?;
    fin.pairs_of_local()
        .filter(|p| {
            let remote = p.other(local);
            p.has_peer_traffic() || p.ports_of(remote).contains(&53) || tracker == Some(remote)
        })
        .filter_map(|p| {
            let out = p.sent_by(local);
            (out.packets > 0).then_some(out.first)
        })
        .min()
}

/// Computes stream, startup, buffer and continuity.
pub fn playback(
    fin: &Finished,
    opts: &PlaybackOptions,
    tracker_ip: Option<IpAddr>,
    feed: Option<&FeedSummary>,
) -> Playback {
    let bins = fin.timeline.bins();
    let bin_ns = fin.timeline.bin_ns();
    let bin_s = bin_ns as f64 / 1e9;
    // The timeline keeps at most `max_bins` bins (later packets are unbinned, with a warning):
    // the playback model stops there too. Uncapped, two records with timestamps years apart
    // made it walk billions of empty bins (found by fuzzing).
    let end_s = fin
        .duration()
        .as_secs_f64()
        .min(fin.timeline.max_bins() as f64 * bin_s);
    let total_bins = ((end_s / bin_s).ceil() as usize).max(bins.len());
    let video: Vec<u64> = bins.iter().map(|b| b.video_down_payload).collect();
    let first_video = first_video(fin);
    let video_total: u64 = video.iter().sum();
    let video_rate_bps = first_video
        .map(|fv| {
            let secs = fin.last.secs_since(fv);
            if secs > 0.0 {
                video_total as f64 / secs
            } else {
                0.0
            }
        })
        .unwrap_or(0.0);
    let player = find_player(fin, video_rate_bps);
    let bin_of = |t: Timestamp| (t.since(fin.first).ns().max(0) / bin_ns) as usize;

    // The media clock, when the feed has one over a span long enough to trust.
    let clock = feed.filter(|f| {
        f.clock.is_some()
            && f.nominal_kbps.is_some_and(|k| k > 0.0)
            && f.pcr_span_s.is_some_and(|s| s >= MIN_CLOCK_SPAN_S)
    });
    // Stream rate: given > media clock > estimates.
    let (rate_bps, rate_how) = if let Some(r) = opts.stream_rate_kbps {
        (Some(r * 1000.0 / 8.0), "given: --stream-rate".to_string())
    } else if let Some(k) = clock.and_then(|f| f.nominal_kbps) {
        (
            Some(k * 1000.0 / 8.0),
            "media clock (MPEG-TS PCR): feed bytes over the media time they span".to_string(),
        )
    } else if let Some(p) = &player {
        (
            median_rate(&p.bins, bin_of(p.first), bin_s, total_bins),
            "player: median over 10 s windows of the bytes handed to the player".to_string(),
        )
    } else if let Some(fv) = first_video {
        (
            median_rate(&video, bin_of(fv), bin_s, total_bins),
            "video_download: median over 10 s windows of the video payload download rate (no player traffic)"
                .to_string(),
        )
    } else {
        (None, "none: no video and no player traffic".to_string())
    };
    let rate_bps = rate_bps.filter(|r| *r > 0.0);
    let estimated = opts.stream_rate_kbps.is_none() && clock.is_none();
    let stream = Stream {
        rate_kbps: rate_bps.map(|r| round(r * 8.0 / 1000.0, 3)),
        how: if estimated && rate_bps.is_some() {
            format!("estimate, {rate_how}")
        } else {
            rate_how
        },
        player_flow: player.as_ref().map(|p| p.label.clone()),
        estimated: estimated && rate_bps.is_some(),
        media: feed.map(media_out),
    };

    // Start-up.
    let tune_in = opts
        .tune_in
        .map(|t| t.resolve(fin.first))
        .or_else(|| session_start(fin, tracker_ip));
    let playback_at = player.as_ref().map(|p| p.first);
    let startup = Startup {
        tune_in_s: tune_in.map(|t| rel_s(t, fin.first)),
        first_video_s: first_video.map(|t| rel_s(t, fin.first)),
        playback_start_s: playback_at.map(|t| rel_s(t, fin.first)),
        delay_s: match (tune_in, playback_at) {
            (Some(t), Some(p)) => Some(round(p.secs_since(t), 6)),
            _ => None,
        },
        how: match (&player, tune_in) {
            (Some(p), Some(_)) => format!(
                "tune-in ({}) to the first payload byte handed to the player ({})",
                if opts.tune_in.is_some() {
                    "given: --tune-in"
                } else {
                    "first packet to a DNS server, the tracker or a peer"
                },
                p.how
            ),
            (Some(_), None) => "no tune-in: the local host sent nothing".into(),
            (None, _) => "no player traffic (TCP on loopback, port 8902 or --player-port) in the capture: start-up delay cannot be measured; first_video_s is the time to first video".into(),
        },
    };

    // Buffer and continuity.
    let mut buffer_levels = None;
    let (buffer, continuity) = match (&player, rate_bps) {
        (Some(p), Some(rate)) => {
            let start = bin_of(p.first);
            let mut v_cum = 0u64;
            let mut h_cum = 0u64;
            let mut levels = Vec::new();
            for i in 0..total_bins {
                v_cum += video.get(i).copied().unwrap_or(0);
                h_cum += p.bins.get(i).copied().unwrap_or(0);
                if i >= start {
                    levels.push(v_cum as f64 - h_cum as f64);
                }
            }
            let med = median(levels.clone());
            buffer_levels = Some((start, levels));
            let start_s = p.first.secs_since(fin.first);
            let po = playout(&p.bins, bin_s, start_s, end_s, rate);
            (
                Buffer {
                    bytes: med.map(|b| round(b, 0)),
                    seconds: med.map(|b| round(b / rate, 3)),
                    how: "video payload received minus bytes handed to the player, median over playback (100 ms samples)".into(),
                    ..Default::default()
                },
                Continuity {
                    index: Some(round(po.index, 5)),
                    model: "fluid: from playback start the player consumes the stream rate from a queue fed by the bytes handed to it; demand not met is missed (100 ms bins)".into(),
                    stalls: po.stalls,
                    ..Default::default()
                },
            )
        }
        (None, Some(rate)) if first_video.is_some() => {
            let fv = first_video.unwrap_or(fin.first);
            let start = bin_of(fv);
            let start_s = fv.secs_since(fin.first);
            let mut v_cum = 0u64;
            let mut levels = Vec::new();
            for i in 0..total_bins {
                v_cum += video.get(i).copied().unwrap_or(0);
                if i >= start {
                    let t = ((i + 1) as f64 * bin_s - start_s).max(0.0);
                    levels.push((v_cum as f64 - rate * t).max(0.0));
                }
            }
            let med = median(levels);
            let po = playout(&video, bin_s, start_s, end_s, rate);
            (
                Buffer {
                    bytes: med.map(|b| round(b, 0)),
                    seconds: med.map(|b| round(b / rate, 3)),
                    how: "estimate without player traffic: surplus of video payload received over the stream rate since the first video packet, median".into(),
                    ..Default::default()
                },
                Continuity {
                    index: Some(round(po.index, 5)),
                    model: "fluid, without player traffic: playback assumed to start at the first video packet and to be fed by the video payload received (100 ms bins)".into(),
                    stalls: po.stalls,
                    ..Default::default()
                },
            )
        }
        _ => (
            Buffer {
                bytes: None,
                seconds: None,
                how: "no stream rate or no video: buffer unknown".into(),
                ..Default::default()
            },
            Continuity {
                index: None,
                model: "fluid playout model not run: no stream rate or no video".into(),
                stalls: Vec::new(),
                ..Default::default()
            },
        ),
    };
    let (mut buffer, mut continuity) = (buffer, continuity);
    // The media clock is the measurement: it drives the playout model even when the user gave
    // the rate (the rate then names the stream, the clock says what reached the player).
    let media_clocked = clock.is_some();
    if let (Some(f), Some(p)) = (clock, &player) {
        // The player's side on the media clock: playout from playback start at wall speed,
        // fed by the media time handed over.
        let start_s = p.first.secs_since(fin.first);
        let feed_us = media_bins(f, fin.first, bin_ns, total_bins);
        let po = playout(&feed_us, bin_s, start_s, end_s, 1e6);
        buffer.player_queue_s = po.queue_median.map(|q| round(q / 1e6, 3));
        if media_clocked {
            continuity = Continuity {
                index: Some(round(po.index, 5)),
                model: "media clock: from playback start the playout position advances in wall-clock time and stalls when it reaches the media time (MPEG-TS PCR) handed to the player so far (100 ms bins)".into(),
                stalls: po.stalls,
                ..continuity
            };
        }
    }
    if let Some(f) = feed.filter(|f| f.expected_ts_packets > 0) {
        continuity.lost_ts_packets = Some(f.lost_ts_packets);
        continuity.lost_share = Some(round(
            f.lost_ts_packets as f64 / f.expected_ts_packets as f64,
            6,
        ));
    }
    // Without a known rate, what the fluid model says is an estimate; its stalls are kept
    // apart (SPEC §2: never listed as if observed).
    let rate_known = opts.stream_rate_kbps.is_some() || clock.is_some();
    if continuity.index.is_some() && !rate_known {
        continuity.estimated = true;
        continuity.estimated_stalls = std::mem::take(&mut continuity.stalls);
    }
    buffer.estimated = buffer.seconds.is_some() && (!rate_known || player.is_none());
    Playback {
        stream,
        startup,
        buffer,
        continuity,
        buffer_levels,
    }
}

/// Below this PCR span a media clock gives no rate (a few PCRs are no measurement).
pub const MIN_CLOCK_SPAN_S: f64 = 2.0;

/// Media microseconds handed to the player per timeline bin (bin 0 starts at `origin`).
fn media_bins(f: &FeedSummary, origin: Timestamp, bin_ns: i64, total_bins: usize) -> Vec<u64> {
    let mut bins = vec![0u64; total_bins];
    let mut last = 0.0f64;
    for pt in &f.media_time {
        let at = Timestamp::from_ns(pt.ts_ns).since(origin).ns();
        let i = (at.max(0) / bin_ns.max(1)) as usize;
        let step = (pt.media_s - last).max(0.0);
        last = last.max(pt.media_s);
        if let Some(b) = bins.get_mut(i) {
            *b += (step * 1e6).round() as u64;
        }
    }
    bins
}

/// `stream.media` from the feed's summary.
fn media_out(f: &FeedSummary) -> Media {
    Media {
        container: f.container.name().to_string(),
        clock: f.clock.map(|c| c.name().to_string()),
        nominal_kbps: f.nominal_kbps.map(|k| round(k, 3)),
        bytes: f.body_bytes,
        pcr_span_s: f.pcr_span_s.map(|s| round(s, 6)),
        ts_packets: f.ts.packets,
        cc_errors: f.ts.cc_errors,
        http: f.http.as_ref().map(|h| MediaHttp {
            method: h.method.clone(),
            path: h.path.clone(),
            status: h.status,
            content_type: h.content_type.clone(),
        }),
        gap_bytes: f.reassembly.gap_bytes + f.reassembly.snaplen_cut_bytes,
    }
}

impl Playback {
    /// Buffer in seconds of stream at `t_s` (seconds from the first packet), when measured.
    pub fn buffer_at(&self, t_s: f64, bin_s: f64) -> Option<f64> {
        let (start, levels) = self.buffer_levels.as_ref()?;
        let rate = self.stream.rate_kbps? * 1000.0 / 8.0;
        let idx = ((t_s / bin_s).ceil() as usize).checked_sub(1)?;
        let i = idx.checked_sub(*start)?;
        levels.get(i).map(|b| b / rate)
    }
}

/// Requests per video packet from the suppliers at or above which the client pulls (0.1: one
/// request per ten packets). Measured: libtorrent over uTP and TCP 0.16–0.28 (0.19 with the
/// viewer's link starved), the real PPStream capture 0.20, an SRT relay tree 0.02–0.06
/// (keep-alives, NAKs and the handshake are the only messages not answering data).
pub const PULL_REQUESTS_PER_PACKET: f64 = 0.1;
/// Below [`PULL_REQUESTS_PER_PACKET`], requests still make a pull when they outnumber the
/// answers and come at least this often (0.02 per video packet): a BitTorrent client over TCP
/// puts several 17-byte requests in one segment (the Transmission capture: 0.058, 24 requests
/// for 4 answers), while a receiver report every few seconds (RTCP) stays far below it.
pub const PULL_REQUESTS_FLOOR: f64 = 0.02;

/// Pull or push, from the timing of what the client sends its suppliers (`flow::timing`):
/// `pull` when it sends requests (control ahead of the data, not matched one to one with it),
/// `push` when it only acknowledges what arrives (or sends nothing), `unknown` without
/// suppliers. The reason says the counts.
pub fn pull_push(fin: &Finished, suppliers: &[&super::peers::Peer]) -> (&'static str, String) {
    if suppliers.is_empty() {
        return (
            "unknown",
            "no supplier: no video received from a peer".into(),
        );
    }
    let mut t = crate::flow::timing::PeerTiming::default();
    for s in suppliers {
        if let Some(p) = s.ip.parse().ok().and_then(|ip| fin.timing.of(ip)) {
            t.video_in += p.video_in;
            t.control_out += p.control_out;
            t.answers += p.answers;
            t.requests += p.requests;
            t.transport_acks += p.transport_acks;
        }
    }
    let per_packet = t.requests as f64 / t.video_in.max(1) as f64;
    let counts = format!(
        "to {} supplier{} the client sent {} control message{} for {} video packet{}: \
         {} answered a packet within {} ms, {} came before data (followed by video within {} s), \
         {:.3} requests per video packet; {} transport acknowledgement{} (no data) set apart",
        suppliers.len(),
        plural(suppliers.len() as u64),
        t.control_out,
        plural(t.control_out),
        t.video_in,
        plural(t.video_in),
        t.answers,
        crate::flow::timing::ANSWER_WINDOW_NS / 1_000_000,
        t.requests,
        crate::flow::timing::REQUEST_HORIZON_NS / 1_000_000_000,
        per_packet,
        t.transport_acks,
        plural(t.transport_acks),
    );
    let rule = format!(
        "pull from {PULL_REQUESTS_PER_PACKET} requests per packet, or from {PULL_REQUESTS_FLOOR} \
         when requests outnumber answers"
    );
    if per_packet >= PULL_REQUESTS_PER_PACKET
        || (per_packet >= PULL_REQUESTS_FLOOR && t.requests > t.answers)
    {
        ("pull", format!("requests: {counts} ({rule})"))
    } else if t.answers + t.transport_acks > 0 {
        (
            "push",
            format!("the client only acknowledges: {counts} ({rule})"),
        )
    } else {
        ("push", format!("data arrives unasked: {counts}"))
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The study's summary row for this capture.
pub fn summary(fin: &Finished, pb: &Playback, peers: &Peers) -> Summary {
    let suppliers: Vec<_> = peers
        .list
        .iter()
        .filter(|p| p.role == super::peers::PeerRole::Supplier)
        .collect();
    let (pull_push, pull_push_how) = pull_push(fin, &suppliers);
    let active: Vec<f64> = fin
        .timeline
        .suppliers()
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| f64::from(n))
        .collect();
    let tree_mesh = match median(active) {
        None => "unknown".to_string(),
        Some(m) if m >= 2.0 => "mesh".to_string(),
        Some(_) => "tree".to_string(),
    };
    Summary {
        buffer_s: pb.buffer.seconds,
        playout_delay_s: pb.buffer.seconds,
        playout_delay_how:
            "buffer estimate (no source capture; `peerscope compare` measures it against a source)"
                .into(),
        startup_delay_s: pb.startup.delay_s,
        data_rate_kbps: pb.stream.rate_kbps,
        pull_push: pull_push.to_string(),
        pull_push_how,
        tree_mesh,
        peers: peers.contacted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIN: f64 = 0.1;

    #[test]
    fn steady_feed_has_no_stall() {
        let feed = vec![100u64; 100];
        let p = playout(&feed, BIN, 0.0, 10.0, 1000.0);
        assert!((p.index - 1.0).abs() < 1e-9);
        assert!(p.stalls.is_empty());
    }

    #[test]
    fn one_gap_is_one_stall() {
        let mut feed = vec![100u64; 100];
        for f in feed.iter_mut().skip(30).take(10) {
            *f = 0;
        }
        let p = playout(&feed, BIN, 0.0, 10.0, 1000.0);
        assert!((p.index - 0.9).abs() < 1e-9, "{}", p.index);
        assert_eq!(p.stalls.len(), 1);
        assert!((p.stalls[0].start_s - 3.0).abs() < 1e-6);
        assert!((p.stalls[0].duration_s - 1.0).abs() < 1e-6);
    }

    #[test]
    fn permanent_shortfall_after_buffer_drains() {
        // 2 s of stream up front, then half the rate for 20 s.
        let mut feed = vec![50u64; 200];
        feed[0] += 2000;
        let p = playout(&feed, BIN, 0.0, 20.0, 1000.0);
        // Demand 20000; supply 2000 + 10000 = 12000, all of it played.
        assert!((p.index - 0.6).abs() < 1e-6, "{}", p.index);
        assert_eq!(p.stalls.len(), 1);
    }

    #[test]
    fn zero_length_playback() {
        let p = playout(&[], BIN, 5.0, 5.0, 1000.0);
        assert_eq!(p.index, 1.0);
        assert!(p.stalls.is_empty());
        let p = playout(&[1, 2], BIN, 0.0, 1.0, 0.0);
        assert_eq!(p.index, 1.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
        // 30 s of 100 B per 0.1 s bin = 1000 B/s.
        assert_eq!(median_rate(&[100; 300], 0, 0.1, 300), Some(1000.0));
    }
}
