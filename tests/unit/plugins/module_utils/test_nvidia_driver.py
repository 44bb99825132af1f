# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils import nvidia_driver as nd
from ansible_collections.aiplatform.infra.plugins.module_utils.gpu_metrics import parse_smi_csv

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as stream:
        return stream.read()


def test_proc_version_recorded_on_the_h100():
    assert nd.parse_proc_version(fixture('proc-driver-version-h100-open.txt')) == dict(
        version='580.159.04', branch='580', kernel_modules='open')


def test_proc_version_proprietary():
    assert nd.parse_proc_version(fixture('proc-driver-version-535-proprietary.txt')) == dict(
        version='535.183.01', branch='535', kernel_modules='proprietary')


def test_proc_version_arm64_open():
    text = 'NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  550.54.15  Release Build  (dvs-builder@U16-I3-B03-4-3)\n'
    assert nd.parse_proc_version(text)['kernel_modules'] == 'open'


@pytest.mark.parametrize('text', ['', 'NVRM version: something else\n', 'GCC version:  gcc version 12.2.0\n',
                                  'NVRM version: NVIDIA UNIX x86_64 Kernel Module  five.oh  Sun\n', None])
def test_proc_version_malformed(text):
    with pytest.raises(nd.NvidiaReadError, match='unexpected /proc/driver/nvidia/version'):
        nd.parse_proc_version(text)


def _sysfs(tmp_path, devices):
    for address, vendor, device, cls in devices:
        (tmp_path / address).mkdir()
        for name, value in (('vendor', vendor), ('device', device), ('class', cls)):
            (tmp_path / address / name).write_text(value + '\n')
    return str(tmp_path)


def test_read_pci_devices_as_recorded_on_the_h100(tmp_path):
    # The recording lists NVIDIA's devices as "<address> vendor=.. device=.. class=..".
    recorded = [line.split() for line in fixture('sysfs-pci-h100.txt').splitlines()]
    devices = [(cells[0],) + tuple(cell.split('=')[1] for cell in cells[1:]) for cells in recorded]
    root = _sysfs(tmp_path, devices + [('0000:00:01.0', '0x8086', '0x7000', '0x060100')])
    gpus, switches = nd.split_pci_devices(nd.read_pci_devices(root))
    assert gpus == [dict(address='0000:00:06.0', device='0x2330', pci_class='0x030200')]
    assert switches == []


def test_read_pci_devices_hgx(tmp_path):
    root = _sysfs(tmp_path, [('0000:18:00.0', '0x10de', '0x2330', '0x030200'),
                             ('0000:18:00.1', '0x10de', '0x22a3', '0x040300'),   # HDMI audio: neither
                             ('0000:05:00.0', '0x10de', '0x22a3', '0x068000')])  # NVSwitch
    (tmp_path / 'broken').mkdir()
    gpus, switches = nd.split_pci_devices(nd.read_pci_devices(root))
    assert [g['address'] for g in gpus] == ['0000:18:00.0']
    assert [s['address'] for s in switches] == ['0000:05:00.0']


@pytest.mark.parametrize('rc, out, err, state', [
    (0, 'SecureBoot enabled\n', '', 'enabled'),
    (0, 'SecureBoot disabled\nPlatform is in Setup Mode\n', '', 'disabled'),
    (0, "This system doesn't support Secure Boot\n", '', 'unsupported'),
    (255, '', 'EFI variables are not supported on this system\n', 'unsupported'),
    (1, '', 'Failed to read SecureBoot\n', 'unknown'),
])
def test_parse_mokutil(rc, out, err, state):
    assert nd.parse_mokutil(rc, out, err) == state


@pytest.mark.parametrize('data, state', [(b'\x06\x00\x00\x00\x01', 'enabled'), (b'\x06\x00\x00\x00\x00', 'disabled'),
                                         (b'\x06', 'unknown'), (None, 'unknown')])
def test_read_secure_boot_variable(tmp_path, data, state):
    (tmp_path / 'efivars').mkdir()
    if data is not None:
        (tmp_path / 'efivars' / nd.SECURE_BOOT_VAR).write_bytes(data)
    assert nd.read_secure_boot(str(tmp_path)) == state


def test_read_secure_boot_without_efi(tmp_path):
    # The recorded H100 host boots without EFI (no /sys/firmware/efi).
    assert nd.read_secure_boot(str(tmp_path / 'efi')) == 'unsupported'


H100 = dict(address='0000:00:06.0', device='0x2330', pci_class='0x030200')
LOADED = nd.parse_proc_version(fixture('proc-driver-version-h100-open.txt'))


def _info(gpus=(H100,), switches=(), driver='loaded', secure_boot='unsupported'):
    driver = dict(LOADED) if driver == 'loaded' else driver
    return dict(gpus=list(gpus), nvswitches=list(switches), driver=driver, secure_boot=secure_boot,
                kernel='6.8.0-49-generic')


def _request(**overrides):
    request = dict(branch='580', kernel_modules='open', source='distribution', ubuntu_prebuilt_modules=True,
                   mok_signing=False, packages=None)
    request.update(overrides)
    return request


def test_plan_keeps_the_loaded_driver_on_the_h100():
    plan = nd.driver_plan(_info(), _request(), 'Ubuntu', '24')
    assert plan['action'] == 'keep' and plan['packages'] == [] and plan['problems'] == []
    assert plan['reason'] == ('driver 580.159.04 (open kernel modules) is loaded and satisfies branch 580 '
                              '(open kernel modules): nothing to install')


def test_plan_without_a_gpu_does_nothing():
    plan = nd.driver_plan(_info(gpus=(), driver=None), _request(), 'Debian', '12')
    assert (plan['action'], plan['reason']) == ('none', 'no NVIDIA GPU on the PCI bus: nothing to do')


@pytest.mark.parametrize('request_overrides, reason', [
    (dict(branch='570'), 'branch 570 (open kernel modules) requested; driver 580.159.04 (open) is loaded'),
    (dict(kernel_modules='proprietary'),
     'branch 580 (proprietary kernel modules) requested; driver 580.159.04 (open) is loaded'),
])
def test_plan_replaces_another_branch_or_flavour(request_overrides, reason):
    plan = nd.driver_plan(_info(), _request(**request_overrides), 'Ubuntu', '24')
    assert (plan['action'], plan['reason']) == ('install', reason)


@pytest.mark.parametrize('distribution, version, request_overrides, packages', [
    ('Ubuntu', '24', {}, ['linux-modules-nvidia-580-server-open-6.8.0-49-generic',
                          'nvidia-headless-no-dkms-580-server-open', 'nvidia-utils-580-server']),
    ('Ubuntu', '22', dict(kernel_modules='proprietary', ubuntu_prebuilt_modules=False),
     ['nvidia-headless-580-server', 'nvidia-utils-580-server', 'linux-headers-6.8.0-49-generic']),
    ('Debian', '12', dict(branch='535'), ['nvidia-open-kernel-dkms', 'firmware-nvidia-gsp', 'nvidia-smi',
                                          'nvidia-persistenced', 'libcuda1', 'libnvidia-ml1',
                                          'linux-headers-6.8.0-49-generic']),
    ('Debian', '13', dict(branch='550', kernel_modules='proprietary'),
     ['nvidia-kernel-dkms', 'firmware-nvidia-gsp', 'nvidia-smi', 'nvidia-persistenced', 'libcuda1', 'libnvidia-ml1',
      'linux-headers-6.8.0-49-generic']),
    ('Debian', '12', dict(source='nvidia'), ['nvidia-driver-pinning-580', 'nvidia-driver-cuda',
                                             'nvidia-kernel-open-dkms', 'linux-headers-6.8.0-49-generic']),
    ('Ubuntu', '24', dict(source='nvidia', kernel_modules='proprietary'),
     ['nvidia-driver-pinning-580', 'nvidia-driver-cuda', 'nvidia-kernel-dkms', 'linux-headers-6.8.0-49-generic']),
    ('Debian', '12', dict(packages=['nvidia-driver-mirror']), ['nvidia-driver-mirror']),
])
def test_plan_packages_per_distribution_and_source(distribution, version, request_overrides, packages):
    plan = nd.driver_plan(_info(driver=None), _request(**request_overrides), distribution, version)
    assert (plan['action'], plan['packages'], plan['problems']) == ('install', packages, [])


@pytest.mark.parametrize('distribution, version, request_overrides, problem', [
    ('Debian', '12', {}, 'Debian 12 ships driver branch 535 in non-free, not 580'),
    ('Debian', '11', dict(branch='470'), 'Debian 11 ships driver branch none in non-free, not 470'),
    ('Ubuntu', '24', dict(source='nvidia', branch='570'), "NVIDIA's repository pins a branch from 580 on"),
    ('Rocky', '9', {}, 'no NVIDIA driver packages known for Rocky 9'),
])
def test_plan_problems_for_unavailable_packages(distribution, version, request_overrides, problem):
    plan = nd.driver_plan(_info(driver=None), _request(**request_overrides), distribution, version)
    assert plan['packages'] == [] and plan['problems'][0].startswith(problem)


@pytest.mark.parametrize('distribution, request_overrides, refused', [
    ('Debian', dict(branch='535'), True),
    ('Ubuntu', dict(ubuntu_prebuilt_modules=False), True),
    ('Ubuntu', dict(source='nvidia'), True),
    ('Ubuntu', {}, False),                                  # Canonical's signed prebuilt modules
    ('Debian', dict(branch='535', mok_signing=True), False),
])
def test_plan_secure_boot(distribution, request_overrides, refused):
    plan = nd.driver_plan(_info(driver=None, secure_boot='enabled'), _request(**request_overrides), distribution, '12')
    assert any('Secure Boot is enabled' in problem for problem in plan['problems']) is refused


def test_plan_secure_boot_ignored_when_the_driver_is_kept():
    plan = nd.driver_plan(_info(secure_boot='enabled'), _request(source='nvidia'), 'Ubuntu', '24')
    assert (plan['action'], plan['problems']) == ('keep', [])


@pytest.mark.parametrize('distribution, source, packages, problems', [
    ('Ubuntu', 'distribution', ['nvidia-fabricmanager-580'], 0),
    ('Debian', 'nvidia', ['nvidia-fabricmanager'], 0),
    ('Debian', 'distribution', [], 1),
])
def test_plan_fabricmanager_with_nvswitches(distribution, source, packages, problems):
    switch = dict(address='0000:05:00.0', device='0x22a3', pci_class='0x068000')
    plan = nd.driver_plan(_info(switches=[switch]), _request(source=source), distribution, '12')
    assert plan['fabricmanager_packages'] == packages and len(plan['problems']) == problems


def test_plan_rejects_an_unknown_flavour():
    with pytest.raises(nd.NvidiaReadError, match='kernel_modules must be one of open, proprietary'):
        nd.driver_plan(_info(), _request(kernel_modules='closed'), 'Ubuntu', '24')


def test_smi_info_recorded_on_the_h100():
    assert parse_smi_csv(fixture('nvidia-smi-info-h100-recorded.csv'), nd.SMI_INFO_FIELDS) == [dict(
        driver_version='580.159.04', name='NVIDIA H100 80GB HBM3', persistence_mode='Enabled',
        **{'pci.bus_id': '00000000:00:06.0'})]
