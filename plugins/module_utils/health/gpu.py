# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""NVIDIA GPU check: through NVML (nvidia-ml-py) where the host has it, else nvidia-smi.

Both sources are read by the parsers the GPU metrics collector uses
(``module_utils/gpu_metrics.py``), reduced to the same per-GPU records and
graded by ``gpu_metrics``. XID errors come from the kernel log (journald's, or the
ring buffer on hosts without systemd). A host without an
NVIDIA device on the PCI bus skips the check with that reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

from ansible_collections.aiplatform.infra.plugins.module_utils.gpu_metrics import (
    GPUReadError, kernel_log_commands, parse_smi_csv, parse_xids, read_nvml_fields)
from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import (
    FAIL, OK, SKIP, WARN, CheckError, grade, metric)

try:
    import pynvml
except ImportError:
    pynvml = None

SMI_FIELDS = ('index', 'name', 'driver_version', 'temperature.gpu', 'memory.used', 'memory.total',
              'ecc.errors.uncorrected.volatile.total', 'persistence_mode')
# Where NVIDIA's container images and some installers put nvidia-smi, off PATH.
SMI_EXTRA_DIRS = ['/usr/local/nvidia/bin']
# XIDs that mean the GPU or its memory needs attention (NVIDIA's XID catalogue):
# 48 double-bit ECC, 63/64 row remapping, 74 NVLink, 79 fallen off the bus,
# 92 high single-bit ECC rate, 94/95 contained/uncontained ECC.
CRITICAL_XIDS = frozenset((48, 63, 64, 74, 79, 92, 94, 95))


def count_pci_gpus(root='/sys/bus/pci/devices'):
    """NVIDIA display/3D controllers (vendor 0x10de, class 0x03) on the PCI bus."""
    count = 0
    for device in glob.glob(os.path.join(root, '*')):
        try:
            with open(os.path.join(device, 'vendor')) as vendor, open(os.path.join(device, 'class')) as cls:
                if vendor.read().strip() == '0x10de' and cls.read().strip().startswith('0x03'):
                    count += 1
        except (IOError, OSError):
            continue
    return count


def _record(row):
    return dict(index=row['index'], name=row['name'], driver=row['driver_version'],
                temperature=row['temperature.gpu'], memory_used=row['memory.used'],
                memory_total=row['memory.total'], ecc_uncorrected=row['ecc.errors.uncorrected.volatile.total'],
                persistence=row['persistence_mode'] == 'Enabled')


def parse_smi(text):
    """``nvidia-smi --query-gpu=<SMI_FIELDS> --format=csv,noheader,nounits`` output as GPU records."""
    try:
        return [_record(row) for row in parse_smi_csv(text, SMI_FIELDS)]
    except GPUReadError as exc:
        raise CheckError(str(exc))


def read_nvml(nvml):
    """GPU records from NVML (the ``pynvml`` module of nvidia-ml-py, or a mock of it)."""
    return [_record(row) for row in read_nvml_fields(nvml, SMI_FIELDS)]


def gpu_metrics(gpus, xids, spec):
    metrics = []
    if spec['count'] is not None:
        metrics.append(metric('count', OK if len(gpus) == spec['count'] else FAIL, len(gpus), spec['count'],
                              '%d GPU(s) visible, %d expected' % (len(gpus), spec['count'])))
    drivers = sorted(set(gpu['driver'] for gpu in gpus))
    metrics.append(metric('driver', OK, ', '.join(drivers), None, 'driver %s' % ', '.join(drivers)))
    for gpu in gpus:
        label = 'gpu%s' % gpu['index']
        if gpu['temperature'] is not None:
            metrics.append(grade('%s temperature' % label, gpu['temperature'],
                                 spec['temperature_warn'], spec['temperature_fail'], 'C'))
        if gpu['memory_used'] is not None and gpu['memory_total']:
            metrics.append(grade('%s memory_used_pct' % label,
                                 round(100.0 * gpu['memory_used'] / gpu['memory_total'], 1),
                                 spec['memory_warn_pct'], spec['memory_fail_pct'], '%'))
        if gpu['ecc_uncorrected'] is not None:
            metrics.append(grade('%s ecc_uncorrected' % label, gpu['ecc_uncorrected'], None, 1))
        if spec['persistence'] and not gpu['persistence']:
            metrics.append(metric('%s persistence' % label, WARN, False, True,
                                  '%s persistence mode is off' % label))
    if xids is None:
        metrics.append(metric('xid', WARN, None, 0, 'kernel log not readable: XID errors unknown'))
        return metrics
    critical = sorted(set(xid for _pci, xid in xids if xid in CRITICAL_XIDS))
    if critical:
        metrics.append(metric('xid', FAIL, len(xids), 0, 'critical XID error(s) in the kernel log: %s'
                              % ', '.join(str(x) for x in critical)))
    elif xids:
        metrics.append(metric('xid', WARN, len(xids), 0, 'XID error(s) in the kernel log: %s'
                              % ', '.join(sorted(set(str(x) for _pci, x in xids)))))
    else:
        metrics.append(metric('xid', OK, 0, 0, 'no XID errors in the kernel log'))
    return metrics


def check_gpu(spec, run_command, get_bin_path, nvml=pynvml, pci_count=count_pci_gpus):
    present = pci_count()
    if not present:
        return [metric('gpu', SKIP, 0, spec['count'], 'no NVIDIA GPU on the PCI bus')]
    if nvml is not None:
        try:
            gpus = read_nvml(nvml)
        except nvml.NVMLError as exc:
            raise CheckError('%d NVIDIA GPU(s) on the PCI bus but NVML fails: %s' % (present, exc))
    else:
        smi = get_bin_path('nvidia-smi', opt_dirs=SMI_EXTRA_DIRS)
        if smi is None:
            raise CheckError('%d NVIDIA GPU(s) on the PCI bus but neither NVML (nvidia-ml-py) nor nvidia-smi '
                             'is available: is the driver installed?' % present)
        rc, out, err = run_command([smi, '--query-gpu=' + ','.join(SMI_FIELDS), '--format=csv,noheader,nounits'])
        if rc != 0:
            raise CheckError('nvidia-smi failed (rc %s): %s' % (rc, (err or out).strip()))
        gpus = parse_smi(out)
    return gpu_metrics(gpus, read_xids(spec['xid_since'], run_command, get_bin_path), spec)


def read_xids(since, run_command, get_bin_path):
    """XID errors in the kernel log (journald's since ``since``, else the ring buffer); None when unreadable."""
    for command in kernel_log_commands(since):
        path = get_bin_path(command[0])
        if path is None:
            continue
        rc, out, _err = run_command([path] + command[1:])
        if rc == 0:
            return parse_xids(out)
    return None
