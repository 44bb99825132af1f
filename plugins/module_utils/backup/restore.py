# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Restoring a backup. Every stored object is checked against the SHA-256 of
its manifest (and decrypted and decompressed) before the target database or
data directory changes: a logical dump streams into a staging database that
replaces the target only once the checksum and pg_restore both succeeded."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import catalog, codec, pgtools, split
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

STAGING_SUFFIX = '_aip_restoring'
GLOBALS = 'globals.sql'


def free_space(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def require_space(path, needed):
    available = free_space(path)
    if available < needed:
        raise BackupError('no space: %s has %d MiB free, the restore needs %d MiB; free some or set work_dir'
                          % (path, available // 1048576, needed // 1048576 + 1))


def _tree_size(path):
    """Bytes of the regular files under path (what removing it frees)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                total += os.lstat(full).st_size
    return total


def pick_object(manifest, database):
    dumps = [o for o in manifest['objects'] if o.get('database') and not o.get('table')]
    if database is None:
        if len(dumps) != 1:
            raise BackupError('backup %s holds %d databases (%s): name one in database'
                              % (manifest['id'], len(dumps), ', '.join(o['database'] for o in dumps)))
        return dumps[0]
    for entry in dumps:
        if entry['database'] == database:
            return entry
    raise BackupError('backup %s has no database %r (it has: %s)'
                      % (manifest['id'], database, ', '.join(o['database'] for o in dumps) or 'none'))


def table_parts(manifest, database):
    """The objects that hold parts of a database's large tables (none in a format 1 backup)."""
    return [o for o in manifest['objects'] if o.get('table') and o['database'] == database]


def read_object(store, prefix, manifest, entry, passphrase, sink):
    """Streams one stored object, decoded, into sink(bytes); fails on a checksum mismatch.

    sink sees data before the checksum is known: callers either discard it
    (a verifying pass) or write it where a mismatch leaves nothing behind. A
    damaged object is read to its end, so that the checksum names the cause.
    """
    if manifest.get('encryption') and not passphrase:
        raise BackupError('backup %s is encrypted: set encryption_passphrase' % manifest['id'])
    digest = hashlib.sha256()
    decoder = codec.decoder(manifest['compression']['codec'], passphrase if manifest.get('encryption') else None)
    failure = None
    for chunk in store.iter_chunks(catalog.key(prefix, manifest['id'], entry['name'])):
        digest.update(chunk)
        pieces = decoder.iter_process(chunk) if failure is None else iter(())
        while True:
            try:
                piece = next(pieces)
            except StopIteration:
                break
            except Exception as exc:  # zlib, zstandard and decryption errors alike
                failure = exc
                break
            sink(piece)
    if digest.hexdigest() != entry['sha256']:
        raise BackupError('checksum mismatch for %s of backup %s: the stored object was altered or damaged '
                          '(expected %s, got %s); nothing was restored'
                          % (entry['name'], manifest['id'], entry['sha256'], digest.hexdigest()))
    if failure is None:
        try:
            data = decoder.finish()
        except Exception as exc:  # as above
            failure = exc
        else:
            sink(data)
            return
    if isinstance(failure, BackupError):
        raise failure
    raise BackupError('cannot decode %s of backup %s: %s' % (entry['name'], manifest['id'], failure))


class _Loader(object):
    """A sink that writes the decoded dump to a file and into a running pg_restore.

    A pg_restore that fails is not fed any more, but the stream is read to
    its end, so that a damaged object is reported by its checksum; failure()
    is that pg_restore's error, raised once the checksum is known good.
    """

    def __init__(self, handle, command):
        self._handle = handle
        self._command = command
        self.error = None

    def __call__(self, data):
        self._handle.write(data)
        if self.error is None:
            try:
                self._command.write(data)
            except BackupError as exc:
                self.error = exc


def _pg_restore(params, staging):
    return [pgtools.program('pg_restore', params.get('bin_dir')), '-d', staging, '--exit-on-error'] + (
        ['--no-owner'] if params['no_owner'] else [])


def _load(params, server, store, manifest, entry, staging, dump):
    """Tables and data stream into the staging database while the object downloads
    (pg_restore reading its input); the parts of large tables load next, O(jobs)
    at once; indexes and constraints follow from the file with pg_restore -j
    (which needs a file, only its table of contents is read)."""
    argv = _pg_restore(params, staging)
    with pgtools.Command(argv + ['--section=pre-data', '--section=data'], server.env(), stdin=True) as command:
        loader = _Loader(dump, command)
        read_object(store, params['prefix'], manifest, entry, params.get('encryption_passphrase'), loader)
        if loader.error is not None:
            raise loader.error
        command.wait()
    dump.flush()
    failed = threading.Event()  # after a failure, the parts not started stay so

    def load(part):
        if not failed.is_set():
            try:
                _load_part(params, server, store, manifest, part, staging)
            except BaseException:
                failed.set()
                raise

    pool = ThreadPoolExecutor(max(1, params['jobs']))
    try:
        for future in as_completed([pool.submit(load, part) for part in table_parts(manifest, entry['database'])]):
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    with pgtools.Command(argv + ['-j', str(params['jobs']), '--section=post-data', dump.name], server.env()) as command:
        command.wait()


def _load_part(params, server, store, manifest, part, staging):
    """One part of a large table, streamed into COPY FROM; a damaged part fails its COPY."""
    try:
        with server.connect(staging) as conn:
            conn.execute("SELECT set_config('client_encoding', %s, false)", (part['encoding'],))
            with conn.cursor().copy(split.copy_in(part)) as copy:
                read_object(store, params['prefix'], manifest, part, params.get('encryption_passphrase'), copy.write)
    except pgtools.psycopg.Error as exc:
        raise BackupError('loading %s (part %d of %s) failed: %s'
                          % (part['name'], part['part'], part['table'], ' '.join(str(exc).split())))


def globals_object(manifest):
    for entry in manifest['objects']:
        if entry['name'].startswith(GLOBALS):
            return entry
    raise BackupError('backup %s holds no globals (take it with databases=[all] or globals=true), '
                      'or restore it without restore_globals' % manifest['id'])


def restore_globals(params, server, store, manifest):
    """Runs the backup's globals.sql (roles, their memberships and settings, tablespaces) with psql.

    The script is checked and decoded in full first. pg_dumpall's script is
    meant to meet existing roles: their CREATE fails ("already exists") and the
    ALTER ROLE after it still sets the dumped attributes and password. Those
    failures are counted; any other error fails the restore.
    """
    entry = globals_object(manifest)
    with tempfile.NamedTemporaryFile(dir=params['work_dir'], prefix='aip-restore-', suffix='.sql') as script:
        read_object(store, params['prefix'], manifest, entry, params.get('encryption_passphrase'), script.write)
        script.flush()
        argv = [pgtools.program('psql', params.get('bin_dir')), '-X', '-q', '-o', os.devnull,
                '-d', 'postgres', '-f', script.name]
        with pgtools.Command(argv, server.env()) as command:
            errors = [line for line in command.wait().splitlines() if 'ERROR:' in line]
    others = [line.split('ERROR:', 1)[1].strip() for line in errors if 'already exists' not in line]
    if others:
        raise BackupError('the globals of backup %s were applied with %d error(s), the database was not restored: %s'
                          % (manifest['id'], len(others), ' | '.join(others[:5])))
    return len(errors)


def restore_logical(params, server, store, manifest, check_mode=False):
    catalog.check_format(manifest)
    entry = pick_object(manifest, params.get('database'))
    target = params.get('target_database') or entry['database']
    exists = server.database_exists(target)
    if exists and not params['replace']:
        raise BackupError('database %r exists: set replace=true to replace it, or choose another '
                          'target_database' % target)
    result = dict(changed=True, backup_id=manifest['id'], database=entry['database'], target_database=target,
                  replaced=exists,
                  size=entry['raw_size'] + sum(o['raw_size'] for o in table_parts(manifest, entry['database'])))
    if params.get('restore_globals'):
        globals_object(manifest)
    if check_mode:
        return result
    require_space(params['work_dir'], entry['raw_size'])
    if params.get('restore_globals'):
        result['globals_existing'] = restore_globals(params, server, store, manifest)
    staging = target + STAGING_SUFFIX
    if server.database_exists(staging):
        server.execute('DROP DATABASE {} WITH (FORCE)', staging)
    server.execute('CREATE DATABASE {} TEMPLATE template0 OWNER {}', staging,
                   params.get('owner') or params['login_user'])
    try:
        with tempfile.NamedTemporaryFile(dir=params['work_dir'], prefix='aip-restore-', suffix='.dump') as dump:
            _load(params, server, store, manifest, entry, staging, dump)
    except BaseException:
        server.execute('DROP DATABASE IF EXISTS {} WITH (FORCE)', staging)
        raise
    if exists:
        server.execute('DROP DATABASE {} WITH (FORCE)', target)
    server.execute('ALTER DATABASE {} RENAME TO {}', staging, target)
    if params.get('count_rows'):
        result['row_counts'] = server.row_counts(target)
    return result


def restore_physical(params, store, manifest, check_mode=False):
    catalog.check_format(manifest)
    target = params['data_directory']
    if os.path.exists(os.path.join(target, 'postmaster.pid')):
        raise BackupError('the cluster in %s is running (postmaster.pid exists): stop it first' % target)
    present = os.path.isdir(target) and os.listdir(target)
    if present and not params['replace']:
        raise BackupError('%s is not empty: set replace=true to wipe it, or choose another data_directory' % target)
    entry = manifest['objects'][0]
    result = dict(changed=True, backup_id=manifest['id'], data_directory=target, replaced=bool(present),
                  size=entry['raw_size'])
    if check_mode:
        return result
    passphrase = params.get('encryption_passphrase')
    read_object(store, params['prefix'], manifest, entry, passphrase, lambda data: None)
    # Before anything is wiped: what the wipe frees counts, nothing else.
    require_space(target if os.path.isdir(target) else os.path.dirname(os.path.abspath(target)),
                  entry['raw_size'] - (_tree_size(target) if present else 0))
    if present:
        for name in os.listdir(target):
            path = os.path.join(target, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    os.makedirs(target, mode=0o700, exist_ok=True)
    with pgtools.Command(['tar', '-x', '-f', '-', '-C', target], dict(os.environ), stdin=True) as command:
        read_object(store, params['prefix'], manifest, entry, passphrase, command.write)
        command.wait()
    os.chmod(target, 0o700)
    return result
