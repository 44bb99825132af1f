# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""S3 side of the backups: the client, errors that name their cause, and a
streaming multipart upload that holds at most two parts in memory and aborts
itself on any failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import threading

from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.options import S3_ATTEMPTS

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError,
                                     ParamValidationError, ReadTimeoutError)
except ImportError:
    boto3 = None
    BotoCoreError = ClientError = ConnectTimeoutError = EndpointConnectionError = Exception
    ParamValidationError = ReadTimeoutError = Exception

MIN_PART = 5 * 1024 * 1024
_CAUSES = {
    'NoSuchBucket': 'no such bucket %(bucket)r: create it or fix the bucket option',
    'InvalidBucketName': 'the endpoint refuses the bucket name %(bucket)r: fix the bucket option',
    'AccessDenied': 'access denied to bucket %(bucket)r: check the key\'s policy',
    'InvalidAccessKeyId': 'the access key is not known to the endpoint: check access_key',
    'SignatureDoesNotMatch': 'the secret key does not match the access key: check secret_key',
    'InvalidToken': 'the session token is not valid: check session_token',
    'ExpiredToken': 'the session token has expired',
    'NoSuchKey': 'object %(key)r not found',
    '404': 'object %(key)r not found',
    '403': 'access denied to %(key)r in bucket %(bucket)r: check the credentials and the key\'s policy',
}


def translate(exc, bucket, key='', where=None):
    """A BackupError naming the cause of a boto error, never a secret.

    where: the endpoint and its timeouts (Store.where), named in the
    messages of the errors that are the endpoint's.
    """
    where = where or dict(endpoint='of AWS', connect=None, read=None)
    if isinstance(exc, ClientError):
        code = str(exc.response.get('Error', {}).get('Code', ''))
        if code in _CAUSES:
            return BackupError(_CAUSES[code] % dict(bucket=bucket, key=key))
        return BackupError('S3 error %s on bucket %r: %s' % (code, bucket, exc.response.get('Error', {}).get('Message', '')))
    if isinstance(exc, ConnectTimeoutError):
        return BackupError('the S3 endpoint %s accepted no connection within s3_connect_timeout=%s s, %d attempts: '
                           'is it up, and does a firewall drop the traffic?'
                           % (where['endpoint'], where['connect'], S3_ATTEMPTS))
    if isinstance(exc, ReadTimeoutError):
        return BackupError('the S3 endpoint %s sent no answer within s3_read_timeout=%s s, %d attempts'
                           % (where['endpoint'], where['read'], S3_ATTEMPTS))
    if isinstance(exc, ParamValidationError):
        return BackupError('S3 refuses the request before sending it: %s' % ' '.join(str(exc).split()))
    if isinstance(exc, EndpointConnectionError):
        return BackupError('cannot reach the S3 endpoint %s: %s' % (where['endpoint'], exc))
    return BackupError('S3 request to %s failed: %s' % (where['endpoint'], exc))


def client(params):
    """A boto3 S3 client from the options: every request bounded by the timeouts, S3_ATTEMPTS attempts."""
    config = Config(retries=dict(total_max_attempts=S3_ATTEMPTS, mode='standard'), s3=dict(addressing_style='path'),
                    connect_timeout=params['s3_connect_timeout'], read_timeout=params['s3_read_timeout'])
    kwargs = dict(region_name=params['region'], endpoint_url=params.get('endpoint_url'),
                  aws_access_key_id=params.get('access_key'), aws_secret_access_key=params.get('secret_key'),
                  aws_session_token=params.get('session_token'), config=config)
    if not params.get('validate_certs', True):
        kwargs['verify'] = False
    elif params.get('ca_bundle'):
        kwargs['verify'] = params['ca_bundle']
    return boto3.client('s3', **kwargs)


class Store(object):
    """One bucket through a client; every call's boto error becomes a BackupError."""

    def __init__(self, s3, bucket, extra_args=None):
        self.s3 = s3
        self.bucket = bucket
        self.extra_args = dict(extra_args or {})
        meta = getattr(s3, 'meta', None)
        self.where = dict(endpoint=getattr(meta, 'endpoint_url', None) or 'of AWS',
                          connect=getattr(getattr(meta, 'config', None), 'connect_timeout', None),
                          read=getattr(getattr(meta, 'config', None), 'read_timeout', None))

    def _call(self, method, key='', **kwargs):
        try:
            return getattr(self.s3, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self.bucket, key, self.where)

    def check_bucket(self):
        """Lists one key: unlike HEAD, the answer names the cause (credentials, no bucket)."""
        self._call('list_objects_v2', MaxKeys=1)

    def list(self, prefix):
        """Every object under prefix as {key: (size, last_modified)}."""
        found = {}
        token = None
        while True:
            kwargs = dict(Prefix=prefix)
            if token:
                kwargs['ContinuationToken'] = token
            page = self._call('list_objects_v2', prefix, **kwargs)
            for item in page.get('Contents', []):
                found[item['Key']] = (item['Size'], item['LastModified'])
            token = page.get('NextContinuationToken')
            if not token:
                return found

    def uploads(self, prefix):
        """Open multipart uploads under prefix as dicts of key, upload_id, initiated, every page of them."""
        found = []
        markers = {}
        while True:
            page = self._call('list_multipart_uploads', prefix, Prefix=prefix, **markers)
            found += [dict(key=u['Key'], upload_id=u['UploadId'], initiated=u['Initiated'])
                      for u in page.get('Uploads', [])]
            if not page.get('IsTruncated'):
                return found
            markers = dict(KeyMarker=page['NextKeyMarker'], UploadIdMarker=page['NextUploadIdMarker'])

    def abort(self, key, upload_id):
        self._call('abort_multipart_upload', key, Key=key, UploadId=upload_id)

    def get(self, key):
        return self._call('get_object', key, Key=key)['Body'].read()

    def put(self, key, data):
        self._call('put_object', key, Key=key, Body=data, **self.extra_args)

    def delete(self, keys):
        for start in range(0, len(keys), 1000):
            self._call('delete_objects', keys[0], Delete=dict(Objects=[dict(Key=k) for k in keys[start:start + 1000]]))

    def iter_chunks(self, key, size=1 << 20):
        body = self._call('get_object', key, Key=key)['Body']
        try:
            while True:
                chunk = body.read(size)
                if not chunk:
                    return
                yield chunk
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self.bucket, key, self.where)


class StreamUpload(object):
    """Upload of a stream of unknown length in parts of part_size bytes.

    write() buffers; once the buffer holds part_size bytes it becomes the next
    part as it is (a part is at least part_size, and at most one write more),
    handed, without a copy, to a single uploader thread once the previous part
    is sent: memory stays near two parts however large the stream.
    A stream shorter than one part becomes a plain PUT. Used as a context
    manager: leaving it with an exception (a signal handler's included) aborts
    the multipart upload, so S3 keeps nothing of it.
    """

    def __init__(self, store, key, part_size):
        self.store = store
        self.key = key
        self.part_size = max(int(part_size), MIN_PART)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._buffer = bytearray()
        self._upload_id = None
        self._parts = []
        self._thread = None
        self._error = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False

    def write(self, data):
        if not data:
            return
        self.sha256.update(data)
        self.size += len(data)
        self._buffer += data
        if len(self._buffer) >= self.part_size:
            part, self._buffer = self._buffer, bytearray()
            self._send(part)

    def _send(self, part):
        if self._upload_id is None:
            created = self.store._call('create_multipart_upload', self.key, Key=self.key, **self.store.extra_args)
            self._upload_id = created['UploadId']
        self._join()
        number = len(self._parts) + 1
        self._thread = threading.Thread(target=self._upload_part, args=(number, part))
        self._thread.daemon = True
        self._thread.start()

    def _upload_part(self, number, part):
        try:
            answer = self.store._call('upload_part', self.key, Key=self.key, UploadId=self._upload_id,
                                      PartNumber=number, Body=part)
            self._parts.append(dict(PartNumber=number, ETag=answer['ETag']))
        except Exception as exc:  # handed to the writer thread by _join
            self._error = exc

    def _join(self):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self):
        """Send the rest and complete; returns (size, sha256 hex)."""
        if self._upload_id is None:
            self.store.put(self.key, bytes(self._buffer))
        else:
            if self._buffer:
                self._send(self._buffer)
            self._join()
            self.store._call('complete_multipart_upload', self.key, Key=self.key, UploadId=self._upload_id,
                             MultipartUpload=dict(Parts=self._parts))
            self._upload_id = None
        self._buffer = bytearray()
        return self.size, self.sha256.hexdigest()

    def abort(self):
        """Forget the upload: wait for a part in flight, then abort it on S3."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            try:
                self.store.abort(self.key, upload_id)
            except BackupError:
                pass  # the original failure is the one to report; retention aborts stale uploads
