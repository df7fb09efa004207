#!/usr/bin/env bash
# Make sure Debian's tcpdump and perf (linux-perf) are installed for the media bench's
# independent check (`liveclass-bench media --independent-check`: bench/media/independent.py
# captures the SFU's datagrams and takes its CPU from perf stat). Installs the distribution
# packages with apt-get when run as root; capturing needs root anyway.
set -euo pipefail
missing=()
command -v tcpdump >/dev/null || missing+=(tcpdump)
command -v perf >/dev/null || missing+=(linux-perf)
if [ ${#missing[@]} = 0 ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${missing[*]} (Debian packages) for the media bench's independent check"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in tcpdump perf; do
    if ! command -v "$tool" >/dev/null; then
        echo "the media bench's --independent-check needs $tool: install Debian's tcpdump and linux-perf" >&2
        exit 1
    fi
done
