# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An in-memory S3 client with the calls the backup code makes, and a stand-in server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import os
import stat

import pytest
from botocore.exceptions import ClientError

from ansible_collections.aiplatform.infra.plugins.module_utils.backup.s3 import Store


def _error(code, op):
    return ClientError({'Error': {'Code': code, 'Message': code}}, op)


class FakeS3(object):
    def __init__(self, bucket='bk'):
        self.bucket = bucket
        self.objects = {}
        self.modified = {}
        self.uploads = {}
        self.calls = []
        self.fail_part = None
        self.denied = None

    def _check(self, bucket, op):
        self.calls.append(op)
        if bucket != self.bucket:
            raise _error('NoSuchBucket', op)
        if self.denied:
            raise _error(self.denied, op)

    def put_object(self, Bucket, Key, Body, **extra):
        self._check(Bucket, 'put_object')
        self.objects[Key] = bytes(Body)
        self.modified[Key] = datetime.datetime.now(datetime.timezone.utc)

    def get_object(self, Bucket, Key):
        self._check(Bucket, 'get_object')
        if Key not in self.objects:
            raise _error('NoSuchKey', 'get_object')
        return {'Body': io.BytesIO(self.objects[Key])}

    def list_objects_v2(self, Bucket, Prefix='', ContinuationToken=None, MaxKeys=2):
        self._check(Bucket, 'list_objects_v2')
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        start = int(ContinuationToken or 0)
        page = {'Contents': [{'Key': k, 'Size': len(self.objects[k]), 'LastModified': self.modified[k]}
                             for k in keys[start:start + MaxKeys]]}
        if start + MaxKeys < len(keys):
            page['NextContinuationToken'] = str(start + MaxKeys)
        return page

    def delete_objects(self, Bucket, Delete):
        self._check(Bucket, 'delete_objects')
        for item in Delete['Objects']:
            self.objects.pop(item['Key'], None)

    def create_multipart_upload(self, Bucket, Key, **extra):
        self._check(Bucket, 'create_multipart_upload')
        upload_id = 'u%d' % len(self.calls)
        self.uploads[upload_id] = dict(key=Key, parts={}, initiated=datetime.datetime.now(datetime.timezone.utc))
        return {'UploadId': upload_id}

    def upload_part(self, Bucket, Key, UploadId, PartNumber, Body):
        self._check(Bucket, 'upload_part')
        if self.fail_part == PartNumber:
            raise _error('InternalError', 'upload_part')
        self.uploads[UploadId]['parts'][PartNumber] = bytes(Body)
        return {'ETag': '"%d"' % PartNumber}

    def complete_multipart_upload(self, Bucket, Key, UploadId, MultipartUpload):
        self._check(Bucket, 'complete_multipart_upload')
        upload = self.uploads.pop(UploadId)
        numbers = [p['PartNumber'] for p in MultipartUpload['Parts']]
        assert numbers == sorted(upload['parts'])
        self.put_object(Bucket, Key, b''.join(upload['parts'][n] for n in numbers))

    def abort_multipart_upload(self, Bucket, Key, UploadId):
        self._check(Bucket, 'abort_multipart_upload')
        self.uploads.pop(UploadId)

    def list_multipart_uploads(self, Bucket, Prefix, KeyMarker='', UploadIdMarker='', MaxUploads=2):
        """Pages of MaxUploads uploads in (key, upload id) order, after the markers, as S3 pages them."""
        self._check(Bucket, 'list_multipart_uploads')
        found = sorted((u['key'], i) for i, u in self.uploads.items()
                       if u['key'].startswith(Prefix) and (u['key'], i) > (KeyMarker, UploadIdMarker))
        page = {'Uploads': [{'Key': k, 'UploadId': i, 'Initiated': self.uploads[i]['initiated']}
                            for k, i in found[:MaxUploads]], 'IsTruncated': len(found) > MaxUploads}
        if page['IsTruncated']:
            page.update(NextKeyMarker=found[MaxUploads - 1][0], NextUploadIdMarker=found[MaxUploads - 1][1])
        return page


class FakeCopy(object):
    """psycopg's COPY FROM STDIN: the server keeps (statement, data) of each that succeeded."""

    def __init__(self, server, statement):
        self.server = server
        self.statement = statement
        self.data = bytearray()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:  # a failed COPY loads nothing
            statement = self.statement if isinstance(self.statement, str) else self.statement.as_string(None)
            self.server.copied.append((statement, bytes(self.data)))
        return False

    def write(self, data):
        self.data += data


class FakeConnection(object):
    """A psycopg connection: the snapshot session's queries, and COPY FROM STDIN."""

    def __init__(self, server, dbname):
        self.server = server
        self.dbname = dbname

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def execute(self, statement, args=None):
        self.server.statements.append(' '.join(statement.split()))
        if 'pg_relation_size' in statement:
            rows = self.server.large_tables
        elif 'pg_encoding_to_char' in statement:
            rows = [('UTF8',)]
        elif 'pg_export_snapshot' in statement:
            rows = [(SNAPSHOT,)]
        else:
            rows = []
        return FakeCursor(self.server, rows)

    def cursor(self):
        return FakeCursor(self.server, [])

    def close(self):
        self.server.open_connections.discard(self)


class FakeCursor(object):
    def __init__(self, server, rows):
        self.server = server
        self.rows = rows

    def fetchall(self):
        return list(self.rows)

    def fetchone(self):
        return self.rows[0]

    def copy(self, statement):
        return FakeCopy(self.server, statement)


SNAPSHOT = '00000003-0000001B-1'


class FakeServer(object):
    """What backup and restore ask of pgtools.Server; large_tables are the rows of split.SQL_LARGE_TABLES."""

    def __init__(self, databases=('appdb',)):
        self.names = list(databases)
        self.statements = []
        self.large_tables = []
        self.copied = []
        self.open_connections = set()

    def connect(self, dbname='postgres', autocommit=True):
        conn = FakeConnection(self, dbname)
        self.open_connections.add(conn)
        return conn

    def query(self, statement, dbname='postgres', args=None):
        with self.connect(dbname) as conn:
            return conn.execute(statement, args).fetchall()

    def databases(self):
        return list(self.names)

    def version(self):
        return '15.20'

    def lsn(self):
        return '0/3000060'

    def env(self):
        return dict(os.environ)

    def database_exists(self, name):
        return name in self.names

    def execute(self, statement, *names):
        self.statements.append(statement.replace('{}', '%s') % names)
        if statement.startswith('CREATE'):
            self.names.append(names[0])
        elif statement.startswith('DROP') and names[0] in self.names:
            self.names.remove(names[0])
        elif statement.startswith('ALTER'):
            self.names[self.names.index(names[0])] = names[1]

    def row_counts(self, dbname):
        return {'public.t': 3}


@pytest.fixture
def fake_s3():
    return FakeS3()


@pytest.fixture
def store(fake_s3):
    return Store(fake_s3, 'bk')


@pytest.fixture
def bin_dir(tmp_path):
    """A directory for stand-in client programs: make(name, shell body)."""
    def make(name, body):
        path = tmp_path / name
        path.write_text('#!/bin/sh\n' + body + '\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
        return str(tmp_path)
    return make


@pytest.fixture
def fake_server():
    """The FakeServer class: fake_server(['appdb', ...])."""
    return FakeServer
