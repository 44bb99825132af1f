#!/usr/bin/env bash
# Record, read-only, what the NVIDIA role and the GPU parsers read on a GPU
# host, one file per source, into the folder given (default ./gpu-outputs).
# The unit tests' fixtures under tests/unit/plugins/module_utils/fixtures/ were
# recorded with it on a real H100. Nothing here changes a setting of the card.
set -u
out=${1:-gpu-outputs}
mkdir -p "$out"
PATH=$PATH:/usr/local/nvidia/bin

record() {  # record NAME COMMAND...: stdout, then stderr and the exit status
  local name=$1
  shift
  "$@" >"$out/$name" 2>"$out/$name.stderr"
  echo "rc=$?" >>"$out/$name.stderr"
}

record os-release cat /etc/os-release
record uname uname -a
record proc-driver-version cat /proc/driver/nvidia/version
record sys-module-version cat /sys/module/nvidia/version
record lspci lspci -Dnn -d 10de:
record mokutil-sb-state mokutil --sb-state
record nvidia-smi-query nvidia-smi --query-gpu=driver_version,name,pci.bus_id,persistence_mode --format=csv,noheader
record nvidia-smi-health nvidia-smi --query-gpu=index,name,driver_version,temperature.gpu,memory.used,memory.total,ecc.errors.uncorrected.volatile.total,persistence_mode --format=csv,noheader,nounits
record nvidia-smi-collector nvidia-smi --query-gpu="$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import gpu_metrics; print(",".join(gpu_metrics.COLLECTOR_FIELDS))' "$(dirname "$0")/../../plugins/module_utils")" --format=csv,noheader,nounits
record nvidia-smi-q nvidia-smi -q
record pid1 cat /proc/1/comm
record proc-gpu-information sh -c 'cat /proc/driver/nvidia/gpus/*/information'
record dmesg-nvrm sh -c 'dmesg | grep -e NVRM -e nvidia'
record help-query-gpu nvidia-smi --help-query-gpu
record modprobe-d sh -c 'grep -rs . /etc/modprobe.d /lib/modprobe.d /usr/lib/modprobe.d | grep -i -e nouveau -e nvidia'
# shellcheck disable=SC2016 # dpkg-query's own ${Field} syntax
record dpkg-nvidia dpkg-query -W -f '${Package} ${Version} ${Status}\n' '*nvidia*' '*cuda-drivers*'
record efi sh -c 'ls /sys/firmware/efi/efivars 2>&1 | head -3; ls -d /sys/firmware/efi'
for device in /sys/bus/pci/devices/*; do
  [ "$(cat "$device/vendor" 2>/dev/null)" = 0x10de ] || continue
  printf '%s vendor=%s device=%s class=%s\n' "${device##*/}" "$(cat "$device/vendor")" \
    "$(cat "$device/device")" "$(cat "$device/class")"
done >"$out/sysfs-pci-10de"
ls "$out"
