# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The scheduled backup (roles/postgresql_backup): its configuration file,
its state between runs and its metrics in node_exporter's textfile format."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import options
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

METRIC = 'aiplatform_pg_backup_'


def load_config(text):
    """The configuration file as pg_backup's params (options.load); BackupError names a bad option."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise BackupError('the configuration is not JSON: %s' % exc)
    if isinstance(raw, dict):
        raw.pop('_managed', None)  # the "managed by Ansible" note; JSON has no comments
    return options.load(options.PROGRAM, raw)


def update_state(state, now, manifest=None, expired=(), error=None):
    """The state after one run: counters carry over, last-success values only on success."""
    state = dict(state)
    state['runs_total'] = state.get('runs_total', 0) + 1
    state['last_run_timestamp'] = now
    state['last_run_success'] = error is None
    if error is not None:
        state['failures_total'] = state.get('failures_total', 0) + 1
        state['last_error'] = error
        return state
    state.update(last_success_timestamp=now, last_duration_seconds=manifest['duration'],
                 last_stored_bytes=manifest['stored_size'], last_raw_bytes=manifest['raw_size'],
                 last_backup_id=manifest['id'], last_error=None,
                 expired_total=state.get('expired_total', 0) + len(expired))
    state.setdefault('failures_total', 0)
    return state


def render_metrics(state, kind):
    """The state in node_exporter's textfile format."""
    rows = [
        ('last_success_timestamp_seconds', 'gauge', 'Time of the last successful backup.', 'last_success_timestamp'),
        ('last_duration_seconds', 'gauge', 'Duration of the last successful backup.', 'last_duration_seconds'),
        ('last_size_bytes', 'gauge', 'Stored (compressed, encrypted) size of the last successful backup.',
         'last_stored_bytes'),
        ('last_raw_size_bytes', 'gauge', 'Size of the dumps of the last successful backup before compression.',
         'last_raw_bytes'),
        ('last_run_timestamp_seconds', 'gauge', 'Time the last run ended.', 'last_run_timestamp'),
        ('last_run_success', 'gauge', '1 when the last run succeeded, 0 when it failed.', 'last_run_success'),
        ('runs_total', 'counter', 'Runs of the scheduled backup.', 'runs_total'),
        ('failures_total', 'counter', 'Failed runs of the scheduled backup.', 'failures_total'),
        ('expired_total', 'counter', 'Backups deleted by retention.', 'expired_total'),
    ]
    lines = []
    for name, kind_of, text, key in rows:
        if state.get(key) is None:
            continue
        lines += ['# HELP %s%s %s' % (METRIC, name, text), '# TYPE %s%s %s' % (METRIC, name, kind_of),
                  '%s%s{kind="%s"} %s' % (METRIC, name, kind, _number(state[key]))]
    return '\n'.join(lines) + '\n'


def _number(value):
    if isinstance(value, bool):
        return '1' if value else '0'
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_atomic(path, text, mode=0o644):
    """Writes a file by rename, so a reader (node_exporter) never sees half of it."""
    directory = os.path.dirname(path) or '.'
    handle, temporary = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        with os.fdopen(handle, 'w') as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.rename(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
