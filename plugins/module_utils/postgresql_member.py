# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reads one PostgreSQL member's state: the control file, and the live server when it runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.aiplatform.infra.plugins.module_utils.postgresql_cluster import (
    ClusterStateError,
    parse_controldata,
    timeline_of_walfile,
)

# One round trip; functions that fail in recovery are behind CASE.
LIVE_QUERY = """
SELECT json_build_object(
  'in_recovery', pg_is_in_recovery(),
  'current_lsn', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
  'walfile', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END,
  'receive_lsn', pg_last_wal_receive_lsn()::text,
  'replay_lsn', pg_last_wal_replay_lsn()::text,
  'wal_receiver', (SELECT status FROM pg_stat_wal_receiver),
  'received_tli', (SELECT received_tli FROM pg_stat_wal_receiver),
  'upstream', (SELECT sender_host FROM pg_stat_wal_receiver),
  'replication', (SELECT coalesce(json_agg(json_build_object(
      'application_name', application_name, 'client_addr', host(client_addr), 'state', state,
      'sync_state', sync_state, 'replay_lsn', replay_lsn::text) ORDER BY application_name), '[]')
    FROM pg_stat_replication),
  'slots', (SELECT coalesce(json_agg(json_build_object(
      'slot_name', slot_name, 'active', active, 'wal_status', wal_status,
      'restart_lsn', restart_lsn::text) ORDER BY slot_name), '[]')
    FROM pg_replication_slots WHERE slot_type = 'physical'))
"""

_C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C'}


class MemberReadError(Exception):
    """A tool that should have answered did not."""


def read_member(run_command, data_dir, bin_dir, port, database):
    """The state of the cluster in ``data_dir``.

    ``run_command`` is AnsibleModule.run_command (or a stand-in): it takes an
    argv list and ``environ_update`` and returns (rc, stdout, stderr).
    """
    if not os.path.exists(os.path.join(data_dir, 'PG_VERSION')):
        return {'exists': False, 'running': False}
    rc, out, err = run_command([os.path.join(bin_dir, 'pg_controldata'), '-D', data_dir],
                               environ_update=_C_LOCALE)
    if rc != 0:
        raise MemberReadError('pg_controldata -D %s failed: %s' % (data_dir, (err or out).strip()))
    try:
        state = parse_controldata(out)
    except ClusterStateError as exc:
        raise MemberReadError(str(exc))
    state.update(exists=True, running=False, in_recovery=None,
                 standby_signal=os.path.exists(os.path.join(data_dir, 'standby.signal')))
    rc, out, err = run_command([os.path.join(bin_dir, 'psql'), '-XAtq', '-p', str(port), '-d', database,
                                '-v', 'ON_ERROR_STOP=1', '-c', LIVE_QUERY], environ_update=_C_LOCALE)
    if rc != 0:
        state['connect_error'] = (err or out).strip()
        return state
    try:
        live = json.loads(out)
    except ValueError:
        raise MemberReadError('psql printed no JSON: %r' % out[:200])
    state.update(live, running=True)
    walfile = state.pop('walfile', None)
    received_tli = state.pop('received_tli', None)
    if walfile:
        state['timeline'] = timeline_of_walfile(walfile)
    elif received_tli:
        state['timeline'] = received_tli
    return state
