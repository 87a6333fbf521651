//! TCP segments of player connections through the feed tracker (see peerscope::harness).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerscope::harness::media_feed(data);
});
