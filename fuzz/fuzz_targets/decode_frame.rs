//! One frame through the decoder; the first byte picks the link type (see peerscope::harness).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerscope::harness::decode_frame(data);
});
