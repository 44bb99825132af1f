# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Taking a backup: each dump program's output goes through compression and
encryption straight into a multipart upload; the manifest is written last."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import functools
import platform
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import catalog, codec, pgtools, s3, split
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

from urllib.parse import quote

MIB = 1024 * 1024


class Interrupted(BackupError):
    """Raised in the main thread by SIGTERM or SIGINT."""


@contextlib.contextmanager
def interruptible():
    """SIGTERM and SIGINT raise Interrupted, so every context on the stack cleans up."""
    def handler(signum, _frame):
        raise Interrupted('stopped by signal %d; the upload was aborted and no manifest written' % signum)
    previous = dict((s, signal.signal(s, handler)) for s in (signal.SIGTERM, signal.SIGINT))
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


class Lease(object):
    """The lease of a running backup (see catalog): written on entry, renewed by a thread, deleted on exit.

    confirm() raises BackupError when the last renewal is so old that the
    lease may have expired: retention of another run may then have deleted
    the backup's objects, and its manifest must not be written.
    """

    def __init__(self, store, prefix, backup_id, renew=catalog.LEASE_RENEW, hold=catalog.LEASE_SECONDS):
        self.store = store
        self.key = catalog.key(prefix, backup_id, catalog.LEASE)
        self.backup_id = backup_id
        self.renew = renew
        self.hold = hold
        self.renewed = None
        self._stop = threading.Event()
        self._thread = None

    def _write(self):
        self.store.put(self.key, catalog.lease_bytes(self.backup_id, platform.node()))
        self.renewed = time.monotonic()

    def _loop(self):
        while not self._stop.wait(self.renew):
            with contextlib.suppress(BackupError):  # confirm() reports a lease that lapsed
                self._write()

    def __enter__(self):
        self._write()
        self._thread = threading.Thread(target=self._loop)
        self._thread.daemon = True
        self._thread.start()
        return self

    def confirm(self):
        age = time.monotonic() - self.renewed
        if age > self.hold - self.renew:
            raise BackupError('the lease of backup %s was last renewed %d s ago (it holds %d s): retention elsewhere '
                              'may have deleted its objects, so no manifest is written'
                              % (self.backup_id, age, self.hold))

    def __exit__(self, exc_type, exc, tb):
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(BackupError):  # an unreleased lease expires by itself
            self.store.delete([self.key])
        return False


def take(params, check_mode=False, log=None):
    """pg_backup's whole run, for the module and the scheduled backup: a backup, then retention.

    Returns the module's result; check mode connects and reports the backup
    it would take and what retention would delete.
    """
    server = pgtools.Server(params)
    store = s3.Store(s3.client(params), params['bucket'], s3_extra_args(params))
    store.check_bucket()
    if check_mode:
        plan(params, server)
        pending = catalog.new_id(params['kind'])
        expired, aborted = catalog.apply_retention(store, params['prefix'], params['retention'], True, pending)
        return dict(changed=True, backup_id=pending, expired=expired, aborted_uploads=aborted)
    with interruptible():
        manifest = run_backup(params, server, store, log)
    expired, aborted = catalog.apply_retention(store, params['prefix'], params['retention'])
    return dict(changed=True, backup_id=manifest['id'], manifest=manifest, expired=expired, aborted_uploads=aborted)


def s3_extra_args(params):
    extra = {}
    if params.get('storage_class'):
        extra['StorageClass'] = params['storage_class']
    if params.get('server_side_encryption'):
        extra['ServerSideEncryption'] = params['server_side_encryption']
    if params.get('sse_kms_key_id'):
        extra['SSEKMSKeyId'] = params['sse_kms_key_id']
    return extra


def plan(params, server):
    """The objects of one backup: (name, program, arguments, database or None)."""
    suffix = codec.object_suffix(params['compression'], bool(params.get('encryption_passphrase')))
    if params['kind'] == 'physical':
        return [('base.tar' + suffix, 'pg_basebackup',
                 ['-D', '-', '-Ft', '-X', 'fetch', '-c', 'fast', '--verbose', '--no-manifest'], None)]
    wanted = params['databases']
    everything = 'all' in wanted
    names = server.databases() if everything else wanted
    missing = sorted(set(names) - set(server.databases())) if not everything else []
    if missing:
        raise BackupError('no database %s on the server: fix the databases option' % ', '.join(missing))
    objects = [('db-%s.dump%s' % (quote(name, safe=''), suffix), 'pg_dump', ['-Fc', '-Z0', '-d', name], name)
               for name in names]
    if everything or params.get('globals'):
        objects.append(('globals.sql' + suffix, 'pg_dumpall', ['--globals-only'], None))
    return objects


def stream_object(command, upload, encoder):
    """Copies a program's output into the upload; returns the raw byte count."""
    raw = 0
    for chunk in command.chunks():
        raw += len(chunk)
        upload.write(encoder.process(chunk))
    upload.write(encoder.finish())
    return raw


def run_backup(params, server, store, log=None):
    """Takes one backup and returns its manifest; raises BackupError on failure."""
    log = log or (lambda message: None)
    started, clock = catalog.utcnow(), time.monotonic()
    backup_id = catalog.new_id(params['kind'], started)
    objects = plan(params, server)
    tools = {}
    for prog in [o[1] for o in objects]:
        tools[prog] = tools.get(prog) or pgtools.program(prog, params.get('bin_dir'))
    manifest = dict(format=catalog.FORMAT_VERSION, id=backup_id, kind=params['kind'],
                    start_time=started.isoformat(), server_version=server.version(),
                    databases=[o[3] for o in objects if o[3] is not None], host=platform.node(),
                    compression=dict(codec=params['compression'], level=params.get('compression_level')),
                    encryption=dict(cipher='AES-256-GCM', kdf='PBKDF2-HMAC-SHA256',
                                    chunk=codec.CHUNK) if params.get('encryption_passphrase') else None,
                    tool_versions=dict((p, pgtools.tool_version(path)) for p, path in tools.items()),
                    objects=[])
    manifest['tool_versions']['python'] = sys.version.split()[0]
    manifest['start_lsn'] = server.lsn() if params['kind'] == 'logical' else None
    with Lease(store, params['prefix'], backup_id) as lease:
        try:
            _take(params, objects, tools, server, store, manifest, log)
            lease.confirm()
        except BaseException:
            # Whole objects of a backup that failed later: no manifest names them, delete them too.
            done = [catalog.key(params['prefix'], backup_id, o['name']) for o in manifest['objects']]
            with contextlib.suppress(BackupError):
                store.delete(done)
            raise
        if params['kind'] == 'logical':
            manifest['end_lsn'] = server.lsn()
        # Parts first: a restore by a version that does not know them (format 1)
        # takes the first object of a database for its dump, and fails on a part.
        manifest['objects'].sort(key=lambda o: (not o.get('table'), o['name']))
        manifest.update(end_time=catalog.utcnow().isoformat(), duration=round(time.monotonic() - clock, 3),
                        raw_size=sum(o['raw_size'] for o in manifest['objects']),
                        stored_size=sum(o['stored_size'] for o in manifest['objects']))
        store.put(catalog.key(params['prefix'], backup_id, catalog.MANIFEST), catalog.manifest_bytes(manifest))
    return manifest


def _take(params, objects, tools, server, store, manifest, log):
    for name, prog, args, database in objects:
        if prog == 'pg_dump' and params['jobs'] > 1:
            _take_database(params, name, [tools[prog]] + args, database, server, store, manifest, log)
            continue
        messages = _store(params, store, manifest, name, [tools[prog]] + args, server.env(), log,
                          dict(database=database))
        if prog == 'pg_basebackup':
            manifest['start_lsn'], manifest['end_lsn'] = pgtools.wal_points(messages)


def _take_database(params, name, argv, database, server, store, manifest, log):
    """pg_dump and, on its snapshot, the block ranges of the database's large tables, all at once."""
    suffix = codec.object_suffix(params['compression'], bool(params.get('encryption_passphrase')))
    with split.Snapshot(server, database, params['split_min_mb'] * MIB, params['jobs'], suffix) as snapshot:
        if snapshot.id is None:
            _store(params, store, manifest, name, argv, server.env(), log, dict(database=database))
            return
        argv = argv + ['--snapshot=' + snapshot.id] + ['--exclude-table-data=' + p for p in snapshot.excluded]
        psql = pgtools.program('psql', params.get('bin_dir'))
        manifest['tool_versions'].setdefault('psql', pgtools.tool_version(psql))
        crew = Crew()
        crew.run(functools.partial(_store, params, store, manifest, name, argv, server.env(), log,
                                   dict(database=database), crew),
                 [functools.partial(_store, params, store, manifest, part.name,
                                    split.psql_argv(psql, database, snapshot.id, part.copy_out()),
                                    snapshot.env(), log, part.entry(), crew) for part in snapshot.parts],
                 params['jobs'])


def _store(params, store, manifest, name, argv, env, log, entry, crew=None):
    """Streams a program's output into one object and records it in the manifest; returns the program's stderr."""
    log('%s: %s' % (manifest['id'], name))
    encoder = codec.encoder(params['compression'], params.get('compression_level'),
                            params.get('encryption_passphrase'))
    with s3.StreamUpload(store, catalog.key(params['prefix'], manifest['id'], name),
                         params['part_size_mb'] * MIB) as upload:
        with (crew.command if crew else pgtools.Command)(argv, env) as command:
            raw = stream_object(command, upload, encoder)
            messages = command.wait()
        stored, sha256 = upload.close()
    manifest['objects'].append(dict(entry, name=name, sha256=sha256, stored_size=stored, raw_size=raw))
    return messages


class Crew(object):
    """Objects streamed by threads at once: one alone, the others ``jobs`` at a time.

    The first failure (or a signal in the main thread) cancels the objects
    not started and terminates every program still running, so that each
    thread fails fast and aborts its upload; run() raises that first failure
    once all threads are done.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._commands = []
        self._stopped = False

    def command(self, argv, env):
        command = pgtools.Command(argv, env)
        with self._lock:
            self._commands.append(command)
            if self._stopped:
                command.proc.terminate()
        return command

    def run(self, alone, calls, jobs):
        pools = [ThreadPoolExecutor(1), ThreadPoolExecutor(jobs)]
        try:
            futures = [pools[0].submit(alone)] + [pools[1].submit(call) for call in calls]
            for future in as_completed(futures):
                future.result()
        except BaseException:
            with self._lock:
                self._stopped = True
                for command in self._commands:
                    if command.proc.poll() is None:
                        command.proc.terminate()
            raise
        finally:
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)
