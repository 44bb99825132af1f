#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: health_check
short_description: Check a host's part of the platform and grade it ok, warn or fail
version_added: 0.1.0
description:
  - Runs the selected checks on the host, concurrently (one thread per check),
    and returns for each its status (V(ok), V(warn), V(fail) or V(skip)), the
    measured value, the threshold and a one-line reason.
  - Check types are http(s), tcp, postgres, redis, docker, gpu, systemd and disk;
    each option below selects checks of one type and sets their thresholds.
  - Every check has its own O(http[].timeout) (and so on). A check still
    running at its timeout fails with C(timed out) and does not hold the
    others nor the module past that.
  - Read-only; changes nothing, so check mode runs the same checks.
  - Options out of range fail the task before any check runs, with the option
    named; that is a timeout of 0 or less, a port outside 1 to 65535, a negative count
    or threshold, a percentage above 100, an HTTP status outside 100 to 599,
    or a warn threshold beyond its fail threshold (above it, or below it for
    O(http[].cert_days_warn)).
  - The task fails when a check fails, or when one warns too, or never; see O(fail_on).
  - Tested on Debian 12 systemd containers with real http(s) servers, systemd
    units, a tmpfs, PostgreSQL 15 as a primary, Redis 7.0 (Debian 12) and Valkey 8.1
    (Debian 13) with ACL users, and the gpu check on a real
    NVIDIA H100 (C(tests/gpu/run_on_gpu_host.sh)). Replication lag, slots and the
    docker check against a live daemon are covered by unit tests against recorded
    tool output.
author:
  - aiplatform.infra maintainers (@aiplatform)
attributes:
  check_mode:
    support: full
    description: The checks are read-only and run in check mode too.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: Never changes anything.
  platform:
    support: full
    platforms: posix
    description: Runs on the host whose part of the platform it checks.
options:
  http:
    description: http(s) checks, one request each; redirects are not followed.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check in the results; the URL when unset.
        type: str
      url:
        description: The URL to request.
        type: str
        required: true
      method:
        description: HTTP method.
        type: str
        default: GET
      server_name:
        description: Host header and TLS SNI name, when it differs from the URL's host.
        type: str
      status:
        description: Statuses that count as ok.
        type: list
        elements: int
        default: [200]
      body_match:
        description: Regular expression the first MiB of the body must match.
        type: str
      redirect_https:
        description: The URL must answer with a redirect to an https URL (instead of O(http[].status)).
        type: bool
        default: false
      latency_warn_ms:
        description: Warn at this response time.
        type: float
      latency_fail_ms:
        description: Fail at this response time.
        type: float
      cert_days_warn:
        description: Warn when the served certificate expires in this many days or fewer.
        type: float
        default: 21
      cert_days_fail:
        description: Fail when the served certificate expires in this many days or fewer (0 is expired).
        type: float
        default: 7
      ca_path:
        description: CA bundle the certificate chain is verified against; the system's when unset.
        type: path
      timeout:
        description: Seconds for the whole check.
        type: float
        default: 5
  tcp:
    description: TCP connect checks.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check in the results; C(host:port) when unset.
        type: str
      host:
        description: Host name or address.
        type: str
        default: 127.0.0.1
      port:
        description: TCP port.
        type: int
        required: true
      latency_warn_ms:
        description: Warn at this connect time.
        type: float
      latency_fail_ms:
        description: Fail at this connect time.
        type: float
      timeout:
        description: Seconds to wait for the connection.
        type: float
        default: 3
  postgres:
    description:
      - PostgreSQL checks. Needs psycopg (3) or psycopg2 on the host
        (Debian C(python3-psycopg)).
      - On a primary, each replica of C(pg_stat_replication) is graded on its
        state and replay lag in bytes and seconds, and each replication slot
        on the WAL it retains; on a replica, the replay lag behind what it
        received and whether its WAL receiver streams.
      - A replica's lag in seconds is the age of its last replayed
        transaction, counted only when replay does not reach the position
        received when asked within a quarter of O(postgres[].timeout) (at
        most 1 s). So an idle replica caught between receiving and replaying
        one record reads 0 s, not the minutes since the last commit.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check in the results.
        type: str
        default: postgres
      host:
        description: Server host, or the directory of its unix socket.
        type: str
        default: /var/run/postgresql
      port:
        description: Server port.
        type: int
        default: 5432
      user:
        description: Role to connect as; reading other sessions' replication state needs C(pg_monitor).
        type: str
        default: postgres
      password:
        description: Password of O(postgres[].user).
        type: str
      dbname:
        description: Database to connect to.
        type: str
        default: postgres
      role:
        description: The role the server must have; any when unset.
        type: str
        choices: [primary, replica]
      min_replicas:
        description: On a primary, the fewest replicas that must be connected.
        type: int
        default: 0
      lag_bytes_warn:
        description: Warn at this replication lag in bytes.
        type: int
        default: 16777216
      lag_bytes_fail:
        description: Fail at this replication lag in bytes.
        type: int
        default: 1073741824
      lag_seconds_warn:
        description: Warn at this replication lag in seconds.
        type: float
        default: 30
      lag_seconds_fail:
        description: Fail at this replication lag in seconds.
        type: float
        default: 300
      slot_retained_warn:
        description: Warn when a replication slot retains this many bytes of WAL.
        type: int
        default: 1073741824
      slot_retained_fail:
        description: Fail when a replication slot retains this many bytes of WAL.
        type: int
        default: 10737418240
      transaction_seconds_warn:
        description: Warn when a transaction has been open this many seconds.
        type: float
        default: 300
      transaction_seconds_fail:
        description: Fail when a transaction has been open this many seconds.
        type: float
        default: 3600
      timeout:
        description: Seconds for the whole check.
        type: float
        default: 5
  redis:
    description:
      - Redis or Valkey checks over a plain TCP socket, in Redis' own protocol
        (no client library needed on the host).
      - With a password, the check sends C(AUTH) as O(redis[].user) (an ACL
        user; the C(default) user without one), then C(PING); the server must
        answer C(+PONG). A refused C(AUTH) or any other answer fails the check.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check in the results.
        type: str
        default: redis
      host:
        description: Server host name or address.
        type: str
        default: 127.0.0.1
      port:
        description: Server port.
        type: int
        default: 6379
      user:
        description: ACL user to authenticate as; needs O(redis[].password).
        type: str
      password:
        description: Password of O(redis[].user); without it the check sends no C(AUTH).
        type: str
      latency_warn_ms:
        description: Warn at this time from connecting to the C(PONG).
        type: float
      latency_fail_ms:
        description: Fail at this time from connecting to the C(PONG).
        type: float
      timeout:
        description: Seconds for the whole check.
        type: float
        default: 5
  docker:
    description:
      - Docker daemon check over the engine's unix socket (no Docker SDK needed).
      - The daemon must answer; each named container must exist and run, and
        must not be unhealthy where it has a health check (starting warns).
    type: dict
    suboptions:
      name:
        description: Name of the check in the results.
        type: str
        default: docker
      socket:
        description: The engine's API socket.
        type: path
        default: /var/run/docker.sock
      containers:
        description: Names of the containers that should run.
        type: list
        elements: str
        default: []
      timeout:
        description: Seconds for the whole check.
        type: float
        default: 5
  gpu:
    description:
      - NVIDIA GPU check, through NVML (the C(pynvml) module of nvidia-ml-py)
        where the host has it, else C(nvidia-smi) (on the PATH or in
        C(/usr/local/nvidia/bin)). XID errors are read from the kernel log.
      - A host without an NVIDIA device on the PCI bus reports V(skip) with
        that reason; one with a device but neither NVML nor nvidia-smi fails.
    type: dict
    suboptions:
      name:
        description: Name of the check in the results.
        type: str
        default: gpu
      count:
        description: Number of GPUs that must be visible.
        type: int
      temperature_warn:
        description: Warn at this GPU temperature (Celsius).
        type: int
        default: 80
      temperature_fail:
        description: Fail at this GPU temperature (Celsius).
        type: int
        default: 90
      memory_warn_pct:
        description: Warn at this share of GPU memory in use.
        type: float
      memory_fail_pct:
        description: Fail at this share of GPU memory in use.
        type: float
      persistence:
        description: Warn when persistence mode is off.
        type: bool
        default: true
      xid_since:
        description:
          - How far back the kernel log is searched for XID errors (a C(journalctl --since) value).
          - On hosts without journald the kernel's ring buffer (C(dmesg)) is read whole instead.
        type: str
        default: -1h
      timeout:
        description: Seconds for the whole check.
        type: float
        default: 10
  systemd:
    description: systemd units that must be active.
    type: list
    elements: dict
    default: []
    suboptions:
      unit:
        description: Unit name, for example C(nginx.service).
        type: str
        required: true
      name:
        description: Name of the check in the results; the unit when unset.
        type: str
      timeout:
        description: Seconds for the whole check.
        type: float
        default: 5
  disk:
    description: Space and inode use of the filesystem that holds each path, as C(df) computes them.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: A mount point or any path on the filesystem.
        type: path
        required: true
      name:
        description: Name of the check in the results; the path when unset.
        type: str
      space_warn_pct:
        description: Warn at this share of space used.
        type: float
        default: 85
      space_fail_pct:
        description: Fail at this share of space used.
        type: float
        default: 95
      inodes_warn_pct:
        description: Warn at this share of inodes used.
        type: float
        default: 85
      inodes_fail_pct:
        description: Fail at this share of inodes used.
        type: float
        default: 95
      timeout:
        description: Seconds for the whole check.
        type: float
        default: 5
  fail_on:
    description:
      - V(fail) fails the task when a check fails; V(warn) when one warns or
        fails; V(never) only reports.
      - The results are returned in every case.
    type: str
    choices: [fail, warn, never]
    default: fail
notes:
  - The gpu check has been run on a real NVIDIA H100 (driver 580, Ubuntu 24.04, no systemd),
    through NVML and through C(nvidia-smi); its unit tests use outputs recorded there.
seealso:
  - name: pg_stat_replication
    description: What the replication columns mean.
    link: https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-REPLICATION-VIEW
  - name: NVIDIA XID errors
    description: The catalogue of XID error codes.
    link: https://docs.nvidia.com/deploy/xid-errors/index.html
'''

EXAMPLES = r'''
- name: Check the edge
  aiplatform.infra.health_check:
    http:
      - url: https://chat.example.org/
        body_match: Open WebUI
        latency_warn_ms: 500
      - url: http://chat.example.org/
        redirect_https: true
    systemd:
      - unit: nginx.service
    disk:
      - path: /
      - path: /var/log
        space_warn_pct: 70

- name: Check a primary and report only
  aiplatform.infra.health_check:
    postgres:
      - host: 127.0.0.1
        user: monitor
        password: "{{ vault_pg_monitor_password }}"
        role: primary
        min_replicas: 1
    fail_on: never
  register: pg_health

- name: Check Redis as an ACL user
  aiplatform.infra.health_check:
    redis:
      - host: 10.0.0.22
        user: monitor
        password: "{{ vault_redis_monitoring_password }}"

- name: Check Docker and the GPUs
  aiplatform.infra.health_check:
    docker:
      containers: [open-webui, ollama]
    gpu:
      count: 2
      temperature_warn: 75
'''

RETURN = r'''
checks:
  description: One result per check, in the order http, tcp, postgres, redis, docker, gpu, systemd, disk.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      returned: always
      sample: https://chat.example.org/
    type:
      description: Check type.
      type: str
      returned: always
      sample: http
    status:
      description: V(ok), V(warn), V(fail) or V(skip); the worst of the check's metrics.
      type: str
      returned: always
      sample: fail
    reason:
      description: One line; the reasons of the metrics that have the check's status.
      type: str
      returned: always
      sample: 'certificate expired 30.2 days ago; certificate chain not valid: certificate has expired'
    value:
      description: The measured value; a mapping of metric to value when the check has several metrics.
      type: raw
      returned: always
      sample: {"cert_days_left": -30.2, "cert_chain": false, "status": 200, "latency": 3.1}
    threshold:
      description: The threshold the value was held against; a mapping of metric to threshold for several metrics.
      type: raw
      returned: always
      sample: {"cert_days_left": 7, "cert_chain": true, "status": [200]}
    metrics:
      description: Every metric of the check, with its own status, value, threshold and reason.
      type: list
      elements: dict
      returned: always
      sample: [{"metric": "latency", "status": "ok", "value": 3.1, "threshold": null, "reason": "latency 3.1ms"}]
    duration:
      description: Seconds the check took.
      type: float
      returned: always
      sample: 0.0123
summary:
  description: Number of checks per status.
  returned: always
  type: dict
  sample: {"ok": 6, "warn": 1, "fail": 0, "skip": 1}
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: warn
duration:
  description: Seconds the module spent on all checks together.
  returned: always
  type: float
  sample: 0.214
'''

import time

from ansible_collections.aiplatform.infra.plugins.module_utils.arguments import ansible_module
from ansible_collections.aiplatform.infra.plugins.module_utils.health import common, limits
from ansible_collections.aiplatform.infra.plugins.module_utils.health.docker import check_docker
from ansible_collections.aiplatform.infra.plugins.module_utils.health.gpu import check_gpu
from ansible_collections.aiplatform.infra.plugins.module_utils.health.http import check_http, check_tcp
from ansible_collections.aiplatform.infra.plugins.module_utils.health.postgres import check_postgres
from ansible_collections.aiplatform.infra.plugins.module_utils.health.redis import check_redis
from ansible_collections.aiplatform.infra.plugins.module_utils.health.system import check_disk, check_systemd

_TIMEOUT = dict(type='float', default=5)
ARGUMENT_SPEC = dict(
    http=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str'), url=dict(type='str', required=True), method=dict(type='str', default='GET'),
        server_name=dict(type='str'), status=dict(type='list', elements='int', default=[200]),
        body_match=dict(type='str'), redirect_https=dict(type='bool', default=False),
        latency_warn_ms=dict(type='float'), latency_fail_ms=dict(type='float'),
        cert_days_warn=dict(type='float', default=21), cert_days_fail=dict(type='float', default=7),
        ca_path=dict(type='path'), timeout=_TIMEOUT)),
    tcp=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str'), host=dict(type='str', default='127.0.0.1'), port=dict(type='int', required=True),
        latency_warn_ms=dict(type='float'), latency_fail_ms=dict(type='float'),
        timeout=dict(type='float', default=3))),
    postgres=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', default='postgres'), host=dict(type='str', default='/var/run/postgresql'),
        port=dict(type='int', default=5432), user=dict(type='str', default='postgres'),
        password=dict(type='str', no_log=True), dbname=dict(type='str', default='postgres'),
        role=dict(type='str', choices=['primary', 'replica']), min_replicas=dict(type='int', default=0),
        lag_bytes_warn=dict(type='int', default=16 * 1024 ** 2), lag_bytes_fail=dict(type='int', default=1024 ** 3),
        lag_seconds_warn=dict(type='float', default=30), lag_seconds_fail=dict(type='float', default=300),
        slot_retained_warn=dict(type='int', default=1024 ** 3),
        slot_retained_fail=dict(type='int', default=10 * 1024 ** 3),
        transaction_seconds_warn=dict(type='float', default=300),
        transaction_seconds_fail=dict(type='float', default=3600), timeout=_TIMEOUT)),
    redis=dict(type='list', elements='dict', default=[], required_by=dict(user='password'), options=dict(
        name=dict(type='str', default='redis'), host=dict(type='str', default='127.0.0.1'),
        port=dict(type='int', default=6379), user=dict(type='str'), password=dict(type='str', no_log=True),
        latency_warn_ms=dict(type='float'), latency_fail_ms=dict(type='float'), timeout=_TIMEOUT)),
    docker=dict(type='dict', options=dict(
        name=dict(type='str', default='docker'), socket=dict(type='path', default='/var/run/docker.sock'),
        containers=dict(type='list', elements='str', default=[]), timeout=_TIMEOUT)),
    gpu=dict(type='dict', options=dict(
        name=dict(type='str', default='gpu'), count=dict(type='int'),
        temperature_warn=dict(type='int', default=80), temperature_fail=dict(type='int', default=90),
        memory_warn_pct=dict(type='float'), memory_fail_pct=dict(type='float'),
        persistence=dict(type='bool', default=True), xid_since=dict(type='str', default='-1h'),
        timeout=dict(type='float', default=10))),
    systemd=dict(type='list', elements='dict', default=[], options=dict(
        unit=dict(type='str', required=True), name=dict(type='str'), timeout=_TIMEOUT)),
    disk=dict(type='list', elements='dict', default=[], options=dict(
        path=dict(type='path', required=True), name=dict(type='str'),
        space_warn_pct=dict(type='float', default=85), space_fail_pct=dict(type='float', default=95),
        inodes_warn_pct=dict(type='float', default=85), inodes_fail_pct=dict(type='float', default=95),
        timeout=_TIMEOUT)),
    fail_on=dict(type='str', default='fail', choices=['fail', 'warn', 'never']),
)


def _check(kind, name, spec, run):
    return dict(type=kind, name=name, timeout=spec['timeout'], run=run)


def plan_checks(params, run_command, get_bin_path):
    """The module's options as runnable checks, in a fixed order."""
    checks = []
    for spec in params['http']:
        checks.append(_check('http', spec['name'] or spec['url'], spec, lambda s=spec: check_http(s)))
    for spec in params['tcp']:
        checks.append(_check('tcp', spec['name'] or '%s:%s' % (spec['host'], spec['port']), spec,
                             lambda s=spec: check_tcp(s)))
    for spec in params['postgres']:
        checks.append(_check('postgres', spec['name'], spec, lambda s=spec: check_postgres(s)))
    for spec in params['redis']:
        checks.append(_check('redis', spec['name'], spec, lambda s=spec: check_redis(s)))
    if params['docker'] is not None:
        spec = params['docker']
        checks.append(_check('docker', spec['name'], spec, lambda s=spec: check_docker(s)))
    if params['gpu'] is not None:
        spec = params['gpu']
        checks.append(_check('gpu', spec['name'], spec, lambda s=spec: check_gpu(s, run_command, get_bin_path)))
    for spec in params['systemd']:
        checks.append(_check('systemd', spec['name'] or spec['unit'], spec,
                             lambda s=spec: check_systemd(s, run_command)))
    for spec in params['disk']:
        checks.append(_check('disk', spec['name'] or spec['path'], spec, lambda s=spec: check_disk(s)))
    return checks


def main():
    module = ansible_module(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    bad = limits.problems(module.params)
    if bad:
        module.fail_json(msg='; '.join(bad))
    # A missing tool becomes the check's failure, not a second JSON document
    # from fail_json inside a worker thread.
    checks = plan_checks(module.params, lambda args: module.run_command(args, handle_exceptions=False),
                         module.get_bin_path)
    if not checks:
        module.fail_json(msg='no check selected: set at least one of http, tcp, postgres, redis, docker, gpu, systemd, disk')
    started = time.monotonic()
    results = common.run_checks(checks)
    counts, failing = common.overall(results, module.params['fail_on'])
    result = dict(changed=False, checks=results, summary=counts,
                  status=common.worst(r['status'] for r in results),
                  duration=round(time.monotonic() - started, 4))
    if failing:
        module.fail_json(msg='%d health check(s) not ok: %s' % (
            len(failing), '; '.join('%s %s: %s' % (r['name'], r['status'], r['reason']) for r in failing)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
