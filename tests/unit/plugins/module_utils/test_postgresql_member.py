# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.postgresql_member import (
    MemberReadError,
    read_member,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def controldata():
    with open(os.path.join(FIXTURES, 'pg_controldata-15.txt')) as handle:
        return handle.read()


class Tools(object):
    """Stands in for AnsibleModule.run_command: answers by program name."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, environ_update=None):
        self.calls.append((argv, environ_update))
        return self.answers[os.path.basename(argv[0])]


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / 'PG_VERSION').write_text('15\n')
    return str(tmp_path)


def test_no_cluster_runs_nothing(tmp_path):
    tools = Tools()
    assert read_member(tools, str(tmp_path), '/usr/lib/postgresql/15/bin', 5432, 'postgres') == \
        {'exists': False, 'running': False}
    assert tools.calls == []


def test_a_stopped_server_reports_its_control_file(data_dir):
    tools = Tools(pg_controldata=(0, controldata(), ''),
                  psql=(2, '', 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" '
                               'failed: No such file or directory\n'))
    state = read_member(tools, data_dir, '/bin', 5432, 'postgres')
    assert state['running'] is False and state['in_recovery'] is None
    assert state['cluster_state'] == 'in production' and state['timeline'] == 1
    assert state['standby_signal'] is False
    assert 'No such file or directory' in state['connect_error']
    assert tools.calls[0] == (['/bin/pg_controldata', '-D', data_dir], {'LC_ALL': 'C', 'LANG': 'C'})


def test_a_running_primary_takes_its_timeline_from_the_current_wal_file(data_dir):
    live = {'in_recovery': False, 'current_lsn': '0/5000148', 'walfile': '000000020000000000000005',
            'receive_lsn': None, 'replay_lsn': None, 'wal_receiver': None, 'received_tli': None,
            'upstream': None, 'replication': [{'application_name': 'pg_2', 'state': 'streaming'}], 'slots': []}
    state = read_member(Tools(pg_controldata=(0, controldata(), ''), psql=(0, json.dumps(live) + '\n', '')),
                        data_dir, '/bin', 5432, 'postgres')
    assert state['running'] is True and state['in_recovery'] is False
    assert state['timeline'] == 2
    assert 'walfile' not in state and 'received_tli' not in state
    assert state['replication'] == [{'application_name': 'pg_2', 'state': 'streaming'}]


def test_a_streaming_standby_takes_the_received_timeline(data_dir):
    (open(os.path.join(data_dir, 'standby.signal'), 'w')).close()
    live = {'in_recovery': True, 'current_lsn': None, 'walfile': None, 'receive_lsn': '0/5000148',
            'replay_lsn': '0/5000100', 'wal_receiver': 'streaming', 'received_tli': 3, 'upstream': '10.0.0.1',
            'replication': [], 'slots': []}
    state = read_member(Tools(pg_controldata=(0, controldata(), ''), psql=(0, json.dumps(live), '')),
                        data_dir, '/bin', 5432, 'postgres')
    assert (state['timeline'], state['standby_signal'], state['upstream']) == (3, True, '10.0.0.1')


@pytest.mark.parametrize('tools, message', [
    (Tools(pg_controldata=(1, '', 'pg_controldata: error: could not open file "global/pg_control"\n')),
     'pg_controldata -D .* failed: pg_controldata: error: could not open file'),
    (Tools(pg_controldata=(0, 'garbage\n', '')), 'pg_controldata printed no'),
    (Tools(pg_controldata=(0, controldata(), ''), psql=(0, 'not json', '')), 'psql printed no JSON'),
])
def test_tools_that_answer_badly_fail_with_the_cause(data_dir, tools, message):
    with pytest.raises(MemberReadError, match=message):
        read_member(tools, data_dir, '/bin', 5432, 'postgres')
