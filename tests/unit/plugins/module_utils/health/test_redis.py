# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import socket
import threading

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.aiplatform.infra.plugins.module_utils.health import redis as health_redis
from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import CheckError
from ansible_collections.aiplatform.infra.plugins.modules import health_check


def spec(port, **overrides):
    base = dict(name='redis', host='127.0.0.1', port=port, user=None, password=None,
                latency_warn_ms=None, latency_fail_ms=None, timeout=2.0)
    base.update(overrides)
    return base


def _read_command(stream):
    """One RESP array of bulk strings from a client, as a list of str (None at end of stream)."""
    head = stream.readline()
    if not head:
        return None
    assert head.startswith(b'*'), head
    words = []
    for _word in range(int(head[1:])):
        size = int(stream.readline()[1:])
        words.append(stream.read(size + 2)[:-2].decode('utf-8'))
    return words


class FakeRedis:
    """A server speaking enough RESP for AUTH and PING, with Redis' answers; records what it received."""

    def __init__(self, users=None, reply=None, close_at_once=False):
        self.users = users or {}            # ACL user -> password; no users: no password asked
        self.reply = reply                  # a fixed raw answer to every command, when set
        self.close_at_once = close_at_once
        self.received = []
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve)
        self.thread.daemon = True
        self.thread.start()

    def _answer(self, words, authed):
        if self.reply is not None:
            return self.reply, authed
        if words[0].upper() == 'AUTH':
            user, password = (words[1], words[2]) if len(words) == 3 else ('default', words[1])
            if self.users.get(user) == password:
                return b'+OK\r\n', True
            return b'-WRONGPASS invalid username-password pair or user is disabled.\r\n', authed
        if self.users and not authed:
            return b'-NOAUTH Authentication required.\r\n', authed
        return b'+PONG\r\n', authed

    def _serve(self):
        conn, _addr = self.listener.accept()
        with conn:
            if self.close_at_once:
                return
            stream = conn.makefile('rb')
            authed = False
            while True:
                words = _read_command(stream)
                if words is None:
                    return
                self.received.append(words)
                answer, authed = self._answer(words, authed)
                conn.sendall(answer)

    def close(self):
        self.listener.close()


@pytest.fixture
def server(request):
    made = []

    def start(**kwargs):
        made.append(FakeRedis(**kwargs))
        return made[-1]
    yield start
    for fake in made:
        fake.close()


@pytest.mark.parametrize('words, wire', [
    (('PING',), b'*1\r\n$4\r\nPING\r\n'),
    (('AUTH', 'mon', 'p\xe4ss word'), b'*3\r\n$4\r\nAUTH\r\n$3\r\nmon\r\n$10\r\np\xc3\xa4ss word\r\n'),
    (('AUTH', ''), b'*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n'),
])
def test_commands_are_resp_arrays_of_bulk_strings_with_byte_lengths(words, wire):
    assert health_redis.encode_command(*words) == wire


@pytest.mark.parametrize('raw, reply', [
    (b'+PONG\r\n', ('+', 'PONG')),
    (b'-NOAUTH Authentication required.\r\n', ('-', 'NOAUTH Authentication required.')),
])
def test_status_and_error_replies_are_read(raw, reply):
    assert health_redis.read_reply(io.BytesIO(raw)) == reply


@pytest.mark.parametrize('raw, words', [
    (b'', 'closed the connection without answering'),
    (b'HTTP/1.1 400 Bad Request\r\n', 'not a Redis reply'),
    (b'+PONG', 'not a Redis reply'),
    (b':1\r\n', 'not a Redis reply'),
])
def test_anything_else_is_not_a_redis_answer(raw, words):
    with pytest.raises(CheckError, match=words):
        health_redis.read_reply(io.BytesIO(raw))


def test_auth_as_the_acl_user_then_ping_is_ok(server):
    fake = server(users={'monitor': 's3cret'})
    metrics = health_redis.check_redis(spec(fake.port, user='monitor', password='s3cret', latency_warn_ms=5000.0))
    assert [(m['metric'], m['status'], m['threshold']) for m in metrics] == [('ping', 'ok', 5000.0)]
    fake.thread.join(2)
    assert fake.received == [['AUTH', 'monitor', 's3cret'], ['PING']]


def test_a_password_without_a_user_authenticates_the_default_user(server):
    fake = server(users={'default': 'old-style'})
    health_redis.check_redis(spec(fake.port, password='old-style'))
    fake.thread.join(2)
    assert fake.received == [['AUTH', 'old-style'], ['PING']]


def test_a_wrong_password_fails_naming_the_user_and_not_the_password(server):
    fake = server(users={'monitor': 's3cret'})
    with pytest.raises(CheckError) as raised:
        health_redis.check_redis(spec(fake.port, user='monitor', password='wrong-one'))
    assert str(raised.value) == ('redis at 127.0.0.1:%d refused AUTH as monitor: WRONGPASS invalid '
                                 'username-password pair or user is disabled.' % fake.port)
    assert 'wrong-one' not in str(raised.value)


def test_no_password_where_one_is_needed_fails_with_noauth(server):
    fake = server(users={'monitor': 's3cret'})
    with pytest.raises(CheckError, match='answered PING with -NOAUTH Authentication required'):
        health_redis.check_redis(spec(fake.port))


def test_a_server_that_hangs_up_fails(server):
    fake = server(close_at_once=True)
    with pytest.raises(CheckError, match='closed the connection without answering|not reachable'):
        health_redis.check_redis(spec(fake.port))


def test_another_answer_to_ping_fails(server):
    fake = server(reply=b'+OK\r\n')
    with pytest.raises(CheckError, match='answered PING with \\+OK'):
        health_redis.check_redis(spec(fake.port))


def test_a_closed_port_fails_as_unreachable():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(CheckError, match='redis at 127.0.0.1:%d not reachable' % port):
        health_redis.check_redis(spec(port))


def test_latency_thresholds_grade_the_ping(server):
    fake = server()
    metrics = health_redis.check_redis(spec(fake.port, latency_warn_ms=0.0))
    assert metrics[0]['status'] == 'warn'


# The redis kind through the module: options, results, the password kept out of them.
def run(capsys, **args):
    with patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            health_check.main()
    return json.loads(capsys.readouterr().out)


def test_a_redis_check_is_ok_and_its_password_is_not_in_the_result(capsys):
    fake = FakeRedis(users={'aip_monitor': 'redis-secret-value'})
    try:
        result = run(capsys, redis=[dict(port=fake.port, user='aip_monitor', password='redis-secret-value')])
    finally:
        fake.close()
    assert 'failed' not in result
    assert [(c['type'], c['name'], c['status']) for c in result['checks']] == [('redis', 'redis', 'ok')]
    assert 'redis-secret-value' not in json.dumps(result)


def test_a_refused_password_fails_the_task_without_showing_it(capsys):
    fake = FakeRedis(users={'aip_monitor': 'redis-secret-value'})
    try:
        result = run(capsys, redis=[dict(port=fake.port, user='aip_monitor', password='not-the-secret')])
    finally:
        fake.close()
    assert result['failed'] is True
    assert 'refused AUTH as aip_monitor: WRONGPASS' in result['msg']
    assert 'not-the-secret' not in json.dumps(result)


@pytest.mark.parametrize('args, words', [
    (dict(redis=[dict(user='aip_monitor')]), 'missing parameter(s) required by \'user\': password'),
    (dict(redis=[dict(port=0)]), 'redis[0].port must be between 1 and 65535, not 0'),
    (dict(redis=[dict(latency_warn_ms=50, latency_fail_ms=10)]),
     'redis[0].latency_warn_ms (50.0) must be at most redis[0].latency_fail_ms (10.0)'),
])
def test_bad_redis_options_fail_before_any_check(capsys, args, words):
    result = run(capsys, **args)
    assert result['failed'] is True and words in result['msg'], result['msg']
    assert 'checks' not in result
