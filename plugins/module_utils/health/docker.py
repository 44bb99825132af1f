# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Docker daemon check over the engine's unix socket, with the standard library."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client as http_client
import json
import re
import socket

from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import (
    FAIL, OK, WARN, CheckError, metric)

_HEALTH_RE = re.compile(r'\((healthy|unhealthy|health: starting)\)')


class UnixHTTPConnection(http_client.HTTPConnection):
    """HTTP over an AF_UNIX socket, as the Docker API speaks it."""

    def __init__(self, path, timeout):
        http_client.HTTPConnection.__init__(self, 'localhost', timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class DockerAPI:
    def __init__(self, socket_path, timeout):
        self.socket_path = socket_path
        self.timeout = timeout

    def get(self, path):
        connection = UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            connection.request('GET', path)
            response = connection.getresponse()
            body = response.read()
        except (socket.error, http_client.HTTPException) as exc:
            raise CheckError('docker daemon at %s does not answer: %s' % (self.socket_path, exc))
        finally:
            connection.close()
        if response.status != 200:
            raise CheckError('docker API %s answered %s: %s' % (path, response.status, body[:200]))
        return body


def container_metrics(ping, listing, expected):
    """Daemon answer and the state of each container that should run."""
    if ping.strip() != b'OK':
        raise CheckError('docker daemon _ping answered %r, not OK' % ping[:80])
    try:
        containers = json.loads(listing)
        by_name = dict((name.lstrip('/'), c) for c in containers for name in c['Names'])
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckError('unexpected docker API container list: %s' % exc)
    metrics = [metric('daemon', OK, 'OK', 'OK', 'docker daemon answers')]
    for name in expected:
        container = by_name.get(name)
        if container is None:
            metrics.append(metric(name, FAIL, 'missing', 'running', 'container %s does not exist' % name))
            continue
        state = container.get('State', '?')
        found = _HEALTH_RE.search(container.get('Status', ''))
        health = found.group(1) if found else None
        if state != 'running':
            metrics.append(metric(name, FAIL, state, 'running', 'container %s is %s' % (name, state)))
        elif health == 'unhealthy':
            metrics.append(metric(name, FAIL, health, 'healthy', 'container %s is unhealthy' % name))
        elif health == 'health: starting':
            metrics.append(metric(name, WARN, 'starting', 'healthy', 'container %s health check starting' % name))
        else:
            metrics.append(metric(name, OK, health or state, 'running',
                                  'container %s is %s' % (name, health or state)))
    return metrics


def check_docker(spec):
    api = DockerAPI(spec['socket'], spec['timeout'])
    return container_metrics(api.get('/_ping'), api.get('/containers/json?all=1'), spec['containers'])
