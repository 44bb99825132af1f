# Build the collection tarball and install it, as users get it. Sourced by
# scripts/lab and scripts/test.
# shellcheck shell=bash

# install_collection: build into $AIP_STATE/dist, install into
# $AIP_STATE/installed, and put that first on ANSIBLE_COLLECTIONS_PATH.
install_collection() {
  local dist="$AIP_STATE/dist" tarball
  rm -rf "$dist" "$AIP_STATE/installed"
  ansible-galaxy collection build --force --output-path "$dist" "$AIP_ROOT" >/dev/null
  tarball=$(ls "$dist"/aiplatform-infra-*.tar.gz)
  export ANSIBLE_COLLECTIONS_PATH="$AIP_STATE/installed"
  # Dependencies come from the pinned `ansible` package: Galaxy is not reached.
  ansible-galaxy collection install --no-deps --force -p "$AIP_STATE/installed" "$tarball" >/dev/null
  log "installed $(basename "$tarball") into $AIP_STATE/installed"
}
