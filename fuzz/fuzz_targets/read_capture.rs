//! Arbitrary bytes as a capture file, through the reader, the analyzer and the report.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerscope::harness::read_capture(data);
});
