# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""GPU readings from nvidia-smi or NVML, and node_exporter textfile metrics named like DCGM's.

Plain Python with nothing from Ansible, so that the same file serves the
health check (``health/gpu.py`` imports its parsers) and the GPU metrics
collector that ``roles/gpu_metrics`` installs on GPU hosts and runs from a
systemd timer: ``python3 gpu_metrics.py --output /var/lib/prometheus/node-exporter/gpu.prom``.

Both sources give rows keyed by nvidia-smi's ``--query-gpu`` field names;
a value nvidia-smi prints as ``[N/A]`` or ``[Not Supported]`` (or NVML
refuses) is None.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import tempfile

try:
    import pynvml
except ImportError:
    pynvml = None

# Fields kept as text; every other field must be a number or "not available".
TEXT_FIELDS = frozenset(('name', 'driver_version', 'uuid', 'pci.bus_id', 'persistence_mode'))
NOT_AVAILABLE = frozenset(('[N/A]', 'N/A', '[Not Supported]', '[Unknown Error]'))
COLLECTOR_FIELDS = ('index', 'uuid', 'pci.bus_id', 'name', 'driver_version', 'temperature.gpu',
                    'memory.used', 'memory.free', 'utilization.gpu', 'power.draw',
                    'ecc.errors.uncorrected.volatile.total', 'ecc.errors.corrected.volatile.total')
# Where NVIDIA's container images and some installers put nvidia-smi, off PATH.
SMI_DIRS = ('/usr/local/nvidia/bin', '/usr/bin', '/usr/local/bin')
_MIB = 1024 * 1024
_XID_RE = re.compile(r'NVRM: Xid \(PCI:([0-9a-fA-F:.]+)\): (\d+)')
_MINOR_RE = re.compile(r'^Device Minor:\s*(\d+)', re.MULTILINE)
# Each GPU's /dev/nvidia<minor>, per PCI address, as the loaded driver reports it.
PROC_GPUS = '/proc/driver/nvidia/gpus'

# (name, type, help, nvidia-smi field) as NVIDIA's dcgm-exporter publishes them
# (its default-counters.csv), so that rules and dashboards work with either.
DCGM_METRICS = (
    ('DCGM_FI_DEV_GPU_TEMP', 'gauge', 'GPU temperature (in C).', 'temperature.gpu'),
    ('DCGM_FI_DEV_POWER_USAGE', 'gauge', 'Power draw (in W).', 'power.draw'),
    ('DCGM_FI_DEV_GPU_UTIL', 'gauge', 'GPU utilization (in %).', 'utilization.gpu'),
    ('DCGM_FI_DEV_FB_FREE', 'gauge', 'Frame buffer memory free (in MiB).', 'memory.free'),
    ('DCGM_FI_DEV_FB_USED', 'gauge', 'Frame buffer memory used (in MiB).', 'memory.used'),
    ('DCGM_FI_DEV_ECC_SBE_VOL_TOTAL', 'counter', 'Total number of single-bit volatile ECC errors.',
     'ecc.errors.corrected.volatile.total'),
    ('DCGM_FI_DEV_ECC_DBE_VOL_TOTAL', 'counter', 'Total number of double-bit volatile ECC errors.',
     'ecc.errors.uncorrected.volatile.total'),
    ('DCGM_FI_DEV_XID_ERRORS', 'gauge', 'Value of the last XID error encountered.', 'xid'),
)


class GPUReadError(Exception):
    """nvidia-smi or NVML gave nothing usable."""


def _value(text, field):
    if text in NOT_AVAILABLE:
        return None
    if field in TEXT_FIELDS:
        return text
    try:
        return float(text) if '.' in text else int(text)
    except ValueError:
        raise GPUReadError('nvidia-smi gave %r for %s, not a number' % (text, field))


def parse_smi_csv(text, fields):
    """``nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`` output as one dict per GPU."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(',')]
        if len(cells) != len(fields):
            raise GPUReadError('unexpected nvidia-smi line (%d fields, %d expected): %r'
                               % (len(cells), len(fields), line))
        rows.append(dict((field, _value(cell, field)) for field, cell in zip(fields, cells)))
    if not rows:
        raise GPUReadError('nvidia-smi listed no GPU')
    return rows


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _memory_info(nvml, handle):
    """Frame buffer memory as nvidia-smi reports it.

    NVML's version 2 counts the driver's and firmware's reservation apart
    (480 MiB on the recorded H100); version 1, all that older bindings and
    drivers have, counts it as used.
    """
    version = getattr(nvml, 'nvmlMemory_v2', None)
    if version is not None:
        try:
            return nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
        except nvml.NVMLError:
            pass
    return nvml.nvmlDeviceGetMemoryInfo(handle)


def _nvml_readers(nvml):
    """nvidia-smi field name to a function of (handle, index) through NVML."""
    def ecc(kind):
        return lambda handle, index: nvml.nvmlDeviceGetTotalEccErrors(handle, kind, nvml.NVML_VOLATILE_ECC)

    def memory(part):
        return lambda handle, index: getattr(_memory_info(nvml, handle), part) // _MIB

    return {
        'index': lambda handle, index: index,
        'minor_number': lambda handle, index: nvml.nvmlDeviceGetMinorNumber(handle),
        'uuid': lambda handle, index: _text(nvml.nvmlDeviceGetUUID(handle)),
        'pci.bus_id': lambda handle, index: _text(nvml.nvmlDeviceGetPciInfo(handle).busId),
        'name': lambda handle, index: _text(nvml.nvmlDeviceGetName(handle)),
        'driver_version': lambda handle, index: _text(nvml.nvmlSystemGetDriverVersion()),
        'temperature.gpu': lambda handle, index: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
        'memory.used': memory('used'),
        'memory.free': memory('free'),
        'memory.total': memory('total'),
        'utilization.gpu': lambda handle, index: nvml.nvmlDeviceGetUtilizationRates(handle).gpu,
        'power.draw': lambda handle, index: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
        'ecc.errors.uncorrected.volatile.total': ecc(nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
        'ecc.errors.corrected.volatile.total': ecc(getattr(nvml, 'NVML_MEMORY_ERROR_TYPE_CORRECTED', 0)),
        'persistence_mode': lambda handle, index: (
            'Enabled' if nvml.nvmlDeviceGetPersistenceMode(handle) == nvml.NVML_FEATURE_ENABLED else 'Disabled'),
    }


def read_nvml_fields(nvml, fields):
    """The same rows as ``parse_smi_csv`` through NVML (the ``pynvml`` module of nvidia-ml-py, or a mock).

    A field NVML refuses for a card (say ECC on a card without it) is None,
    as nvidia-smi would print ``[N/A]``; a failing NVML itself raises its error.
    """
    readers = _nvml_readers(nvml)
    nvml.nvmlInit()
    try:
        rows = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            row = {}
            for field in fields:
                try:
                    row[field] = readers[field](handle, index)
                except nvml.NVMLError:
                    row[field] = None
            rows.append(row)
        return rows
    finally:
        nvml.nvmlShutdown()


def parse_xids(text):
    """(pci, xid) pairs from kernel log lines, in the log's order."""
    return [(found.group(1), int(found.group(2))) for found in _XID_RE.finditer(text)]


def pci_key(address):
    """(domain, bus, device) of a PCI address as nvidia-smi (00000000:3B:00.0) or the kernel (0000:3b:00) write it."""
    parts = address.split('.')[0].split(':')
    try:
        return tuple(int(part, 16) for part in parts[-3:])
    except ValueError:
        return None


def last_xids(xids):
    """The last XID of each GPU, by ``pci_key``."""
    return dict((pci_key(pci), xid) for pci, xid in xids)


def _label(value):
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def _number(value):
    return repr(float(value)) if isinstance(value, float) else str(value)


def render_textfile(rows, hostname, xids=None):
    """node_exporter textfile lines for the GPU rows, DCGM's names and labels.

    ``xids`` maps ``pci_key`` to the last XID of each GPU (missing: 0); None
    (the kernel log could not be read) leaves DCGM_FI_DEV_XID_ERRORS out.
    Values a card does not report are left out, as dcgm-exporter does.
    """
    lines = []
    for name, kind, help_text, field in DCGM_METRICS:
        samples = []
        for row in rows:
            if field == 'xid':
                value = None if xids is None else xids.get(pci_key(row['pci.bus_id'] or ''), 0)
            else:
                value = row.get(field)
            if value is None:
                continue
            labels = [('gpu', row['index']), ('UUID', row['uuid']), ('pci_bus_id', row['pci.bus_id'])]
            if row.get('minor_number') is not None:
                labels.append(('device', 'nvidia%s' % row['minor_number']))
            labels += [('modelName', row['name']), ('Hostname', hostname), ('DCGM_FI_DRIVER_VERSION', row['driver_version'])]
            samples.append('%s{%s} %s' % (name, ','.join('%s="%s"' % (key, _label(val)) for key, val in labels),
                                          _number(value)))
        if samples:
            lines.extend(['# HELP %s %s' % (name, help_text), '# TYPE %s %s' % (name, kind)] + samples)
    return '\n'.join(lines) + '\n'


def write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename."""
    directory = os.path.dirname(path) or '.'
    handle, temporary = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, 'w') as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def find_smi(dirs=SMI_DIRS):
    for directory in os.environ.get('PATH', '').split(os.pathsep) + list(dirs):
        candidate = os.path.join(directory, 'nvidia-smi')
        if directory and os.access(candidate, os.X_OK):
            return candidate
    return None


def _run(args):
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out, err = process.communicate()
    return process.returncode, out, err


def collect(run=_run, nvml=pynvml, smi=None, proc_gpus=PROC_GPUS):
    """GPU rows (COLLECTOR_FIELDS and minor_number) from NVML when importable, else from nvidia-smi.

    nvidia-smi has no query field for the minor number: it comes from the driver's /proc files.
    """
    if nvml is not None:
        try:
            return read_nvml_fields(nvml, COLLECTOR_FIELDS + ('minor_number',))
        except nvml.NVMLError as exc:
            raise GPUReadError('NVML fails: %s' % exc)
    if smi is None:
        raise GPUReadError('neither NVML (nvidia-ml-py) nor nvidia-smi is available: is the driver installed?')
    rc, out, err = run([smi, '--query-gpu=' + ','.join(COLLECTOR_FIELDS), '--format=csv,noheader,nounits'])
    if rc != 0:
        raise GPUReadError('nvidia-smi failed (rc %s): %s' % (rc, (err or out).strip()))
    rows = parse_smi_csv(out, COLLECTOR_FIELDS)
    for row in rows:
        row['minor_number'] = read_minor_number(row['pci.bus_id'], proc_gpus)
    return rows


def kernel_log_commands(since=None):
    """Commands that print the kernel log, in the order to try: journald's (from ``since``, else this
    boot), then the kernel's ring buffer, for hosts without systemd."""
    journal = ['journalctl', '-k', '-o', 'cat', '--no-pager'] + (['--since', since] if since else ['-b'])
    return [journal, ['dmesg']]


def read_kernel_xids(run=_run):
    """The last XID per GPU from this boot's kernel log; None when the log cannot be read."""
    for command in kernel_log_commands():
        try:
            rc, out, _err = run(command)
        except OSError:
            continue
        if rc == 0:
            return last_xids(parse_xids(out))
    return None


def parse_minor_number(text):
    """The device minor number in a ``/proc/driver/nvidia/gpus/<address>/information`` file, or None."""
    found = _MINOR_RE.search(text)
    return int(found.group(1)) if found else None


def read_minor_number(bus_id, root=PROC_GPUS):
    """/dev/nvidia<N>'s N for a GPU by nvidia-smi's bus id (00000000:3B:00.0); None when the driver does not say."""
    key = pci_key(bus_id or '')
    for path in glob.glob(os.path.join(root, '*', 'information')):
        if pci_key(os.path.basename(os.path.dirname(path))) == key:
            with open(path) as stream:
                return parse_minor_number(stream.read())
    return None


def main(argv=None, run=_run, nvml=pynvml):
    parser = argparse.ArgumentParser(description='Write GPU metrics named like DCGM\'s for node_exporter.')
    parser.add_argument('--output', default='/var/lib/prometheus/node-exporter/gpu.prom')
    parser.add_argument('--source', choices=('auto', 'nvml', 'nvidia-smi'), default='auto')
    args = parser.parse_args(argv)
    try:
        rows = collect(run=run, nvml=nvml if args.source != 'nvidia-smi' else None,
                       smi=find_smi() if args.source != 'nvml' else None)
    except GPUReadError as exc:
        # No stale readings: node_exporter stops publishing them, and the
        # failed unit is what the monitoring sees.
        if os.path.exists(args.output):
            os.unlink(args.output)
        sys.stderr.write('gpu metrics: %s\n' % exc)
        return 1
    write_atomically(args.output, render_textfile(rows, socket.gethostname(), read_kernel_xids(run)))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
