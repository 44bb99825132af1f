# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import stat
import tarfile

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import backup, catalog, restore
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

MIB = 1024 * 1024


def _tar():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        for name, data in (('PG_VERSION', b'15\n'), ('base/1/1259', os.urandom(200000))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


GLOBALS = b'CREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER;\nCREATE ROLE app;\n'


def _backup(bin_dir, store, kind, payload, server, passphrase=None, with_globals=False, jobs=2):
    """A backup of payload; with server.large_tables, their parts hold 'rows of' their COPY statement."""
    version = '[ "$1" = --version ] && { echo "15.20"; exit 0; }; '
    bin_dir('psql', version + 'printf "rows of %s" "${10}"')
    source = os.path.join(str(bin_dir('payload', 'true')), 'payload.bin')
    with open(source, 'wb') as handle:
        handle.write(payload)
    bin_dir('pg_basebackup', version + 'cat ' + source)
    bin_dir('pg_dumpall', version + "printf '%s'" % GLOBALS.decode().replace('\n', '\\n'))
    tools = bin_dir('pg_dump', version + 'cat ' + source)
    params = dict(kind=kind, databases=['appdb'], globals=with_globals, compression='zstd', compression_level=None,
                  part_size_mb=5, prefix='pg', bin_dir=tools, encryption_passphrase=passphrase, jobs=jobs, split_min_mb=0)
    return backup.run_backup(params, server, store)


def _params(bin_dir, **extra):
    params = dict(prefix='pg', replace=False, encryption_passphrase=None, database=None, target_database=None,
                  owner=None, no_owner=False, jobs=2, work_dir=None, count_rows=False, login_user='postgres',
                  bin_dir=bin_dir, data_directory=None)
    params.update(extra)
    return params


def _pg_restore(bin_dir, tmp_path):
    """A pg_restore that copies its input (standard input, or the file of the post-data step) where the
    test can read it, and records its arguments, one call a line."""
    return bin_dir('pg_restore', 'for last; do :; done; echo "$@" >> {0}/args; case "$*" in '
                   '*post-data*) cp "$last" {0}/post-data.dump ;; *) cat > {0}/restored.dump ;; esac'
                   .format(tmp_path))


@pytest.mark.parametrize('passphrase', [None, 'secret'])
def test_logical_restore_into_a_new_database(fake_s3, store, bin_dir, tmp_path, passphrase, fake_server):
    payload = os.urandom(6 * MIB)
    manifest = _backup(bin_dir, store, 'logical', payload, fake_server(), passphrase)
    server = fake_server(['appdb'])
    result = restore.restore_logical(_params(_pg_restore(bin_dir, tmp_path), target_database='copy', count_rows=True,
                                             work_dir=str(tmp_path), encryption_passphrase=passphrase),
                                     server, store, manifest)
    assert (tmp_path / 'restored.dump').read_bytes() == payload
    assert (tmp_path / 'post-data.dump').read_bytes() == payload
    calls = (tmp_path / 'args').read_text().splitlines()
    assert calls[0] == '-d copy_aip_restoring --exit-on-error --section=pre-data --section=data'
    assert calls[1].startswith('-d copy_aip_restoring --exit-on-error -j 2 --section=post-data %s/aip-restore-'
                               % tmp_path)
    assert server.statements == ['CREATE DATABASE copy_aip_restoring TEMPLATE template0 OWNER postgres',
                                 'ALTER DATABASE copy_aip_restoring RENAME TO copy']
    assert result['replaced'] is False and result['row_counts'] == {'public.t': 3}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('aip-restore-')]


def _with_large_table(fake_server):
    server = fake_server()
    server.large_tables = [('public', 'big', 10, ['id', 'body'], True)]
    return server


def test_parts_of_large_tables_load_into_the_staging_database(store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'logical', b'dump', _with_large_table(fake_server))
    server = fake_server([])
    result = restore.restore_logical(_params(_pg_restore(bin_dir, tmp_path), work_dir=str(tmp_path)),
                                     server, store, manifest)
    assert (tmp_path / 'restored.dump').read_bytes() == b'dump'
    load = 'COPY "public"."big" ("id", "body") FROM STDIN (FORMAT binary)'
    read = 'rows of COPY (SELECT "id", "body" FROM ONLY "public"."big" WHERE '
    assert sorted(server.copied) == [(load, (read + "ctid < '(5,0)'::tid) TO STDOUT (FORMAT binary)").encode()),
                                     (load, (read + "ctid >= '(5,0)'::tid) TO STDOUT (FORMAT binary)").encode())]
    assert "SELECT set_config('client_encoding', %s, false)" in server.statements
    assert result['size'] == sum(o['raw_size'] for o in manifest['objects']) and server.open_connections == set()
    assert server.names == ['appdb'] and (tmp_path / 'post-data.dump').exists()


def test_a_tampered_part_changes_nothing_and_stops_the_parts_not_started(fake_s3, store, bin_dir, tmp_path,
                                                                         fake_server):
    manifest = _backup(bin_dir, store, 'logical', b'dump', _with_large_table(fake_server), jobs=3)
    key = catalog.key('pg', manifest['id'], 'db-appdb.public.big.2.copy.zst')
    fake_s3.objects[key] = fake_s3.objects[key][:-1]
    server = fake_server([])
    with pytest.raises(BackupError, match='checksum mismatch for db-appdb.public.big.2.copy.zst'):
        restore.restore_logical(_params(_pg_restore(bin_dir, tmp_path), work_dir=str(tmp_path), jobs=1),
                                server, store, manifest)
    # One at a time: the first part loaded, the second failed, the third never started.
    assert [data[-28:] for _statement, data in server.copied] == [b"'(3,0)'::tid) TO STDOUT (FORMAT binary)"[-28:]]
    assert server.names == [] and server.statements[-1] == 'DROP DATABASE IF EXISTS appdb_aip_restoring WITH (FORCE)'
    assert not (tmp_path / 'post-data.dump').exists()


def test_a_backup_of_a_newer_format_is_refused(store, bin_dir, tmp_path, fake_server):
    manifest = dict(_backup(bin_dir, store, 'logical', b'dump', fake_server()), format=catalog.FORMAT_VERSION + 1)
    with pytest.raises(BackupError, match='has manifest format 3, newer than this collection reads'):
        restore.restore_logical(_params(None, work_dir=str(tmp_path)), fake_server([]), store, manifest)


def test_an_existing_database_is_replaced_only_when_asked(store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'logical', b'dump', fake_server())
    params = _params(_pg_restore(bin_dir, tmp_path), work_dir=str(tmp_path))
    with pytest.raises(BackupError, match="database 'appdb' exists: set replace=true"):
        restore.restore_logical(params, fake_server(['appdb']), store, manifest)
    server = fake_server(['appdb'])
    params['replace'] = True
    assert restore.restore_logical(params, server, store, manifest)['replaced'] is True
    assert server.statements[1:] == ['DROP DATABASE appdb WITH (FORCE)', 'ALTER DATABASE appdb_aip_restoring RENAME TO appdb']


@pytest.mark.parametrize('fails', ['data', 'post-data'])
@pytest.mark.parametrize('size', [100, 3 * MIB])
def test_a_failed_pg_restore_drops_the_staging_database_and_keeps_the_target(store, bin_dir, tmp_path, fake_server,
                                                                             fails, size):
    # 3 MiB: the data step dies while it is still being fed (a broken pipe), not only at its end.
    manifest = _backup(bin_dir, store, 'logical', os.urandom(size), fake_server())
    tools = bin_dir('pg_restore', 'case "$*" in *%s*) echo "pg_restore: error: could not execute query" >&2; '
                    'exit 1 ;; esac; cat > /dev/null' % ('section=data' if fails == 'data' else 'post-data'))
    server = fake_server(['appdb'])
    with pytest.raises(BackupError, match=r'pg_restore failed \(exit 1\): pg_restore: error: could not execute query'):
        restore.restore_logical(_params(tools, replace=True, work_dir=str(tmp_path)), server, store, manifest)
    assert server.names == ['appdb']
    assert server.statements[-1] == 'DROP DATABASE IF EXISTS appdb_aip_restoring WITH (FORCE)'
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('aip-restore-')]


@pytest.mark.parametrize('tamper', ['flip', 'truncate'])
def test_a_tampered_object_changes_nothing(fake_s3, store, bin_dir, tmp_path, tamper, fake_server):
    manifest = _backup(bin_dir, store, 'logical', os.urandom(100000), fake_server())
    key = catalog.key('pg', manifest['id'], manifest['objects'][0]['name'])
    stored = fake_s3.objects[key]
    fake_s3.objects[key] = stored[:-1] if tamper == 'truncate' else stored[:50] + bytes([stored[50] ^ 1]) + stored[51:]
    server = fake_server(['other'])
    with pytest.raises(BackupError, match='checksum mismatch for db-appdb.dump.zst'):
        restore.restore_logical(_params(_pg_restore(bin_dir, tmp_path), work_dir=str(tmp_path)), server, store, manifest)
    # Only the staging database saw the stream; it is gone and the post-data step never ran.
    assert server.statements == ['CREATE DATABASE appdb_aip_restoring TEMPLATE template0 OWNER postgres',
                                 'DROP DATABASE IF EXISTS appdb_aip_restoring WITH (FORCE)']
    assert server.names == ['other']
    assert not (tmp_path / 'post-data.dump').exists()


def test_an_encrypted_backup_needs_the_passphrase(store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'logical', b'dump', fake_server(), 'secret')
    with pytest.raises(BackupError, match='is encrypted: set encryption_passphrase'):
        restore.restore_logical(_params(None, work_dir=str(tmp_path)), fake_server([]), store, manifest)


def test_no_space(monkeypatch, store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'logical', b'dump', fake_server())
    monkeypatch.setattr(restore, 'free_space', lambda path: 0)
    with pytest.raises(BackupError, match='no space: .* has 0 MiB free'):
        restore.restore_logical(_params(None, work_dir=str(tmp_path)), fake_server([]), store, manifest)


def _psql(bin_dir, tmp_path, error):
    """A psql that keeps the script it ran and its arguments, and reports an error as psql does (exit 0)."""
    return bin_dir('psql', 'for last; do :; done; cp "$last" {0}/globals.sql; echo "$@" > {0}/psql-args; '
                   'echo "psql:$last:1: ERROR:  {1}" >&2'.format(tmp_path, error))


@pytest.mark.parametrize('passphrase', [None, 'secret'])
def test_globals_are_restored_first_only_when_asked(store, bin_dir, tmp_path, fake_server, passphrase):
    manifest = _backup(bin_dir, store, 'logical', b'dump', fake_server(), passphrase, with_globals=True)
    tools = _pg_restore(bin_dir, tmp_path)
    _psql(bin_dir, tmp_path, 'role \\"postgres\\" already exists')
    params = _params(tools, work_dir=str(tmp_path), encryption_passphrase=passphrase)
    assert 'globals_existing' not in restore.restore_logical(params, fake_server([]), store, manifest)
    assert not (tmp_path / 'psql-args').exists()
    params['restore_globals'] = True
    server = fake_server([])
    result = restore.restore_logical(params, server, store, manifest)
    assert result['globals_existing'] == 1
    assert (tmp_path / 'globals.sql').read_bytes() == GLOBALS
    assert (tmp_path / 'psql-args').read_text().startswith('-X -q -o /dev/null -d postgres -f %s/aip-restore-' % tmp_path)
    assert server.names == ['appdb']


def test_a_globals_error_other_than_existing_stops_before_the_database(store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'logical', b'dump', fake_server(), with_globals=True)
    _psql(bin_dir, tmp_path, 'permission denied to create role')
    server = fake_server([])
    with pytest.raises(BackupError, match=r'applied with 1 error\(s\), the database was not restored: '
                                          r'permission denied to create role'):
        restore.restore_logical(_params(_pg_restore(bin_dir, tmp_path), work_dir=str(tmp_path), restore_globals=True),
                                server, store, manifest)
    assert server.statements == []


@pytest.mark.parametrize('check_mode', [True, False])
def test_restore_globals_needs_a_backup_that_holds_them(store, bin_dir, tmp_path, fake_server, check_mode):
    manifest = _backup(bin_dir, store, 'logical', b'dump', fake_server())
    with pytest.raises(BackupError, match='holds no globals .* or restore it without restore_globals'):
        restore.restore_logical(_params(None, work_dir=str(tmp_path), restore_globals=True), fake_server([]), store,
                                manifest, check_mode)


@pytest.mark.parametrize('database, message', [
    (None, 'holds 2 databases .a, b.: name one'), ('c', "has no database 'c' .it has: a, b.")])
def test_pick_object(database, message):
    manifest = dict(id='i', objects=[dict(database='a'), dict(database='b'), dict(database=None),
                                     dict(database='a', table='public.big')])
    with pytest.raises(BackupError, match=message):
        restore.pick_object(manifest, database)


def test_physical_restore_unpacks_into_the_data_directory(store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'physical', _tar(), fake_server(), 'secret')
    target = tmp_path / 'data'
    restore.restore_physical(_params(None, data_directory=str(target), encryption_passphrase='secret'), store, manifest)
    assert (target / 'PG_VERSION').read_text() == '15\n'
    assert (target / 'base' / '1' / '1259').stat().st_size == 200000
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_physical_restore_refuses_a_running_or_used_cluster(store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'physical', _tar(), fake_server())
    target = tmp_path / 'data'
    target.mkdir()
    (target / 'old').write_text('x')
    with pytest.raises(BackupError, match='is not empty: set replace=true'):
        restore.restore_physical(_params(None, data_directory=str(target)), store, manifest)
    restore.restore_physical(_params(None, data_directory=str(target), replace=True), store, manifest)
    assert sorted(p.name for p in target.iterdir()) == ['PG_VERSION', 'base']
    (target / 'postmaster.pid').write_text('1')
    with pytest.raises(BackupError, match='is running'):
        restore.restore_physical(_params(None, data_directory=str(target), replace=True), store, manifest)


def test_physical_restore_without_space_leaves_the_old_data_alone(monkeypatch, store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'physical', _tar(), fake_server())
    target = tmp_path / 'data'
    target.mkdir()
    (target / 'old').write_text('x' * 1000)
    monkeypatch.setattr(restore, 'free_space', lambda path: 0)
    with pytest.raises(BackupError, match='no space: .* has 0 MiB free'):
        restore.restore_physical(_params(None, data_directory=str(target), replace=True), store, manifest)
    assert [p.name for p in target.iterdir()] == ['old']
    # What the wipe frees counts: the old data is as large as the backup.
    monkeypatch.setattr(restore, '_tree_size', lambda path: manifest['objects'][0]['raw_size'])
    restore.restore_physical(_params(None, data_directory=str(target), replace=True), store, manifest)
    assert sorted(p.name for p in target.iterdir()) == ['PG_VERSION', 'base']


def test_physical_restore_with_a_wrong_passphrase_leaves_the_directory_alone(store, bin_dir, tmp_path, fake_server):
    manifest = _backup(bin_dir, store, 'physical', _tar(), fake_server(), 'secret')
    target = tmp_path / 'data'
    target.mkdir()
    (target / 'old').write_text('x')
    with pytest.raises(BackupError, match='wrong encryption_passphrase'):
        restore.restore_physical(_params(None, data_directory=str(target), replace=True,
                                         encryption_passphrase='guess'), store, manifest)
    assert [p.name for p in target.iterdir()] == ['old']
