# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.health import system
from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import CheckError

StatVFS = collections.namedtuple('StatVFS', 'f_frsize f_blocks f_bfree f_bavail f_files f_ffree')
DISK = dict(path='/srv', space_warn_pct=85, space_fail_pct=95, inodes_warn_pct=85, inodes_fail_pct=95)


@pytest.mark.parametrize('out, status, reason', [
    ('LoadState=loaded\nActiveState=active\nSubState=running\n', 'ok', 'unit x.service is active (running)'),
    ('LoadState=loaded\nActiveState=inactive\nSubState=dead\n', 'fail', 'unit x.service is inactive (dead)'),
    ('LoadState=loaded\nActiveState=failed\nSubState=failed\n', 'fail', 'unit x.service is failed (failed)'),
    ('LoadState=not-found\nActiveState=inactive\nSubState=dead\n', 'fail', 'unit x.service is not-found'),
])
def test_check_systemd(out, status, reason):
    calls = []

    def run_command(args):
        calls.append(args)
        return 0, out, ''

    metrics = system.check_systemd(dict(unit='x.service'), run_command)
    assert (metrics[0]['status'], metrics[0]['reason']) == (status, reason)
    assert calls[0][-1] == 'x.service'


@pytest.mark.parametrize('rc, out, match', [
    (1, '', 'systemctl show x.service failed'),
    (0, 'garbage without equals\n', 'unexpected systemctl output'),
    (0, 'SubState=running\n', 'did not report LoadState'),
])
def test_check_systemd_malformed(rc, out, match):
    with pytest.raises(CheckError, match=match):
        system.check_systemd(dict(unit='x.service'), lambda args: (rc, out, 'boom'))


@pytest.mark.parametrize('stat, statuses, used', [
    (StatVFS(4096, 1000, 850, 850, 100, 90), ['ok', 'ok', 'ok'], 15.0),
    (StatVFS(4096, 1050, 100, 50, 100, 90), ['fail', 'ok', 'ok'], 95.0),   # root reserve left out, as df does
    (StatVFS(4096, 1000, 150, 150, 100, 5), ['warn', 'fail', 'ok'], 85.0),
    (StatVFS(4096, 1000, 900, 900, 0, 0), ['ok', 'ok'], 10.0),              # no inode accounting
])
def test_disk_metrics(stat, statuses, used):
    metrics = system.disk_metrics('/srv', stat, DISK)
    assert [m['status'] for m in metrics] == statuses
    assert metrics[0]['value'] == used


def test_disk_reports_free_space_and_stat_errors():
    metrics = system.check_disk(DISK, statvfs=lambda path: StatVFS(1024, 4096, 2048, 2048, 10, 5))
    assert metrics[-1]['reason'] == '2.0 MiB free'

    def missing(path):
        raise OSError(2, 'No such file or directory')

    with pytest.raises(CheckError, match='cannot stat /srv'):
        system.check_disk(DISK, statvfs=missing)
    with pytest.raises(CheckError, match='reports no blocks'):
        system.disk_metrics('/srv', StatVFS(4096, 0, 0, 0, 0, 0), DISK)
