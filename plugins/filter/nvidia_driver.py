# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The NVIDIA driver role's decision, from what aiplatform.infra.nvidia_gpu_info read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.aiplatform.infra.plugins.module_utils.nvidia_driver import NvidiaReadError, driver_plan


def nvidia_driver_plan(info, request, distribution, major_version):
    try:
        return driver_plan(info, request, distribution, str(major_version))
    except (NvidiaReadError, KeyError) as exc:
        raise AnsibleFilterError('nvidia_driver_plan: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'nvidia_driver_plan': nvidia_driver_plan}
