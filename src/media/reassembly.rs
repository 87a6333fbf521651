//! One direction of one TCP connection put back in order by sequence number ([`Reassembler`]),
//! handing in-order bytes — and only real ones — to a [`StreamSink`].
//!
//! Sequence numbers (RFC 9293 §3.4) are 32-bit and wrap; the reassembler maps them onto a
//! 64-bit stream offset from the initial sequence number (the SYN's, or the first segment's
//! when the capture starts mid-connection). Segments ahead of the next expected byte wait in a
//! bounded ring store ([`OOO_CAP`] bytes, [`OOO_MAX_RANGES`] ranges); when a segment does not
//! fit, the reassembler skips ahead: the oldest hole is declared a gap and what follows it is
//! delivered. Payload the snaplen cut (captured length < wire length) is a gap too. A gap is
//! reported to the sink as a count of missing bytes, never filled with made-up bytes.
//!
//! Memory per direction: the ring (allocated on the first out-of-order segment) and a small
//! range list; nothing grows with the stream.

use std::ops::AddAssign;

/// Bytes of out-of-order payload a direction may hold while waiting for a hole to fill.
/// Linux's default receive window reaches a few hundred KiB on loopback; 256 KiB covers the
/// reordering seen there without holding megabytes per connection.
pub const OOO_CAP: usize = 256 * 1024;
/// Most disjoint out-of-order ranges held at once.
pub const OOO_MAX_RANGES: usize = 32;

/// TCP flags (RFC 9293 §3.1).
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
}

/// Where the in-order bytes of a direction go.
pub trait StreamSink {
    /// The next in-order bytes, from a segment captured at `ts_ns`.
    fn data(&mut self, ts_ns: i64, bytes: &[u8]);
    /// `missing` bytes of the stream will never be delivered (lost before the capture, cut by
    /// the snaplen, or given up on); the next [`StreamSink::data`] follows them.
    fn gap(&mut self, ts_ns: i64, missing: u64);
}

/// What reassembly saw in one direction. Merge with `+=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Segments with payload (captured or not).
    pub segments: u64,
    /// Bytes delivered in order.
    pub delivered_bytes: u64,
    /// Payload bytes received again (retransmitted or duplicated) and dropped.
    pub retransmitted_bytes: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order_segments: u64,
    /// Holes given up on (never filled), snaplen cuts included.
    pub gaps: u64,
    /// Bytes of the stream never seen (the holes' total length).
    pub gap_bytes: u64,
    /// Payload bytes on the wire that the snaplen cut from the capture (part of `gap_bytes`).
    pub snaplen_cut_bytes: u64,
    /// Times the out-of-order store was full and the reassembler skipped ahead.
    pub store_overflows: u64,
}

impl AddAssign for ReassemblyStats {
    fn add_assign(&mut self, o: Self) {
        self.segments += o.segments;
        self.delivered_bytes += o.delivered_bytes;
        self.retransmitted_bytes += o.retransmitted_bytes;
        self.out_of_order_segments += o.out_of_order_segments;
        self.gaps += o.gaps;
        self.gap_bytes += o.gap_bytes;
        self.snaplen_cut_bytes += o.snaplen_cut_bytes;
        self.store_overflows += o.store_overflows;
    }
}

/// A range of stream offsets `[start, end)` held in the store; `real == false` marks bytes
/// known to be missing (cut by the snaplen), delivered as a gap.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: u64,
    end: u64,
    real: bool,
}

/// One direction of a TCP connection being put back in order.
#[derive(Debug, Clone, Default)]
pub struct Reassembler {
    /// Sequence number of the byte at offset `next` (valid once `started`).
    next_seq: u32,
    /// Stream offset of the next byte to deliver.
    next: u64,
    started: bool,
    /// Ring store: the byte at stream offset `o` sits at `ring[o % OOO_CAP]`.
    ring: Vec<u8>,
    /// Disjoint, sorted, all beyond `next`.
    ranges: Vec<Range>,
    fin: bool,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// A direction whose first sequence number is not known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Whether a FIN or RST was seen in this direction.
    pub fn closed(&self) -> bool {
        self.fin
    }

    /// Marks the direction closed (the other direction saw a RST).
    pub fn close(&mut self) {
        self.fin = true;
    }

    /// Stream offset of the next byte to deliver (bytes delivered plus gaps).
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Whether a SYN in this direction with sequence number `seq` would start a different
    /// connection (the 4-tuple reused).
    pub fn is_new_syn(&self, seq: u32) -> bool {
        self.started && seq.wrapping_add(1) != self.isn_plus_one()
    }

    fn isn_plus_one(&self) -> u32 {
        // next_seq is the sequence number of offset `next`; offset 0 is ISN + 1.
        self.next_seq.wrapping_sub(self.next as u32)
    }

    /// Takes one segment: `seq` and `tcp_flags` from its header, `payload` as captured and
    /// `wire_len` its payload length on the wire (≥ `payload.len()`; larger when the snaplen
    /// cut it).
    pub fn segment<S: StreamSink>(
        &mut self,
        ts_ns: i64,
        seq: u32,
        tcp_flags: u8,
        payload: &[u8],
        wire_len: u32,
        sink: &mut S,
    ) {
        let syn = tcp_flags & flags::SYN != 0;
        // The SYN occupies one sequence number; data (if any) follows it.
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if !self.started && (syn || wire_len > 0) {
            self.started = true;
            self.next_seq = data_seq;
            self.next = 0;
        }
        if tcp_flags & (flags::FIN | flags::RST) != 0 {
            self.fin = true;
        }
        let wire_len = u64::from(wire_len).max(payload.len() as u64);
        if wire_len == 0 || !self.started {
            return;
        }
        self.stats.segments += 1;
        // Offset relative to the next expected byte, within ±2 GiB (RFC 9293 §3.4 compares
        // sequence numbers modulo 2^32 the same way).
        let rel = i64::from(data_seq.wrapping_sub(self.next_seq) as i32);
        let start = self.next as i64 + rel;
        let cut = wire_len - payload.len() as u64;
        self.stats.snaplen_cut_bytes += cut;
        // Bytes before offset 0 (before the ISN we chose) are retransmissions of a past we
        // never saw: drop them.
        let (start, payload, wire_len) = if start < 0 {
            let skip = start.unsigned_abs();
            let keep_cap = payload.len().saturating_sub(skip as usize);
            let skipped_cap = payload.len() - keep_cap;
            self.stats.retransmitted_bytes += skip.min(wire_len);
            (0u64, &payload[skipped_cap..], wire_len.saturating_sub(skip))
        } else {
            (start as u64, payload, wire_len)
        };
        if wire_len == 0 {
            return;
        }
        let end = start + wire_len;
        if end <= self.next {
            self.stats.retransmitted_bytes += wire_len;
            return;
        }
        // Trim what was already delivered.
        let (start, payload) = if start < self.next {
            let skip = self.next - start;
            self.stats.retransmitted_bytes += skip;
            let skip_cap = (skip as usize).min(payload.len());
            (self.next, &payload[skip_cap..])
        } else {
            (start, payload)
        };
        let cap_end = start + payload.len() as u64;
        if start == self.next {
            self.deliver(ts_ns, payload, sink);
            if end > cap_end {
                self.skip_to(ts_ns, end, sink);
            }
            self.drain(ts_ns, sink);
            return;
        }
        // Ahead of a hole.
        self.stats.out_of_order_segments += 1;
        self.make_room(ts_ns, start, end, sink);
        if end <= self.next {
            // What skipping ahead delivered covered all of it.
            self.stats.retransmitted_bytes += wire_len;
            return;
        }
        if start <= self.next {
            // Skipping ahead reached this segment (or delivered its first bytes).
            let skip = self.next - start;
            self.stats.retransmitted_bytes += skip;
            let payload = payload.get(skip as usize..).unwrap_or_default();
            self.deliver(ts_ns, payload, sink);
            if end > cap_end {
                self.skip_to(ts_ns, end, sink);
            }
            self.drain(ts_ns, sink);
            return;
        }
        self.store(start, payload, true);
        if end > cap_end {
            self.insert_range(Range {
                start: cap_end,
                end,
                real: false,
            });
        }
    }

    /// Ends the stream: whatever waits behind a hole is delivered after a gap.
    pub fn finish<S: StreamSink>(&mut self, ts_ns: i64, sink: &mut S) {
        while let Some(first) = self.ranges.first().copied() {
            self.skip_to(ts_ns, first.start, sink);
            self.drain(ts_ns, sink);
        }
    }

    fn deliver<S: StreamSink>(&mut self, ts_ns: i64, bytes: &[u8], sink: &mut S) {
        if bytes.is_empty() {
            return;
        }
        sink.data(ts_ns, bytes);
        self.advance(bytes.len() as u64);
        self.stats.delivered_bytes += bytes.len() as u64;
    }

    fn advance(&mut self, n: u64) {
        self.next += n;
        self.next_seq = self.next_seq.wrapping_add(n as u32);
    }

    /// Declares `[next, to)` lost.
    fn skip_to<S: StreamSink>(&mut self, ts_ns: i64, to: u64, sink: &mut S) {
        if to <= self.next {
            return;
        }
        let n = to - self.next;
        sink.gap(ts_ns, n);
        self.stats.gaps += 1;
        self.stats.gap_bytes += n;
        self.advance(n);
        // Drop stored ranges (or parts) that the skip passed.
        let next = self.next;
        self.ranges.retain_mut(|r| {
            if r.end <= next {
                return false;
            }
            if r.start < next {
                r.start = next;
            }
            true
        });
    }

    /// Delivers the stored ranges that now start at `next`.
    fn drain<S: StreamSink>(&mut self, ts_ns: i64, sink: &mut S) {
        while let Some(r) = self.ranges.first().copied() {
            if r.start > self.next {
                break;
            }
            self.ranges.remove(0);
            if r.end <= self.next {
                continue;
            }
            let from = r.start.max(self.next);
            if !r.real {
                self.skip_to(ts_ns, r.end, sink);
                continue;
            }
            let mut o = from;
            while o < r.end {
                let i = (o % OOO_CAP as u64) as usize;
                let n = ((r.end - o) as usize).min(OOO_CAP - i);
                let Some(part) = self.ring.get(i..i + n) else {
                    break;
                };
                sink.data(ts_ns, part);
                o += n as u64;
            }
            let n = r.end - self.next;
            self.stats.delivered_bytes += n;
            self.advance(n);
        }
    }

    /// Makes the store able to hold `[start, end)`: while it would not fit (beyond the ring
    /// or too many ranges), the oldest hole is given up and what follows it delivered.
    fn make_room<S: StreamSink>(&mut self, ts_ns: i64, start: u64, end: u64, sink: &mut S) {
        let mut overflowed = false;
        while end - self.next > OOO_CAP as u64 || self.ranges.len() >= OOO_MAX_RANGES {
            overflowed = true;
            let to = match self.ranges.first() {
                Some(r) => r.start,
                None => start,
            };
            if to >= start {
                // Nothing stored before this segment: jump straight to it.
                self.skip_to(ts_ns, start, sink);
                break;
            }
            self.skip_to(ts_ns, to, sink);
            self.drain(ts_ns, sink);
            if start <= self.next {
                break;
            }
        }
        if overflowed {
            self.stats.store_overflows += 1;
        }
    }

    /// Copies `bytes` (at stream offset `start`, within the ring's window) into the store.
    fn store(&mut self, start: u64, bytes: &[u8], real: bool) {
        if bytes.is_empty() {
            return;
        }
        if self.ring.is_empty() {
            self.ring = vec![0; OOO_CAP];
        }
        let mut o = start;
        let mut rest = bytes;
        while !rest.is_empty() {
            let i = (o % OOO_CAP as u64) as usize;
            let n = rest.len().min(OOO_CAP - i);
            if let (Some(dst), Some(src)) = (self.ring.get_mut(i..i + n), rest.get(..n)) {
                dst.copy_from_slice(src);
            }
            rest = rest.get(n..).unwrap_or_default();
            o += n as u64;
        }
        self.insert_range(Range {
            start,
            end: start + bytes.len() as u64,
            real,
        });
    }

    /// Adds a range, merging with neighbours; bytes already held count as retransmitted.
    fn insert_range(&mut self, new: Range) {
        let mut overlap = 0;
        for r in &self.ranges {
            let lo = r.start.max(new.start);
            let hi = r.end.min(new.end);
            if hi > lo {
                overlap += hi - lo;
            }
        }
        self.stats.retransmitted_bytes += overlap;
        let pos = self.ranges.partition_point(|r| r.start < new.start);
        self.ranges.insert(pos, new);
        // Merge ranges of the same kind that touch or overlap; a real range wins over a
        // missing one where they overlap (a retransmission filled a snaplen cut).
        let mut i = 0;
        while i + 1 < self.ranges.len() {
            let (a, b) = (self.ranges[i], self.ranges[i + 1]);
            if b.start <= a.end {
                if a.real == b.real {
                    self.ranges[i].end = a.end.max(b.end);
                    self.ranges.remove(i + 1);
                    continue;
                }
                // Different kinds overlapping: trim the missing one.
                if a.real {
                    if b.end <= a.end {
                        self.ranges.remove(i + 1);
                        continue;
                    }
                    self.ranges[i + 1].start = a.end;
                } else {
                    self.ranges[i].end = b.start;
                    if self.ranges[i].end <= self.ranges[i].start {
                        self.ranges.remove(i);
                        continue;
                    }
                }
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        bytes: Vec<u8>,
        gaps: Vec<u64>,
    }

    impl StreamSink for Collect {
        fn data(&mut self, _ts: i64, bytes: &[u8]) {
            self.bytes.extend_from_slice(bytes);
        }
        fn gap(&mut self, _ts: i64, missing: u64) {
            self.gaps.push(missing);
            // Mark the gap in the collected stream so tests can see where it fell.
            self.bytes
                .extend(std::iter::repeat_n(b'?', missing as usize));
        }
    }

    fn seg(r: &mut Reassembler, c: &mut Collect, seq: u32, data: &[u8]) {
        r.segment(0, seq, flags::ACK, data, data.len() as u32, c);
    }

    #[test]
    fn in_order_from_syn_across_the_wrap() {
        let mut r = Reassembler::new();
        let mut c = Collect::default();
        let isn = u32::MAX - 3;
        r.segment(0, isn, flags::SYN, &[], 0, &mut c);
        seg(&mut r, &mut c, isn.wrapping_add(1), b"abcd");
        seg(&mut r, &mut c, isn.wrapping_add(5), b"efgh");
        assert_eq!(c.bytes, b"abcdefgh");
        assert_eq!(r.stats().delivered_bytes, 8);
        assert_eq!(r.stats().gaps, 0);
    }

    #[test]
    fn out_of_order_and_retransmitted_segments() {
        let mut r = Reassembler::new();
        let mut c = Collect::default();
        seg(&mut r, &mut c, 100, b"0123");
        seg(&mut r, &mut c, 108, b"89ab");
        seg(&mut r, &mut c, 106, b"6789"); // overlaps the stored one by 2
        seg(&mut r, &mut c, 104, b"45");
        seg(&mut r, &mut c, 100, b"0123"); // plain retransmission
        assert_eq!(c.bytes, b"0123456789ab");
        let s = r.stats();
        assert_eq!(s.out_of_order_segments, 2);
        assert_eq!(s.retransmitted_bytes, 2 + 4);
        assert_eq!(s.gaps, 0);
        assert_eq!(s.delivered_bytes, 12);
    }

    #[test]
    fn snaplen_cut_is_a_gap_not_a_guess() {
        let mut r = Reassembler::new();
        let mut c = Collect::default();
        seg(&mut r, &mut c, 0, b"ab");
        r.segment(0, 2, flags::ACK, b"cd", 6, &mut c); // 4 bytes cut
        seg(&mut r, &mut c, 8, b"ij");
        assert_eq!(c.bytes, b"abcd????ij");
        let s = r.stats();
        assert_eq!((s.gaps, s.gap_bytes, s.snaplen_cut_bytes), (1, 4, 4));
    }

    #[test]
    fn cut_segment_out_of_order_becomes_a_gap_when_reached() {
        let mut r = Reassembler::new();
        let mut c = Collect::default();
        seg(&mut r, &mut c, 0, b"ab");
        r.segment(0, 4, flags::ACK, b"e", 3, &mut c); // [4,7) with [5,7) cut
        seg(&mut r, &mut c, 7, b"h");
        seg(&mut r, &mut c, 2, b"cd");
        assert_eq!(c.bytes, b"abcde??h");
        assert_eq!(r.stats().gap_bytes, 2);
    }

    #[test]
    fn hole_never_filled_is_skipped_when_the_store_is_full() {
        let mut r = Reassembler::new();
        let mut c = Collect::default();
        seg(&mut r, &mut c, 0, b"x");
        // A 10-byte hole at [1, 11), then more than OOO_CAP bytes behind it.
        let block = vec![7u8; 64 * 1024];
        let mut seq = 11u32;
        for _ in 0..5 {
            seg(&mut r, &mut c, seq, &block);
            seq += block.len() as u32;
        }
        r.finish(0, &mut c);
        assert_eq!(c.gaps, vec![10]);
        assert_eq!(c.bytes.len(), 1 + 10 + 5 * block.len());
        assert!(r.stats().store_overflows >= 1);
        assert_eq!(r.stats().delivered_bytes, 1 + 5 * block.len() as u64);
    }

    #[test]
    fn many_small_holes_are_bounded_in_ranges() {
        let mut r = Reassembler::new();
        let mut c = Collect::default();
        seg(&mut r, &mut c, 0, b"a");
        for k in 0..100u32 {
            seg(&mut r, &mut c, 2 + 2 * k, b"b");
        }
        assert!(r.ranges.len() <= OOO_MAX_RANGES);
        r.finish(0, &mut c);
        assert_eq!(c.bytes.len(), 201);
        assert_eq!(r.stats().gap_bytes, 100);
    }

    /// Random cuts, reordering within a window, duplicates and losses of a known stream: every
    /// byte delivered is the stream's own at its offset, and delivered + gaps = the stream.
    #[test]
    fn shuffled_segments_property() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        for round in 0..200 {
            let len = 1 + rnd(200_000) as usize;
            let stream: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let isn = rnd(1 << 32) as u32;
            let mut segs: Vec<(usize, usize)> = Vec::new();
            let mut o = 0;
            while o < len {
                let n = (1 + rnd(3000) as usize).min(len - o);
                segs.push((o, n));
                o += n;
            }
            // Swap neighbours within a small window, duplicate some, drop some (not the first).
            for i in 1..segs.len() {
                if rnd(4) == 0 {
                    let j = (i + rnd(5) as usize).min(segs.len() - 1);
                    segs.swap(i, j);
                }
            }
            let lossy = round % 2 == 1;
            let mut sent = Vec::new();
            for (k, &s) in segs.iter().enumerate() {
                if lossy && k > 0 && rnd(10) == 0 {
                    continue;
                }
                sent.push(s);
                if rnd(8) == 0 {
                    sent.push(s);
                }
            }
            let mut r = Reassembler::new();
            let mut c = Collect::default();
            r.segment(0, isn.wrapping_sub(1), flags::SYN, &[], 0, &mut c);
            for &(o, n) in &sent {
                let seq = isn.wrapping_add(o as u32);
                r.segment(0, seq, flags::ACK, &stream[o..o + n], n as u32, &mut c);
            }
            r.finish(0, &mut c);
            let st = r.stats();
            let end = c.bytes.len();
            assert!(end <= len, "round {round}");
            assert_eq!(
                st.delivered_bytes + st.gap_bytes,
                end as u64,
                "round {round}"
            );
            for (i, &b) in c.bytes.iter().enumerate() {
                if b != b'?' {
                    assert_eq!(b, stream[i], "round {round} offset {i}");
                }
            }
            if !lossy {
                assert_eq!(c.bytes, stream, "round {round}");
                assert_eq!(st.gaps, 0, "round {round}");
            }
        }
    }

    #[test]
    fn mid_connection_start_and_old_bytes() {
        let mut r = Reassembler::new();
        let mut c = Collect::default();
        seg(&mut r, &mut c, 5000, b"hello");
        seg(&mut r, &mut c, 4990, b"0123456789hel"); // before the first byte we saw
        seg(&mut r, &mut c, 5005, b"!");
        assert_eq!(c.bytes, b"hello!");
        assert_eq!(r.stats().retransmitted_bytes, 13);
    }
}
