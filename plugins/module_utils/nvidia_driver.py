# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What an NVIDIA host has (PCI devices, loaded driver, Secure Boot) and what the driver role should do about it.

The readers parse what the kernel and the tools print:
``/proc/driver/nvidia/version``, ``/sys/bus/pci/devices``, ``mokutil --sb-state``
and the SecureBoot EFI variable. ``driver_plan`` turns those readings and the
operator's request into the packages to install, or the reason to install
nothing, or the problems that stop the role before it changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

NVIDIA_VENDOR = '0x10de'
# PCI classes: display controllers (VGA 0x0300, 3D 0x0302) are GPUs; "other
# bridge" (0x0680) is how NVSwitches show up.
GPU_CLASS_PREFIX = '0x03'
NVSWITCH_CLASS_PREFIX = '0x0680'
SECURE_BOOT_VAR = 'SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c'
KERNEL_MODULES = ('open', 'proprietary')
SOURCES = ('distribution', 'nvidia')
# The one branch each Debian release ships in non-free.
DEBIAN_BRANCHES = {'12': '535', '13': '550'}
# What nvidia_gpu_info asks nvidia-smi for (--query-gpu, --format=csv,noheader).
SMI_INFO_FIELDS = ('driver_version', 'name', 'pci.bus_id', 'persistence_mode')
# From this branch on NVIDIA's CUDA repository pins a branch with nvidia-driver-pinning-<branch>.
NVIDIA_REPO_FIRST_PINNED_BRANCH = 580

_PROC_VERSION_RE = re.compile(
    r'^NVRM version: NVIDIA UNIX (?P<open>Open Kernel Module for \S+|\S+ Kernel Module)\s+'
    r'(?P<version>(?P<branch>\d+)\.\d+(?:\.\d+)?)\s', re.MULTILINE)


class NvidiaReadError(Exception):
    """A tool or kernel file printed something this module cannot read."""


def parse_proc_version(text):
    """``/proc/driver/nvidia/version`` as ``dict(version, branch, kernel_modules)``."""
    found = _PROC_VERSION_RE.search(text or '')
    if not found:
        raise NvidiaReadError('unexpected /proc/driver/nvidia/version: %r' % (text or '')[:200])
    return dict(version=found.group('version'), branch=found.group('branch'),
                kernel_modules='open' if found.group('open').startswith('Open') else 'proprietary')


def read_pci_devices(root='/sys/bus/pci/devices'):
    """NVIDIA devices on the PCI bus, from sysfs (no driver or lspci needed): address, device id and class."""
    devices = []
    for path in sorted(glob.glob(os.path.join(root, '*'))):
        try:
            fields = dict((name, _read(os.path.join(path, name)).strip()) for name in ('vendor', 'device', 'class'))
        except (IOError, OSError):
            continue
        if fields['vendor'] == NVIDIA_VENDOR:
            devices.append(dict(address=os.path.basename(path), device=fields['device'], pci_class=fields['class']))
    return devices


def split_pci_devices(devices):
    """(GPUs, NVSwitches) among NVIDIA PCI devices; audio functions and the like are neither."""
    gpus = [device for device in devices if device['pci_class'].startswith(GPU_CLASS_PREFIX)]
    switches = [device for device in devices if device['pci_class'].startswith(NVSWITCH_CLASS_PREFIX)]
    return gpus, switches


def parse_mokutil(rc, out, err):
    """``mokutil --sb-state`` as enabled, disabled or unsupported; unknown for anything else."""
    text = '%s\n%s' % (out or '', err or '')
    if re.search(r'SecureBoot enabled', text):
        return 'enabled'
    if re.search(r'SecureBoot disabled', text):
        return 'disabled'
    if re.search(r"doesn't support Secure Boot|EFI variables are not supported", text):
        return 'unsupported'
    return 'unknown'


def read_secure_boot(efi_dir='/sys/firmware/efi'):
    """Secure Boot state from the EFI variable (4 attribute bytes, then 1 for on): the fallback without mokutil."""
    if not os.path.isdir(efi_dir):
        return 'unsupported'
    try:
        with open(os.path.join(efi_dir, 'efivars', SECURE_BOOT_VAR), 'rb') as stream:
            data = stream.read()
    except (IOError, OSError):
        return 'unknown'
    if len(data) < 5:
        return 'unknown'
    return 'enabled' if bytearray(data)[4] == 1 else 'disabled'


def _read(path):
    with open(path) as stream:
        return stream.read()


def driver_satisfies(loaded, branch, kernel_modules):
    """Whether a loaded driver (``parse_proc_version``'s dict or None) is the requested branch and module flavour."""
    return bool(loaded) and loaded['branch'] == str(branch) and loaded['kernel_modules'] == kernel_modules


def _ubuntu_packages(request, kernel):
    suffix = '%s-server%s' % (request['branch'], '-open' if request['kernel_modules'] == 'open' else '')
    if request['ubuntu_prebuilt_modules']:
        # Canonical's prebuilt modules, signed with its key: no DKMS build, and
        # they load under Secure Boot.
        return ['linux-modules-nvidia-%s-%s' % (suffix, kernel), 'nvidia-headless-no-dkms-%s' % suffix,
                'nvidia-utils-%s-server' % request['branch']]
    return ['nvidia-headless-%s' % suffix, 'nvidia-utils-%s-server' % request['branch']]


def _debian_packages(request):
    dkms = 'nvidia-open-kernel-dkms' if request['kernel_modules'] == 'open' else 'nvidia-kernel-dkms'
    return [dkms, 'firmware-nvidia-gsp', 'nvidia-smi', 'nvidia-persistenced', 'libcuda1', 'libnvidia-ml1']


def _nvidia_repo_packages(request):
    dkms = 'nvidia-kernel-open-dkms' if request['kernel_modules'] == 'open' else 'nvidia-kernel-dkms'
    return ['nvidia-driver-pinning-%s' % request['branch'], 'nvidia-driver-cuda', dkms]


def driver_packages(request, distribution, major_version, kernel):
    """(packages, problems) for a request on a distribution; DKMS builds need ``kernel``'s headers."""
    branch = str(request['branch'])
    if request['source'] == 'nvidia':
        if int(branch) < NVIDIA_REPO_FIRST_PINNED_BRANCH:
            return [], ['NVIDIA\'s repository pins a branch from %d on; for branch %s install from the '
                        'distribution or a mirror with nvidia_driver_packages' % (NVIDIA_REPO_FIRST_PINNED_BRANCH, branch)]
        return _nvidia_repo_packages(request) + ['linux-headers-%s' % kernel], []
    if distribution == 'Ubuntu':
        packages = _ubuntu_packages(request, kernel)
        return packages + ([] if request['ubuntu_prebuilt_modules'] else ['linux-headers-%s' % kernel]), []
    if distribution == 'Debian':
        shipped = DEBIAN_BRANCHES.get(str(major_version))
        if shipped != branch:
            return [], ['Debian %s ships driver branch %s in non-free, not %s: set nvidia_driver_branch: "%s" or '
                        'nvidia_driver_source: nvidia' % (major_version, shipped or 'none', branch, shipped or 'none')]
        return _debian_packages(request) + ['linux-headers-%s' % kernel], []
    return [], ['no NVIDIA driver packages known for %s %s' % (distribution, major_version)]


def fabricmanager_packages(request, distribution):
    """The Fabric Manager package for NVSwitch systems, or a problem where the source has none."""
    if request['source'] == 'nvidia':
        return ['nvidia-fabricmanager'], []
    if distribution == 'Ubuntu':
        return ['nvidia-fabricmanager-%s' % request['branch']], []
    return [], ['NVSwitches found, but %s\'s archive has no Fabric Manager: use nvidia_driver_source: nvidia' % distribution]


def _uses_dkms(request, distribution):
    return not (request['source'] == 'distribution' and distribution == 'Ubuntu' and request['ubuntu_prebuilt_modules'])


def driver_plan(info, request, distribution, major_version):
    """What the driver role does on a host.

    ``info`` is what ``aiplatform.infra.nvidia_gpu_info`` returns (``gpus``,
    ``nvswitches``, ``driver``, ``secure_boot``, ``kernel``); ``request`` holds
    ``branch``, ``kernel_modules``, ``source``, ``ubuntu_prebuilt_modules``,
    ``mok_signing`` (a MOK key is given) and ``packages`` (operator's list or None).

    Returns ``dict(action, reason, packages, fabricmanager_packages, problems)``
    where ``action`` is ``none`` (no GPU), ``keep`` (the loaded driver
    satisfies the request) or ``install``; ``problems`` stop the role.
    """
    if request['kernel_modules'] not in KERNEL_MODULES:
        raise NvidiaReadError('kernel_modules must be one of %s' % ', '.join(KERNEL_MODULES))
    plan = dict(action='none', reason='', packages=[], fabricmanager_packages=[], problems=[])
    if not info['gpus']:
        plan['reason'] = 'no NVIDIA GPU on the PCI bus: nothing to do'
        return plan
    wanted = 'branch %s (%s kernel modules)' % (request['branch'], request['kernel_modules'])
    if info['nvswitches']:
        plan['fabricmanager_packages'], problems = fabricmanager_packages(request, distribution)
        plan['problems'].extend(problems)
    loaded = info['driver']
    if driver_satisfies(loaded, request['branch'], request['kernel_modules']):
        plan.update(action='keep', reason='driver %s (%s kernel modules) is loaded and satisfies %s: nothing to install'
                    % (loaded['version'], loaded['kernel_modules'], wanted))
        return plan
    plan['action'] = 'install'
    plan['reason'] = '%s requested; %s' % (wanted, 'driver %s (%s) is loaded' % (loaded['version'], loaded['kernel_modules'])
                                           if loaded else 'no NVIDIA driver is loaded')
    if request['packages']:
        plan['packages'] = list(request['packages'])
    else:
        plan['packages'], problems = driver_packages(request, distribution, major_version, info['kernel'])
        plan['problems'].extend(problems)
    if info['secure_boot'] == 'enabled' and _uses_dkms(request, distribution) and not request['mok_signing']:
        plan['problems'].append(
            'Secure Boot is enabled and DKMS would build the driver unsigned, so the kernel would refuse to load it. '
            'Either use signed prebuilt modules (Ubuntu: nvidia_driver_source: distribution with '
            'nvidia_driver_ubuntu_prebuilt_modules: true), or give a Machine Owner Key that DKMS signs with '
            '(nvidia_driver_mok_key and nvidia_driver_mok_certificate, enrolled with mokutil --import), '
            'or turn Secure Boot off in the firmware.')
    return plan
