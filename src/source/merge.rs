//! Several capture files read as one stream in timestamp order (a k-way merge on the head
//! record of each file). One file is passed through without copying; with several, each
//! file's next record is copied into a reused buffer so the earliest can be chosen. Records
//! far from the rest in time are held back by the [`TimeGate`].

use super::timegate::TimeGate;
use super::{CaptureFile, RawPacket, SourceStats};
use crate::time::Timestamp;

struct Head {
    ts: Timestamp,
    link_type: u16,
    orig_len: u32,
    data: Vec<u8>,
    valid: bool,
}

/// Capture files merged in timestamp order.
#[derive(Default)]
pub struct Merged {
    files: Vec<CaptureFile>,
    gate: TimeGate,
}

impl Merged {
    /// Merges the given files (already opened).
    pub fn new(files: Vec<CaptureFile>) -> Self {
        Merged {
            files,
            gate: TimeGate::default(),
        }
    }

    /// Keeps only the records inside `[first, last]` (a second pass, once the first found
    /// that most records lie far from where the capture began).
    pub fn with_window(
        mut self,
        window: Option<(crate::time::Timestamp, crate::time::Timestamp)>,
    ) -> Self {
        if let Some((first, last)) = window {
            self.gate = TimeGate::pinned(first, last);
        }
        self
    }

    /// The files, for progress and statistics.
    pub fn files(&self) -> &[CaptureFile] {
        &self.files
    }

    /// Statistics of all files added up.
    pub fn stats(&self) -> SourceStats {
        let mut total = SourceStats::default();
        for file in &self.files {
            total += file.stats();
        }
        total.far = self.gate.outcome();
        total
    }

    /// Hands every packet of every file to `f`, earliest first. Ties go to the file given
    /// first. Within one file, records keep their order even if timestamps go backwards.
    pub fn for_each(&mut self, mut f: impl FnMut(RawPacket<'_>)) {
        self.for_each_indexed(|_, raw| f(raw));
    }

    /// As [`Merged::for_each`], with the index of the file each packet comes from (its place
    /// in the list given to [`Merged::new`]).
    pub fn for_each_indexed(&mut self, mut f: impl FnMut(usize, RawPacket<'_>)) {
        let gate = &mut self.gate;
        let mut f = |i: usize, raw: RawPacket<'_>| {
            if gate.admit(raw.ts) {
                f(i, raw);
            }
        };
        if let [only] = self.files.as_mut_slice() {
            while only.next_packet(|raw| f(0, raw)) {}
            return;
        }
        let mut heads: Vec<Head> = self
            .files
            .iter()
            .map(|_| Head {
                ts: Timestamp::EPOCH,
                link_type: 0,
                orig_len: 0,
                data: Vec::new(),
                valid: false,
            })
            .collect();
        for (file, head) in self.files.iter_mut().zip(heads.iter_mut()) {
            refill(file, head);
        }
        loop {
            let mut best: Option<usize> = None;
            for (i, head) in heads.iter().enumerate() {
                if head.valid && best.is_none_or(|b| head.ts < heads[b].ts) {
                    best = Some(i);
                }
            }
            let Some(i) = best else { break };
            let head = &heads[i];
            f(
                i,
                RawPacket {
                    ts: head.ts,
                    link_type: head.link_type,
                    orig_len: head.orig_len,
                    data: &head.data,
                },
            );
            refill(&mut self.files[i], &mut heads[i]);
        }
    }
}

fn refill(file: &mut CaptureFile, head: &mut Head) {
    head.valid = file.next_packet(|p| {
        head.ts = p.ts;
        head.link_type = p.link_type;
        head.orig_len = p.orig_len;
        head.data.clear();
        head.data.extend_from_slice(p.data);
    });
}
