# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Backups in a location: ids, object keys, manifests, listing, retention.

A backup lives under ``<prefix>/<id>/``; it is complete when
``<prefix>/<id>/manifest.json`` exists, which is written last.

A running backup holds a lease, ``<prefix>/<id>/.lease.json``, written
before its first object and renewed every LEASE_RENEW seconds until its
manifest is written; the lease says until when it holds, by the clock of
the host that took it. Retention leaves a backup with a live lease alone,
its open uploads included, whatever the endpoint's clock says of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

MANIFEST = 'manifest.json'
LEASE = '.lease.json'
# A lease holds LEASE_SECONDS from its last renewal, renewed every LEASE_RENEW
# seconds: the hosts' clocks may differ by LEASE_SECONDS - LEASE_RENEW.
LEASE_SECONDS = 600
LEASE_RENEW = 60
# 2: a logical backup's large tables may be stored in parts (objects that name a table).
FORMAT_VERSION = 2
ID_FORMAT = '%Y%m%dT%H%M%SZ'


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def new_id(kind, now=None):
    """Sortable backup id: UTC time, kind and a short random tail."""
    return '%s-%s-%s' % ((now or utcnow()).strftime(ID_FORMAT), kind, os.urandom(2).hex())


def id_time(backup_id):
    return datetime.datetime.strptime(backup_id.split('-', 1)[0], ID_FORMAT).replace(tzinfo=datetime.timezone.utc)


def base(prefix):
    return prefix.strip('/') + '/' if prefix.strip('/') else ''


def key(prefix, backup_id, name):
    return '%s%s/%s' % (base(prefix), backup_id, name)


def manifest_bytes(manifest):
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode('utf-8')


def read_manifest(store, prefix, backup_id):
    try:
        return json.loads(store.get(key(prefix, backup_id, MANIFEST)).decode('utf-8'))
    except BackupError:
        raise BackupError('backup %s is incomplete or does not exist: it has no manifest '
                          '(see pg_backup_info for the complete ones)' % backup_id)
    except ValueError:
        raise BackupError('the manifest of backup %s is not valid JSON: the backup cannot be trusted' % backup_id)


def check_format(manifest):
    """Refuses a backup whose layout this code does not know (taken by a newer version)."""
    if manifest.get('format', 1) > FORMAT_VERSION:
        raise BackupError('backup %s has manifest format %s, newer than this collection reads (%d): '
                          'restore it with the version of aiplatform.infra that took it or a later one'
                          % (manifest['id'], manifest['format'], FORMAT_VERSION))


def list_backups(store, prefix, now=None):
    """Every backup under prefix, oldest first, from one listing plus the manifests."""
    now = now or utcnow()
    start = base(prefix)
    grouped = {}
    for object_key, (size, modified) in store.list(start).items():
        backup_id, _sep, name = object_key[len(start):].partition('/')
        if not name:
            continue
        entry = grouped.setdefault(backup_id, dict(objects=0, stored_size=0, manifest=False, modified=modified))
        entry['objects'] += 1
        entry['stored_size'] += size
        entry['manifest'] = entry['manifest'] or name == MANIFEST
        entry['modified'] = max(entry['modified'], modified)
    backups = []
    for backup_id in sorted(grouped):
        entry = grouped[backup_id]
        try:
            started = id_time(backup_id)
        except ValueError:
            continue  # not a backup of this tool
        item = dict(id=backup_id, kind=backup_id.split('-')[1] if backup_id.count('-') >= 2 else 'unknown',
                    time=started.isoformat(), age_seconds=int((now - started).total_seconds()),
                    stored_size=entry['stored_size'], objects=entry['objects'],
                    status='complete' if entry['manifest'] else 'incomplete', running=False)
        if not entry['manifest']:
            item['running'] = lease_alive(store, prefix, backup_id, now)
        else:
            manifest = read_manifest(store, prefix, backup_id)
            item.update(kind=manifest['kind'], databases=manifest.get('databases', []),
                        size=manifest.get('raw_size'), duration=manifest.get('duration'),
                        end_time=manifest.get('end_time'))
        backups.append(item)
    return backups


def latest(backups, kind=None):
    complete = [b for b in backups if b['status'] == 'complete' and (kind is None or b['kind'] == kind)]
    if not complete:
        raise BackupError('no complete %sbackup in the location' % (kind + ' ' if kind else ''))
    return complete[-1]


def resolve(backups, backup_id, kind=None):
    if backup_id == 'latest':
        return latest(backups, kind)
    for item in backups:
        if item['id'] == backup_id:
            if item['status'] != 'complete':
                raise BackupError('backup %s is incomplete (no manifest): it cannot be restored' % backup_id)
            return item
    raise BackupError('no backup %s in the location' % backup_id)


def _bucket(moment, period):
    if period == 'daily':
        return moment.date()
    if period == 'weekly':
        return tuple(moment.isocalendar()[:2])
    return (moment.year, moment.month)


def select_expired(backups, keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0):
    """(expired ids, kept ids with their reasons) among the complete backups.

    A backup is kept when it is one of the newest keep_last, or the newest of
    one of the newest keep_daily days (weeks, months) that have one. The newest
    complete backup is always kept. Incomplete backups older than it are
    expired too, unless they are running (a live lease).
    """
    for name, count in (('keep_last', keep_last), ('keep_daily', keep_daily), ('keep_weekly', keep_weekly),
                        ('keep_monthly', keep_monthly)):
        if count < 0:
            raise BackupError('retention.%s must be 0 or more, not %d' % (name, count))
    complete = sorted((b for b in backups if b['status'] == 'complete'), key=lambda b: b['id'], reverse=True)
    if not complete:
        return [], {}
    reasons = {complete[0]['id']: ['newest']}
    for item in complete[:keep_last]:
        reasons.setdefault(item['id'], []).append('last')
    for period, count in (('daily', keep_daily), ('weekly', keep_weekly), ('monthly', keep_monthly)):
        seen = []
        for item in complete:
            bucket = _bucket(id_time(item['id']), period)
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(bucket)
            reasons.setdefault(item['id'], []).append(period)
    expired = [b['id'] for b in complete if b['id'] not in reasons]
    expired += [b['id'] for b in backups if b['status'] == 'incomplete' and not b.get('running')
                and b['id'] < complete[0]['id']]
    return sorted(expired), reasons


def delete_backups(store, prefix, backup_ids):
    """Deletes each backup's manifest first, so a half-deleted one is never complete."""
    everything = store.list(base(prefix))
    for backup_id in backup_ids:
        manifest_key = key(prefix, backup_id, MANIFEST)
        rest = [k for k in everything if k.startswith(key(prefix, backup_id, '')) and k != manifest_key]
        if manifest_key in everything:
            store.delete([manifest_key])
        if rest:
            store.delete(rest)


def lease_bytes(backup_id, host, now=None):
    """A lease of backup_id that holds LEASE_SECONDS from now."""
    now = now or utcnow()
    return json.dumps(dict(id=backup_id, host=host, pid=os.getpid(), renewed=now.isoformat(),
                           expires=(now + datetime.timedelta(seconds=LEASE_SECONDS)).isoformat())).encode('utf-8')


def lease_alive(store, prefix, backup_id, now=None):
    """Whether backup_id holds a lease that has not expired by now (this host's clock)."""
    try:
        lease = json.loads(store.get(key(prefix, backup_id, LEASE)).decode('utf-8'))
        expires = datetime.datetime.fromisoformat(lease['expires'])
    except BackupError:
        return False  # no lease: a finished run, or one of a version without leases
    except (ValueError, KeyError, TypeError):
        return True  # a lease this code cannot read: better kept than a running backup lost
    return expires > (now or utcnow())


def stale_uploads(store, prefix, older_than_seconds, now=None, running=None):
    """The open uploads of backups that are not running and began older_than_seconds ago.

    The age is the backup id's (the clock of the host that took it), not the
    endpoint's date of the upload; keys that are not a backup's are left alone.
    running: {backup id: whether it is running} known already (list_backups's);
    the lease of any other backup is read here.
    """
    now = now or utcnow()
    start = base(prefix)
    running = dict(running or {})
    found = []
    for upload in store.uploads(start):
        backup_id = upload['key'][len(start):].partition('/')[0]
        try:
            started = id_time(backup_id)
        except ValueError:
            continue
        if (now - started).total_seconds() <= older_than_seconds:
            continue
        if backup_id not in running:
            running[backup_id] = lease_alive(store, prefix, backup_id, now)
        if not running[backup_id]:
            found.append(upload)
    return found


def apply_retention(store, prefix, rules, check_mode=False, pending_id=None):
    """(expired ids, aborted upload keys) by the rules of pg_backup's retention option.

    pending_id stands for the backup that check mode would have taken.
    """
    if not rules:
        return [], []
    backups = list_backups(store, prefix)
    if pending_id:
        backups.append(dict(id=pending_id, status='complete'))
    expired, _kept = select_expired(backups, rules['keep_last'], rules['keep_daily'],
                                    rules['keep_weekly'], rules['keep_monthly'])
    # A backup listed as not running cannot start running: its lease comes before its first object.
    stale = stale_uploads(store, prefix, rules['stale_upload_hours'] * 3600,
                          running=dict((b['id'], b['running']) for b in backups if 'running' in b))
    if not check_mode:
        delete_backups(store, prefix, expired)
        for upload in stale:
            store.abort(upload['key'], upload['upload_id'])
    return expired, [u['key'] for u in stale]
