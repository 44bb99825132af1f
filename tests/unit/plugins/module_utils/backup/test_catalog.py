# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import catalog
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

UTC = datetime.timezone.utc


def _id(text, kind='logical'):
    return '%s-%s-abcd' % (text, kind)


def _complete(*stamps):
    return [dict(id=_id(s), status='complete') for s in stamps]


def test_ids_sort_by_time_and_parse_back():
    moment = datetime.datetime(2026, 11, 26, 12, 30, 5, tzinfo=UTC)
    backup_id = catalog.new_id('physical', moment)
    assert backup_id.startswith('20261126T123005Z-physical-')
    assert catalog.id_time(backup_id) == moment


@pytest.mark.parametrize('prefix, expected', [('pg', 'pg/i/n'), ('/a/b/', 'a/b/i/n'), ('', 'i/n')])
def test_keys(prefix, expected):
    assert catalog.key(prefix, 'i', 'n') == expected


def _put(fake_s3, backup_id, names, manifest=True):
    for name in names:
        fake_s3.objects['pg/%s/%s' % (backup_id, name)] = b'x' * 10
        fake_s3.modified['pg/%s/%s' % (backup_id, name)] = datetime.datetime.now(UTC)
    if manifest:
        key = 'pg/%s/manifest.json' % backup_id
        fake_s3.objects[key] = json.dumps(dict(id=backup_id, kind='logical', databases=['appdb'],
                                               raw_size=100, duration=1.5, end_time='t')).encode()
        fake_s3.modified[key] = datetime.datetime.now(UTC)


def test_listing_tells_complete_from_incomplete(fake_s3, store):
    _put(fake_s3, _id('20261124T010000Z'), ['db-appdb.dump.zst'])
    _put(fake_s3, _id('20261125T010000Z'), ['db-appdb.dump.zst', 'globals.sql.zst'], manifest=False)
    fake_s3.objects['pg/notes.txt'] = b'not a backup'
    fake_s3.modified['pg/notes.txt'] = datetime.datetime.now(UTC)
    now = datetime.datetime(2026, 11, 26, 1, 0, 0, tzinfo=UTC)
    backups = catalog.list_backups(store, 'pg', now)
    assert [(b['id'][:16], b['status'], b['objects']) for b in backups] == [
        ('20261124T010000Z', 'complete', 2), ('20261125T010000Z', 'incomplete', 2)]
    assert backups[0]['age_seconds'] == 2 * 86400
    assert backups[0]['size'] == 100 and backups[0]['databases'] == ['appdb']
    assert catalog.latest(backups)['id'] == backups[0]['id']
    with pytest.raises(BackupError, match='incomplete'):
        catalog.resolve(backups, backups[1]['id'])
    with pytest.raises(BackupError, match='no backup nope'):
        catalog.resolve(backups, 'nope')
    with pytest.raises(BackupError, match='no complete physical backup'):
        catalog.resolve(backups, 'latest', 'physical')


def test_missing_manifest_is_reported_as_incomplete(store):
    with pytest.raises(BackupError, match='incomplete or does not exist'):
        catalog.read_manifest(store, 'pg', 'x')


@pytest.mark.parametrize('stamps, rules, expired', [
    # keep_last 2 of four
    (['20261101T000000Z', '20261102T000000Z', '20261103T000000Z', '20261104T000000Z'],
     dict(keep_last=2), ['20261101T000000Z', '20261102T000000Z']),
    # nothing configured: only the newest survives
    (['20261101T000000Z', '20261102T000000Z'], dict(), ['20261101T000000Z']),
    # daily 2: the newest of each of the two newest days
    (['20261101T010000Z', '20261102T010000Z', '20261102T230000Z', '20261103T010000Z'],
     dict(keep_daily=2), ['20261101T010000Z', '20261102T010000Z']),
    # weekly 2 (ISO weeks 43 to 46) and monthly 2 (October, November)
    (['20261025T000000Z', '20261101T000000Z', '20261108T000000Z', '20261115T000000Z'],
     dict(keep_weekly=2), ['20261025T000000Z', '20261101T000000Z']),
    (['20260915T000000Z', '20261025T000000Z', '20261101T000000Z', '20261115T000000Z'],
     dict(keep_monthly=2), ['20260915T000000Z', '20261101T000000Z']),
    # rules add up
    (['20261025T000000Z', '20261101T000000Z', '20261114T000000Z', '20261115T000000Z'],
     dict(keep_last=1, keep_monthly=2), ['20261101T000000Z', '20261114T000000Z']),
])
def test_retention(stamps, rules, expired):
    gone, kept = catalog.select_expired(_complete(*stamps), **rules)
    assert gone == [_id(s) for s in expired]
    assert _id(stamps[-1]) in kept


def test_retention_never_deletes_the_newest_nor_a_newer_incomplete_one():
    backups = _complete('20261101T000000Z', '20261102T000000Z') + [
        dict(id=_id('20261101T120000Z'), status='incomplete'), dict(id=_id('20261103T000000Z'), status='incomplete')]
    gone, kept = catalog.select_expired(backups, keep_last=0)
    assert gone == [_id('20261101T000000Z'), _id('20261101T120000Z')]
    assert kept == {_id('20261102T000000Z'): ['newest']}


def test_retention_with_nothing_complete_deletes_nothing():
    assert catalog.select_expired([dict(id=_id('20261101T000000Z'), status='incomplete')]) == ([], {})


def test_delete_removes_the_manifest_first(fake_s3, store):
    backup_id = _id('20261101T000000Z')
    _put(fake_s3, backup_id, ['a', 'b'])
    _put(fake_s3, _id('20261102T000000Z'), ['a'])
    catalog.delete_backups(store, 'pg', [backup_id])
    assert sorted(fake_s3.objects) == ['pg/%s/%s' % (_id('20261102T000000Z'), n) for n in ('a', 'manifest.json')]
    deletes = [c for c in fake_s3.calls if c == 'delete_objects']
    assert len(deletes) == 2


def _lease(fake_s3, backup_id, expires):
    fake_s3.put_object(Bucket='bk', Key='pg/%s/%s' % (backup_id, catalog.LEASE),
                       Body=json.dumps(dict(id=backup_id, expires=expires.isoformat())).encode())


def test_stale_uploads_go_by_the_backup_id_and_spare_running_backups(fake_s3, store):
    now = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    dead, running, fresh = _id('20261126T080000Z'), _id('20261126T090000Z'), _id('20261126T115900Z')
    for backup_id in (dead, running, fresh):
        fake_s3.create_multipart_upload(Bucket='bk', Key='pg/%s/db.dump' % backup_id)
    fake_s3.create_multipart_upload(Bucket='bk', Key='pg/not-a-backup/a')
    for upload in fake_s3.uploads.values():  # an endpoint that dates its uploads oddly, as moto does
        upload['initiated'] = datetime.datetime(2010, 1, 1, tzinfo=UTC)
    _lease(fake_s3, running, now + datetime.timedelta(minutes=5))
    _lease(fake_s3, dead, now - datetime.timedelta(minutes=1))  # a killed run's lease, expired
    assert [u['key'] for u in catalog.stale_uploads(store, 'pg', 3600, now)] == ['pg/%s/db.dump' % dead]
    assert catalog.stale_uploads(store, 'pg', 5 * 3600, now) == []


def test_every_page_of_open_uploads_is_read(fake_s3, store):
    ids = [_id('20261126T0%d0000Z' % n) for n in range(5)]
    for backup_id in ids:
        fake_s3.create_multipart_upload(Bucket='bk', Key='pg/%s/db.dump' % backup_id)
    later = datetime.datetime(2026, 11, 27, tzinfo=UTC)
    assert sorted(u['key'] for u in catalog.stale_uploads(store, 'pg', 3600, later)) == [
        'pg/%s/db.dump' % i for i in ids]
    assert fake_s3.calls.count('list_multipart_uploads') == 3  # pages of 2


def test_a_running_backup_is_listed_as_running_and_retention_leaves_it(fake_s3, store):
    now = catalog.utcnow()
    older, newer = _id('20261101T000000Z'), _id('20261102T000000Z')
    running, dead = _id('20261101T060000Z'), _id('20261101T070000Z')
    _put(fake_s3, older, ['a'])
    _put(fake_s3, newer, ['a'])
    _put(fake_s3, running, ['a'], manifest=False)
    _put(fake_s3, dead, ['a'], manifest=False)
    _lease(fake_s3, running, now + datetime.timedelta(minutes=5))
    listed = dict((b['id'], b['running']) for b in catalog.list_backups(store, 'pg'))
    assert listed == {older: False, running: True, dead: False, newer: False}
    expired, _aborted = catalog.apply_retention(store, 'pg', dict(keep_last=1, keep_daily=0, keep_weekly=0,
                                                                  keep_monthly=0, stale_upload_hours=0))
    assert expired == [older, dead]
    assert sorted(set(k.split('/')[1] for k in fake_s3.objects)) == [running, newer]


@pytest.mark.parametrize('rule', ['keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly'])
def test_a_negative_count_is_refused_and_deletes_nothing(rule):
    with pytest.raises(BackupError, match='retention.%s must be 0 or more, not -1' % rule):
        catalog.select_expired(_complete('20261101T000000Z', '20261102T000000Z'), **{rule: -1})


def test_retention_reads_each_lease_once(fake_s3, store):
    backup_id = _id('20261101T060000Z')
    _put(fake_s3, _id('20261101T000000Z'), ['a'])
    _put(fake_s3, _id('20261102T000000Z'), ['a'])
    _put(fake_s3, backup_id, ['a'], manifest=False)
    fake_s3.create_multipart_upload(Bucket='bk', Key='pg/%s/db.dump' % backup_id)
    _lease(fake_s3, backup_id, catalog.utcnow() + datetime.timedelta(minutes=5))
    reads = []
    get = fake_s3.get_object
    fake_s3.get_object = lambda **kwargs: (reads.append(kwargs['Key']), get(**kwargs))[1]
    catalog.apply_retention(store, 'pg', dict(keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0,
                                              stale_upload_hours=0))
    assert reads.count('pg/%s/%s' % (backup_id, catalog.LEASE)) == 1
