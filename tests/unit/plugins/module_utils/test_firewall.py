# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.firewall import (
    FirewallError,
    allows,
    build_rules,
    host_addresses,
    inventory_addresses,
)

GROUPS = {
    'all': ['edge1', 'app1', 'app2', 'db1', 'mon1'],
    'edge': ['edge1'],
    'app': ['app1', 'app2'],
    'postgres': ['db1'],
    'monitoring': ['mon1'],
}
HOSTVARS = {
    'edge1': {'ansible_host': '192.0.2.10'},
    'app1': {'ansible_host': '192.0.2.11'},
    'app2': {'ansible_host': '2001:db8::12'},
    'db1': {'ansible_host': 'db1.example', 'ansible_facts': {'default_ipv4': {'address': '192.0.2.21'}}},
    'mon1': {'ansible_host': 'mon1.example', 'base_firewall_address': '192.0.2.31'},
}
RULES = [
    {'name': 'ssh', 'ports': [22], 'from': ['198.51.100.0/24']},
    {'name': 'web', 'ports': [443, 80], 'on_groups': ['edge'], 'from': ['0.0.0.0/0', '::/0']},
    {'name': 'pg', 'ports': [5432], 'on_groups': ['postgres'], 'from': ['app', 'postgres']},
    {'name': 'exporters', 'ports': ['9100-9199'], 'from': ['monitoring']},
    {'name': 'gpu', 'ports': [9400], 'on_groups': ['gpu'], 'from': ['monitoring']},
]


def no_dns(name, *args):
    raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')


def fake_dns(name, *args):
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('203.0.113.7', 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, '', ('2001:db8::7', 0, 0, 0))]


def rules_for(groups_of_host, rules=None):
    return {r['name']: r for r in build_rules(rules or RULES, groups_of_host, GROUPS, HOSTVARS, no_dns)}


def test_rules_apply_by_group():
    assert sorted(rules_for(['edge'])) == ['exporters', 'ssh', 'web']
    assert sorted(rules_for(['postgres'])) == ['exporters', 'pg', 'ssh']
    assert sorted(rules_for([])) == ['exporters', 'ssh']


def test_group_sources_become_host_addresses_per_family():
    pg = rules_for(['postgres'])['pg']
    # app1 by ansible_host, db1 by its facts; app2 is IPv6.
    assert pg['saddr4'] == ['192.0.2.11', '192.0.2.21']
    assert pg['saddr6'] == ['2001:db8::12']


def test_base_firewall_address_wins_and_ports_are_sorted():
    rules = rules_for(['edge'])
    assert rules['exporters']['saddr4'] == ['192.0.2.31']
    assert rules['web']['ports'] == ['80', '443']
    assert rules['web']['saddr4'] == ['0.0.0.0/0'] and rules['web']['saddr6'] == ['::/0']


def test_networks_collapse():
    rule = {'name': 'r', 'ports': [1], 'from': ['10.0.0.0/25', '10.0.0.128/25', '10.0.0.5']}
    assert rules_for([], [rule])['r']['saddr4'] == ['10.0.0.0/24']


def test_missing_group_opens_nothing():
    rule = {'name': 'r', 'ports': [1], 'from': ['no-such-group']}
    assert rules_for([], [rule])['r']['saddr4'] == [] and rules_for([], [rule])['r']['saddr6'] == []


def test_name_resolved_when_nothing_else_knows_the_address():
    hostvars = {'x': {'ansible_host': 'x.example'}}
    assert [str(n) for n in host_addresses('x', hostvars['x'], fake_dns)] == ['203.0.113.7/32', '2001:db8::7/128']


def test_unresolvable_host_is_named():
    with pytest.raises(FirewallError, match='cannot find the address of host x'):
        host_addresses('x', {'ansible_host': 'x.example'}, no_dns)


@pytest.mark.parametrize('rule, message', [
    ({'ports': [1]}, "needs a 'name'"),
    ({'name': 'r', 'ports': []}, 'non-empty list'),
    ({'name': 'r', 'ports': [0]}, 'is not a port'),
    ({'name': 'r', 'ports': [70000]}, 'is not a port'),
    ({'name': 'r', 'ports': ['90-80']}, 'is not a port'),
    ({'name': 'r', 'ports': ['http']}, 'is not a port'),
    ({'name': 'r', 'ports': [1], 'proto': 'icmp'}, 'proto must be one of'),
    ({'name': 'r', 'ports': [1], 'on': ['edge']}, 'unknown keys on'),
    ({'name': 'r', 'ports': [1], 'from': 'app'}, "'from' must be a list"),
])
def test_bad_rules_are_refused(rule, message):
    with pytest.raises(FirewallError, match=message):
        build_rules([rule], [], GROUPS, HOSTVARS, no_dns)


@pytest.mark.parametrize('address, port, expected', [
    ('198.51.100.9', 22, True),
    ('198.51.101.9', 22, False),
    ('192.0.2.31', 9150, True),
    ('192.0.2.31', 9200, False),
    ('2001:db8::1', 22, False),
])
def test_allows(address, port, expected):
    built = build_rules(RULES, [], GROUPS, HOSTVARS, no_dns)
    assert allows(built, address, port) is expected


def test_allows_checks_the_protocol():
    built = build_rules([{'name': 'dns', 'ports': [53], 'proto': 'udp', 'from': ['0.0.0.0/0']}], [], GROUPS, HOSTVARS)
    assert allows(built, '192.0.2.1', 53, 'udp')
    assert not allows(built, '192.0.2.1', 53, 'tcp')


def test_inventory_addresses_skip_hosts_known_only_by_name():
    hostvars = dict(HOSTVARS, nofacts={'ansible_host': 'nofacts.example'})
    addresses = inventory_addresses(GROUPS['all'] + ['nofacts'], hostvars)
    assert addresses == {
        'edge1': ['192.0.2.10'], 'app1': ['192.0.2.11'], 'app2': ['2001:db8::12'],
        'db1': ['192.0.2.21'], 'mon1': ['192.0.2.31'],
    }


def test_a_published_rule_is_marked_and_opens_nothing_on_the_host_itself():
    rule = {'name': 'app chat', 'ports': [8080], 'on_groups': ['app'], 'from': ['edge'], 'published': True}
    built = build_rules(RULES + [rule], ['app'], GROUPS, HOSTVARS, no_dns)
    found = {r['name']: r for r in built}
    assert found['app chat']['published'] is True and found['app chat']['saddr4'] == ['192.0.2.10']
    assert found['ssh']['published'] is False
    assert not allows(built, '192.0.2.10', 8080)
