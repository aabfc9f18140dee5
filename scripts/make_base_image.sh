#!/usr/bin/env bash
# Makes a Debian bookworm base image without any image registry: debootstrap a minimal root file system
# (python3.11, venv, g++, bubblewrap, CA certificates) and `docker import` it. Idempotent: does nothing
# when the image exists. Needs root and debootstrap (apt-get install debootstrap); ~1 min, ~590 MB.
#   scripts/make_base_image.sh [IMAGE]      (default cppforge-base:bookworm)
set -euo pipefail
image="${1:-${BASE_IMAGE:-cppforge-base:bookworm}}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image exists"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
root="$(mktemp -d /var/tmp/cppforge-base.XXXXXX)"
chmod 0755 "$root"  # it becomes the image's /: mktemp's 0700 would lock every non-root user out of it
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm into $root"
debootstrap --variant=minbase --include=python3,python3-venv,g++,bubblewrap,ca-certificates \
  bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# apt's lists and the .debs debootstrap left are dead weight in every layer above.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$image" >/dev/null
echo "made $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
