# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.health import gpu
from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import CheckError

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'fixtures')
SPEC = dict(count=None, temperature_warn=80, temperature_fail=90, memory_warn_pct=None, memory_fail_pct=None,
            persistence=True, xid_since='-1h')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_parse_smi_two_gpus():
    gpus = gpu.parse_smi(fixture('nvidia-smi-2gpu.csv'))
    assert gpus[1] == dict(index=1, name='NVIDIA H100 80GB HBM3', driver='550.54.15', temperature=83,
                           memory_used=80000, memory_total=81559, ecc_uncorrected=2, persistence=False)


def test_parse_smi_not_available_fields():
    assert gpu.parse_smi(fixture('nvidia-smi-na.csv'))[0]['ecc_uncorrected'] is None


@pytest.mark.parametrize('text, match', [
    ('', 'listed no GPU'),
    ('0, H100, 550.54.15, 34\n', '4 fields, 8 expected'),
    ('0, H100, 550.54.15, hot, 1, 2, 0, Enabled\n', "'hot' for temperature.gpu"),
    ('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n', '1 fields'),
])
def test_parse_smi_malformed(text, match):
    with pytest.raises(CheckError, match=match):
        gpu.parse_smi(text)


def test_parse_xids():
    assert gpu.parse_xids(fixture('kernel-xid.log')) == [('0000:3b:00', 13), ('0000:3b:00', 79)]
    assert gpu.parse_xids('nothing here\n') == []


def _by_metric(metrics):
    return dict((m['metric'], (m['status'], m['reason'])) for m in metrics)


def test_gpu_metrics_grades_every_gpu():
    metrics = _by_metric(gpu.gpu_metrics(gpu.parse_smi(fixture('nvidia-smi-2gpu.csv')), [],
                                         dict(SPEC, count=2, memory_warn_pct=90)))
    assert metrics['count'] == ('ok', '2 GPU(s) visible, 2 expected')
    assert metrics['driver'] == ('ok', 'driver 550.54.15')
    assert metrics['gpu0 temperature'][0] == 'ok'
    assert metrics['gpu1 temperature'] == ('warn', 'gpu1 temperature 83C >= 80C')
    assert metrics['gpu1 memory_used_pct'][0] == 'warn'
    assert metrics['gpu0 ecc_uncorrected'][0] == 'ok'
    assert metrics['gpu1 ecc_uncorrected'] == ('fail', 'gpu1 ecc_uncorrected 2 >= 1')
    assert metrics['gpu1 persistence'] == ('warn', 'gpu1 persistence mode is off')
    assert 'gpu0 persistence' not in metrics
    assert metrics['xid'] == ('ok', 'no XID errors in the kernel log')


@pytest.mark.parametrize('xids, status, reason', [
    ([('0000:3b:00', 13)], 'warn', 'XID error(s) in the kernel log: 13'),
    ([('0000:3b:00', 13), ('0000:3b:00', 79)], 'fail', 'critical XID error(s) in the kernel log: 79'),
    (None, 'warn', 'kernel log not readable: XID errors unknown'),
])
def test_gpu_metrics_xids(xids, status, reason):
    gpus = gpu.parse_smi(fixture('nvidia-smi-na.csv'))
    assert _by_metric(gpu.gpu_metrics(gpus, xids, SPEC))['xid'] == (status, reason)


def test_gpu_count_mismatch_fails():
    gpus = gpu.parse_smi(fixture('nvidia-smi-na.csv'))
    assert _by_metric(gpu.gpu_metrics(gpus, [], dict(SPEC, count=2)))['count'][0] == 'fail'


class FakeNVML:
    """The parts of pynvml the check uses, for one GPU."""

    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
    NVML_VOLATILE_ECC = 0
    NVML_TEMPERATURE_GPU = 0
    NVML_FEATURE_ENABLED = 1

    class NVMLError(Exception):
        pass

    def __init__(self, ecc_supported=True, init_error=False):
        self.ecc_supported = ecc_supported
        self.init_error = init_error
        self.shut_down = False

    def nvmlInit(self):
        if self.init_error:
            raise self.NVMLError('Driver Not Loaded')

    def nvmlShutdown(self):
        self.shut_down = True

    def nvmlSystemGetDriverVersion(self):
        return b'550.54.15'

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return 'handle%d' % index

    def nvmlDeviceGetName(self, handle):
        return 'NVIDIA L4'

    def nvmlDeviceGetMemoryInfo(self, handle):
        return collections.namedtuple('Memory', 'used total free')(2 * 1024 ** 3, 24 * 1024 ** 3, 22 * 1024 ** 3)

    def nvmlDeviceGetTotalEccErrors(self, handle, kind, counter):
        if not self.ecc_supported:
            raise self.NVMLError('Not Supported')
        return 0

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 92

    def nvmlDeviceGetPersistenceMode(self, handle):
        return 1


def _no_command(args):
    raise AssertionError('no command expected, got %r' % (args,))


@pytest.mark.parametrize('ecc_supported, ecc', [(True, 0), (False, None)])
def test_read_nvml(ecc_supported, ecc):
    nvml = FakeNVML(ecc_supported=ecc_supported)
    assert gpu.read_nvml(nvml) == [dict(index=0, name='NVIDIA L4', driver='550.54.15', temperature=92,
                                        memory_used=2048, memory_total=24576, ecc_uncorrected=ecc, persistence=True)]
    assert nvml.shut_down


def _bin(*present):
    return lambda name, opt_dirs=None: '/usr/bin/' + name if name in present else None


def test_check_gpu_prefers_nvml():
    commands = []

    def run_command(args):
        commands.append(args[0])
        return 0, '', ''

    metrics = _by_metric(gpu.check_gpu(SPEC, run_command, _bin('journalctl', 'nvidia-smi'), nvml=FakeNVML(),
                                       pci_count=lambda: 1))
    assert metrics['gpu0 temperature'] == ('fail', 'gpu0 temperature 92C >= 90C')
    assert commands == ['/usr/bin/journalctl']


@pytest.mark.parametrize('present, results, expected', [
    # A host without systemd (the GPU host where this was found): the ring buffer.
    (('dmesg',), {'/usr/bin/dmesg': (0, 'NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.\n', '')},
     ('fail', 'critical XID error(s) in the kernel log: 79')),
    (('journalctl', 'dmesg'), {'/usr/bin/journalctl': (1, '', 'No journal files'), '/usr/bin/dmesg': (0, '', '')},
     ('ok', 'no XID errors in the kernel log')),
    ((), {}, ('warn', 'kernel log not readable: XID errors unknown')),
    (('dmesg',), {'/usr/bin/dmesg': (1, '', 'dmesg: read kernel buffer failed: Operation not permitted')},
     ('warn', 'kernel log not readable: XID errors unknown')),
])
def test_check_gpu_kernel_log_sources(present, results, expected):
    metrics = _by_metric(gpu.check_gpu(SPEC, lambda args: results[args[0]], _bin(*present), nvml=FakeNVML(),
                                       pci_count=lambda: 1))
    assert metrics['xid'] == expected


def test_check_gpu_nvml_broken():
    with pytest.raises(CheckError, match='1 NVIDIA GPU.* but NVML fails: Driver Not Loaded'):
        gpu.check_gpu(SPEC, _no_command, lambda name, opt_dirs=None: None, nvml=FakeNVML(init_error=True), pci_count=lambda: 1)


def test_check_gpu_falls_back_to_nvidia_smi():
    def run_command(args):
        if args[0] == '/usr/bin/nvidia-smi':
            assert args[1] == '--query-gpu=' + ','.join(gpu.SMI_FIELDS)
            return 0, fixture('nvidia-smi-2gpu.csv'), ''
        return 0, fixture('kernel-xid.log'), ''

    metrics = _by_metric(gpu.check_gpu(SPEC, run_command, _bin('nvidia-smi', 'journalctl'), nvml=None,
                                       pci_count=lambda: 2))
    assert metrics['driver'] == ('ok', 'driver 550.54.15')
    assert metrics['xid'][0] == 'fail'


def test_check_gpu_nvidia_smi_fails():
    with pytest.raises(CheckError, match='nvidia-smi failed .rc 9.: no devices'):
        gpu.check_gpu(SPEC, lambda args: (9, '', 'no devices'), _bin('nvidia-smi'), nvml=None,
                      pci_count=lambda: 1)


def test_check_gpu_without_driver_fails():
    with pytest.raises(CheckError, match='neither NVML .nvidia-ml-py. nor nvidia-smi'):
        gpu.check_gpu(SPEC, _no_command, lambda name, opt_dirs=None: None, nvml=None, pci_count=lambda: 1)


def test_check_gpu_skips_without_a_card():
    metrics = gpu.check_gpu(SPEC, _no_command, lambda name, opt_dirs=None: None, nvml=FakeNVML(), pci_count=lambda: 0)
    assert [(m['status'], m['reason']) for m in metrics] == [('skip', 'no NVIDIA GPU on the PCI bus')]


def test_count_pci_gpus(tmp_path):
    for name, vendor, cls in (('0000:3b:00.0', '0x10de', '0x030200'), ('0000:3b:00.1', '0x10de', '0x040300'),
                              ('0000:00:02.0', '0x8086', '0x030000'), ('0000:5e:00.0', '0x10de', '0x030000')):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'vendor').write_text(vendor + '\n')
        (tmp_path / name / 'class').write_text(cls + '\n')
    (tmp_path / 'broken').mkdir()
    assert gpu.count_pci_gpus(str(tmp_path)) == 2


def test_recorded_h100_is_all_ok():
    gpus = gpu.parse_smi(fixture('nvidia-smi-health-h100-recorded.csv'))
    assert gpus == [dict(index=0, name='NVIDIA H100 80GB HBM3', driver='580.159.04', temperature=gpus[0]['temperature'],
                         memory_used=0, memory_total=81559, ecc_uncorrected=0, persistence=True)]
    statuses = set(m['status'] for m in gpu.gpu_metrics(gpus, [], SPEC))
    assert statuses == {'ok'}
