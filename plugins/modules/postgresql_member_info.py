#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: postgresql_member_info
short_description: Read one PostgreSQL replication member's state
version_added: 0.1.0
description:
  - Reads the cluster in O(data_dir) on this host, from its control file with
    C(pg_controldata) (system identifier, cluster state, timeline, last
    checkpoint), whether C(standby.signal) is there, and, when the server
    answers on the local socket, whether it is in recovery, its WAL positions,
    its WAL receiver and the replicas and slots it serves.
  - Works on a stopped server and on a host whose cluster is not made yet.
  - The pg_switchover, pg_failover playbooks and the postgresql role feed
    the states of all members to the C(aiplatform.infra.pg_switchover_plan),
    C(aiplatform.infra.pg_failover_plan) and
    C(aiplatform.infra.pg_inventory_problems) filters.
  - Run it as the OS user that owns the cluster (C(become_user=postgres)).
author:
  - aiplatform.infra maintainers (@aiplatform)
attributes:
  check_mode:
    support: full
    description: Read-only; runs in check mode too.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: Never changes anything.
  platform:
    support: full
    platforms: posix
    description: Runs on the database host.
options:
  data_dir:
    description: The cluster's data directory.
    type: path
    required: true
  bin_dir:
    description: The directory with C(pg_controldata) and C(psql) of the cluster's major version.
    type: path
    required: true
  port:
    description: The port the server listens on (the local socket's name), 1 to 65535.
    type: int
    default: 5432
  database:
    description: The database the live query connects to.
    type: str
    default: postgres
'''

EXAMPLES = r'''
- name: Read this member's state
  aiplatform.infra.postgresql_member_info:
    data_dir: /var/lib/postgresql/15/main
    bin_dir: /usr/lib/postgresql/15/bin
  become: true
  become_user: postgres
  register: member

- name: Promote only a standby
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} replayed up to {{ member.member.replay_lsn }}"
  when: member.member.in_recovery
'''

RETURN = r'''
member:
  description: The member's state.
  returned: always
  type: dict
  contains:
    exists:
      description: Whether O(data_dir) holds a cluster.
      type: bool
      sample: true
    running:
      description: Whether the server answered the live query.
      type: bool
      sample: true
    system_identifier:
      description: The cluster's identifier; replicas share their primary's.
      type: str
      returned: when exists
      sample: "7441237891263301234"
    cluster_state:
      description: The control file's state, as C(pg_controldata) prints it.
      type: str
      returned: when exists
      sample: in production
    checkpoint_lsn:
      description: The last checkpoint's WAL position.
      type: str
      returned: when exists
      sample: 0/5000060
    timeline:
      description: The timeline the server writes (a primary) or receives (a streaming standby), else the last checkpoint's.
      type: int
      returned: when exists
      sample: 2
    standby_signal:
      description: Whether C(standby.signal) is in the data directory.
      type: bool
      returned: when exists
      sample: false
    in_recovery:
      description: Whether the running server is a standby; null when it is not running.
      type: bool
      returned: when exists
      sample: false
    current_lsn:
      description: The primary's current WAL write position; null on a standby.
      type: str
      returned: when running
      sample: 0/5000148
    receive_lsn:
      description: The last WAL position a standby received; null on a primary.
      type: str
      returned: when running
      sample: 0/5000148
    replay_lsn:
      description: The last WAL position a standby replayed; null on a primary.
      type: str
      returned: when running
      sample: 0/5000148
    wal_receiver:
      description: The WAL receiver's status (C(streaming) when it follows its primary); null when none runs.
      type: str
      returned: when running
      sample: streaming
    upstream:
      description: The host the WAL receiver connects to.
      type: str
      returned: when running
      sample: 172.30.79.21
    replication:
      description: The replicas this server sends WAL to (C(pg_stat_replication)).
      type: list
      elements: dict
      returned: when running
      sample: [{application_name: pg_2, client_addr: 172.30.79.22, state: streaming, sync_state: quorum,
                replay_lsn: 0/5000148}]
    slots:
      description: The physical replication slots on this server.
      type: list
      elements: dict
      returned: when running
      sample: [{slot_name: pg_2, active: true, wal_status: reserved, restart_lsn: 0/5000148}]
    connect_error:
      description: Why the live query failed, when the cluster exists but the server did not answer.
      type: str
      returned: when exists and not running
      sample: 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed'
'''

from ansible_collections.aiplatform.infra.plugins.module_utils.arguments import ansible_module
from ansible_collections.aiplatform.infra.plugins.module_utils.postgresql_member import (
    MemberReadError,
    read_member,
)


ARGUMENT_SPEC = dict(
    data_dir=dict(type='path', required=True),
    bin_dir=dict(type='path', required=True),
    port=dict(type='int', default=5432),
    database=dict(type='str', default='postgres'),
)


def main():
    module = ansible_module(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    if not 1 <= module.params['port'] <= 65535:
        module.fail_json(msg='port must be between 1 and 65535, not %d' % module.params['port'])
    try:
        member = read_member(module.run_command, module.params['data_dir'], module.params['bin_dir'],
                             module.params['port'], module.params['database'])
    except MemberReadError as exc:
        module.fail_json(msg='Could not read the PostgreSQL member in %s: %s' % (module.params['data_dir'], exc))
    module.exit_json(changed=False, member=member)


if __name__ == '__main__':
    main()
