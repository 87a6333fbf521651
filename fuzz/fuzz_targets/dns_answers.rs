//! Arbitrary bytes as a DNS message, through the answer-name extraction.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerscope::harness::dns_answers(data);
});
