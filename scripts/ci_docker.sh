#!/usr/bin/env bash
# CI's docker step (.ci/run, after make test): docker.io, docker-compose and debootstrap when missing, a
# daemon when none answers (vfs storage and no iptables: what works inside a CI container), the base image
# made without a registry, the images, then the compose tests with CPPFORGE_REQUIRE_DOCKER=1 (a missing
# daemon fails them instead of skipping). Run as root (apt, dockerd, debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS

need=()
# dockerd, not docker: a machine may carry the docker client alone (seen: /usr/local/bin/docker, no daemon).
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# --packages-only: .ci/run calls it so before make test, whose compose-file check needs docker-compose.
[ "${1:-}" = "--packages-only" ] && exit 0

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /tmp/cppforge-dockerd.log)"
  nohup dockerd --storage-driver "${CPPFORGE_DOCKER_STORAGE_DRIVER:-vfs}" --iptables=false \
    >/tmp/cppforge-dockerd.log 2>&1 &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/cppforge-dockerd.log >&2; echo "dockerd did not answer" >&2; exit 1; }
fi

base="${CPPFORGE_BASE_IMAGE:-cppforge-base:bookworm}"
./scripts/make_base_image.sh "$base"
echo "base ready after $((SECONDS - t0)) s"
./scripts/build_images.sh "BASE_IMAGE=$base"
echo "images ready after $((SECONDS - t0)) s"
CPPFORGE_REQUIRE_DOCKER=1 CPPFORGE_BASE_IMAGE="$base" make test-docker
echo "docker step done in $((SECONDS - t0)) s"
