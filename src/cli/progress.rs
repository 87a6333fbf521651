//! The progress bar of a long file analysis: the CLI's [`Progress`] observer, drawn on stderr
//! with indicatif only when stderr is a terminal and the input is large.

use std::io::IsTerminal;
use std::sync::Mutex;

use crate::pipeline::Progress;

/// Inputs smaller than this finish before a bar would be useful.
const MIN_BYTES: u64 = 64 << 20;

/// A bar that appears for large inputs on a terminal.
pub struct Bar {
    enabled: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Bar {
    /// A bar, drawn only when stderr is a terminal.
    pub fn new() -> Self {
        Bar {
            enabled: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }
}

impl Default for Bar {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bar {
    fn start(&self, total_bytes: Option<u64>) {
        let Some(total) = total_bytes.filter(|&t| self.enabled && t >= MIN_BYTES) else {
            return;
        };
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.set_position(bytes);
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }
}
