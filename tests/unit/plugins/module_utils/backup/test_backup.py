# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import threading
import time

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import backup, catalog, codec, split
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

BASEBACKUP_STDERR = ('echo "pg_basebackup: write-ahead log start point: 0/5000028 on timeline 1" >&2; '
                     'echo "pg_basebackup: write-ahead log end point: 0/5000100" >&2')


def _params(bin_dir, **extra):
    params = dict(kind='logical', databases=['all'], globals=False, compression='zstd', compression_level=None,
                  part_size_mb=5, prefix='pg', bin_dir=bin_dir, encryption_passphrase=None, jobs=1, split_min_mb=128)
    params.update(extra)
    return params


def _tools(bin_dir, dump_body='head -c 12000000 /dev/zero'):
    version = '[ "$1" = --version ] && { echo "%s (PostgreSQL) 15.20"; exit 0; }; '
    bin_dir('pg_dumpall', version % 'pg_dumpall' + 'printf "CREATE ROLE app;"')
    bin_dir('pg_basebackup', version % 'pg_basebackup' + BASEBACKUP_STDERR + '; printf "tar data"')
    return bin_dir('pg_dump', version % 'pg_dump' + dump_body)


@pytest.mark.parametrize('databases, extra, names', [
    (['all'], {}, ['db-appdb.dump.zst', 'db-%C3%A9t%C3%A9%2Fx.dump.zst', 'globals.sql.zst']),
    (['appdb'], {}, ['db-appdb.dump.zst']),
    (['appdb'], dict(globals=True, compression='gzip', encryption_passphrase='p'),
     ['db-appdb.dump.gz.aes', 'globals.sql.gz.aes']),
    (['appdb'], dict(kind='physical'), ['base.tar.zst']),
])
def test_plan(databases, extra, names, fake_server):
    params = _params(None, databases=databases, **extra)
    objects = backup.plan(params, fake_server(['appdb', 'été/x']))
    assert [o[0] for o in objects] == names


def test_plan_refuses_an_unknown_database(fake_server):
    with pytest.raises(BackupError, match='no database nope'):
        backup.plan(_params(None, databases=['appdb', 'nope']), fake_server())


@pytest.mark.parametrize('passphrase', [None, 'secret'])
def test_logical_backup_streams_and_writes_the_manifest_last(fake_s3, store, bin_dir, passphrase, fake_server):
    manifest = backup.run_backup(_params(_tools(bin_dir), encryption_passphrase=passphrase), fake_server(), store)
    keys = sorted(fake_s3.objects)
    assert keys == sorted(catalog.key('pg', manifest['id'], n) for n in (
        'db-appdb.dump' + codec.object_suffix('zstd', bool(passphrase)),
        'globals.sql' + codec.object_suffix('zstd', bool(passphrase)), 'manifest.json'))
    assert fake_s3.calls[-2:] == ['put_object', 'delete_objects']  # the manifest, then the lease released
    stored = json.loads(fake_s3.objects[catalog.key('pg', manifest['id'], 'manifest.json')])
    assert stored['objects'][0]['raw_size'] == 12000000
    assert stored['objects'][0]['stored_size'] < 100000
    assert stored['start_lsn'] == stored['end_lsn'] == '0/3000060'
    assert stored['tool_versions']['pg_dump'] == 'pg_dump (PostgreSQL) 15.20'
    assert (stored['encryption'] is not None) is bool(passphrase)
    assert 'secret' not in json.dumps(stored)
    assert fake_s3.uploads == {}


def test_physical_backup_records_the_wal_points(fake_s3, store, bin_dir, fake_server):
    manifest = backup.run_backup(_params(_tools(bin_dir), kind='physical'), fake_server(), store)
    assert (manifest['start_lsn'], manifest['end_lsn']) == ('0/5000028', '0/5000100')
    assert [o['name'] for o in manifest['objects']] == ['base.tar.zst']


def test_a_failing_dump_leaves_nothing(fake_s3, store, bin_dir, fake_server):
    tools = _tools(bin_dir, 'head -c 12000000 /dev/urandom; echo "pg_dump: error: connection lost" >&2; exit 1')
    with pytest.raises(BackupError, match='pg_dump failed .exit 1.: pg_dump: error: connection lost'):
        backup.run_backup(_params(tools), fake_server(['a', 'b']), store)
    assert fake_s3.objects == {} and fake_s3.uploads == {}


def test_a_later_failure_deletes_the_objects_already_stored(fake_s3, store, bin_dir, fake_server):
    tools = _tools(bin_dir, '[ "$4" = b ] && exit 3; printf dump')
    with pytest.raises(BackupError, match='exit 3'):
        backup.run_backup(_params(tools), fake_server(['a', 'b']), store)
    assert fake_s3.objects == {}


def test_the_lease_comes_before_every_object_and_goes_after_the_manifest(fake_s3, store, bin_dir, fake_server):
    seen = []
    put = fake_s3.put_object
    fake_s3.put_object = lambda **kwargs: (seen.append(kwargs['Key'].rsplit('/', 1)[1]), put(**kwargs))
    manifest = backup.run_backup(_params(_tools(bin_dir), databases=['appdb']), fake_server(), store)
    assert seen[0] == catalog.LEASE and seen[-1] == 'manifest.json'
    assert catalog.key('pg', manifest['id'], catalog.LEASE) not in fake_s3.objects


def test_the_lease_is_renewed_and_a_lapsed_one_is_reported(fake_s3, store):
    with backup.Lease(store, 'pg', 'x', renew=0.05, hold=0.3) as lease:
        first = fake_s3.modified['pg/x/' + catalog.LEASE]
        time.sleep(0.2)
        assert fake_s3.modified['pg/x/' + catalog.LEASE] > first
        lease.confirm()
        fake_s3.denied = 'AccessDenied'  # the endpoint stops taking the renewals
        time.sleep(0.35)
        with pytest.raises(BackupError, match='the lease of backup x was last renewed 0 s ago .it holds 0 s.'):
            lease.confirm()
        fake_s3.denied = None


def test_a_lapsed_lease_writes_no_manifest_and_leaves_nothing(fake_s3, store, bin_dir, fake_server, monkeypatch):
    def lapsed(lease):
        raise BackupError('the lease of backup %s lapsed' % lease.backup_id)
    monkeypatch.setattr(backup.Lease, 'confirm', lapsed)
    with pytest.raises(BackupError, match='lapsed'):
        backup.run_backup(_params(_tools(bin_dir), databases=['appdb']), fake_server(), store)
    assert fake_s3.objects == {} and fake_s3.uploads == {}


def test_sigterm_midway_aborts_the_upload_and_stops_the_dump(fake_s3, store, bin_dir, tmp_path, fake_server):
    pid_file = tmp_path / 'dump.pid'
    tools = _tools(bin_dir, 'echo $$ > %s; head -c 11000000 /dev/urandom; exec sleep 60' % pid_file)
    timer = threading.Timer(3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    with pytest.raises(backup.Interrupted, match='stopped by signal 15'):
        with backup.interruptible():
            backup.run_backup(_params(tools, compression='none'), fake_server(), store)
    timer.cancel()
    assert 'upload_part' in fake_s3.calls  # it was midway
    assert fake_s3.objects == {} and fake_s3.uploads == {}
    with pytest.raises(OSError):
        os.kill(int(pid_file.read_text()), 0)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_missing_program_is_named(store, fake_server):
    with pytest.raises(BackupError, match='pg_dump not found in /nonexistent'):
        backup.run_backup(_params('/nonexistent'), fake_server(), store)


@pytest.mark.parametrize('params, extra', [
    (dict(), {}),
    (dict(storage_class='STANDARD_IA', server_side_encryption='aws:kms', sse_kms_key_id='k'),
     dict(StorageClass='STANDARD_IA', ServerSideEncryption='aws:kms', SSEKMSKeyId='k')),
])
def test_s3_extra_args(params, extra):
    assert backup.s3_extra_args(params) == extra


def _psql(bin_dir, body):
    return bin_dir('psql', '[ "$1" = --version ] && { echo "psql (PostgreSQL) 15.20"; exit 0; }; ' + body)


def test_large_tables_stream_in_block_ranges_on_the_snapshot_of_the_dump(
        fake_s3, store, bin_dir, tmp_path, fake_server):
    server = fake_server()
    server.large_tables = [('public', 'big', 10, ['id', 'body'], True),
                           ('app', 'Ev"t', 1, ['id'], False)]
    tools = _tools(bin_dir, 'echo "$@" > %s/pg_dump.args; printf dump' % tmp_path)
    # The part's content: its arguments and session settings, a line each.
    _psql(bin_dir, 'for a; do echo "$a"; done; echo "PGOPTIONS=$PGOPTIONS PGCLIENTENCODING=$PGCLIENTENCODING"')
    manifest = backup.run_backup(_params(tools, databases=['appdb'], compression='none', jobs=2, split_min_mb=0),
                                 server, store)
    # Parts first: an earlier version's restore would take the first object for the dump and fail on it.
    assert [o['name'] for o in manifest['objects']] == [
        'db-appdb.app.Ev%22t.1.copy', 'db-appdb.public.big.1.copy', 'db-appdb.public.big.2.copy', 'db-appdb.dump']
    assert (tmp_path / 'pg_dump.args').read_text().split() == [
        '-Fc', '-Z0', '-d', 'appdb', '--snapshot=00000003-0000001B-1', '--exclude-table-data="public"."big"',
        '--exclude-table-data="app"."Ev""t"']
    second = fake_s3.objects[catalog.key('pg', manifest['id'], 'db-appdb.public.big.2.copy')].decode().splitlines()
    assert second[-7:] == [
        '-c', "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '00000003-0000001B-1'",
        '-c', 'COPY (SELECT "id", "body" FROM ONLY "public"."big" WHERE ctid >= \'(5,0)\'::tid) TO STDOUT (FORMAT binary)',
        '-c', 'COMMIT', 'PGOPTIONS=%s PGCLIENTENCODING=UTF8' % split.SESSION_OPTIONS]
    event = manifest['objects'][0]
    assert (event['table'], event['schema'], event['relation'], event['columns'], event['copy_format'],
            event['part']) == ('app.Ev"t', 'app', 'Ev"t', ['id'], 'text', 1)
    assert manifest['tool_versions']['psql'] == 'psql (PostgreSQL) 15.20'
    # Listed, then locked in the snapshot's session before its first query takes the snapshot,
    # read again in it, exported; every session closed.
    listing = ' '.join(split.SQL_LARGE_TABLES.split())
    assert server.statements == [
        listing, 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
        'SET LOCAL idle_in_transaction_session_timeout = 0', 'SET LOCAL statement_timeout = 0',
        'LOCK TABLE "app"."Ev""t" IN ACCESS SHARE MODE', 'LOCK TABLE "public"."big" IN ACCESS SHARE MODE', listing,
        'SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()',
        'SELECT pg_export_snapshot()']
    assert server.open_connections == set()


def test_without_a_large_table_the_dump_is_alone_and_takes_no_snapshot(store, bin_dir, tmp_path, fake_server):
    server = fake_server()
    tools = _tools(bin_dir, 'echo "$@" > %s/pg_dump.args; printf dump' % tmp_path)
    manifest = backup.run_backup(_params(tools, databases=['appdb'], jobs=2), server, store)
    assert [o['name'] for o in manifest['objects']] == ['db-appdb.dump.zst']
    assert (tmp_path / 'pg_dump.args').read_text().split() == ['-Fc', '-Z0', '-d', 'appdb']
    assert 'SELECT pg_export_snapshot()' not in server.statements and server.open_connections == set()


def test_a_failing_part_stops_the_others_and_leaves_nothing(fake_s3, store, bin_dir, tmp_path, fake_server):
    server = fake_server()
    server.large_tables = [('public', 'big', 10, ['id'], True)]
    tools = _tools(bin_dir, 'printf dump')
    pid_file = tmp_path / 'part1.pid'
    _psql(bin_dir, 'case "$*" in *"ctid >="*) sleep 2; echo "ERROR:  canceling statement" >&2; exit 1;; esac; '
                   'echo $$ > %s; head -c 6000000 /dev/urandom; exec sleep 60' % pid_file)
    started = time.monotonic()
    with pytest.raises(BackupError, match='psql failed .exit 1.: ERROR:  canceling statement'):
        backup.run_backup(_params(tools, databases=['appdb'], compression='none', jobs=2, split_min_mb=0),
                          server, store)
    assert time.monotonic() - started < 20  # the first part did not run its minute
    assert 'upload_part' in fake_s3.calls  # the first part was midway
    assert fake_s3.objects == {} and fake_s3.uploads == {}
    with pytest.raises(OSError):
        os.kill(int(pid_file.read_text()), 0)
    assert server.open_connections == set()
