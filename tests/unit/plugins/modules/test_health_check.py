# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.aiplatform.infra.plugins.modules import health_check


def run(capsys, **args):
    with patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            health_check.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def listening():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def test_healthy_checks_pass_in_check_mode(capsys, tmp_path, listening):
    disk = dict(path=str(tmp_path), space_warn_pct=100.0, space_fail_pct=100.0)
    result = run(capsys, tcp=[dict(port=listening)], disk=[disk])
    assert 'failed' not in result
    assert result['changed'] is False
    assert [(c['type'], c['name'], c['status']) for c in result['checks']] == [
        ('tcp', '127.0.0.1:%d' % listening, 'ok'), ('disk', str(tmp_path), 'ok')]
    assert result['summary'] == {'ok': 2, 'warn': 0, 'fail': 0, 'skip': 0}


@pytest.mark.parametrize('fail_on, failed', [('fail', True), ('never', False)])
def test_a_failed_check_fails_the_task_unless_told_not_to(capsys, tmp_path, fail_on, failed):
    result = run(capsys, disk=[dict(path=str(tmp_path / 'missing'), name='data')], fail_on=fail_on)
    assert result.get('failed', False) is failed
    assert result['status'] == 'fail'
    assert result['checks'][0]['reason'].startswith('cannot stat %s' % (tmp_path / 'missing'))
    if failed:
        assert result['msg'].startswith('1 health check(s) not ok: data fail: cannot stat')


def test_warn_fails_the_task_with_fail_on_warn(capsys, tmp_path):
    result = run(capsys, disk=[dict(path=str(tmp_path), space_warn_pct=0.0, space_fail_pct=100.0)], fail_on='warn')
    assert result['failed'] is True
    assert result['status'] == 'warn'


def test_no_check_selected(capsys):
    result = run(capsys)
    assert result['failed'] is True
    assert result['msg'].startswith('no check selected')


def test_a_missing_tool_fails_its_check_in_one_result(capsys, monkeypatch, tmp_path):
    # No systemctl on PATH: the check fails with the cause, and the module
    # still prints exactly one JSON document (json.loads would refuse two).
    monkeypatch.setenv('PATH', str(tmp_path))
    result = run(capsys, systemd=[dict(unit='ssh.service')], fail_on='never')
    assert result['checks'][0]['status'] == 'fail'
    assert 'FileNotFoundError' in result['checks'][0]['reason']


@pytest.mark.parametrize('args, words', [
    (dict(tcp=[dict(port=22, timeout=-1)]), 'tcp[0].timeout must be above 0 seconds, not -1'),
    (dict(disk=[dict(path='/', space_warn_pct=96, space_fail_pct=95)]),
     'disk[0].space_warn_pct (96.0) must be at most disk[0].space_fail_pct (95.0): the warning comes first'),
    (dict(http=[dict(url='https://x', cert_days_warn=3, cert_days_fail=7)]),
     'http[0].cert_days_warn (3.0) must be at least http[0].cert_days_fail (7.0)'),
    (dict(disk=[dict(path='/', inodes_fail_pct=101)]), 'disk[0].inodes_fail_pct must be between 0 and 100, not 101'),
    (dict(gpu=dict(temperature_warn=95)), 'gpu.temperature_warn (95) must be at most gpu.temperature_fail (90)'),
    (dict(tcp=[dict(port=70000)]), 'tcp[0].port must be between 1 and 65535, not 70000'),
    (dict(http=[dict(url='http://x', status=[200, 42])]), 'http[0].status 42 is not an HTTP status'),
])
def test_options_out_of_range_fail_before_any_check_and_name_the_option(capsys, args, words):
    result = run(capsys, **args)
    assert result['failed'] is True and words in result['msg']
    assert 'checks' not in result
