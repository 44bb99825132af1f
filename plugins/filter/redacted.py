# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The redacted filter (plugins/module_utils/redact.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.aiplatform.infra.plugins.module_utils.redact import redacted


class FilterModule(object):
    def filters(self):
        return {'redacted': redacted}
