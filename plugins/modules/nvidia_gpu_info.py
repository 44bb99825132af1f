#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: nvidia_gpu_info
short_description: Read a host's NVIDIA GPUs, NVSwitches, loaded driver and Secure Boot state
version_added: 0.1.0
description:
  - Finds NVIDIA GPUs and NVSwitches on the PCI bus from C(/sys/bus/pci/devices), which needs
    no driver and no C(lspci).
  - Reads the loaded kernel driver's version and module flavour (open or proprietary) from
    C(/proc/driver/nvidia/version), and each GPU's model, driver and persistence mode from
    C(nvidia-smi) where it is installed (also C(/usr/local/nvidia/bin), where NVIDIA's container
    images put it).
  - Reads the Secure Boot state with C(mokutil --sb-state), or from the EFI variable without it.
  - Changes nothing; the C(aiplatform.infra.nvidia_driver) role decides from what it returns.
author:
  - aiplatform.infra maintainers (@aiplatform)
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Changes nothing.
  platform:
    support: full
    platforms: posix
    description: Linux hosts (it reads sysfs and procfs).
options: {}
notes:
  - Tested on an NVIDIA H100 with driver 580 (open kernel modules) on Ubuntu 24.04, and on
    hosts without a GPU.
seealso:
  - name: NVIDIA driver installation guide
    description: Kernel module flavours, Secure Boot and package names.
    link: https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/
'''

EXAMPLES = r'''
- name: Read the GPUs and the driver
  aiplatform.infra.nvidia_gpu_info:
  register: gpu_info

- name: Say what is loaded
  ansible.builtin.debug:
    msg: "{{ gpu_info.gpus | length }} GPU(s), driver {{ gpu_info.driver.version | default('none') }}"
'''

RETURN = r'''
gpus:
  description: NVIDIA display and 3D controllers on the PCI bus.
  returned: always
  type: list
  elements: dict
  sample: [{"address": "0000:00:06.0", "device": "0x2330", "pci_class": "0x030200"}]
nvswitches:
  description: NVIDIA NVSwitches on the PCI bus (a system that needs Fabric Manager).
  returned: always
  type: list
  elements: dict
  sample: []
driver:
  description: The loaded driver (C(version), C(branch), C(kernel_modules) open or proprietary); null when none is loaded.
  returned: always
  type: dict
  sample: {"version": "580.159.04", "branch": "580", "kernel_modules": "open"}
smi:
  description: What C(nvidia-smi) reports per GPU; empty when it is not installed or fails (see RV(smi_error)).
  returned: always
  type: list
  elements: dict
  sample: [{"driver_version": "580.159.04", "name": "NVIDIA H100 80GB HBM3", "pci.bus_id": "00000000:00:06.0",
            "persistence_mode": "Enabled"}]
smi_error:
  description: Why C(nvidia-smi) gave nothing, when a driver is loaded.
  returned: always
  type: str
  sample: ""
secure_boot:
  description: C(enabled), C(disabled), C(unsupported) (no EFI or no Secure Boot) or C(unknown).
  returned: always
  type: str
  sample: disabled
kernel:
  description: The running kernel's release.
  returned: always
  type: str
  sample: 6.8.0-49-generic
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiplatform.infra.plugins.module_utils.gpu_metrics import (
    SMI_DIRS, GPUReadError, parse_smi_csv)
from ansible_collections.aiplatform.infra.plugins.module_utils.nvidia_driver import (
    SMI_INFO_FIELDS, NvidiaReadError, parse_mokutil, parse_proc_version, read_pci_devices, read_secure_boot,
    split_pci_devices)

PROC_VERSION = '/proc/driver/nvidia/version'


def _loaded_driver():
    if not os.path.exists(PROC_VERSION):
        return None
    with open(PROC_VERSION) as stream:
        return parse_proc_version(stream.read())


def _smi(module):
    smi = module.get_bin_path('nvidia-smi', opt_dirs=list(SMI_DIRS))
    if smi is None:
        return [], 'nvidia-smi is not installed'
    rc, out, err = module.run_command([smi, '--query-gpu=' + ','.join(SMI_INFO_FIELDS), '--format=csv,noheader'])
    if rc != 0:
        return [], 'nvidia-smi failed (rc %s): %s' % (rc, (err or out).strip())
    try:
        return parse_smi_csv(out, SMI_INFO_FIELDS), ''
    except GPUReadError as exc:
        return [], str(exc)


def _secure_boot(module):
    mokutil = module.get_bin_path('mokutil')
    if mokutil is None:
        return read_secure_boot()
    return parse_mokutil(*module.run_command([mokutil, '--sb-state']))


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    gpus, switches = split_pci_devices(read_pci_devices())
    try:
        driver = _loaded_driver()
    except NvidiaReadError as exc:
        module.fail_json(msg=str(exc))
    smi, smi_error = _smi(module) if driver else ([], '')
    module.exit_json(changed=False, gpus=gpus, nvswitches=switches, driver=driver, smi=smi, smi_error=smi_error,
                     secure_boot=_secure_boot(module), kernel=os.uname()[2])


if __name__ == '__main__':
    main()
