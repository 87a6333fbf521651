//! A request to stop reading, made by a signal: `analyze` (and any file read) treats SIGINT or
//! SIGTERM as the end of its input. The CLI's signal handler calls [`request`]; the file
//! reader checks [`requested`] before each record, stops there cleanly and says so in its
//! warnings, so the report covers what was read. One flag per process, as signals are.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every reader to stop at its next record. Returns whether a stop had already been
/// requested (a second signal: the caller gives up at once).
pub fn request() -> bool {
    REQUESTED.swap(true, Ordering::SeqCst)
}

/// Whether a stop was requested.
#[inline]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
