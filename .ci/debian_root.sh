#!/usr/bin/env bash
# A stock Debian 12 root (python3, git, CA certificates; no pip, no ensurepip, no venv), cached
# under build/debian-root. Prints its path. Needs root and Debian's package mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD/build/debian-root"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ ! -x "$ROOT/usr/bin/python3" ]; then
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >&2
    rm -rf "$ROOT.tmp"
    debootstrap --variant=minbase --include=python3,git,ca-certificates bookworm "$ROOT.tmp" \
        "$MIRROR" >&2
    rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
fi
# The machine's CA bundle (a corporate proxy's CA lives there) and resolver, each run.
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
echo "$ROOT"
