# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import s3
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

MIB = 1024 * 1024


def test_short_stream_is_one_put(fake_s3, store):
    with s3.StreamUpload(store, 'pg/i/a', 5 * MIB) as upload:
        upload.write(b'abc')
        upload.write(b'')
        assert upload.close() == (3, hashlib.sha256(b'abc').hexdigest())
    assert fake_s3.objects['pg/i/a'] == b'abc'
    assert 'create_multipart_upload' not in fake_s3.calls


def test_long_stream_goes_in_parts(fake_s3, store):
    data = os.urandom(12 * MIB + 17)
    with s3.StreamUpload(store, 'pg/i/a', 5 * MIB) as upload:
        for start in range(0, len(data), 1000000):
            upload.write(data[start:start + 1000000])
        size, digest = upload.close()
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert fake_s3.objects['pg/i/a'] == data
    assert fake_s3.calls.count('upload_part') == 3
    assert fake_s3.uploads == {}


def test_part_size_has_the_s3_minimum(store):
    assert s3.StreamUpload(store, 'k', 1).part_size == 5 * MIB


@pytest.mark.parametrize('fail_part', [1, 2])
def test_a_failed_part_aborts_the_upload(fake_s3, store, fail_part):
    fake_s3.fail_part = fail_part
    with pytest.raises(BackupError, match='InternalError'):
        with s3.StreamUpload(store, 'pg/i/a', 5 * MIB) as upload:
            for _part in range(4):
                upload.write(b'x' * 5 * MIB)
            upload.close()
    assert fake_s3.uploads == {} and fake_s3.objects == {}
    assert 'abort_multipart_upload' in fake_s3.calls


def test_an_error_in_the_writer_aborts_the_upload(fake_s3, store):
    with pytest.raises(KeyboardInterrupt):
        with s3.StreamUpload(store, 'pg/i/a', 5 * MIB) as upload:
            upload.write(b'x' * 11 * MIB)
            raise KeyboardInterrupt()
    assert fake_s3.uploads == {} and fake_s3.objects == {}


@pytest.mark.parametrize('code, message', [
    ('NoSuchBucket', "no such bucket 'bk'"),
    ('AccessDenied', "access denied to bucket 'bk'"),
    ('InvalidAccessKeyId', 'check access_key'),
    ('SignatureDoesNotMatch', 'check secret_key'),
    ('SlowDown', 'S3 error SlowDown'),
])
def test_errors_name_their_cause(code, message):
    error = s3.translate(ClientError({'Error': {'Code': code, 'Message': code}}, 'op'), 'bk')
    assert message in str(error)


def test_unreachable_endpoint():
    assert 'cannot reach' in str(s3.translate(EndpointConnectionError(endpoint_url='http://x'), 'bk'))


@pytest.mark.parametrize('bucket, denied, message', [
    ('other', None, "no such bucket 'other'"),
    ('bk', 'InvalidAccessKeyId', 'check access_key'),
    ('bk', 'SignatureDoesNotMatch', 'check secret_key'),
])
def test_check_bucket_names_the_cause(fake_s3, bucket, denied, message):
    fake_s3.denied = denied
    with pytest.raises(BackupError, match=message):
        s3.Store(fake_s3, bucket).check_bucket()


def test_missing_bucket_through_the_store(fake_s3):
    with pytest.raises(BackupError, match="no such bucket 'other'"):
        s3.Store(fake_s3, 'other').list('pg/')


def test_listing_follows_continuation(fake_s3, store):
    for name in 'abcde':
        store.put('pg/' + name, b'1')
    assert sorted(store.list('pg/')) == ['pg/' + n for n in 'abcde']


def test_client_options():
    client = s3.client(dict(region='eu-west-1', endpoint_url='http://127.0.0.1:9', access_key='a',
                            secret_key='b', validate_certs=False))
    assert client.meta.endpoint_url == 'http://127.0.0.1:9'
    assert client.meta.region_name == 'eu-west-1'
