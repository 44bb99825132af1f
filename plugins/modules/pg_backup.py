#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_backup
short_description: Stream a PostgreSQL backup into S3-compatible storage
version_added: 0.1.0
description:
  - Takes a logical backup (C(pg_dump) custom format per database, plus
    C(pg_dumpall --globals-only)) or a physical one (C(pg_basebackup), the
    whole cluster as one tar with the WAL it needs) and streams it straight
    into a bucket; no copy of the backup is written on the host.
  - A table of O(split_min_mb) or more is read in O(jobs) block ranges at
    once, each by its own C(COPY) on the snapshot that C(pg_dump) uses, and
    stored as objects of its own; C(pg_dump) leaves that table's data out.
    One large table then no longer bounds the backup by one server backend.
  - Each program's output is compressed (zstd, gzip or none) and optionally
    encrypted on the host, then sent as a multipart upload in parts of
    O(part_size_mb); memory stays near two parts per object streamed at once
    (O(jobs) + 1), whatever the database size.
  - The backup is complete only when its C(manifest.json) is written, last. It
    holds the id, kind, databases, server version, start and end WAL
    positions, sizes, a SHA-256 per stored object, the tool versions and the
    duration. On any failure, and on SIGTERM or SIGINT, the multipart upload
    is aborted and objects already stored for the backup are deleted, so no
    manifest and no open upload is left.
  - With O(retention), expired backups are deleted after a successful backup;
    the newest complete backup is never deleted.
  - A running backup holds a lease, C(<prefix>/<id>/.lease.json), written
    before its first object, renewed every minute and valid for 10 minutes
    by the clock of the host that writes it. Retention never touches a backup
    with a live lease nor its open uploads, so backups that overlap on one
    prefix (a timer run and an ad-hoc one) both complete; the hosts' clocks
    must agree within 9 minutes. A backup whose lease could not be renewed
    for that long fails rather than write its manifest.
  - Run it as the OS user that may connect (C(become_user=postgres) with the
    default peer authentication over the socket).
author:
  - aiplatform.infra maintainers (@aiplatform)
extends_documentation_fragment:
  - aiplatform.infra.backup
  - aiplatform.infra.backup.postgres
attributes:
  check_mode:
    support: full
    description: Connects to the server and the bucket, then reports the backup it would take and the backups retention would delete.
  diff_mode:
    support: none
    description: A backup has no before and after.
  idempotent:
    support: none
    description: Every run takes a new backup.
  platform:
    support: full
    platforms: posix
    description: Runs on the database host (primary or replica).
options:
  kind:
    description: V(logical) (C(pg_dump)) or V(physical) (C(pg_basebackup)).
    type: str
    choices: [logical, physical]
    default: logical
  databases:
    description:
      - Databases of a logical backup, each one object; V(all) is every database
        that accepts connections, plus the globals (roles, tablespaces).
    type: list
    elements: str
    default: [all]
  globals:
    description: Add the globals to a logical backup of named databases.
    type: bool
    default: false
  compression:
    description: Compression codec; V(zstd) needs C(zstandard) on the host (Debian C(python3-zstandard)).
    type: str
    choices: [zstd, gzip, none]
    default: zstd
  compression_level:
    description: Compression level, 1 to 22 for zstd and 0 to 9 for gzip; the codec's default (zstd 3, gzip 6) when unset.
    type: int
  part_size_mb:
    description:
      - Size of one multipart upload part in MiB, 5 to 5120 (S3's part sizes, 5 MiB to 5 GiB); memory use is
        about twice this per object streamed at once.
    type: int
    default: 16
  jobs:
    description:
      - Block ranges of a large table (see O(split_min_mb)) read at once, each by its own C(COPY) on
        the snapshot C(pg_dump) uses, so a large table is read by this many server backends; the ranges
        are stored as objects of their own, which C(aiplatform.infra.pg_restore) loads O(jobs) at once.
      - V(1) leaves every table to C(pg_dump), one object per database. At most V(64). A physical backup ignores it.
      - Needs PostgreSQL 14 or later on the server to read a range without scanning the whole table.
      - Backups with such parts (manifest format 2) cannot be restored by versions of this collection
        before it; those fail rather than restore the database without them.
    type: int
    default: 2
  split_min_mb:
    description:
      - Size in MiB (TOAST included) from which a table of a logical backup is read in O(jobs) block
        ranges (0 or more); smaller tables, unlogged tables, the tables of extensions and large objects stay in the
        C(pg_dump) archive. V(0) splits every other table.
      - A table whose columns are all built-in types (the C(reg*) types aside) is stored in C(COPY)'s
        binary format, any other in text.
    type: int
    default: 128
  storage_class:
    description: S3 storage class of the objects, e.g. V(STANDARD_IA).
    type: str
  server_side_encryption:
    description: S3 server-side encryption of the objects.
    type: str
    choices: [AES256, aws:kms]
  sse_kms_key_id:
    description: KMS key of O(server_side_encryption=aws:kms).
    type: str
  retention:
    description: Which backups to keep after a successful backup; none is deleted when unset.
    type: dict
    suboptions:
      keep_last:
        description: Keep the newest this many complete backups. Every count of O(retention) is 0 or more.
        type: int
        default: 0
      keep_daily:
        description: Keep the newest backup of each of the newest this many days that have one.
        type: int
        default: 0
      keep_weekly:
        description: The same per ISO week.
        type: int
        default: 0
      keep_monthly:
        description: The same per month.
        type: int
        default: 0
      stale_upload_hours:
        description:
          - Abort the open multipart uploads of backups that are not running (no live lease) and began this
            many hours ago (left by a run killed with SIGKILL), 0 or more. The age is the backup id's, not
            the endpoint's date of the upload.
        type: int
        default: 24
'''

EXAMPLES = r'''
- name: Back up every database of the primary, encrypted, keeping 7 daily and 4 weekly
  aiplatform.infra.pg_backup:
    bucket: db-backups
    endpoint_url: https://s3.example.net
    access_key: "{{ vault_s3_access_key }}"
    secret_key: "{{ vault_s3_secret_key }}"
    encryption_passphrase: "{{ vault_backup_passphrase }}"
    retention:
      keep_daily: 7
      keep_weekly: 4
  become: true
  become_user: postgres

- name: Physical backup of the cluster to AWS in STANDARD_IA
  aiplatform.infra.pg_backup:
    kind: physical
    bucket: db-backups
    prefix: prod/pg
    region: eu-central-1
    storage_class: STANDARD_IA
    server_side_encryption: AES256
  become: true
  become_user: postgres
'''

RETURN = r'''
backup_id:
  description: Id of the backup taken (in check mode, the id it would have had).
  returned: always
  type: str
  sample: 20261126T123000Z-logical-3fa2
manifest:
  description:
    - The manifest written last (see the description), format 2.
    - Each object names its O(databases) entry; a part of a large table also has C(table), C(columns),
      C(copy_format), C(part) and C(encoding).
  returned: when a backup was taken
  type: dict
  sample: {format: 2, id: 20261126T123000Z-logical-3fa2, kind: logical, databases: [appdb], raw_size: 1048576,
           stored_size: 20480, objects: [{name: db-appdb.dump.zst, database: appdb, sha256: "9f2c...", stored_size: 2048},
                                         {name: db-appdb.public.events.1.copy.zst, database: appdb, table: public.events,
                                          columns: [id, body], copy_format: binary, part: 1, encoding: UTF8,
                                          sha256: "41aa...", stored_size: 18432}]}
expired:
  description: Ids of the backups retention deleted (would delete in check mode).
  returned: always
  type: list
  elements: str
  sample: [20261101T020000Z-logical-0a1b]
aborted_uploads:
  description: Keys of stale multipart uploads that retention aborted (would abort in check mode).
  returned: always
  type: list
  elements: str
  sample: []
'''

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.aiplatform.infra.plugins.module_utils.arguments import ansible_module
from ansible_collections.aiplatform.infra.plugins.module_utils.backup import backup, options
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import (
    BackupError, DEBIAN_PACKAGES, missing_libraries)


def main():
    module = ansible_module(argument_spec=options.argument_spec('pg_backup'), supports_check_mode=True,
                            required_if=[('server_side_encryption', 'aws:kms', ['sse_kms_key_id'])])
    try:
        options.check('pg_backup', module.params)
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    for name, error in missing_libraries(module.params):
        module.fail_json(msg='%s (Debian: apt install %s)' % (missing_required_lib(name), DEBIAN_PACKAGES[name]),
                         exception=error)
    try:
        module.exit_json(**backup.take(module.params, module.check_mode))
    except (BackupError, OSError) as exc:  # OSError: no space, permissions of a directory
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()
