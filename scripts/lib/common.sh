# Shared helpers for the lab and test scripts. Sourced, never run.
# shellcheck shell=bash

AIP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AIP_STATE="${AIP_STATE:-$AIP_ROOT/.lab}"
AIP_VENV="${AIP_VENV:-$AIP_ROOT/.venv}"
AIP_IMAGE_PREFIX="${AIP_IMAGE_PREFIX:-local/debian-systemd}"
AIP_DEBIAN_MIRROR="${AIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
export AIP_ROOT AIP_STATE AIP_VENV AIP_IMAGE_PREFIX

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
