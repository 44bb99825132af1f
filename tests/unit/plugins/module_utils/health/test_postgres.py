# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.health import postgres
from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import CheckError

SPEC = dict(role=None, min_replicas=0, lag_bytes_warn=1000, lag_bytes_fail=10000, lag_seconds_warn=30,
            lag_seconds_fail=300, slot_retained_warn=5000, slot_retained_fail=50000,
            transaction_seconds_warn=300, transaction_seconds_fail=3600, timeout=0.4)


class FakeConnection:
    """A DB-API connection that answers the check's queries from a table."""

    def __init__(self, answers):
        self.answers = answers
        self.closed = False
        self.executed = []
        self._rows = None

    def cursor(self):
        return self

    def execute(self, sql, params=None):
        self.executed.append((sql, params))
        answer = self.answers[sql]
        self._rows = answer() if callable(answer) else answer

    def fetchall(self):
        return self._rows

    def close(self):
        self.closed = True


def primary(replicas=(), slots=(), longest=0.0):
    return {postgres.SQL_ROLE: [(False,)], postgres.SQL_REPLICAS: list(replicas),
            postgres.SQL_SLOTS: list(slots), postgres.SQL_LONGEST_TX: [(longest,)]}


def replica(lag_bytes, lag_seconds, streaming=1, longest=0.0, replayed=(False,)):
    """A replica's answers; ``replayed`` answers successive polls for replay
    reaching the received position, its last answer repeated."""
    polls = list(replayed)

    def poll():
        return [(polls.pop(0) if len(polls) > 1 else polls[0],)]

    return {postgres.SQL_ROLE: [(True,)],
            postgres.SQL_REPLICA_LAG: [(lag_bytes, lag_seconds, streaming, '0/3000148')],
            postgres.SQL_REPLAYED: poll, postgres.SQL_LONGEST_TX: [(longest,)]}


def statuses(answers, **spec):
    full = dict(SPEC, **spec)
    connection = FakeConnection(answers)
    metrics = postgres.check_postgres(full, connector=lambda s: connection)
    assert connection.closed
    return [(m['metric'], m['status']) for m in metrics]


@pytest.mark.parametrize('answers, spec, expected', [
    (primary(), {}, [('connect', 'ok'), ('role', 'ok'), ('longest_transaction_seconds', 'ok')]),
    (primary(), {'role': 'replica'}, [('connect', 'ok'), ('role', 'fail'), ('longest_transaction_seconds', 'ok')]),
    (primary(), {'min_replicas': 1},
     [('connect', 'ok'), ('role', 'ok'), ('replicas', 'fail'), ('longest_transaction_seconds', 'ok')]),
    (primary(replicas=[('db2', '10.0.0.2', 'streaming', 2000, 1.5)]), {'min_replicas': 1},
     [('connect', 'ok'), ('role', 'ok'), ('replicas', 'ok'), ('replica db2 lag_bytes', 'warn'),
      ('replica db2 lag_seconds', 'ok'), ('longest_transaction_seconds', 'ok')]),
    (primary(replicas=[('', '10.0.0.3', 'catchup', None, None)]), {},
     [('connect', 'ok'), ('role', 'ok'), ('replica 10.0.0.3 state', 'fail'), ('replica 10.0.0.3 lag_bytes', 'ok'),
      ('replica 10.0.0.3 lag_seconds', 'ok'), ('longest_transaction_seconds', 'ok')]),
    (primary(replicas=[('db2', '10.0.0.2', 'streaming', 0, 400.0)]), {},
     [('connect', 'ok'), ('role', 'ok'), ('replica db2 lag_bytes', 'ok'), ('replica db2 lag_seconds', 'fail'),
      ('longest_transaction_seconds', 'ok')]),
    (primary(slots=[('db2', True, 100), ('old', False, 60000)]), {},
     [('connect', 'ok'), ('role', 'ok'), ('slot db2 retained_bytes', 'ok'), ('slot old retained_bytes', 'fail'),
      ('longest_transaction_seconds', 'ok')]),
    (primary(longest=400.0), {}, [('connect', 'ok'), ('role', 'ok'), ('longest_transaction_seconds', 'warn')]),
    (replica(0, 0.0), {'role': 'replica'},
     [('connect', 'ok'), ('role', 'ok'), ('lag_bytes', 'ok'), ('lag_seconds', 'ok'),
      ('longest_transaction_seconds', 'ok')]),
    (replica(20000, 45.0), {},
     [('connect', 'ok'), ('role', 'ok'), ('lag_bytes', 'fail'), ('lag_seconds', 'warn'),
      ('longest_transaction_seconds', 'ok')]),
    (replica(0, 0.0, streaming=0), {},
     [('connect', 'ok'), ('role', 'ok'), ('wal_receiver', 'fail'), ('lag_bytes', 'ok'), ('lag_seconds', 'ok'),
      ('longest_transaction_seconds', 'ok')]),
])
def test_postgres_metrics(answers, spec, expected):
    assert statuses(answers, **spec) == expected


def replica_lag(answers):
    connection = FakeConnection(answers)
    metrics = {m['metric']: m for m in postgres.check_postgres(dict(SPEC), connector=lambda s: connection)}
    polls = [params for sql, params in connection.executed if sql == postgres.SQL_REPLAYED]
    return metrics['lag_seconds']['value'], polls


def test_caught_up_replica_has_no_lag_however_old_its_last_transaction():
    assert replica_lag(replica(0, 78.1)) == (0.0, [])


def test_replica_caught_between_receiving_and_replaying_a_record_is_not_behind():
    # an idle cluster: a snapshot record arrives 78 s after the last commit
    assert replica_lag(replica(120, 78.1, replayed=(False, False, True))) == (0.0, [('0/3000148',)] * 3)


def test_replica_whose_replay_stays_behind_reports_the_age_of_its_last_transaction():
    started = time.monotonic()
    value, polls = replica_lag(replica(120, 78.1, replayed=(False,)))
    assert value == 78.1
    assert len(polls) >= 2
    assert time.monotonic() - started >= SPEC['timeout'] / 4


def test_inactive_slot_is_named_in_the_reason():
    facts = dict(replica=False, replicas=[], slots=[dict(name='old', active=False, retained_bytes=60000)],
                 longest_tx_seconds=0.0)
    metrics = postgres.postgres_metrics(facts, SPEC)
    assert metrics[2]['reason'] == 'slot old retained_bytes 60000 B >= 50000 B (inactive)'


def test_connection_is_closed_when_a_query_fails():
    connection = FakeConnection({postgres.SQL_ROLE: [(False,)]})   # no answer to the next query
    with pytest.raises(KeyError):
        postgres.check_postgres(dict(SPEC), connector=lambda s: connection)
    assert connection.closed


def test_refused_connection_names_the_server():
    # psycopg is a controller requirement (requirements.txt), so the real driver answers here
    spec = dict(SPEC, host='127.0.0.1', port=1, user='postgres', password=None, dbname='postgres', timeout=1)
    with pytest.raises(CheckError, match='postgres at 127.0.0.1:1 does not accept connections'):
        postgres.connect(spec)
