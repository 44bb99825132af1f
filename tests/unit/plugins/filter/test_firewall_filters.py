# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.aiplatform.infra.plugins.filter.firewall import FilterModule

FILTERS = FilterModule().filters()


def test_filters_are_registered():
    assert sorted(FILTERS) == ['firewall_allows', 'firewall_rules', 'host_addresses']


def test_rules_and_allows_together():
    rules = [{'name': 'ssh', 'ports': [22], 'from': ['10.0.0.0/8']}]
    built = FILTERS['firewall_rules'](rules, [], {}, {})
    assert FILTERS['firewall_allows'](built, '10.1.2.3', '22')
    assert not FILTERS['firewall_allows'](built, '11.1.2.3', 22)


@pytest.mark.parametrize('call', [
    lambda: FILTERS['firewall_rules']([{'name': 'x', 'ports': ['y']}], [], {}, {}),
    lambda: FILTERS['firewall_allows']([], 'not-an-address', 22),
])
def test_errors_become_filter_errors(call):
    with pytest.raises(AnsibleFilterError):
        call()
