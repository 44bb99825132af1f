# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one specification of the backup options: type, default, choices and range.

pg_backup, pg_backup_info and pg_restore build their argument_spec from it
(argument_spec), and check what AnsibleModule does not, the ranges and the
bucket name (check). The scheduled backup reads its JSON configuration with
it too (load), without Ansible: the same names, defaults and limits.

An option is an argument_spec entry with, optionally, ``min`` and ``max``
(inclusive, for int options), ``why`` (the reason of the range, in the
message) and ``pattern`` (a regular expression a str option must match,
with ``rule``, its words).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

# Attempts of one S3 request (the first and two retries); see s3.client.
S3_ATTEMPTS = 3
# zstd's levels are 1 to 22; zlib's (gzip) 0 to 9.
COMPRESSION_LEVELS = dict(zstd=(1, 22), gzip=(0, 9), none=(None, None))

S3 = dict(
    bucket=dict(type='str', required=True, pattern=r'^[a-zA-Z0-9._-]{1,255}$',
                rule='a bucket name is 1 to 255 letters, digits, dots, hyphens or underscores (on AWS: 3 to 63 '
                     'lowercase letters, digits, dots or hyphens)'),
    prefix=dict(type='str', default='postgresql'),
    endpoint_url=dict(type='str'),
    region=dict(type='str', default='us-east-1'),
    access_key=dict(type='str', no_log=True),
    secret_key=dict(type='str', no_log=True),
    session_token=dict(type='str', no_log=True),
    ca_bundle=dict(type='path'),
    validate_certs=dict(type='bool', default=True),
    encryption_passphrase=dict(type='str', no_log=True),
    s3_connect_timeout=dict(type='int', default=10, min=1, max=3600),
    s3_read_timeout=dict(type='int', default=60, min=1, max=3600),
)

POSTGRES = dict(
    login_host=dict(type='str', default='/var/run/postgresql'),
    login_port=dict(type='int', default=5432, min=1, max=65535),
    login_user=dict(type='str', default='postgres'),
    login_password=dict(type='str', no_log=True),
    connect_timeout=dict(type='int', default=10, min=1, max=3600),
    bin_dir=dict(type='path'),
)

RETENTION = dict(
    keep_last=dict(type='int', default=0, min=0),
    keep_daily=dict(type='int', default=0, min=0),
    keep_weekly=dict(type='int', default=0, min=0),
    keep_monthly=dict(type='int', default=0, min=0),
    stale_upload_hours=dict(type='int', default=24, min=0),
)

BACKUP = dict(
    kind=dict(type='str', choices=['logical', 'physical'], default='logical'),
    databases=dict(type='list', elements='str', default=['all']),
    globals=dict(type='bool', default=False),
    compression=dict(type='str', choices=['zstd', 'gzip', 'none'], default='zstd'),
    compression_level=dict(type='int'),
    part_size_mb=dict(type='int', default=16, min=5, max=5120,
                      why='S3 parts are 5 MiB to 5 GiB'),
    jobs=dict(type='int', default=2, min=1, max=64, why='each job is a server backend and a part in memory'),
    split_min_mb=dict(type='int', default=128, min=0),
    storage_class=dict(type='str'),
    server_side_encryption=dict(type='str', choices=['AES256', 'aws:kms']),
    sse_kms_key_id=dict(type='str'),
    retention=dict(type='dict', options=RETENTION),
)

RESTORE = dict(
    backup_id=dict(type='str', default='latest'),
    database=dict(type='str'),
    target_database=dict(type='str'),
    owner=dict(type='str'),
    no_owner=dict(type='bool', default=False),
    replace=dict(type='bool', default=False),
    jobs=dict(type='int', default=2, min=1, max=64, why='each job is a server backend'),
    work_dir=dict(type='path', default='/var/tmp'),
    count_rows=dict(type='bool', default=False),
    restore_globals=dict(type='bool', default=False),
    data_directory=dict(type='path'),
)

INFO = dict(backup_id=dict(type='str'))

# The options of each entry point, by name.
ENTRY_POINTS = dict(pg_backup=(S3, POSTGRES, BACKUP), pg_restore=(S3, POSTGRES, RESTORE), pg_backup_info=(S3, INFO))
# The scheduled backup's configuration file holds pg_backup's options.
PROGRAM = 'pg_backup'
_EXTRA = ('min', 'max', 'why', 'pattern', 'rule')
_TYPES = dict(str=str, path=str, int=int, bool=bool, list=list, dict=dict)


def spec(entry_point):
    """The merged option table of an entry point, extra keys included."""
    merged = {}
    for group in ENTRY_POINTS[entry_point]:
        merged.update(group)
    return merged


def argument_spec(entry_point):
    """The AnsibleModule argument_spec of an entry point (this table without its extra keys)."""
    return _strip(spec(entry_point))


def _strip(options):
    found = {}
    for name, option in options.items():
        found[name] = dict((k, v) for k, v in option.items() if k not in _EXTRA)
        if 'options' in option:
            found[name]['options'] = _strip(option['options'])
    return found


def check(entry_point, params):
    """Raises BackupError naming the first option whose value is out of its range."""
    _check_values(spec(entry_point), params, '')
    level = params.get('compression_level')
    if level is not None and 'compression' in params:
        low, high = COMPRESSION_LEVELS[params['compression']]
        if low is None:
            raise BackupError('compression_level must be unset with compression=none')
        if not low <= level <= high:
            raise BackupError('compression_level must be between %d and %d for %s, not %d'
                              % (low, high, params['compression'], level))


def _check_values(options, params, path):
    for name, option in options.items():
        value = params.get(name)
        if value is None:
            continue
        shown = path + name
        if 'options' in option:
            _check_values(option['options'], value, shown + '.')
        low, high = option.get('min'), option.get('max')
        if (low is not None and value < low) or (high is not None and value > high):
            raise BackupError('%s must be %s, not %s%s' % (
                shown, _range_words(low, high), value, ' (%s)' % option['why'] if 'why' in option else ''))
        if 'pattern' in option and not re.match(option['pattern'], value):
            raise BackupError('%s %r is not valid: %s' % (shown, value, option['rule']))


def _range_words(low, high):
    if high is None:
        return '%d or more' % low
    if low is None:
        return '%d or less' % high
    return 'between %d and %d' % (low, high)


def load(entry_point, raw):
    """The options from a JSON object (the scheduled backup's file): types, defaults, choices, ranges.

    Unknown keys are refused; BackupError names the option.
    """
    params = _load_values(spec(entry_point), raw, '')
    check(entry_point, params)
    return params


def _load_values(options, raw, path):
    if not isinstance(raw, dict):
        raise BackupError('%s must be an object' % (path.rstrip('.') or 'the configuration'))
    unknown = sorted(set(raw) - set(options))
    if unknown:
        raise BackupError('unknown option%s %s%s (known: %s)' % (
            's' if len(unknown) > 1 else '', path, (', ' + path).join(unknown), ', '.join(sorted(options))))
    params = {}
    for name, option in options.items():
        shown = path + name
        value = raw.get(name)
        if value is None:
            if option.get('required'):
                raise BackupError('%s is required' % shown)
            value = option.get('default')
            if 'options' in option and value is None:
                params[name] = None
                continue
        expected = _TYPES[option['type']]
        if value is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
            raise BackupError('%s must be a %s, not %s' % (shown, option['type'], type(value).__name__))
        if option['type'] == 'list' and any(not isinstance(item, _TYPES[option['elements']]) for item in value):
            raise BackupError('%s must be a list of %s' % (shown, option['elements']))
        if 'choices' in option and value is not None and value not in option['choices']:
            raise BackupError('%s must be one of %s, not %r' % (shown, ', '.join(option['choices']), value))
        if 'options' in option:
            value = _load_values(option['options'], value, shown + '.')
        params[name] = value
    return params
