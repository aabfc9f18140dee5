#!/usr/bin/env bash
# Builds the cppforge images (verifier, inference, trainer, redis) with the tags docker-compose.yml uses.
#   scripts/build_images.sh [BASE_IMAGE=cppforge-base:bookworm] [TAG=latest]
# BASE_IMAGE defaults to the public python:3.11-slim-bookworm (redis: debian:bookworm-slim); where no
# registry answers, make a local base first (scripts/make_base_image.sh) and pass it here.
# Builds run with --network host (pip and apt reach their indexes through the host); a local CPU torch
# wheel (pip's find-links, e.g. /opt/wheels) and the host's CA bundle (PIP_CERT) go into the build context
# under docker/ (git-ignored) when present.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_IMAGE=""
TAG="latest"
for arg in "$@"; do
  case "$arg" in
    BASE_IMAGE=*) BASE_IMAGE="${arg#BASE_IMAGE=}" ;;
    TAG=*) TAG="${arg#TAG=}" ;;
    *) echo "unknown argument $arg (BASE_IMAGE=... TAG=...)" >&2; exit 2 ;;
  esac
done

# One build at a time per checkout: docker/wheels and docker/certs are shared, and a finishing run empties them.
exec 9>docker/.build.lock
flock 9

torch_index=()
wheel="$(ls ${PIP_FIND_LINKS:-/opt/wheels}/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)"
rm -f docker/wheels/*.whl docker/certs/*.crt
trap 'rm -f docker/wheels/*.whl docker/certs/*.crt' EXIT
if [ -n "$wheel" ]; then
  cp "$wheel" docker/wheels/
  torch_index=(--build-arg TORCH_INDEX_URL=)  # the local CPU wheel; no torch index needed
fi
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
  cp "$PIP_CERT" docker/certs/ca-certificates.crt
fi

base_args=()
redis_args=()
if [ -n "$BASE_IMAGE" ]; then
  base_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
  redis_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
fi

build() {  # name dockerfile extra-args...
  local name="$1" file="$2"; shift 2
  local t0=$SECONDS
  local log
  log="$(mktemp)"
  if ! docker build --network host -f "$file" -t "cppforge-$name:$TAG" "$@" . >"$log" 2>&1; then
    tail -40 "$log" >&2
    rm -f "$log"
    echo "building cppforge-$name failed" >&2
    return 1
  fi
  rm -f "$log"
  echo "built cppforge-$name:$TAG in $((SECONDS - t0)) s ($(docker image inspect -f '{{.Size}}' "cppforge-$name:$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
}
build redis deploy/redis/Dockerfile "${redis_args[@]}"
build verifier services/verifier/Dockerfile "${base_args[@]}"
build inference services/inference/Dockerfile "${base_args[@]}" "${torch_index[@]}"
build trainer services/trainer/Dockerfile "${base_args[@]}" "${torch_index[@]}"
