#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_restore
short_description: Restore a PostgreSQL backup from S3-compatible storage
version_added: 0.1.0
description:
  - Restores a backup taken by M(aiplatform.infra.pg_backup), by id or V(latest).
  - A logical backup is restored into a database (a new one by default); an
    existing database is replaced only with O(replace=true). The dump streams
    into a staging database while it downloads (tables and data), the parts
    of large tables that the backup read in block ranges load next with
    C(COPY), O(jobs) at once, then the indexes and constraints are built with
    C(pg_restore -j O(jobs)); the staging database replaces the target only
    when every checksum and the restore succeeded, and is dropped otherwise.
  - Backups of a newer manifest format than this version reads are refused.
  - The globals of the backup (roles, tablespaces) are restored only when
    asked, with O(restore_globals=true).
  - A physical backup is unpacked into the data directory of a stopped
    cluster (O(data_directory)); start the cluster afterwards.
  - Each stored object is checked against the SHA-256 in the manifest (and
    decrypted and decompressed) before the target database or data directory
    changes; a mismatch, a wrong passphrase, a backup without manifest
    (incomplete) or too little free space stops the restore with that cause.
  - Run it as the OS user that may connect (C(become_user=postgres)); for a
    physical restore, as the owner of the data directory.
author:
  - aiplatform.infra maintainers (@aiplatform)
extends_documentation_fragment:
  - aiplatform.infra.backup
  - aiplatform.infra.backup.postgres
attributes:
  check_mode:
    support: full
    description: Finds the backup, checks that the target may be written and reports the restore without downloading.
  diff_mode:
    support: none
    description: No diff of database contents.
  idempotent:
    support: none
    description: Every run restores again (O(replace=true)) or refuses an existing target.
  platform:
    support: full
    platforms: posix
    description: Runs on the host that gets the data.
options:
  backup_id:
    description: The backup to restore; V(latest) is the newest complete one of the kind O(data_directory) implies.
    type: str
    default: latest
  database:
    description: Database of a logical backup to restore; may be left out when the backup holds one.
    type: str
  target_database:
    description: Database to restore into; O(database) when unset.
    type: str
  owner:
    description: Owner of the restored database; O(login_user) when unset.
    type: str
  no_owner:
    description: Restore without the dump's ownership (C(pg_restore --no-owner)), for a server that lacks its roles.
    type: bool
    default: false
  replace:
    description:
      - Replace an existing target database (dropped, connections and all, once the
        restore into the staging database succeeded), or wipe a non-empty O(data_directory).
    type: bool
    default: false
  jobs:
    description: Parallel jobs of C(pg_restore), and parts of large tables loaded at once, 1 to 64.
    type: int
    default: 2
  restore_globals:
    description:
      - Before the database, run the backup's C(globals.sql) (C(pg_dumpall --globals-only)) with C(psql).
        Missing roles and tablespaces are created, and every role in it gets the dumped attributes,
        memberships and password, existing ones included (their C(CREATE) fails with "already exists"
        and is counted in RV(globals_existing)). Any other error stops the restore before the database.
      - The backup must hold the globals (taken with O(aiplatform.infra.pg_backup#module:databases=[all])
        or O(aiplatform.infra.pg_backup#module:globals=true)).
      - Applied globals stay when the database restore after them fails.
    type: bool
    default: false
  work_dir:
    description:
      - Directory for a copy of the decoded dump of a logical restore (C(pg_restore -j) builds the indexes from a
        file) and for the globals script; it needs the dump's uncompressed size free.
    type: path
    default: /var/tmp
  count_rows:
    description: Return the exact row count of every table of the restored database.
    type: bool
    default: false
  data_directory:
    description: Restore a physical backup into this data directory of a stopped cluster.
    type: path
'''

EXAMPLES = r'''
- name: Restore the latest backup of appdb into a new database appdb_copy
  aiplatform.infra.pg_restore:
    bucket: db-backups
    endpoint_url: https://s3.example.net
    access_key: "{{ vault_s3_access_key }}"
    secret_key: "{{ vault_s3_secret_key }}"
    database: appdb
    target_database: appdb_copy
    jobs: 4
  become: true
  become_user: postgres

- name: Unpack a physical backup into a stopped cluster's data directory
  aiplatform.infra.pg_restore:
    bucket: db-backups
    backup_id: 20261126T020000Z-physical-3fa2
    data_directory: /var/lib/postgresql/15/main
    replace: true
  become: true
  become_user: postgres
'''

RETURN = r'''
backup_id:
  description: Id of the backup restored.
  returned: always
  type: str
  sample: 20261126T020000Z-logical-3fa2
database:
  description: Database of the backup that was restored.
  returned: logical restores
  type: str
  sample: appdb
target_database:
  description: Database restored into.
  returned: logical restores
  type: str
  sample: appdb_copy
data_directory:
  description: Data directory restored into.
  returned: physical restores
  type: str
  sample: /var/lib/postgresql/15/main
replaced:
  description: Whether an existing database or non-empty data directory was replaced.
  returned: always
  type: bool
  sample: false
size:
  description: Bytes of the dump or tar restored (before compression).
  returned: always
  type: int
  sample: 1048576
globals_existing:
  description: Roles and tablespaces of the globals that existed already (their C(CREATE) failed and was skipped).
  returned: when O(restore_globals=true), not in check mode
  type: int
  sample: 1
row_counts:
  description: Rows per table (schema-qualified) of the restored database.
  returned: when O(count_rows=true), not in check mode
  type: dict
  sample: {public.orders: 120, public.customers: 12}
'''

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.aiplatform.infra.plugins.module_utils.arguments import ansible_module
from ansible_collections.aiplatform.infra.plugins.module_utils.backup import catalog, options, pgtools, restore, s3
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import LIBRARIES, BackupError, DEBIAN_PACKAGES


def run(module):
    params = module.params
    store = s3.Store(s3.client(params), params['bucket'])
    store.check_bucket()
    kind = 'physical' if params['data_directory'] else 'logical'
    chosen = catalog.resolve(catalog.list_backups(store, params['prefix']), params['backup_id'], kind)
    manifest = catalog.read_manifest(store, params['prefix'], chosen['id'])
    if manifest['kind'] != kind:
        raise BackupError('backup %s is %s: %s' % (manifest['id'], manifest['kind'], (
            'set data_directory to restore it' if manifest['kind'] == 'physical'
            else 'a logical backup is restored into a database, not a data_directory')))
    if kind == 'physical':
        return restore.restore_physical(params, store, manifest, module.check_mode)
    return restore.restore_logical(params, pgtools.Server(params), store, manifest, module.check_mode)


def main():
    module = ansible_module(argument_spec=options.argument_spec('pg_restore'), supports_check_mode=True,
                            mutually_exclusive=[('data_directory', 'database'), ('data_directory', 'target_database'),
                                                ('data_directory', 'restore_globals')])
    try:
        options.check('pg_restore', module.params)
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    needed = ['boto3'] + ([] if module.params['data_directory'] else ['psycopg'])
    for name in needed:
        if LIBRARIES[name]:
            module.fail_json(msg='%s (Debian: apt install %s)' % (missing_required_lib(name), DEBIAN_PACKAGES[name]),
                             exception=LIBRARIES[name])
    try:
        module.exit_json(**run(module))
    except (BackupError, OSError) as exc:  # OSError: no space, permissions of a directory
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()
