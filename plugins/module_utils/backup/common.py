# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared pieces of the backup code: its error and the third-party imports
it needs (the options are in options.py).

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
