# Base images of the lab and of the Molecule scenarios: Debian with systemd,
# sshd, sudo and Python, built from Debian's archive because no container
# registry is reachable. Sourced by scripts/setup.
# shellcheck shell=bash

AIP_IMAGE_PACKAGES="systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps,gnupg,curl,openssh-server,iptables,kmod"

# build_image SUITE: docker-import a debootstrapped SUITE unless an image of
# this recipe (this file's hash) is there already.
build_image() {
  local suite=$1 tag="$AIP_IMAGE_PREFIX:$1" rootfs recipe old
  recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
  if docker image inspect -f '{{.Config.Env}}' "$tag" 2>/dev/null | grep -q "AIP_IMAGE_RECIPE=$recipe"; then
    log "image $tag present"
    return 0
  fi
  old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  log "building image $tag from $AIP_DEBIAN_MIRROR (about 90 s)"
  rootfs=$(mktemp -d /var/tmp/aip-rootfs.XXXXXX)
  as_root debootstrap --variant=minbase --include="$AIP_IMAGE_PACKAGES" \
    "$suite" "$rootfs" "$AIP_DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; die "debootstrap $suite failed (log: $rootfs.log)"; }
  # Like a cloud image: no host keys or machine id baked in; each host
  # makes its own at first boot.
  as_root rm -f "$rootfs"/etc/ssh/ssh_host_* "$rootfs"/etc/machine-id
  as_root touch "$rootfs/etc/machine-id"
  as_root tee "$rootfs/etc/systemd/system/ssh-hostkeys.service" >/dev/null <<'UNIT'
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
  as_root ln -sf /etc/systemd/system/ssh-hostkeys.service \
    "$rootfs/etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service"
  # Docker mounts /proc/sys read-only in an unprivileged container; a VM's is
  # writable (sysctl settings, and dockerd 26 configuring container netns).
  as_root tee "$rootfs/etc/systemd/system/proc-sys-rw.service" >/dev/null <<'UNIT'
[Unit]
Description=Make /proc/sys writable, as on a VM
DefaultDependencies=no
Before=sysinit.target systemd-sysctl.service

[Service]
Type=oneshot
ExecStart=/bin/mount -o remount,rw /proc/sys

[Install]
WantedBy=sysinit.target
UNIT
  as_root mkdir -p "$rootfs/etc/systemd/system/sysinit.target.wants"
  as_root ln -sf /etc/systemd/system/proc-sys-rw.service \
    "$rootfs/etc/systemd/system/sysinit.target.wants/proc-sys-rw.service"
  as_root tar -C "$rootfs" -c . \
    | docker import -c 'CMD ["/lib/systemd/systemd"]' \
      -c "ENV AIP_IMAGE_RECIPE=$recipe" - "$tag" >/dev/null \
    || die "docker import of $suite failed"
  as_root rm -rf "$rootfs" "$rootfs.log"
  # The image of an older recipe, unless a container still uses it.
  [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
}
