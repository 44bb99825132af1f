# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.aiplatform.infra.plugins.module_utils.backup import common, s3
from ansible_collections.aiplatform.infra.plugins.modules import pg_backup, pg_backup_info, pg_restore

SECRET = 'very-secret-value'


def run(capsys, module, **args):
    with patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('module, library, package', [
    (pg_backup, 'boto3', 'python3-boto3'),
    (pg_backup, 'psycopg', 'python3-psycopg'),
    (pg_backup, 'zstandard', 'python3-zstandard'),
    (pg_backup_info, 'boto3', 'python3-boto3'),
    (pg_restore, 'psycopg', 'python3-psycopg'),
])
def test_a_missing_library_fails_with_missing_required_lib(capsys, monkeypatch, module, library, package):
    monkeypatch.setitem(common.LIBRARIES, library, 'Traceback: ImportError')
    result = run(capsys, module, bucket='bk')
    assert result['failed'] is True
    assert 'Failed to import the required Python library (%s)' % library in result['msg']
    assert 'apt install %s' % package in result['msg']


class _Denied(object):
    def list_objects_v2(self, **kwargs):
        raise s3.ClientError({'Error': {'Code': 'SignatureDoesNotMatch', 'Message': SECRET}}, 'ListObjectsV2')


@pytest.mark.parametrize('module', [pg_backup, pg_backup_info, pg_restore])
def test_wrong_credentials_fail_clearly_and_hide_the_secrets(capsys, monkeypatch, module):
    monkeypatch.setattr(s3, 'client', lambda params: _Denied())
    result = run(capsys, module, bucket='bk', secret_key=SECRET, encryption_passphrase=SECRET)
    assert result['failed'] is True
    assert result['msg'] == 'the secret key does not match the access key: check secret_key'
    assert SECRET not in json.dumps(result)


def test_part_size_below_the_s3_minimum_is_refused(capsys):
    result = run(capsys, pg_backup, bucket='bk', part_size_mb=4)
    assert result['failed'] is True and 'part_size_mb must be 5 or more' in result['msg']


@pytest.mark.parametrize('args', [dict(jobs=0), dict(split_min_mb=-1)])
def test_no_jobs_or_a_negative_split_size_is_refused(capsys, args):
    result = run(capsys, pg_backup, bucket='bk', **args)
    assert result['failed'] is True and result['msg'] == 'jobs must be 1 or more and split_min_mb 0 or more'


def test_kms_needs_a_key(capsys):
    result = run(capsys, pg_backup, bucket='bk', server_side_encryption='aws:kms')
    assert result['failed'] is True and 'sse_kms_key_id' in result['msg']
