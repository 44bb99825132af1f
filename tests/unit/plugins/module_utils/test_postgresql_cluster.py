# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.postgresql_cluster import (
    ClusterStateError,
    failover_plan,
    inventory_primary,
    inventory_problems,
    lsn_to_int,
    parse_controldata,
    switchover_plan,
    timeline_of_walfile,
)

SYSID = '7441237891263301234'


@pytest.fixture
def controldata_pg15():
    with open(os.path.join(os.path.dirname(__file__), 'fixtures', 'pg_controldata-15.txt')) as handle:
        return handle.read()


def primary(lsn='0/5000000', timeline=1, sysid=SYSID):
    return {'exists': True, 'running': True, 'in_recovery': False, 'current_lsn': lsn, 'timeline': timeline,
            'system_identifier': sysid, 'standby_signal': False}


def standby(replay='0/5000000', receive=None, timeline=1, status='streaming', sysid=SYSID):
    return {'exists': True, 'running': True, 'in_recovery': True, 'replay_lsn': replay,
            'receive_lsn': receive or replay, 'timeline': timeline, 'wal_receiver': status, 'upstream': '10.0.0.1',
            'system_identifier': sysid, 'standby_signal': True}


def stopped(state='shut down', timeline=1, sysid=SYSID, standby_signal=False):
    return {'exists': True, 'running': False, 'in_recovery': None, 'cluster_state': state, 'timeline': timeline,
            'system_identifier': sysid, 'standby_signal': standby_signal}


GONE = {'reachable': False}


@pytest.mark.parametrize('lsn, value', [
    ('0/0', 0),
    ('0/3000148', 0x3000148),
    ('1/0', 1 << 32),
    ('FFFFFFFF/FFFFFFFF', (1 << 64) - 1),
])
def test_lsn_to_int(lsn, value):
    assert lsn_to_int(lsn) == value


@pytest.mark.parametrize('bad', ['', None, '0-1', '0/', '/1', '123456789/0', '0/G'])
def test_lsn_to_int_refuses_what_is_no_lsn(bad):
    with pytest.raises(ClusterStateError):
        lsn_to_int(bad)


def test_timeline_of_walfile():
    assert timeline_of_walfile('0000000A0000000000000003') == 10
    with pytest.raises(ClusterStateError):
        timeline_of_walfile('00000001000000000000003')


def test_parse_controldata_reads_a_real_output(controldata_pg15):
    assert parse_controldata(controldata_pg15) == {
        'system_identifier': '7712456807445273144',
        'cluster_state': 'in production',
        'checkpoint_lsn': '0/2000110',
        'timeline': 1,
    }


@pytest.mark.parametrize('mangle, message', [
    (lambda text: text.replace('Database cluster state', 'Cluster'), 'printed no cluster_state'),
    (lambda text: '', 'printed no checkpoint_lsn, cluster_state, system_identifier, timeline'),
    (lambda text: re.sub(r"(TimeLineID: +)1", r"\1x", text), 'no number'),
    (lambda text: text.replace('0/2000110', 'zz'), 'not a WAL position'),
])
def test_parse_controldata_refuses_malformed_output(controldata_pg15, mangle, message):
    with pytest.raises(ClusterStateError, match=message):
        parse_controldata(mangle(controldata_pg15))


def test_switchover_to_a_streaming_replica_is_safe():
    plan = switchover_plan({'db1': primary(), 'db2': standby(), 'db3': standby('0/4000000')}, 'db2', 16 << 20)
    assert plan == {'primary': 'db1', 'target': 'db2', 'others': ['db3'], 'problems': []}


@pytest.mark.parametrize('states, target, fragment', [
    ({'db1': primary(), 'db2': standby()}, 'db9', 'db9 is no member'),
    ({'db1': primary(), 'db2': standby(), 'db3': GONE}, 'db2', 'db3: not reachable or PostgreSQL not running'),
    ({'db1': primary(), 'db2': standby(), 'db3': stopped()}, 'db2', 'db3: not reachable'),
    ({'db1': stopped(), 'db2': standby()}, 'db2', 'exactly one running primary, found none'),
    ({'db1': primary(), 'db2': primary()}, 'db2', 'exactly one running primary, found db1, db2'),
    ({'db1': primary(), 'db2': standby()}, 'db1', 'db1 is the primary already'),
    ({'db1': primary(), 'db2': standby(status='waiting')}, 'db2', 'does not stream from db1 (WAL receiver: waiting)'),
    ({'db1': primary(), 'db2': standby(status=None)}, 'db2', 'WAL receiver: none'),
    ({'db1': primary(timeline=2), 'db2': standby()}, 'db2', 'on timeline 1, the primary on 2'),
    ({'db1': primary(), 'db2': standby(sysid='1')}, 'db2', 'holds another cluster'),
    ({'db1': primary('0/9000000'), 'db2': standby('0/5000000')}, 'db2', 'replayed 67108864 bytes less'),
])
def test_switchover_refuses_unsafe_states(states, target, fragment):
    problems = switchover_plan(states, target, 16 << 20)['problems']
    assert any(fragment in problem for problem in problems), problems


def lost(replay='0/5000000', receive=None, sysid=SYSID):
    """A standby whose primary is gone: its WAL receiver no longer streams."""
    return standby(replay, receive, status='waiting', sysid=sysid)


def test_failover_promotes_the_replica_that_holds_most():
    plan = failover_plan({'db1': GONE, 'db2': lost('0/5000000'), 'db3': lost('0/5000100')})
    assert plan == {'target': 'db3', 'held_lsn': '0/5000100', 'others': ['db2'], 'gone': ['db1'], 'problems': []}


def test_failover_ranks_by_received_wal_a_sync_commit_is_acknowledged_on():
    # db3 has replayed less but received more: it has commits db2 lacks.
    states = {'db1': GONE, 'db2': lost('0/5000100', '0/5000100'), 'db3': lost('0/5000000', '0/5000200')}
    plan = failover_plan(states)
    assert (plan['target'], plan['held_lsn']) == ('db3', '0/5000200')
    assert 'would lose what db3 has' in failover_plan(states, 'db2')['problems'][0]


def test_failover_breaks_ties_by_replayed_wal_then_inventory_order():
    states = {'db1': stopped('in production'), 'db2': lost('0/5000000', '0/5000200'), 'db3': lost('0/5000200')}
    assert failover_plan(states)['target'] == 'db3'
    states['db3'] = lost('0/5000000', '0/5000200')
    assert failover_plan(states)['target'] == 'db2'


def test_failover_takes_a_named_replica_that_is_as_advanced():
    plan = failover_plan({'db1': GONE, 'db2': lost('0/5000000'), 'db3': lost('0/5000000')}, 'db3')
    assert (plan['target'], plan['others'], plan['problems']) == ('db3', ['db2'], [])


@pytest.mark.parametrize('states, target, fragment', [
    ({'db1': primary(), 'db2': standby()}, None, 'db1 runs as primary: a failover is for a primary that is gone'),
    ({'db1': GONE, 'db2': stopped(standby_signal=True)}, None, 'no running replica to promote'),
    ({'db1': GONE, 'db2': lost('0/5000000'), 'db3': lost('0/6000000')}, 'db2',
     'promoting db2 would lose what db3 has'),
    ({'db1': GONE, 'db2': lost()}, 'db1', 'db1 is no running replica (unreachable)'),
    ({'db1': GONE, 'db2': lost(), 'db3': lost(sysid='1')}, None, 'hold different clusters'),
    ({'db1': GONE, 'db2': standby(), 'db3': lost()}, None,
     'db2 still streams WAL from 10.0.0.1: the primary is alive, only out of reach here'),
])
def test_failover_refuses_unsafe_states(states, target, fragment):
    problems = failover_plan(states, target)['problems']
    assert any(fragment in problem for problem in problems), problems


def test_inventory_that_names_the_running_primary_passes():
    states = {'db1': primary(), 'db2': standby(), 'db3': {'exists': False, 'running': False}}
    assert inventory_problems(states, 'db1') == []


def test_inventory_on_fresh_hosts_passes():
    fresh = {'exists': False, 'running': False}
    assert inventory_problems({'db1': fresh, 'db2': fresh}, 'db1') == []
    assert inventory_problems({'db1': primary(sysid='1'), 'db2': primary(sysid='2')}, 'db1') == []


def test_inventory_with_a_former_primary_to_rejoin_passes():
    states = {'db2': primary(timeline=2), 'db1': primary(timeline=1), 'db3': standby(timeline=2)}
    assert inventory_problems(states, 'db2') == []


def test_inventory_naming_a_standby_after_a_switchover_fails():
    problems = inventory_problems({'db1': standby(timeline=2), 'db2': primary(timeline=2)}, 'db1')
    assert problems == ['db1 is a standby, not the primary the inventory names (db2 runs as primary). After a '
                        'switchover or failover, move the new primary into postgres_primary (or set '
                        'postgresql_primary_host).']


def test_inventory_naming_the_old_primary_after_a_failover_fails():
    problems = inventory_problems({'db1': stopped('in production'), 'db2': primary(timeline=2)}, 'db1')
    assert len(problems) == 1 and problems[0].startswith('db2 was promoted after db1 (timeline 2, db1 has 1)')


@pytest.mark.parametrize('groups, primary_host, expected', [
    ({'postgres_primary': ['db1'], 'postgres_replica': ['db2']}, '', 'db1'),
    ({'postgres_primary': ['db1'], 'postgres_replica': ['db2']}, 'db2', 'db2'),
    ({'postgres_primary': ['db1']}, None, 'db1'),
    ({'postgres_primary': []}, '', ''),
    ({'all': ['web']}, '', ''),
    ({}, 'db3', 'db3'),
])
def test_inventory_primary_is_the_override_else_the_group_s_first(groups, primary_host, expected):
    assert inventory_primary(groups, primary_host) == expected
