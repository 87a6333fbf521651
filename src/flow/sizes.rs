//! Exact histograms of UDP payload sizes, and the statistics read from them: peaks and the
//! threshold between control and video.
//!
//! A [`SizeHist`] is sparse (sorted `(size, cell)` pairs): live-streaming traffic uses a handful
//! of distinct sizes, so lookups are a short binary search and memory follows the distinct sizes,
//! not the packets.

use crate::time::Timestamp;

/// What one size has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeCell {
    pub packets: u64,
    /// IP bytes of those packets (header included), for rates in IP bytes.
    pub ip_bytes: u64,
    /// Time of the first packet of this size.
    pub first: Timestamp,
}

/// Sparse exact histogram keyed by UDP payload size in bytes.
///
/// The sizes are kept apart from their cells, in two vectors in the same order: a lookup's
/// binary search runs over 4 bytes a size (a few cache lines even for a pair that used a
/// hundred sizes) and then touches one cell. With many live pairs (gateway mode) those
/// lines are rarely in cache, and a search through 32-byte cells cost a miss per step.
#[derive(Debug, Clone, Default)]
pub struct SizeHist {
    sizes: Vec<u32>,
    cells: Vec<SizeCell>,
}

impl SizeHist {
    /// Counts one packet.
    #[inline]
    pub fn add(&mut self, size: u32, ip_bytes: u32, ts: Timestamp) {
        // The largest size first: on a pair that carries video it is the video size (full
        // chunks), the most frequent one.
        let found = match self.sizes.last() {
            Some(&last) if last == size => Ok(self.sizes.len() - 1),
            _ => self.sizes.binary_search(&size),
        };
        match found {
            Ok(i) => {
                if let Some(cell) = self.cells.get_mut(i) {
                    cell.packets += 1;
                    cell.ip_bytes += u64::from(ip_bytes);
                    cell.first = cell.first.min(ts);
                }
            }
            Err(i) => {
                // Most pairs see one or two sizes: start with room for one, not the four a
                // growing Vec reserves.
                if self.sizes.capacity() == 0 {
                    self.sizes.reserve_exact(1);
                    self.cells.reserve_exact(1);
                }
                self.sizes.insert(i, size);
                self.cells.insert(
                    i,
                    SizeCell {
                        packets: 1,
                        ip_bytes: u64::from(ip_bytes),
                        first: ts,
                    },
                );
            }
        }
    }

    /// Adds IP bytes to a size without counting a packet (later fragments of a datagram).
    pub fn add_bytes(&mut self, size: u32, ip_bytes: u32) {
        if let Ok(i) = self.sizes.binary_search(&size) {
            if let Some(cell) = self.cells.get_mut(i) {
                cell.ip_bytes += u64::from(ip_bytes);
            }
        }
    }

    /// Merges another histogram into this one.
    pub fn merge(&mut self, other: &SizeHist) {
        for (size, cell) in other.cells() {
            match self.sizes.binary_search(&size) {
                Ok(i) => {
                    if let Some(mine) = self.cells.get_mut(i) {
                        mine.packets += cell.packets;
                        mine.ip_bytes += cell.ip_bytes;
                        mine.first = mine.first.min(cell.first);
                    }
                }
                Err(i) => {
                    self.sizes.insert(i, size);
                    self.cells.insert(i, *cell);
                }
            }
        }
    }

    /// The sizes seen, ascending.
    pub fn sizes(&self) -> &[u32] {
        &self.sizes
    }

    /// The cells of [`SizeHist::sizes`], in the same order.
    pub fn counts(&self) -> &[SizeCell] {
        &self.cells
    }

    /// `(size, cell)` pairs in ascending size.
    pub fn cells(
        &self,
    ) -> impl DoubleEndedIterator<Item = (u32, &SizeCell)> + ExactSizeIterator + Clone + '_ {
        self.sizes.iter().copied().zip(self.cells.iter())
    }

    /// Distinct sizes seen.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// True when no packet was counted.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Total packets.
    pub fn packets(&self) -> u64 {
        self.cells.iter().map(|c| c.packets).sum()
    }

    /// Totals split at `threshold`: (below, at-or-above). `None` puts everything below.
    pub fn split(&self, threshold: Option<u32>) -> (Totals, Totals) {
        let mut below = Totals::default();
        let mut above = Totals::default();
        for (size, cell) in self.cells() {
            let t = if threshold.is_some_and(|t| size >= t) {
                &mut above
            } else {
                &mut below
            };
            t.packets += cell.packets;
            t.ip_bytes += cell.ip_bytes;
            t.payload_bytes += u64::from(size) * cell.packets;
            t.first = t.first.min(cell.first);
        }
        (below, above)
    }

    /// True when some packet size lies in `[lo, hi)`: moving a threshold across that range
    /// would reclassify packets.
    pub fn any_in(&self, lo: u32, hi: u32) -> bool {
        let start = self.sizes.partition_point(|&s| s < lo);
        self.sizes.get(start).is_some_and(|&s| s < hi)
    }
}

/// Packets and bytes of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub packets: u64,
    pub ip_bytes: u64,
    pub payload_bytes: u64,
    /// First packet of the class (`Timestamp::from_ns(i64::MAX)` when none).
    pub first: Timestamp,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, o: Totals) {
        self.packets += o.packets;
        self.ip_bytes += o.ip_bytes;
        self.payload_bytes += o.payload_bytes;
        self.first = self.first.min(o.first);
    }
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            packets: 0,
            ip_bytes: 0,
            payload_bytes: 0,
            first: Timestamp::from_ns(i64::MAX),
        }
    }
}

/// A peak of the size distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub size: u32,
    pub packets: u64,
    pub share: f64,
}

/// Peaks are local maxima within ±`PEAK_NEIGHBOURHOOD` bytes holding ≥ `PEAK_MIN_SHARE` of
/// the packets.
pub const PEAK_NEIGHBOURHOOD: u32 = 4;
pub const PEAK_MIN_SHARE: f64 = 0.01;

/// The peaks of a histogram, in ascending size.
pub fn peaks(hist: &SizeHist) -> Vec<Peak> {
    let total = hist.packets();
    if total == 0 {
        return Vec::new();
    }
    let sizes = hist.sizes();
    let cells = hist.counts();
    let mut out = Vec::new();
    for (i, (&size, cell)) in sizes.iter().zip(cells).enumerate() {
        let share = cell.packets as f64 / total as f64;
        if share < PEAK_MIN_SHARE {
            continue;
        }
        // Strictly larger than the neighbours on the left, at least as large as those on the
        // right: a plateau yields one peak, its first size.
        let left_ok = hist
            .cells()
            .take(i)
            .rev()
            .take_while(|(s, _)| size - s <= PEAK_NEIGHBOURHOOD)
            .all(|(_, c)| c.packets < cell.packets);
        let right_ok = hist
            .cells()
            .skip(i + 1)
            .take_while(|(s, _)| s - size <= PEAK_NEIGHBOURHOOD)
            .all(|(_, c)| c.packets <= cell.packets);
        if left_ok && right_ok {
            out.push(Peak {
                size,
                packets: cell.packets,
                share,
            });
        }
    }
    out
}

/// The threshold between control and video: Otsu's method over the packet-weighted sizes
/// (the split that maximises the between-class variance), placed in the middle of the empty
/// gap at that split so that it sits between the two classes, not on the edge of one.
/// `None` when fewer than two distinct sizes exist.
pub fn otsu_threshold(hist: &SizeHist) -> Option<u32> {
    let sizes = hist.sizes();
    let cells = hist.counts();
    if sizes.len() < 2 {
        return None;
    }
    let total_n: f64 = cells.iter().map(|c| c.packets as f64).sum();
    let total_s: f64 = hist
        .cells()
        .map(|(s, c)| f64::from(s) * c.packets as f64)
        .sum();
    let mut n0 = 0.0;
    let mut s0 = 0.0;
    let mut best: Option<(f64, usize)> = None;
    for (i, (size, cell)) in hist.cells().take(sizes.len() - 1).enumerate() {
        n0 += cell.packets as f64;
        s0 += f64::from(size) * cell.packets as f64;
        let n1 = total_n - n0;
        if n0 == 0.0 || n1 == 0.0 {
            continue;
        }
        let m0 = s0 / n0;
        let m1 = (total_s - s0) / n1;
        let var = n0 * n1 * (m0 - m1) * (m0 - m1);
        // Ties keep the widest gap, so equal-variance splits prefer clean separation.
        let gap = sizes[i + 1] - size;
        match best {
            Some((v, j)) if var < v || (var == v && gap <= sizes[j + 1] - sizes[j]) => {}
            _ => best = Some((var, i)),
        }
    }
    let (_, i) = best?;
    let lo = sizes[i];
    let hi = sizes[i + 1];
    Some(lo + (hi - lo).div_ceil(2))
}

/// Size bands holding less than this share of the packets are ignored by
/// [`log_gap_threshold`].
pub const LOG_GAP_MIN_SHARE: f64 = 0.005;
/// Bands per octave of [`log_gap_threshold`]: sizes within a ninth of each other share a band,
/// so protocol messages spread over many sizes (40–120 bytes, none frequent on its own) still
/// count as the class they are.
const LOG_GAP_BANDS_PER_OCTAVE: f64 = 8.0;

/// The threshold of a stream protocol's segments (uTP data, TCP payload): in the middle, on a
/// log scale, of the widest ratio between two consecutive size bands (an eighth of an octave
/// each) that each hold at least [`LOG_GAP_MIN_SHARE`] of the packets. Protocol messages
/// (BitTorrent's have/request/choke of 4–17 bytes, a P2P-TV client's 40–120-byte messages) and
/// piece data (blocks cut to the path's MTU, whatever their count: a connection held back by
/// congestion control sends many short data packets) are an order of magnitude apart, while
/// Otsu's variance rule moves the split into the data when short data packets are many.
/// Segments without data (TCP pure ACKs, uTP `ST_STATE`: size 0) are control and carry no
/// size, so the gap is sought among the others; with a single band of them the split is
/// between 0 and that band. `None` when no segment has data.
pub fn log_gap_threshold(hist: &SizeHist) -> Option<u32> {
    let total = hist.packets() as f64;
    // (band, smallest size, largest size, packets) of the sizes with data, ascending.
    let mut bands: Vec<(i64, u32, u32, u64)> = Vec::new();
    for (size, c) in hist.cells() {
        if size == 0 || c.packets == 0 {
            continue;
        }
        let band = (f64::from(size).log2() * LOG_GAP_BANDS_PER_OCTAVE).floor() as i64;
        match bands.last_mut() {
            Some(last) if last.0 == band => {
                last.2 = size;
                last.3 += c.packets;
            }
            _ => bands.push((band, size, size, c.packets)),
        }
    }
    bands.retain(|b| b.3 as f64 >= LOG_GAP_MIN_SHARE * total);
    let (lo, hi) = match bands.as_slice() {
        [] => return None,
        [only] => (0, only.1),
        _ => bands.windows(2).map(|w| (w[0].2, w[1].1)).max_by(|a, b| {
            let ratio = |(lo, hi): (u32, u32)| f64::from(hi + 1) / f64::from(lo + 1);
            ratio(*a).total_cmp(&ratio(*b)).then(b.0.cmp(&a.0))
        })?,
    };
    let mid = (f64::from(lo + 1) * f64::from(hi + 1)).sqrt().ceil() as u32;
    Some(mid.saturating_sub(1).clamp(lo + 1, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_gap_splits_messages_from_data_whatever_their_counts() {
        // TCP: pure ACKs, have (9) and request (17) messages, short and full data segments.
        let h = hist(&[(0, 1209), (9, 425), (17, 49), (456, 46), (1448, 660)]);
        let t = log_gap_threshold(&h).unwrap();
        assert!(t > 17 && t <= 456, "{t}");
        // uTP on a starved link: many 528-byte data packets.
        let h = hist(&[
            (0, 847),
            (9, 152),
            (17, 18),
            (528, 178),
            (990, 331),
            (1336, 166),
        ]);
        let t = log_gap_threshold(&h).unwrap();
        assert!(t > 17 && t <= 528, "{t}");
        // Rare sizes do not make a gap.
        let h = hist(&[(0, 1000), (3, 1), (1400, 1000)]);
        assert!(log_gap_threshold(&h).is_some_and(|t| t > 3 && t <= 1400));
        assert_eq!(log_gap_threshold(&hist(&[(0, 10)])), None);
        // Messages spread over 40–120 bytes, none of them frequent: still one class, far
        // from the data; the pure ACKs' size 0 makes no gap with them.
        let mut cells: Vec<(u32, u64)> = (40..=120).map(|s| (s, 5)).collect();
        cells.extend([(0, 2000), (1320, 1600)]);
        let t = log_gap_threshold(&hist(&cells)).unwrap();
        assert!(t > 120 && t <= 1320, "{t}");
    }

    fn hist(pairs: &[(u32, u64)]) -> SizeHist {
        let mut h = SizeHist::default();
        for &(size, n) in pairs {
            for _ in 0..n {
                h.add(size, size + 28, Timestamp::EPOCH);
            }
        }
        h
    }

    #[test]
    fn sopcast_like_two_peaks() {
        let mut pairs = vec![(28, 5000), (1320, 5000)];
        pairs.extend((40..120).map(|s| (s, 3)));
        let h = hist(&pairs);
        let p = peaks(&h);
        assert_eq!(p.iter().map(|p| p.size).collect::<Vec<_>>(), vec![28, 1320]);
        let t = otsu_threshold(&h).unwrap_or(0);
        assert!(t > 119 && t <= 1320, "threshold {t}");
        let (ctrl, video) = h.split(Some(t));
        assert_eq!(video.packets, 5000);
        assert_eq!(ctrl.packets, 5000 + 80 * 3);
        assert_eq!(video.payload_bytes, 1320 * 5000);
    }

    #[test]
    fn one_size_has_no_threshold() {
        assert_eq!(otsu_threshold(&hist(&[(1320, 10)])), None);
        assert_eq!(otsu_threshold(&SizeHist::default()), None);
        assert!(peaks(&SizeHist::default()).is_empty());
    }

    #[test]
    fn any_in_range() {
        let h = hist(&[(28, 1), (1320, 1)]);
        assert!(!h.any_in(29, 1320));
        assert!(h.any_in(29, 1321));
        assert!(h.any_in(0, 29));
    }

    #[test]
    fn plateau_gives_one_peak() {
        let h = hist(&[(100, 50), (101, 50), (500, 100)]);
        let p: Vec<u32> = peaks(&h).iter().map(|p| p.size).collect();
        assert_eq!(p, vec![100, 500]);
    }
}
