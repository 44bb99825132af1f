# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared pieces of the backup code: its error, the options every backup
module takes, and the third-party imports it needs.

Nothing here imports Ansible: the scheduled backup (roles/postgresql_backup)
runs this package on the database host without it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

LIBRARIES = {}


def _probe(name, import_name):
    try:
        __import__(import_name)
        LIBRARIES[name] = None
    except ImportError:
        LIBRARIES[name] = traceback.format_exc()


_probe('boto3', 'boto3')
_probe('psycopg', 'psycopg')
_probe('zstandard', 'zstandard')
_probe('cryptography', 'cryptography.hazmat.primitives.ciphers.aead')

DEBIAN_PACKAGES = {'boto3': 'python3-boto3', 'psycopg': 'python3-psycopg',
                   'zstandard': 'python3-zstandard', 'cryptography': 'python3-cryptography'}


class BackupError(Exception):
    """A failure with a message that names the cause and what to do."""


def require(name):
    """Raises a BackupError naming the package when a library is missing."""
    if LIBRARIES[name]:
        raise BackupError('the Python library %s is missing on the host (Debian: apt install %s)'
                          % (name, DEBIAN_PACKAGES[name]))


def missing_libraries(params):
    """The libraries the given options need and the host lacks, with tracebacks."""
    needed = ['boto3']
    if params.get('login_host') is not None or params.get('kind') is not None:
        needed.append('psycopg')
    if params.get('compression') == 'zstd':
        needed.append('zstandard')
    if params.get('encryption_passphrase'):
        needed.append('cryptography')
    return [(name, LIBRARIES[name]) for name in needed if LIBRARIES[name]]


def s3_argument_spec():
    """Options of every module that reads or writes a backup location."""
    return dict(
        bucket=dict(type='str', required=True),
        prefix=dict(type='str', default='postgresql'),
        endpoint_url=dict(type='str'),
        region=dict(type='str', default='us-east-1'),
        access_key=dict(type='str', no_log=True),
        secret_key=dict(type='str', no_log=True),
        session_token=dict(type='str', no_log=True),
        ca_bundle=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        encryption_passphrase=dict(type='str', no_log=True),
    )


def postgres_argument_spec():
    """Options of the modules that talk to a PostgreSQL server."""
    return dict(
        login_host=dict(type='str', default='/var/run/postgresql'),
        login_port=dict(type='int', default=5432),
        login_user=dict(type='str', default='postgres'),
        login_password=dict(type='str', no_log=True),
        bin_dir=dict(type='path'),
    )
