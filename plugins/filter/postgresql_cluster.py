# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that name the inventory's PostgreSQL primary and decide switchover, failover and inventory checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.aiplatform.infra.plugins.module_utils.postgresql_cluster import (
    ClusterStateError,
    failover_plan,
    inventory_primary,
    inventory_problems,
    switchover_plan,
)


def _guarded(function):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ClusterStateError as exc:
            raise AnsibleFilterError('%s: %s' % (function.__name__, exc))
    run.__name__ = function.__name__
    return run


class FilterModule(object):
    def filters(self):
        return {
            'pg_switchover_plan': _guarded(switchover_plan),
            'pg_failover_plan': _guarded(failover_plan),
            'pg_inventory_problems': _guarded(inventory_problems),
            'pg_primary': inventory_primary,
        }
