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


@pytest.mark.parametrize('args, message', [
    (dict(part_size_mb=4), 'part_size_mb must be between 5 and 5120, not 4 (S3 parts are 5 MiB to 5 GiB)'),
    (dict(part_size_mb=99999999), 'part_size_mb must be between 5 and 5120, not 99999999'),
    (dict(jobs=0), 'jobs must be between 1 and 64, not 0'),
    (dict(jobs=100000), 'jobs must be between 1 and 64, not 100000'),
    (dict(split_min_mb=-1), 'split_min_mb must be 0 or more, not -1'),
    (dict(retention=dict(keep_last=-1)), 'retention.keep_last must be 0 or more, not -1'),
    (dict(bucket='my bucket'), "bucket 'my bucket' is not valid: a bucket name is 1 to 255 letters"),
    (dict(retention=0), 'retention must be a dict, not int'),
    (dict(login_port=[2 ** 64, 0, 0]), 'login_port must be an int, not list'),
])
def test_values_out_of_range_are_refused_before_any_request(capsys, monkeypatch, args, message):
    monkeypatch.setattr(s3, 'client', lambda params: pytest.fail('a request was made'))
    result = run(capsys, pg_backup, **dict(dict(bucket='bk'), **args))
    assert result['failed'] is True and result['msg'].startswith(message)


def test_kms_needs_a_key(capsys):
    result = run(capsys, pg_backup, bucket='bk', server_side_encryption='aws:kms')
    assert result['failed'] is True and 'sse_kms_key_id' in result['msg']
