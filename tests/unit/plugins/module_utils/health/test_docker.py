# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server
import json
import socketserver
import threading

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.health import docker
from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import CheckError

LISTING = json.dumps([
    {'Names': ['/web'], 'State': 'running', 'Status': 'Up 2 hours (healthy)'},
    {'Names': ['/worker'], 'State': 'running', 'Status': 'Up 5 seconds'},
    {'Names': ['/db'], 'State': 'running', 'Status': 'Up 1 minute (unhealthy)'},
    {'Names': ['/cache'], 'State': 'running', 'Status': 'Up 3 seconds (health: starting)'},
    {'Names': ['/batch'], 'State': 'exited', 'Status': 'Exited (1) 4 minutes ago'},
]).encode()


@pytest.mark.parametrize('name, status, reason', [
    ('web', 'ok', 'container web is healthy'),
    ('worker', 'ok', 'container worker is running'),
    ('db', 'fail', 'container db is unhealthy'),
    ('cache', 'warn', 'container cache health check starting'),
    ('batch', 'fail', 'container batch is exited'),
    ('ghost', 'fail', 'container ghost does not exist'),
])
def test_container_metrics(name, status, reason):
    metrics = docker.container_metrics(b'OK', LISTING, [name])
    assert metrics[0]['reason'] == 'docker daemon answers'
    assert (metrics[1]['status'], metrics[1]['reason']) == (status, reason)


@pytest.mark.parametrize('ping, listing, match', [
    (b'Bad', b'[]', 'not OK'),
    (b'OK', b'{not json', 'unexpected docker API container list'),
    (b'OK', b'[{"State": "running"}]', 'unexpected docker API container list'),
])
def test_container_metrics_malformed(ping, listing, match):
    with pytest.raises(CheckError, match=match):
        docker.container_metrics(ping, listing, ['web'])


class _Engine(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'OK' if self.path == '/_ping' else LISTING
        self.send_response(200 if self.path in ('/_ping', '/containers/json?all=1') else 404)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):
        return 'unix'

    def log_message(self, *args):
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def test_check_docker_over_a_unix_socket(tmp_path):
    path = str(tmp_path / 'docker.sock')
    server = _UnixServer(path, _Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        metrics = docker.check_docker(dict(socket=path, timeout=2.0, containers=['web']))
    finally:
        server.shutdown()
    assert [m['status'] for m in metrics] == ['ok', 'ok']


def test_check_docker_daemon_down(tmp_path):
    with pytest.raises(CheckError, match='does not answer'):
        docker.check_docker(dict(socket=str(tmp_path / 'none.sock'), timeout=1.0, containers=[]))
