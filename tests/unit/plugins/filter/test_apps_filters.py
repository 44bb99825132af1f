# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.aiplatform.infra.plugins.filter.apps import FilterModule

FILTERS = FilterModule().filters()


def test_the_roles_presets_are_read():
    found = FILTERS['apps_resolve']([{'name': 'llm', 'preset': 'ollama', 'version': '0.5', 'image': 'ollama/ollama'}],
                                    None, 'cdi')
    assert found[0]['port'] == 11434 and found[0]['groups'] == ['gpu']
    assert found[0]['devices'] == ['nvidia.com/gpu=all'] and found[0]['device_requests'] == []


def test_the_edge_sees_the_presets_port():
    services = [{'name': 'webui', 'preset': 'open_webui', 'version': '1', 'image': 'w:1'}]
    assert FILTERS['app_upstream'](services, 'webui', {'app': ['h']}, {'h': {'ansible_host': '10.0.0.5'}}) == \
        ['10.0.0.5:8080']


@pytest.mark.parametrize('call', [
    lambda: FILTERS['apps_resolve']([{'name': 'x'}]),
    lambda: FILTERS['app_upstream']([], 'x', {}, {}),
])
def test_errors_become_filter_errors(call):
    with pytest.raises(AnsibleFilterError):
        call()


def test_an_apps_hosts_are_its_groups_hosts_once_each():
    webui = FILTERS['apps_resolve']([{'name': 'webui', 'preset': 'open_webui', 'version': '1', 'image': 'w:1',
                                      'groups': ['app', 'rag']}])[0]
    assert FILTERS['app_hosts'](webui, {'app': ['a1', 'a2'], 'rag': ['a2', 'r1'], 'db': ['d1']}) == ['a1', 'a2', 'r1']
    assert FILTERS['app_hosts'](webui, {'db': ['d1']}) == []
