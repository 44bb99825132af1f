# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import socket
import time

import pytest
from botocore.exceptions import (ClientError, ConnectTimeoutError, EndpointConnectionError, ParamValidationError,
                                 ReadTimeoutError)

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import options, s3
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


def _params(**extra):
    return dict(dict(region='eu-west-1', endpoint_url='http://127.0.0.1:9', access_key='a', secret_key='b',
                     validate_certs=False, s3_connect_timeout=7, s3_read_timeout=11), **extra)


def test_client_options():
    client = s3.client(_params())
    assert client.meta.endpoint_url == 'http://127.0.0.1:9'
    assert client.meta.region_name == 'eu-west-1'
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (7, 11)
    assert client.meta.config.retries['total_max_attempts'] == options.S3_ATTEMPTS


@pytest.mark.parametrize('error, words', [
    (ConnectTimeoutError(endpoint_url='http://10.0.0.1:9000'),
     'the S3 endpoint http://127.0.0.1:9 accepted no connection within s3_connect_timeout=7 s, 3 attempts'),
    (ReadTimeoutError(endpoint_url='http://10.0.0.1:9000'),
     'the S3 endpoint http://127.0.0.1:9 sent no answer within s3_read_timeout=11 s, 3 attempts'),
    (EndpointConnectionError(endpoint_url='http://10.0.0.1:9000'), 'cannot reach the S3 endpoint http://127.0.0.1:9'),
    (ParamValidationError(report='Invalid bucket name "a b"'), 'S3 refuses the request before sending it: '
                                                               'Parameter validation failed: Invalid bucket name'),
])
def test_endpoint_errors_name_the_endpoint_and_the_timeout(monkeypatch, error, words):
    client = s3.client(_params())

    def fail(**kwargs):
        raise error
    monkeypatch.setattr(client, 'list_objects_v2', fail)
    with pytest.raises(BackupError) as caught:
        s3.Store(client, 'bk').check_bucket()
    assert str(caught.value).startswith(words)


def test_a_silent_endpoint_fails_within_the_attempts_of_its_read_timeout():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)  # accepts connections (the backlog) and never answers
    try:
        client = s3.client(_params(endpoint_url='http://127.0.0.1:%d' % listener.getsockname()[1], s3_read_timeout=1))
        started = time.monotonic()
        with pytest.raises(BackupError, match='sent no answer within s3_read_timeout=1 s, 3 attempts'):
            s3.Store(client, 'bk').check_bucket()
        assert time.monotonic() - started < options.S3_ATTEMPTS * 1 + 3 + 2
    finally:
        listener.close()
