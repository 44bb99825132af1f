# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""PostgreSQL check: connections, role, replication, slots, long transactions.

``collect`` reads the server's state through a DB-API connection (psycopg 3
or psycopg2, whichever the host has); ``postgres_metrics`` grades it and is
what the unit tests drive.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import (
    FAIL, OK, CheckError, grade, metric)

try:
    import psycopg as _driver
except ImportError:
    try:
        import psycopg2 as _driver
    except ImportError:
        _driver = None

SQL_ROLE = 'SELECT pg_is_in_recovery()'
SQL_REPLICAS = (
    "SELECT coalesce(application_name, ''), coalesce(host(client_addr), 'local'), state,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,"
    " coalesce(extract(epoch FROM replay_lag), 0)::float"
    " FROM pg_stat_replication ORDER BY 1, 2")
SQL_REPLICA_LAG = (
    "SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint,"
    " coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float,"
    " (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming')::int,"
    " pg_last_wal_receive_lsn()::text")
SQL_REPLAYED = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
SETTLE_POLL = 0.05
SQL_SLOTS = (
    "SELECT slot_name, active,"
    " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint"
    " FROM pg_replication_slots ORDER BY 1")
SQL_LONGEST_TX = (
    "SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0)::float"
    " FROM pg_stat_activity WHERE xact_start IS NOT NULL AND state <> 'idle' AND pid <> pg_backend_pid()")


def connect(spec):
    if _driver is None:
        raise CheckError('neither psycopg nor psycopg2 is installed on the host '
                         '(Debian: apt install python3-psycopg)')
    kwargs = dict(host=spec['host'], port=spec['port'], user=spec['user'], dbname=spec['dbname'],
                  connect_timeout=max(1, int(spec['timeout'])))
    if spec['password'] is not None:
        kwargs['password'] = spec['password']
    try:
        return _driver.connect(**kwargs)
    except _driver.Error as exc:
        raise CheckError('postgres at %s:%s does not accept connections: %s'
                         % (spec['host'], spec['port'], ' '.join(str(exc).split())))


def _rows(cursor, sql, params=None):
    if params is None:
        cursor.execute(sql)
    else:
        cursor.execute(sql, params)
    return cursor.fetchall()


def _replays_past(cursor, lsn, settle):
    """Whether replay reaches ``lsn`` within ``settle`` seconds."""
    deadline = time.monotonic() + settle
    while not _rows(cursor, SQL_REPLAYED, (lsn,))[0][0]:
        if time.monotonic() >= deadline:
            return False
        time.sleep(SETTLE_POLL)
    return True


def collect(connection, settle=0.0):
    """The server's replication state as plain data.

    On a replica, ``lag_seconds`` is the age of the last replayed transaction,
    but only when replay has not reached what was received within ``settle``
    seconds: a replica caught between receiving and replaying one record (on
    an idle cluster, a checkpoint or snapshot record long after the last
    commit) is not behind.
    """
    try:
        cursor = connection.cursor()
        facts = dict(replica=bool(_rows(cursor, SQL_ROLE)[0][0]))
        if facts['replica']:
            lag_bytes, lag_seconds, streaming, received = _rows(cursor, SQL_REPLICA_LAG)[0]
            if not lag_bytes or _replays_past(cursor, received, settle):
                lag_seconds = 0.0
            facts.update(lag_bytes=lag_bytes, lag_seconds=lag_seconds, streaming=streaming)
        else:
            facts['replicas'] = [dict(name=r[0], addr=r[1], state=r[2], lag_bytes=r[3], lag_seconds=r[4])
                                 for r in _rows(cursor, SQL_REPLICAS)]
            facts['slots'] = [dict(name=r[0], active=r[1], retained_bytes=r[2]) for r in _rows(cursor, SQL_SLOTS)]
        facts['longest_tx_seconds'] = _rows(cursor, SQL_LONGEST_TX)[0][0]
        return facts
    finally:
        connection.close()


def postgres_metrics(facts, spec):
    role = 'replica' if facts['replica'] else 'primary'
    metrics = [metric('connect', OK, True, True, 'accepts connections')]
    if spec['role'] in (None, role):
        metrics.append(metric('role', OK, role, spec['role'], 'role %s' % role))
    else:
        metrics.append(metric('role', FAIL, role, spec['role'], 'role is %s, expected %s' % (role, spec['role'])))
    if facts['replica']:
        if not facts['streaming']:
            metrics.append(metric('wal_receiver', FAIL, 0, 1, 'replica is not streaming from its primary'))
        metrics.append(grade('lag_bytes', facts['lag_bytes'], spec['lag_bytes_warn'], spec['lag_bytes_fail'], ' B'))
        metrics.append(grade('lag_seconds', round(facts['lag_seconds'], 1),
                             spec['lag_seconds_warn'], spec['lag_seconds_fail'], 's'))
    else:
        replicas = facts['replicas']
        if spec['min_replicas']:
            status = OK if len(replicas) >= spec['min_replicas'] else FAIL
            metrics.append(metric('replicas', status, len(replicas), spec['min_replicas'],
                                  '%d replica(s) connected, %s expected' % (len(replicas), spec['min_replicas'])))
        for replica in replicas:
            label = replica['name'] or replica['addr']
            if replica['state'] != 'streaming':
                metrics.append(metric('replica %s state' % label, FAIL, replica['state'], 'streaming',
                                      'replica %s is %s' % (label, replica['state'])))
            metrics.append(grade('replica %s lag_bytes' % label, replica['lag_bytes'] or 0,
                                 spec['lag_bytes_warn'], spec['lag_bytes_fail'], ' B'))
            metrics.append(grade('replica %s lag_seconds' % label, round(replica['lag_seconds'] or 0.0, 1),
                                 spec['lag_seconds_warn'], spec['lag_seconds_fail'], 's'))
        for slot in facts['slots']:
            found = grade('slot %s retained_bytes' % slot['name'], slot['retained_bytes'],
                          spec['slot_retained_warn'], spec['slot_retained_fail'], ' B')
            if not slot['active']:
                found['reason'] += ' (inactive)'
            metrics.append(found)
    metrics.append(grade('longest_transaction_seconds', round(facts['longest_tx_seconds'], 1),
                         spec['transaction_seconds_warn'], spec['transaction_seconds_fail'], 's'))
    return metrics


def check_postgres(spec, connector=connect):
    return postgres_metrics(collect(connector(spec), settle=min(1.0, spec['timeout'] / 4.0)), spec)
