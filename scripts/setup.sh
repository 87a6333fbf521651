#!/usr/bin/env bash
# Installs what peerscope needs on a Debian machine and is missing: libpcap-dev to build and
# link (always), and with --test the tools the test suite drives: chromium (the HTML report
# test), tcpdump and tshark (the RTT check against tcp.analysis.initial_rtt). With --bench also tshark. With --lab the real-software lab
# (scripts/lab/): libtorrent's Python bindings, opentracker, mpv, ffmpeg, tcpdump, iproute2 (ip,
# tc), srt-tools and chromium (renders the lab's figures). The lab's viewer is a libtorrent node,
# so it needs no npm packages. Uses apt-get when run as root; otherwise prints
# the command to run. Idempotent: installs nothing that is already there.
set -euo pipefail

want=(libpcap-dev)
for arg in "$@"; do
  case "$arg" in
    --test) want+=(chromium tcpdump tshark) ;;
    --bench) want+=(tcpdump tshark bc) ;;
    --lab) want+=(python3 python3-libtorrent opentracker mpv ffmpeg tcpdump iproute2 srt-tools chromium) ;;
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
