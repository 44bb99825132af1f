#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_backup_info
short_description: List the PostgreSQL backups in an S3 location
version_added: 0.1.0
description:
  - Lists the backups that M(aiplatform.infra.pg_backup) stored under a
    prefix, oldest first, with id, time, kind, sizes, status and age.
  - A backup is V(complete) when its manifest exists; one without (a failed
    or running backup) is V(incomplete) and never reported as the latest.
  - Also lists the multipart uploads still open under the prefix.
author:
  - aiplatform.infra maintainers (@aiplatform)
extends_documentation_fragment:
  - aiplatform.infra.backup
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Changes nothing.
  platform:
    support: full
    platforms: posix
    description: Runs wherever boto3 reaches the endpoint, the controller included.
options:
  backup_id:
    description: Also return the manifest of this backup (V(latest) for the newest complete one).
    type: str
'''

EXAMPLES = r'''
- name: List the backups
  aiplatform.infra.pg_backup_info:
    bucket: db-backups
    endpoint_url: https://s3.example.net
    access_key: "{{ vault_s3_access_key }}"
    secret_key: "{{ vault_s3_secret_key }}"
  register: backups

- name: Fail when the newest backup is older than a day
  ansible.builtin.assert:
    that: backups.latest.age_seconds < 86400
'''

RETURN = r'''
backups:
  description:
    - Every backup under the prefix, oldest first.
    - C(running) is true for an incomplete backup that holds a live lease (still being taken); retention
      leaves those alone.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 20261126T020000Z-logical-3fa2, time: "2026-11-26T02:00:00+00:00", kind: logical,
       status: complete, running: false, stored_size: 20480, size: 1048576, age_seconds: 3600, objects: 3,
       databases: [appdb], duration: 2.5, end_time: "2026-11-26T02:00:02+00:00"}
latest:
  description: The newest complete backup (an item of RV(backups)); null when there is none.
  returned: always
  type: dict
  sample: {id: 20261126T020000Z-logical-3fa2, kind: logical, status: complete}
incomplete:
  description: Ids of the backups without a manifest.
  returned: always
  type: list
  elements: str
  sample: []
uploads_in_progress:
  description: Multipart uploads open under the prefix (a running backup, or one killed with SIGKILL).
  returned: always
  type: list
  elements: dict
  sample: [{key: postgresql/20261126T020000Z-logical-3fa2/db-appdb.dump.zst, initiated: "2026-11-26T02:00:00+00:00"}]
manifest:
  description: The manifest of O(backup_id).
  returned: when O(backup_id) is set
  type: dict
  sample: {id: 20261126T020000Z-logical-3fa2, kind: logical, objects: []}
'''

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.aiplatform.infra.plugins.module_utils.arguments import ansible_module
from ansible_collections.aiplatform.infra.plugins.module_utils.backup import catalog, options, s3
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import LIBRARIES, BackupError, DEBIAN_PACKAGES


def run(params):
    store = s3.Store(s3.client(params), params['bucket'])
    store.check_bucket()
    backups = catalog.list_backups(store, params['prefix'])
    complete = [b for b in backups if b['status'] == 'complete']
    result = dict(changed=False, backups=backups, latest=complete[-1] if complete else None,
                  incomplete=[b['id'] for b in backups if b['status'] == 'incomplete'],
                  uploads_in_progress=[dict(key=u['key'], initiated=u['initiated'].isoformat())
                                       for u in store.uploads(catalog.base(params['prefix']))])
    if params['backup_id']:
        chosen = catalog.resolve(backups, params['backup_id'])
        result['manifest'] = catalog.read_manifest(store, params['prefix'], chosen['id'])
    return result


def main():
    module = ansible_module(argument_spec=options.argument_spec('pg_backup_info'), supports_check_mode=True)
    try:
        options.check('pg_backup_info', module.params)
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    if LIBRARIES['boto3']:
        module.fail_json(msg='%s (Debian: apt install %s)' % (missing_required_lib('boto3'), DEBIAN_PACKAGES['boto3']),
                         exception=LIBRARIES['boto3'])
    try:
        module.exit_json(**run(module.params))
    except (BackupError, OSError) as exc:  # OSError: no space, permissions of a directory
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()
