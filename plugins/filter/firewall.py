# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that turn the base role's firewall rules into nftables input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.aiplatform.infra.plugins.module_utils.firewall import (
    FirewallError,
    allows,
    build_rules,
    inventory_addresses,
)


def firewall_rules(rules, group_names, groups, hostvars):
    """The rules that apply to a host, with group sources turned into addresses."""
    try:
        return build_rules(rules, group_names, groups, hostvars)
    except FirewallError as exc:
        raise AnsibleFilterError(str(exc))


def firewall_allows(built_rules, address, port, proto='tcp'):
    """Whether built rules let a source address reach a port."""
    try:
        return allows(built_rules, address, port, proto)
    except ValueError as exc:
        raise AnsibleFilterError('firewall_allows: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {
            'firewall_rules': firewall_rules,
            'firewall_allows': firewall_allows,
            'host_addresses': inventory_addresses,
        }
