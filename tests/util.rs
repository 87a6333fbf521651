//! Helpers shared by the integration tests: run the real binary, read its report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use peerscope::report::Report;

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_peerscope"))
}

/// A real capture recorded by others, bundled in `tests/data/real/` (PROVENANCE.tsv there names
/// its origin and licence). A missing file fails the test: nothing skips silently.
pub fn real(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join("real")
        .join(name);
    assert!(p.exists(), "bundled capture {} is missing", p.display());
    p.to_string_lossy().into_owned()
}

/// A fresh temporary directory for one test.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peerscope-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `peerscope analyze ARGS -o DIR` and returns the process output and the report (if one
/// was written). The report is parsed into the crate's own model, whose structs deny unknown
/// fields: schema drift fails the test.
pub fn analyze(name: &str, args: &[&str]) -> (Output, Option<Report>) {
    let dir = tmp(name);
    let out = bin()
        .arg("analyze")
        .args(args)
        .arg("-o")
        .arg(&dir)
        .output()
        .unwrap();
    let report = std::fs::read(dir.join("report.json"))
        .ok()
        .map(|b| serde_json::from_slice::<Report>(&b).unwrap());
    (out, report)
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The report the library builds for `paths` with the default options: for runs of which the
/// binary writes no report (nothing decoded), so their counts can still be checked.
pub fn library_report(paths: &[&str]) -> Report {
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    let cfg = peerscope::pipeline::AnalysisConfig::default();
    peerscope::pipeline::analyze_files(&paths, &cfg, &peerscope::pipeline::NoProgress)
        .unwrap()
        .1
}
