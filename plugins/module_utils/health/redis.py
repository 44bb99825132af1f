# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Redis (and Valkey) check: AUTH as an ACL user, then PING, over a plain socket.

The commands are sent in RESP, Redis' wire protocol, with the standard
library only; the server must answer PING with +PONG. ``encode_command``
and ``read_reply`` are what the unit tests drive; ``check_redis`` talks to
a server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import CheckError, grade

_LINE_LIMIT = 64 * 1024


def encode_command(*words):
    """A command as a RESP array of bulk strings, e.g. PING -> b'*1\\r\\n$4\\r\\nPING\\r\\n'."""
    parts = [b'*%d\r\n' % len(words)]
    for word in words:
        data = word.encode('utf-8') if not isinstance(word, bytes) else word
        parts.append(b'$%d\r\n%s\r\n' % (len(data), data))
    return b''.join(parts)


def read_reply(stream):
    """The first line of a reply from a file-like ``stream``: (kind, text), kind '+' (status) or '-' (error).

    AUTH and PING answer with one status or error line; anything else is
    not a Redis server answering them.
    """
    line = stream.readline(_LINE_LIMIT)
    if not line:
        raise CheckError('the server closed the connection without answering')
    if not line.endswith(b'\r\n') or line[:1] not in (b'+', b'-'):
        raise CheckError('not a Redis reply: %r' % line[:80])
    return line[:1].decode('ascii'), line[1:-2].decode('utf-8', 'replace')


def _command(sock, stream, *words):
    sock.sendall(encode_command(*words))
    return read_reply(stream)


def check_redis(spec):
    """Connect, AUTH as ``spec['user']`` when a password is set, then PING; ok on +PONG."""
    where = '%s:%s' % (spec['host'], spec['port'])
    begun = time.monotonic()
    try:
        with socket.create_connection((spec['host'], spec['port']), spec['timeout']) as sock:
            stream = sock.makefile('rb')
            if spec['password'] is not None:
                words = ['AUTH'] + ([spec['user']] if spec['user'] else []) + [spec['password']]
                kind, text = _command(sock, stream, *words)
                if kind == '-':
                    raise CheckError('redis at %s refused AUTH as %s: %s' % (where, spec['user'] or 'default', text))
            kind, text = _command(sock, stream, 'PING')
            latency_ms = (time.monotonic() - begun) * 1000.0
    except (socket.error, OSError) as exc:
        raise CheckError('redis at %s not reachable: %s' % (where, exc))
    if (kind, text) != ('+', 'PONG'):
        raise CheckError('redis at %s answered PING with %s%s' % (where, kind, text))
    return [grade('ping', round(latency_ms, 1), spec['latency_warn_ms'], spec['latency_fail_ms'], 'ms')]
