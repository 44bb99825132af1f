# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os
import stat

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils import gpu_metrics as gm

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
H100_LABELS = ('gpu="%s",UUID="%s",pci_bus_id="%s",device="nvidia%s",modelName="NVIDIA H100 80GB HBM3",'
               'Hostname="gpu-1",DCGM_FI_DRIVER_VERSION="580.159.04"')
GPU0 = H100_LABELS % (0, 'GPU-6f1c2b7a-3d4e-5f60-8a9b-0c1d2e3f4a5b', '00000000:3B:00.0', 0)
GPU1 = H100_LABELS % (1, 'GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9', '00000000:5E:00.0', 1)


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def h100_rows():
    rows = gm.parse_smi_csv(fixture('nvidia-smi-collector-h100.csv'), gm.COLLECTOR_FIELDS)
    for row in rows:
        row['minor_number'] = row['index']
    return rows


def test_parse_smi_csv_types():
    row = h100_rows()[1]
    assert row['index'] == 1 and row['memory.used'] == 79000 and row['power.draw'] == 689.13
    assert row['uuid'] == 'GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9'
    assert row['pci.bus_id'] == '00000000:5E:00.0'
    assert row['driver_version'] == '580.159.04'   # a text field, though it has a dot


def test_parse_smi_csv_not_available():
    row = gm.parse_smi_csv(fixture('nvidia-smi-collector-na.csv'), gm.COLLECTOR_FIELDS)[0]
    assert row['power.draw'] is None and row['ecc.errors.corrected.volatile.total'] is None
    assert row['temperature.gpu'] == 41


@pytest.mark.parametrize('text, match', [
    ('', 'listed no GPU'),
    ('\n\n', 'listed no GPU'),
    ('No devices were found\n', '1 fields, 12 expected'),
    ('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver. Make sure that the latest '
     'NVIDIA driver is installed and running.\n', '1 fields, 12 expected'),
    ('0, GPU-x, 00000000:3B:00.0, NVIDIA H100 80GB HBM3, 580.159.04, 34, 1, 81079, 0, 71.52, 0\n',
     '11 fields, 12 expected'),
    ('0, GPU-x, 00000000:3B:00.0, NVIDIA H100 80GB HBM3, 580.159.04, 34 C, 1, 81079, 0, 71.52, 0, 0\n',
     "'34 C' for temperature.gpu"),
])
def test_parse_smi_csv_malformed(text, match):
    with pytest.raises(gm.GPUReadError, match=match):
        gm.parse_smi_csv(text, gm.COLLECTOR_FIELDS)


def test_render_textfile_names_and_labels_like_dcgm():
    text = gm.render_textfile(h100_rows(), 'gpu-1', {})
    assert text == '\n'.join([
        '# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).',
        '# TYPE DCGM_FI_DEV_GPU_TEMP gauge',
        'DCGM_FI_DEV_GPU_TEMP{%s} 34' % GPU0,
        'DCGM_FI_DEV_GPU_TEMP{%s} 83' % GPU1,
        '# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).',
        '# TYPE DCGM_FI_DEV_POWER_USAGE gauge',
        'DCGM_FI_DEV_POWER_USAGE{%s} 71.52' % GPU0,
        'DCGM_FI_DEV_POWER_USAGE{%s} 689.13' % GPU1,
        '# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).',
        '# TYPE DCGM_FI_DEV_GPU_UTIL gauge',
        'DCGM_FI_DEV_GPU_UTIL{%s} 0' % GPU0,
        'DCGM_FI_DEV_GPU_UTIL{%s} 97' % GPU1,
        '# HELP DCGM_FI_DEV_FB_FREE Frame buffer memory free (in MiB).',
        '# TYPE DCGM_FI_DEV_FB_FREE gauge',
        'DCGM_FI_DEV_FB_FREE{%s} 81079' % GPU0,
        'DCGM_FI_DEV_FB_FREE{%s} 2080' % GPU1,
        '# HELP DCGM_FI_DEV_FB_USED Frame buffer memory used (in MiB).',
        '# TYPE DCGM_FI_DEV_FB_USED gauge',
        'DCGM_FI_DEV_FB_USED{%s} 1' % GPU0,
        'DCGM_FI_DEV_FB_USED{%s} 79000' % GPU1,
        '# HELP DCGM_FI_DEV_ECC_SBE_VOL_TOTAL Total number of single-bit volatile ECC errors.',
        '# TYPE DCGM_FI_DEV_ECC_SBE_VOL_TOTAL counter',
        'DCGM_FI_DEV_ECC_SBE_VOL_TOTAL{%s} 0' % GPU0,
        'DCGM_FI_DEV_ECC_SBE_VOL_TOTAL{%s} 14' % GPU1,
        '# HELP DCGM_FI_DEV_ECC_DBE_VOL_TOTAL Total number of double-bit volatile ECC errors.',
        '# TYPE DCGM_FI_DEV_ECC_DBE_VOL_TOTAL counter',
        'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{%s} 0' % GPU0,
        'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{%s} 2' % GPU1,
        '# HELP DCGM_FI_DEV_XID_ERRORS Value of the last XID error encountered.',
        '# TYPE DCGM_FI_DEV_XID_ERRORS gauge',
        'DCGM_FI_DEV_XID_ERRORS{%s} 0' % GPU0,
        'DCGM_FI_DEV_XID_ERRORS{%s} 0' % GPU1,
    ]) + '\n'


def test_render_textfile_last_xid_goes_to_its_gpu():
    xids = gm.last_xids(gm.parse_xids(fixture('kernel-xid.log')))
    lines = gm.render_textfile(h100_rows(), 'gpu-1', xids).splitlines()
    assert 'DCGM_FI_DEV_XID_ERRORS{%s} 79' % GPU0 in lines
    assert 'DCGM_FI_DEV_XID_ERRORS{%s} 0' % GPU1 in lines


def test_render_textfile_leaves_out_what_is_unknown():
    rows = gm.parse_smi_csv(fixture('nvidia-smi-collector-na.csv'), gm.COLLECTOR_FIELDS)
    text = gm.render_textfile(rows, 'ws', None)
    for absent in ('DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_ECC_SBE_VOL_TOTAL', 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL',
                   'DCGM_FI_DEV_XID_ERRORS'):
        assert absent not in text
    assert 'DCGM_FI_DEV_GPU_TEMP{' in text and 'modelName="NVIDIA GeForce RTX 4090"' in text
    assert 'device=' not in text   # no minor number: no /dev/nvidia<N> label rather than a guessed one


def test_render_textfile_escapes_label_values():
    row = dict(h100_rows()[0], name='Odd "card"\\x\n')
    assert 'modelName="Odd \\"card\\"\\\\x\\n"' in gm.render_textfile([row], 'h', {})


@pytest.mark.parametrize('address, key', [
    ('00000000:3B:00.0', (0, 0x3b, 0)),
    ('0000:3b:00', (0, 0x3b, 0)),
    ('0001:af:1f.3', (1, 0xaf, 0x1f)),
    ('not:an:address', None),
])
def test_pci_key(address, key):
    assert gm.pci_key(address) == key


def test_write_atomically(tmp_path):
    path = tmp_path / 'gpu.prom'
    path.write_text('old\n')
    gm.write_atomically(str(path), 'new\n')
    assert path.read_text() == 'new\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(str(tmp_path)) == ['gpu.prom']


def test_write_atomically_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / 'gpu.prom'
    path.write_text('old\n')

    def fail(*args):
        raise OSError('disk full')

    monkeypatch.setattr(gm.os, 'rename', fail)
    with pytest.raises(OSError, match='disk full'):
        gm.write_atomically(str(path), 'new\n')
    assert path.read_text() == 'old\n'
    assert os.listdir(str(tmp_path)) == ['gpu.prom']


class FakeNVML:
    """The parts of pynvml the collector uses: two GPUs, the second without ECC or power readings."""

    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
    NVML_MEMORY_ERROR_TYPE_CORRECTED = 0
    NVML_VOLATILE_ECC = 0
    NVML_TEMPERATURE_GPU = 0
    NVML_FEATURE_ENABLED = 1

    class NVMLError(Exception):
        pass

    def __init__(self, init_error=False):
        self.init_error = init_error
        self.shut_down = False

    def nvmlInit(self):
        if self.init_error:
            raise self.NVMLError('Driver Not Loaded')

    def nvmlShutdown(self):
        self.shut_down = True

    def nvmlSystemGetDriverVersion(self):
        return b'580.159.04'

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetMinorNumber(self, handle):
        return handle

    def nvmlDeviceGetUUID(self, handle):
        return 'GPU-%d' % handle

    def nvmlDeviceGetPciInfo(self, handle):
        return collections.namedtuple('Pci', 'busId')(b'00000000:%02X:00.0' % (0x3b + handle))

    def nvmlDeviceGetName(self, handle):
        return b'NVIDIA H100 80GB HBM3'

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 40 + handle

    def nvmlDeviceGetMemoryInfo(self, handle):
        return collections.namedtuple('Memory', 'used total free')(1024 ** 2, 81559 * 1024 ** 2, 81558 * 1024 ** 2)

    def nvmlDeviceGetUtilizationRates(self, handle):
        return collections.namedtuple('Utilization', 'gpu memory')(5, 1)

    def nvmlDeviceGetPowerUsage(self, handle):
        if handle:
            raise self.NVMLError('Not Supported')
        return 71520

    def nvmlDeviceGetTotalEccErrors(self, handle, kind, counter):
        if handle:
            raise self.NVMLError('Not Supported')
        return 3 if kind == self.NVML_MEMORY_ERROR_TYPE_CORRECTED else 0


def test_read_nvml_fields_match_nvidia_smi_rows():
    nvml = FakeNVML()
    rows = gm.read_nvml_fields(nvml, gm.COLLECTOR_FIELDS + ('minor_number',))
    assert rows[0] == {'index': 0, 'minor_number': 0, 'uuid': 'GPU-0', 'pci.bus_id': '00000000:3B:00.0',
                       'name': 'NVIDIA H100 80GB HBM3', 'driver_version': '580.159.04', 'temperature.gpu': 40,
                       'memory.used': 1, 'memory.free': 81558, 'utilization.gpu': 5, 'power.draw': 71.52,
                       'ecc.errors.uncorrected.volatile.total': 0, 'ecc.errors.corrected.volatile.total': 3}
    assert rows[1]['power.draw'] is None and rows[1]['ecc.errors.corrected.volatile.total'] is None
    assert sorted(rows[1]) == sorted(gm.COLLECTOR_FIELDS + ('minor_number',))
    assert nvml.shut_down


class FakeNVMLv2(FakeNVML):
    """A binding and driver with NVML's version 2 memory info, as on the recorded H100 (480 MiB reserved)."""

    nvmlMemory_v2 = 0x2000028

    def __init__(self, v2_error=False):
        FakeNVML.__init__(self)
        self.v2_error = v2_error

    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        if version is None:
            return collections.namedtuple('Memory', 'used total free')(480 * 1024 ** 2, 81559 * 1024 ** 2,
                                                                       81079 * 1024 ** 2)
        if self.v2_error:
            raise self.NVMLError('Argument version mismatch')
        assert version == self.nvmlMemory_v2
        return collections.namedtuple('Memory', 'version used reserved total free')(
            version, 0, 480 * 1024 ** 2, 81559 * 1024 ** 2, 81079 * 1024 ** 2)


@pytest.mark.parametrize('v2_error, used', [(False, 0), (True, 480)])
def test_read_nvml_memory_like_nvidia_smi(v2_error, used):
    # On the H100 nvidia-smi said used 0 MiB, reserved 480 MiB; NVML's v1 says 480 used.
    rows = gm.read_nvml_fields(FakeNVMLv2(v2_error), ('memory.used', 'memory.free', 'memory.total'))
    assert rows[0] == {'memory.used': used, 'memory.free': 81079, 'memory.total': 81559}


def _no_command(args):
    raise AssertionError('no command expected, got %r' % (args,))


def test_collect_prefers_nvml():
    assert gm.collect(run=_no_command, nvml=FakeNVML(), smi='/usr/bin/nvidia-smi')[0]['uuid'] == 'GPU-0'


def test_collect_nvml_broken():
    with pytest.raises(gm.GPUReadError, match='NVML fails: Driver Not Loaded'):
        gm.collect(run=_no_command, nvml=FakeNVML(init_error=True))


def test_collect_falls_back_to_nvidia_smi(tmp_path):
    def run(args):
        assert args == ['/usr/bin/nvidia-smi', '--query-gpu=' + ','.join(gm.COLLECTOR_FIELDS),
                        '--format=csv,noheader,nounits']
        return 0, fixture('nvidia-smi-collector-h100.csv'), ''

    information = tmp_path / '0000:5e:00.0' / 'information'
    information.parent.mkdir()
    information.write_text(fixture('proc-gpu-information-h100.txt').replace('0000:00:06.0', '0000:5e:00.0')
                           .replace('Device Minor: \t 0', 'Device Minor: \t 3'))
    rows = gm.collect(run=run, nvml=None, smi='/usr/bin/nvidia-smi', proc_gpus=str(tmp_path))
    assert [(row['temperature.gpu'], row['minor_number']) for row in rows] == [(34, None), (83, 3)]


def test_parse_minor_number_recorded():
    assert gm.parse_minor_number(fixture('proc-gpu-information-h100.txt')) == 0
    assert gm.parse_minor_number('Model: NVIDIA H100\n') is None


def test_recorded_h100_row():
    row, = gm.parse_smi_csv(fixture('nvidia-smi-collector-h100-recorded.csv'), gm.COLLECTOR_FIELDS)
    assert (row['name'], row['driver_version'], row['pci.bus_id']) == (
        'NVIDIA H100 80GB HBM3', '580.159.04', '00000000:00:06.0')
    assert isinstance(row['temperature.gpu'], int) and isinstance(row['power.draw'], float)


@pytest.mark.parametrize('smi, result, match', [
    (None, None, 'neither NVML .nvidia-ml-py. nor nvidia-smi'),
    ('/usr/bin/nvidia-smi', (6, 'No devices were found\n', ''), 'nvidia-smi failed .rc 6.: No devices were found'),
])
def test_collect_fails(smi, result, match):
    with pytest.raises(gm.GPUReadError, match=match):
        gm.collect(run=lambda args: result, nvml=None, smi=smi)


@pytest.mark.parametrize('result, expected', [
    ((0, fixture('kernel-xid.log'), ''), {(0, 0x3b, 0): 79}),
    ((0, '', ''), {}),
    ((1, '', 'No journal files were found.'), None),
])
def test_read_kernel_xids(result, expected):
    assert gm.read_kernel_xids(run=lambda args: result) == expected


def test_read_kernel_xids_without_any_log():
    def run(args):
        raise OSError('No such file or directory')

    assert gm.read_kernel_xids(run=run) is None


def test_read_kernel_xids_from_dmesg_without_systemd():
    def run(args):
        if args[0] == 'journalctl':
            raise OSError('No such file or directory')
        assert args == ['dmesg']
        return 0, fixture('kernel-xid.log'), ''

    assert gm.read_kernel_xids(run=run) == {(0, 0x3b, 0): 79}


def _fake_smi(tmp_path, monkeypatch):
    (tmp_path / 'bin').mkdir()
    smi = tmp_path / 'bin' / 'nvidia-smi'
    smi.write_text('#!/bin/sh\n')
    smi.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path / 'bin'))
    return str(smi)


def test_main_writes_the_textfile(tmp_path, monkeypatch):
    smi = _fake_smi(tmp_path, monkeypatch)
    output = tmp_path / 'gpu.prom'

    def run(args):
        if args[0] == smi:
            return 0, fixture('nvidia-smi-collector-h100.csv'), ''
        return 0, fixture('kernel-xid.log'), ''

    assert gm.main(['--output', str(output), '--source', 'nvidia-smi'], run=run, nvml=FakeNVML()) == 0
    text = output.read_text()
    assert 'DCGM_FI_DEV_XID_ERRORS{gpu="0",' in text and text.count('DCGM_FI_DEV_GPU_TEMP{') == 2


def test_main_removes_stale_readings_on_failure(tmp_path, monkeypatch, capsys):
    _fake_smi(tmp_path, monkeypatch)
    output = tmp_path / 'gpu.prom'
    output.write_text('DCGM_FI_DEV_GPU_TEMP{gpu="0"} 34\n')
    assert gm.main(['--output', str(output)], run=lambda args: (9, '', 'GPU is lost'), nvml=None) == 1
    assert not output.exists()
    assert 'nvidia-smi failed (rc 9): GPU is lost' in capsys.readouterr().err
