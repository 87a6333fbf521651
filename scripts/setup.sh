#!/usr/bin/env bash
# Installs what peerscope needs on a Debian machine and is missing: libpcap-dev to build and
# link (always), and with --test the tools the test suite drives: chromium (the HTML report
# test), tcpdump, tshark (the RTT check against tcp.analysis.initial_rtt), and DuckDB's Python
# package (the Parquet tests read the exports back with it) in a virtual environment,
# target/duckdb-venv, from PyPI — Debian's python3 refuses a system-wide pip install
# ("externally-managed-environment"); a venv is what it allows. With --bench also tshark. With
# --lab the real-software lab (scripts/lab/): libtorrent's Python bindings, opentracker, mpv,
# ffmpeg, tcpdump, tcpreplay (scripts/replay-bench.sh), iproute2 (ip, tc), srt-tools and
# chromium (renders the lab's figures). The lab's viewer is a libtorrent node, so it needs no
# npm packages. Uses apt-get when run as root; otherwise prints the command to run.
# Idempotent: installs nothing that is already there.
set -euo pipefail

want=(libpcap-dev)
duckdb=0
for arg in "$@"; do
  case "$arg" in
    --test) want+=(chromium tcpdump tshark python3 python3-venv); duckdb=1 ;;
    --bench) want+=(tcpdump tshark bc) ;;
    --lab) want+=(python3 python3-libtorrent opentracker mpv ffmpeg tcpdump tcpreplay iproute2 srt-tools chromium) ;;
    *) echo "usage: $0 [--test] [--bench] [--lab]" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ "$(printf '%s\n' "${missing[@]}" | grep -c tshark)" -gt 0 ]; then
      echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# DuckDB for the Parquet tests (tests/parquet.rs runs target/duckdb-venv/bin/python).
if [ "$duckdb" -eq 1 ]; then
  venv="$(cd "$(dirname "$0")/.." && pwd)/target/duckdb-venv"
  if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    echo "setup: installing duckdb (PyPI) into $venv" >&2
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'duckdb==1.*'
  fi
fi
