# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The state of a PostgreSQL streaming-replication cluster and the plans that change it.

A member's state is what ``aiplatform.infra.postgresql_member_info`` reads on
one host (``pg_controldata`` plus, when the server runs, a query), or
``{"reachable": False}`` for a host Ansible could not reach. The functions
here only decide: which member is the primary, whether a switchover or a
failover is safe, which replica to promote, and whether the inventory still
matches the cluster. Each returns the reasons it refuses as sentences that
tell the operator what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_CONTROLDATA_FIELDS = {
    'Database system identifier': 'system_identifier',
    'Database cluster state': 'cluster_state',
    'Latest checkpoint location': 'checkpoint_lsn',
    "Latest checkpoint's TimeLineID": 'timeline',
}


class ClusterStateError(ValueError):
    """Input that is no member state or no LSN."""


def parse_controldata(text):
    """The fields of ``pg_controldata`` output this module uses, by short name."""
    found = {}
    for line in text.splitlines():
        label, sep, value = line.partition(':')
        key = _CONTROLDATA_FIELDS.get(label.strip())
        if sep and key:
            found[key] = value.strip()
    missing = sorted(set(_CONTROLDATA_FIELDS.values()) - set(found))
    if missing:
        raise ClusterStateError('pg_controldata printed no %s' % ', '.join(missing))
    try:
        found['timeline'] = int(found['timeline'])
    except ValueError:
        raise ClusterStateError('pg_controldata printed a timeline that is no number: %r' % found['timeline'])
    lsn_to_int(found['checkpoint_lsn'])
    return found


def lsn_to_int(lsn):
    """A WAL position such as ``0/3000148`` as a number of bytes."""
    match = re.match(r'^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$', str(lsn or ''))
    if not match:
        raise ClusterStateError('not a WAL position: %r' % (lsn,))
    return (int(match.group(1), 16) << 32) + int(match.group(2), 16)


def timeline_of_walfile(name):
    """The timeline in a WAL file name (its first 8 hex digits)."""
    if not re.match(r'^[0-9A-Fa-f]{24}$', str(name or '')):
        raise ClusterStateError('not a WAL file name: %r' % (name,))
    return int(name[:8], 16)


def _running(state):
    return bool(state.get('reachable', True) and state.get('running'))


def primaries(states):
    """Members that run and accept writes (not in recovery)."""
    return [name for name, state in states.items() if _running(state) and state.get('in_recovery') is False]


def standbys(states):
    """Members that run in recovery."""
    return [name for name, state in states.items() if _running(state) and state.get('in_recovery') is True]


def _lsn(state, key):
    value = state.get(key)
    return lsn_to_int(value) if value else -1


def _held(state):
    """How far a standby's WAL goes: received or replayed, whichever is further."""
    return max(_lsn(state, 'receive_lsn'), _lsn(state, 'replay_lsn'))


def _held_lsn(state):
    return max((state.get(key) for key in ('receive_lsn', 'replay_lsn') if state.get(key)), key=lsn_to_int,
               default=None)


def switchover_plan(states, target, max_lag_bytes):
    """Whether ``target`` can take over from the running primary with no lost commit.

    Every member must be reachable, one primary must run, and the target must
    stream from it on the same timeline, no more than ``max_lag_bytes``
    behind.
    """
    problems = []
    if target not in states:
        return {'problems': ['%s is no member of the cluster (postgres_primary or postgres_replica): %s'
                             % (target, ', '.join(states))]}
    gone = [name for name, state in states.items() if not _running(state)]
    if gone:
        problems.append('%s: not reachable or PostgreSQL not running. A switchover needs every member up; '
                        'start them, or take the gone primary over with pg_failover.yml.' % ', '.join(gone))
    current = primaries(states)
    if len(current) != 1:
        problems.append('a switchover needs exactly one running primary, found %s'
                        % (', '.join(current) or 'none'))
        return {'problems': problems}
    primary = current[0]
    plan = {'primary': primary, 'target': target,
            'others': [name for name in states if name not in (primary, target)], 'problems': problems}
    if target == primary:
        problems.append('%s is the primary already; nothing to switch over' % target)
        return plan
    state, primary_state = states[target], states[primary]
    if not _running(state):
        return plan
    if state.get('system_identifier') != primary_state.get('system_identifier'):
        problems.append('%s holds another cluster (system identifier %s, the primary has %s): rebuild it as a '
                        'replica first' % (target, state.get('system_identifier'), primary_state.get('system_identifier')))
    if state.get('wal_receiver') != 'streaming':
        problems.append('%s does not stream from %s (WAL receiver: %s): let it catch up first'
                        % (target, primary, state.get('wal_receiver') or 'none'))
    elif state.get('timeline') != primary_state.get('timeline'):
        problems.append('%s is on timeline %s, the primary on %s'
                        % (target, state.get('timeline'), primary_state.get('timeline')))
    lag = _lsn(primary_state, 'current_lsn') - _lsn(state, 'replay_lsn')
    if lag > max_lag_bytes:
        problems.append('%s has replayed %d bytes less than %s wrote (limit %d): wait until it catches up'
                        % (target, lag, primary, max_lag_bytes))
    return plan


def failover_plan(states, target=None):
    """The replica to promote when the primary is gone, and the members to re-point.

    Refuses while any member runs as a primary (that is a switchover, or a
    split cluster), and while a standby still streams: its primary is alive,
    only out of Ansible's reach. Without ``target``, picks the running
    standby that holds the most WAL: received or replayed, whichever is
    further (a synchronous commit is acknowledged once a standby has flushed
    it, and the promotion replays all it received); then replayed, then
    inventory order. A given ``target`` must hold as much as that one.
    """
    problems = []
    live = primaries(states)
    if live:
        problems.append('%s runs as primary: a failover is for a primary that is gone. Use pg_switchover.yml for '
                        'a planned change, or stop %s first.' % (', '.join(live), ', '.join(live)))
    candidates = standbys(states)
    if not candidates:
        problems.append('no running replica to promote (members: %s)'
                        % ', '.join('%s %s' % (name, _describe(state)) for name, state in states.items()))
        return {'problems': problems}
    streaming = [name for name in candidates if states[name].get('wal_receiver') == 'streaming']
    if streaming:
        problems.append('%s still stream%s WAL from %s: the primary is alive, only out of reach here. Stop it '
                        '(or wait until the replicas lose it, wal_receiver_timeout), then fail over.'
                        % (', '.join(streaming), 's' if len(streaming) == 1 else '',
                           ', '.join(sorted(set(str(states[name].get('upstream')) for name in streaming)))))
    identifiers = set(states[name].get('system_identifier') for name in candidates)
    if len(identifiers) > 1:
        problems.append('the running replicas hold different clusters (system identifiers %s)'
                        % ', '.join(sorted(str(i) for i in identifiers)))
    ranked = sorted(candidates, key=lambda name: (_held(states[name]), _lsn(states[name], 'replay_lsn'),
                                                  -list(states).index(name)), reverse=True)
    best = ranked[0]
    chosen = target or best
    if chosen not in candidates:
        problems.append('%s is no running replica (%s); running replicas: %s'
                        % (chosen, _describe(states.get(chosen, {'reachable': False})), ', '.join(candidates)))
    elif _held(states[chosen]) < _held(states[best]):
        problems.append('%s holds WAL up to %s, %s up to %s: promoting %s would lose what %s has. '
                        'Leave pg_failover_to unset to promote the most advanced replica.'
                        % (chosen, _held_lsn(states[chosen]), best, _held_lsn(states[best]), chosen, best))
    return {
        'target': chosen,
        'held_lsn': _held_lsn(states[chosen]) if chosen in candidates else None,
        'others': [name for name in candidates if name != chosen],
        'gone': [name for name in states if name not in candidates and name not in live],
        'problems': problems,
    }


def inventory_primary(groups, primary_host=''):
    """The host the inventory names as the primary.

    ``primary_host`` when set (after a switchover or failover, until the
    inventory moves it), else the first of the ``postgres_primary`` group,
    else an empty string.
    """
    if primary_host:
        return primary_host
    return next(iter((groups or {}).get('postgres_primary') or []), '')


def inventory_problems(states, primary):
    """Reasons the inventory's primary is not the cluster's, from the members' states.

    Members that hold another cluster (a fresh one not built yet) or are
    down are ignored; a former primary on an older timeline is what a
    rejoin expects.
    """
    own = states.get(primary) or {}
    if not own.get('exists'):
        return []
    problems = []
    if own.get('in_recovery') or own.get('standby_signal'):
        live = [name for name in primaries(states)
                if states[name].get('system_identifier') == own.get('system_identifier')]
        problems.append('%s is a standby, not the primary the inventory names%s. After a switchover or failover, '
                        'move the new primary into postgres_primary (or set postgresql_primary_host).'
                        % (primary, ' (%s runs as primary)' % ', '.join(live) if live else ''))
        return problems
    for name, state in states.items():
        if name == primary or not state.get('exists') or state.get('in_recovery') or state.get('standby_signal'):
            continue
        if state.get('system_identifier') == own.get('system_identifier') and \
                (state.get('timeline') or 0) > (own.get('timeline') or 0):
            problems.append('%s was promoted after %s (timeline %s, %s has %s): the inventory names the old '
                            'primary. Move %s into postgres_primary (or set postgresql_primary_host: %s).'
                            % (name, primary, state.get('timeline'), primary, own.get('timeline'), name, name))
    return problems


def _describe(state):
    if not state.get('reachable', True):
        return 'unreachable'
    if not state.get('exists', True):
        return 'without a cluster'
    if not state.get('running'):
        return 'stopped (%s)' % state.get('cluster_state', 'unknown')
    return 'standby' if state.get('in_recovery') else 'primary'
