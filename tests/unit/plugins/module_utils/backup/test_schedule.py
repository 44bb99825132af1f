# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import schedule
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError


def test_config_defaults_and_retention():
    params = schedule.load_config(json.dumps(dict(_managed='Ansible managed', bucket='bk',
                                                  retention=dict(keep_last=3))))
    assert params['kind'] == 'logical' and params['databases'] == ['all'] and params['compression'] == 'zstd'
    assert params['retention'] == dict(keep_last=3, keep_daily=0, keep_weekly=0, keep_monthly=0,
                                       stale_upload_hours=24)
    assert schedule.load_config('{"bucket": "bk"}')['retention'] is None


@pytest.mark.parametrize('config, message', [
    ('not json', 'not JSON'),
    ('[1]', 'the configuration must be an object'),
    ('{"bucket": "bk", "bukket": 1}', r'unknown option bukket \(known: access_key, bin_dir'),
    ('{}', 'bucket is required'),
    ('{"bucket": "no such bucket"}', "bucket 'no such bucket' is not valid: a bucket name is 1 to 255 letters"),
    ('{"bucket": "bk", "part_size_mb": "16"}', 'part_size_mb must be a int, not str'),
    ('{"bucket": "bk", "part_size_mb": true}', 'part_size_mb must be a int, not bool'),
    ('{"bucket": "bk", "part_size_mb": 4}', 'part_size_mb must be between 5 and 5120, not 4'),
    ('{"bucket": "bk", "part_size_mb": 99999999}', r'part_size_mb must be between 5 and 5120, not 99999999 \(S3'),
    ('{"bucket": "bk", "jobs": 0}', 'jobs must be between 1 and 64, not 0'),
    ('{"bucket": "bk", "jobs": 100000}', 'jobs must be between 1 and 64, not 100000'),
    ('{"bucket": "bk", "split_min_mb": -1}', 'split_min_mb must be 0 or more, not -1'),
    ('{"bucket": "bk", "compression": "gzip", "compression_level": 12}', 'compression_level must be between 0 and 9'),
    ('{"bucket": "bk", "databases": ["a", 1]}', 'databases must be a list of str'),
    ('{"bucket": "bk", "kind": "incremental"}', 'kind must be one of logical, physical'),
    ('{"bucket": "bk", "retention": {"keep_yearly": 1}}', 'unknown option retention.keep_yearly'),
    ('{"bucket": "bk", "retention": {"keep_last": -1}}', 'retention.keep_last must be 0 or more, not -1'),
    ('{"bucket": "bk", "retention": 3}', 'retention must be a dict, not int'),
    ('{"bucket": "bk", "s3_connect_timeout": 0}', 's3_connect_timeout must be between 1 and 3600, not 0'),
])
def test_bad_config_is_named(config, message):
    with pytest.raises(BackupError, match=message):
        schedule.load_config(config)


MANIFEST = dict(id='20261126T023000Z-logical-abcd', duration=12.5, stored_size=1000, raw_size=9000)


def test_state_counts_runs_and_failures():
    state = schedule.update_state({}, 100.0, MANIFEST, ['old'])
    assert (state['runs_total'], state['failures_total'], state['expired_total']) == (1, 0, 1)
    state = schedule.update_state(state, 200.0, error='no such bucket')
    assert (state['runs_total'], state['failures_total'], state['last_run_success']) == (2, 1, False)
    assert state['last_success_timestamp'] == 100.0 and state['last_error'] == 'no such bucket'
    state = schedule.update_state(state, 300.0, MANIFEST)
    assert state['last_run_success'] is True and state['failures_total'] == 1 and state['last_error'] is None


def test_metrics_in_textfile_format():
    text = schedule.render_metrics(schedule.update_state({}, 100.0, MANIFEST), 'logical')
    assert '# TYPE aiplatform_pg_backup_failures_total counter' in text
    assert 'aiplatform_pg_backup_last_success_timestamp_seconds{kind="logical"} 100.0' in text
    assert 'aiplatform_pg_backup_last_size_bytes{kind="logical"} 1000' in text
    assert 'aiplatform_pg_backup_last_run_success{kind="logical"} 1' in text
    assert text.endswith('\n')
    failed_first = schedule.render_metrics(schedule.update_state({}, 5.0, error='x'), 'physical')
    assert 'last_success_timestamp' not in failed_first
    assert 'aiplatform_pg_backup_last_run_success{kind="physical"} 0' in failed_first


def test_write_atomic_replaces_the_file(tmp_path):
    target = tmp_path / 'metrics.prom'
    target.write_text('old')
    schedule.write_atomic(str(target), 'new\n', 0o640)
    assert target.read_text() == 'new\n'
    assert oct(os.stat(str(target)).st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ['metrics.prom']
