//! The generators' event queue: events come out earliest first, and events at the same time in
//! the order they were scheduled (so a seed always gives the same capture).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<E> {
    t: u64,
    n: u64,
    ev: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.t == other.t && self.n == other.n
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so `BinaryHeap` pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.t.cmp(&self.t).then(other.n.cmp(&self.n))
    }
}

/// A time-ordered queue of events `E` (times in nanoseconds).
pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next: u64,
}

impl<E> std::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("pending", &self.heap.len())
            .finish()
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `ev` at `t`.
    pub(crate) fn push(&mut self, t: u64, ev: E) {
        self.heap.push(Entry {
            t,
            n: self.next,
            ev,
        });
        self.next += 1;
    }

    /// The earliest event and its time.
    pub(crate) fn pop(&mut self) -> Option<(u64, E)> {
        self.heap.pop().map(|e| (e.t, e.ev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_scheduling_order() {
        let mut q = EventQueue::default();
        q.push(5, 'c');
        q.push(1, 'a');
        q.push(5, 'd');
        q.push(1, 'b');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['a', 'b', 'c', 'd']);
    }
}
