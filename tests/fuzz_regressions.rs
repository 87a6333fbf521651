//! Inputs on which a fuzz target once failed (`scripts/fuzz.sh` saves them in
//! `tests/fuzz-regressions/<target>-<hash>`), replayed through the same entry points as the
//! fuzz targets (`peerscope::harness`). Each must now run without a panic.

use std::path::Path;

#[test]
fn saved_fuzz_inputs_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some((target, _hash)) = name.rsplit_once('-') else {
            continue;
        };
        let run: fn(&[u8]) = match target {
            "decode_frame" => peerscope::harness::decode_frame,
            "read_capture" => peerscope::harness::read_capture,
            "dns_answers" => peerscope::harness::dns_answers,
            "media_feed" => peerscope::harness::media_feed,
            _ => continue,
        };
        let data = std::fs::read(&path).unwrap();
        eprintln!("replaying {name}");
        run(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no saved inputs in {}", dir.display());
}
