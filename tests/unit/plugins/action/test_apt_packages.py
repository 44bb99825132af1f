# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task
from ansible_collections.aiplatform.infra.plugins.action.apt_packages import ActionModule

INSTALLED = 'chrony\tii \t4.3-2\nnftables\tii \t1.0.6-2\n'


class FakeTarget(object):
    """What the action runs: dpkg-query's answer, and each apt call it makes."""

    def __init__(self, stdout=INSTALLED, rc=0, stderr=''):
        self.answer = {'rc': rc, 'stdout': stdout, 'stderr': stderr}
        self.commands, self.apt_calls = [], []

    def run(self, cmd, sudoable=True):
        self.commands.append((cmd, sudoable))
        return dict(self.answer)

    def apt(self, module_name, module_args, task_vars):
        self.apt_calls.append((module_name, module_args))
        return {'changed': True, 'cache_updated': False, 'stdout': 'Setting up ...'}


def action(args, target, check_mode=False):
    task = Task()
    task.args = args
    task.check_mode = check_mode
    play_context = MagicMock(check_mode=check_mode)
    module = ActionModule(task, MagicMock(), play_context, MagicMock(), MagicMock(), MagicMock())
    module._low_level_execute_command = target.run
    module._execute_module = target.apt
    return module


def test_nothing_to_change_runs_dpkg_query_and_not_apt():
    target = FakeTarget()
    result = action({'name': ['chrony', 'nftables'], 'update_cache': True, 'cache_valid_time': 3600},
                    target).run(task_vars={})
    assert result['changed'] is False and result['packages'] == []
    assert target.apt_calls == []
    cmd, sudoable = target.commands[0]
    assert shlex.split(cmd)[:3] == ['LC_ALL=C', 'dpkg-query', '--show'] and shlex.split(cmd)[-2:] == ['chrony', 'nftables']
    assert sudoable is False


def test_apt_gets_only_the_missing_packages_and_the_options_given():
    target = FakeTarget()
    result = action({'name': ['chrony', 'sl', 'nginx'], 'install_recommends': False, 'cache_valid_time': '86400'},
                    target).run(task_vars={})
    assert target.apt_calls == [('ansible.builtin.apt', {'name': ['sl', 'nginx'], 'state': 'present',
                                                         'install_recommends': False, 'cache_valid_time': 86400})]
    assert result['changed'] is True and result['packages'] == ['sl', 'nginx']
    assert result['stdout'] == 'Setting up ...'


def test_an_unknown_name_is_dpkg_querys_exit_1_and_goes_to_apt():
    target = FakeTarget(stdout='', rc=1, stderr='dpkg-query: no packages found matching sl\n')
    action({'name': ['sl']}, target).run(task_vars={})
    assert target.apt_calls[0][1]['name'] == ['sl']


def test_only_names_dpkg_cannot_answer_for_go_to_apt_without_a_query():
    target = FakeTarget()
    result = action({'name': ['nginx-*']}, target).run(task_vars={})
    assert target.commands == []
    assert target.apt_calls == [('ansible.builtin.apt', {'name': ['nginx-*'], 'state': 'present'})]
    assert result['packages'] == ['nginx-*']


def test_removal_with_purge():
    target = FakeTarget(stdout='telnet\trc \t0.17\nchrony\tii \t4.3-2\nrsh-client\tun \t\n')
    result = action({'name': ['telnet', 'rsh-client', 'chrony'], 'state': 'absent', 'purge': True},
                    target).run(task_vars={})
    assert target.apt_calls == [('ansible.builtin.apt', {'name': ['telnet', 'chrony'], 'state': 'absent', 'purge': True})]
    assert result['packages'] == ['telnet', 'chrony']


def test_a_failing_dpkg_query_fails_the_task_with_its_message():
    target = FakeTarget(stdout='', rc=2, stderr='dpkg-query: error: parsing file /var/lib/dpkg/status\n')
    result = action({'name': ['chrony']}, target).run(task_vars={})
    assert result['failed'] is True and 'parsing file' in result['msg']
    assert target.apt_calls == []


@pytest.mark.parametrize('args', [{}, {'name': ['x'], 'state': 'latest'}, {'name': ['x'], 'autoremove': True}])
def test_arguments_are_checked_before_anything_runs(args):
    target = FakeTarget()
    with pytest.raises(AnsibleActionFail):
        action(args, target).run(task_vars={})
    assert target.commands == []
