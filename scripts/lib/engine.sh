# The host side: system packages and a running Docker engine. Sourced by
# scripts/setup.
# shellcheck shell=bash

AIP_HOST_PACKAGES="docker.io debootstrap openssh-client rsync git shellcheck"

install_host_packages() {
  local missing=() pkg
  for pkg in $AIP_HOST_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} from Debian's archive"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# start_engine: a Docker engine must answer; start dockerd when none does.
start_engine() {
  docker info >/dev/null 2>&1 && return 0
  mkdir -p "$AIP_STATE"
  log "starting dockerd (log: $AIP_STATE/dockerd.log)"
  if [ -d /run/systemd/system ]; then
    as_root systemctl start docker
  else
    as_root setsid dockerd >"$AIP_STATE/dockerd.log" 2>&1 </dev/null &
  fi
  local tries=60
  until docker info >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || die "dockerd did not answer in 60 s; see $AIP_STATE/dockerd.log"
    sleep 1
  done
}
