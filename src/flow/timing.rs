//! Message timing between the local host and each peer: does the client *answer* the data it
//! receives (an acknowledgement sent right after each data packet) or *ask* for it (control
//! sent ahead of the data, not matched one to one)? This is what tells pull from push
//! (`summary.pull_push`), measured on the local host's classified traffic in time order.
//!
//! Per peer, over the packets the timeline classifies:
//! - a *transport acknowledgement* is a segment or packet without data that the transport
//!   itself sends: a TCP segment without payload, a uTP packet without data (`ST_STATE`,
//!   BEP 29). They are counted apart and are never requests;
//! - an *answer* is the first control message the client sends a peer within
//!   [`ANSWER_WINDOW_NS`] after a video packet from it;
//! - a *request* is any other control message to the peer that is followed by video from it
//!   within [`REQUEST_HORIZON_NS`]: control that comes before the data, not after it.
//!
//! State per peer is a few counters and two timestamps; the messages waiting for data are
//! counted, not stored (the horizon is measured from the oldest waiting one).

use std::net::IpAddr;

use crate::hash::FastMap;

use crate::time::Timestamp;

/// An acknowledgement leaves within this delay after the data it answers: a receiver answers
/// at once (uTP and SRT acknowledge within a few ms, TCP's delayed ACK is bounded by
/// 40–200 ms but those are transport acknowledgements anyway). 25 ms.
pub const ANSWER_WINDOW_NS: i64 = 25_000_000;
/// A request is followed by the data it asked for within this horizon (a round trip and the
/// supplier's queue): 1 s.
pub const REQUEST_HORIZON_NS: i64 = 1_000_000_000;

/// What the client sent one peer, relative to the video it received from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerTiming {
    /// Video packets received from the peer.
    pub video_in: u64,
    /// Control messages sent to the peer (transport acknowledgements excluded).
    pub control_out: u64,
    /// Of those, answers to a video packet (within [`ANSWER_WINDOW_NS`]).
    pub answers: u64,
    /// Of those, requests: not an answer, and followed by video within [`REQUEST_HORIZON_NS`].
    pub requests: u64,
    /// Transport acknowledgements sent to the peer (TCP without payload, uTP without data).
    pub transport_acks: u64,
    last_video: Option<Timestamp>,
    answered: bool,
    /// Messages waiting for data, and when the oldest of them was sent.
    waiting: u64,
    waiting_since: Timestamp,
}

/// A control message the local host sent, as the timeline classified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// A message of the application (a control-sized datagram, uTP data, TCP payload).
    Control,
    /// A transport acknowledgement (no data).
    TransportAck,
}

/// Per-peer message timing of the local host.
#[derive(Debug, Clone, Default)]
pub struct MessageTiming {
    peers: FastMap<IpAddr, PeerTiming>,
}

impl MessageTiming {
    /// A video packet from `peer` at `ts`.
    #[inline]
    pub(crate) fn video_in(&mut self, peer: IpAddr, ts: Timestamp) {
        let p = self.peers.entry(peer).or_default();
        p.video_in += 1;
        if p.waiting > 0 && ts.since(p.waiting_since).ns() <= REQUEST_HORIZON_NS {
            p.requests += p.waiting;
        }
        p.waiting = 0;
        p.last_video = Some(ts);
        p.answered = false;
    }

    /// A message the local host sent to `peer` at `ts`.
    #[inline]
    pub(crate) fn sent(&mut self, peer: IpAddr, ts: Timestamp, what: Sent) {
        let p = self.peers.entry(peer).or_default();
        if what == Sent::TransportAck {
            p.transport_acks += 1;
            return;
        }
        p.control_out += 1;
        let after_video = p
            .last_video
            .map(|v| ts.since(v).ns())
            .is_some_and(|lag| (0..=ANSWER_WINDOW_NS).contains(&lag));
        if after_video && !p.answered {
            p.answers += 1;
            p.answered = true;
            return;
        }
        if p.waiting == 0 || ts.since(p.waiting_since).ns() > REQUEST_HORIZON_NS {
            // The older ones were never followed by data: they were no requests.
            p.waiting = 1;
            p.waiting_since = ts;
        } else {
            p.waiting += 1;
        }
    }

    /// The timing of `peer`, if the local host exchanged classified traffic with it.
    pub fn of(&self, peer: IpAddr) -> Option<&PeerTiming> {
        self.peers.get(&peer)
    }

    /// Peers with their timing.
    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &PeerTiming)> {
        self.peers.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

    fn ms(v: i64) -> Timestamp {
        Timestamp::from_ns(v * 1_000_000)
    }

    #[test]
    fn an_ack_after_each_packet_is_an_answer_not_a_request() {
        let mut m = MessageTiming::default();
        for i in 0..100 {
            m.video_in(PEER, ms(i * 30));
            m.sent(PEER, ms(i * 30 + 1), Sent::Control);
        }
        let p = m.of(PEER).copied().unwrap_or_default();
        assert_eq!(
            (p.video_in, p.control_out, p.answers, p.requests),
            (100, 100, 100, 0)
        );
    }

    #[test]
    fn control_ahead_of_the_data_is_a_request() {
        let mut m = MessageTiming::default();
        // A request every 300 ms, the data 80 ms later (4 packets), no acks.
        for i in 0..20 {
            let t = i * 300;
            m.sent(PEER, ms(t), Sent::Control);
            for k in 0..4 {
                m.video_in(PEER, ms(t + 80 + k * 5));
            }
        }
        let p = m.of(PEER).copied().unwrap_or_default();
        assert_eq!(p.video_in, 80);
        // The first request of each round follows the previous round's data by > 25 ms.
        assert_eq!(p.requests, 20);
        assert_eq!(p.answers, 0);
    }

    #[test]
    fn control_never_followed_by_data_is_no_request() {
        let mut m = MessageTiming::default();
        m.video_in(PEER, ms(0));
        // Keep-alives every 2 s, data only at the very end, more than a second later.
        for i in 1..10 {
            m.sent(PEER, ms(i * 2_000), Sent::Control);
        }
        m.video_in(PEER, ms(20_000));
        let p = m.of(PEER).copied().unwrap_or_default();
        assert_eq!(p.requests, 0);
        assert_eq!(p.control_out, 9);
    }

    #[test]
    fn transport_acks_are_counted_apart() {
        let mut m = MessageTiming::default();
        m.video_in(PEER, ms(0));
        m.sent(PEER, ms(1), Sent::TransportAck);
        m.sent(PEER, ms(2), Sent::Control);
        let p = m.of(PEER).copied().unwrap_or_default();
        assert_eq!((p.transport_acks, p.control_out, p.answers), (1, 1, 1));
    }
}
