#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for SECONDS_PER_TARGET seconds, one after the other,
# and turns every crash into a regression test. Not part of the test suite.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 600 s, every target)
#   bash scripts/fuzz.sh 5                                  (smoke run: builds, seeds, 5 s each)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz wants nightly compiler flags
# (-Zsanitizer, sanitizer coverage); on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks them.
# Seeds are cut at run time from the bundled real captures (tests/data/real) and from captures/
# into fuzz/seeds/<target>/; what the fuzzer learns accumulates in
# fuzz/corpus/<target>/ (both ignored by git).
#
# A crash, timeout or out-of-memory input found in fuzz/artifacts/<target>/ is copied to
# tests/fuzz-regressions/<target>-<sha1 prefix>, which the normal test suite replays through the
# same entry point (peerscope::harness). The script exits 1 when any target found one.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(decode_frame read_capture dns_answers media_feed)
fi
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
  exit 2
fi

# Seeds: the bundled real captures and the project's own.
captures=(captures/*.pcap captures/*.pcapng tests/data/real/*.pcap tests/data/real/*.pcapng)
rm -rf fuzz/seeds
cargo run -q --example fuzz_seeds -- fuzz/seeds "${captures[@]}"

# Build everything first so the clock of each run counts fuzzing only.
cargo fuzz build

found=0
mkdir -p tests/fuzz-regressions
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  case $t in
    read_capture | media_feed) max_len=65536 ;;
    *) max_len=4096 ;;
  esac
  echo "== $t: ${secs}s"
  start=$(date +%s)
  status=0
  # -rss_limit_mb: a capture of a few KiB must not need more than this; going over is a finding.
  cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=1024 -timeout=10 \
    -print_final_stats=1 2>"fuzz/artifacts/$t.log" || status=$?
  end=$(date +%s)
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)|^#[0-9]+.*DONE' \
    "fuzz/artifacts/$t.log" || true
  echo "   ran $((end - start))s, exit $status, corpus $(ls "fuzz/corpus/$t" | wc -l) inputs"
  for a in "fuzz/artifacts/$t"/crash-* "fuzz/artifacts/$t"/timeout-* "fuzz/artifacts/$t"/oom-* \
    "fuzz/artifacts/$t"/slow-unit-*; do
    [ -e "$a" ] || continue
    dest="tests/fuzz-regressions/$t-$(sha1sum "$a" | cut -c1-16)"
    if [ ! -e "$dest" ]; then
      cp "$a" "$dest"
      echo "   FOUND $(basename "$a") -> $dest (see fuzz/artifacts/$t.log)"
    fi
    found=1
  done
done
if [ "$found" -ne 0 ]; then
  echo "fuzzing found inputs that fail: see tests/fuzz-regressions/, fix, run cargo test" >&2
  exit 1
fi
echo "all targets ran clean"
