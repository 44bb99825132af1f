# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The backup location, shared by pg_backup, pg_backup_info and pg_restore.
    DOCUMENTATION = r'''
options:
  bucket:
    description:
      - The S3 bucket that holds the backups.
      - 1 to 255 letters, digits, dots, hyphens or underscores (AWS wants 3 to 63 lowercase letters, digits,
        dots or hyphens); another name fails before any request.
    type: str
    required: true
  prefix:
    description: Key prefix of the backups in the bucket; each backup is a folder C(<prefix>/<id>/).
    type: str
    default: postgresql
  endpoint_url:
    description:
      - URL of an S3-compatible endpoint (MinIO, Ceph RGW, Backblaze B2, ...); AWS when unset.
      - Path-style addressing is used, which every one of them accepts.
    type: str
  region:
    description: Region of the bucket.
    type: str
    default: us-east-1
  access_key:
    description: Access key id; boto3's own lookup (environment, instance profile) when unset.
    type: str
  secret_key:
    description: Secret access key.
    type: str
  session_token:
    description: Session token of temporary credentials.
    type: str
  ca_bundle:
    description: CA bundle to verify the endpoint's certificate against.
    type: path
  validate_certs:
    description: Verify the endpoint's TLS certificate.
    type: bool
    default: true
  encryption_passphrase:
    description:
      - Passphrase of the client-side encryption (AES-256-GCM per 1 MiB chunk, key by
        PBKDF2-HMAC-SHA256 with a random salt per object). The bucket never sees plaintext.
      - Needs C(cryptography) on the host (Debian C(python3-cryptography)).
      - Lose it and the encrypted backups are lost.
    type: str
  s3_connect_timeout:
    description:
      - Seconds to wait for the S3 endpoint to accept a connection, 1 to 3600.
      - Every S3 request is tried 3 times at most, so an endpoint whose traffic a firewall drops fails the
        task within about 3 times this (plus up to 3 s of backoff), with a message that names the endpoint
        and this timeout.
    type: int
    default: 10
  s3_read_timeout:
    description:
      - Seconds to wait for each answer (or each read of a download) of the S3 endpoint, 1 to 3600; an
        endpoint that accepts the connection and then falls silent fails within about 3 times this.
    type: int
    default: 60
requirements:
  - boto3 (Debian C(python3-boto3))
'''

    # The PostgreSQL server, for pg_backup and pg_restore.
    POSTGRES = r'''
options:
  login_host:
    description: Host name of the server, or the directory of its unix socket.
    type: str
    default: /var/run/postgresql
  login_port:
    description: Port of the server, 1 to 65535.
    type: int
    default: 5432
  connect_timeout:
    description:
      - Seconds to wait for the server to accept a connection, 1 to 3600, for the module's own connections
        and the client programs (E(PGCONNECT_TIMEOUT)); the module's connections also send TCP keepalives,
        so a server that vanishes mid-query fails them within about a minute.
    type: int
    default: 10
  login_user:
    description: Role to connect as; over the socket with peer authentication the module runs as that OS user.
    type: str
    default: postgres
  login_password:
    description: Password of O(login_user).
    type: str
  bin_dir:
    description:
      - Directory of the PostgreSQL client programs (C(pg_dump), C(pg_basebackup), C(pg_restore)).
      - Found on E(PATH) when unset; on Debian the C(/usr/bin) wrappers pick the newest installed version.
    type: path
requirements:
  - psycopg 3 (Debian C(python3-psycopg))
'''
