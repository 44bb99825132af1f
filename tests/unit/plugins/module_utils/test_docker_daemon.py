# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.docker_daemon import (
    DaemonConfig,
    DaemonConfigError,
    Dockerd,
    check_against_flags,
    check_fragment_name,
    deep_merge,
    merge_fragments,
    parse_dockerd_flags,
    render,
)

HELP_20_10 = os.path.join(os.path.dirname(__file__), 'fixtures', 'dockerd-20.10-help.txt')


@pytest.fixture(scope='module')
def flags_20_10():
    with open(HELP_20_10) as handle:
        return parse_dockerd_flags(handle.read())


@pytest.mark.parametrize('base, override, merged, overridden', [
    ({}, {'a': 1}, {'a': 1}, []),
    ({'a': 1}, {'a': 2}, {'a': 2}, ['a']),
    ({'a': 1}, {'a': 1}, {'a': 1}, []),
    ({'log-opts': {'max-size': '10m', 'max-file': '3'}}, {'log-opts': {'max-size': '50m'}},
     {'log-opts': {'max-size': '50m', 'max-file': '3'}}, ['log-opts.max-size']),
    ({'dns': ['1.1.1.1']}, {'dns': ['9.9.9.9']}, {'dns': ['9.9.9.9']}, ['dns']),
    ({'runtimes': {'runc': {}}}, {'runtimes': {'nvidia': {'path': 'x'}}},
     {'runtimes': {'runc': {}, 'nvidia': {'path': 'x'}}}, []),
])
def test_deep_merge(base, override, merged, overridden):
    seen = []
    assert deep_merge(base, override, overridden=seen) == merged
    assert seen == overridden


def test_deep_merge_leaves_inputs_alone():
    base = {'log-opts': {'max-size': '10m'}}
    deep_merge(base, {'log-opts': {'max-size': '1m'}})
    assert base == {'log-opts': {'max-size': '10m'}}


def test_merge_fragments_orders_by_name_and_reports_overrides():
    merged, overrides = merge_fragments({
        '60-nvidia': {'runtimes': {'nvidia': {'path': 'nvidia-container-runtime'}}},
        '50-operator': {'log-opts': {'max-size': '50m'}, 'live-restore': False},
        '10-defaults': {'log-opts': {'max-size': '10m', 'max-file': '3'}, 'live-restore': True},
    })
    assert merged == {
        'log-opts': {'max-size': '50m', 'max-file': '3'},
        'live-restore': False,
        'runtimes': {'nvidia': {'path': 'nvidia-container-runtime'}},
    }
    assert sorted(overrides, key=lambda o: o['key']) == [
        {'key': 'live-restore', 'fragment': '10-defaults', 'overridden_by': '50-operator'},
        {'key': 'log-opts.max-size', 'fragment': '10-defaults', 'overridden_by': '50-operator'},
    ]


@pytest.mark.parametrize('name', ['10-defaults', '60-nvidia', 'a', 'x.y_z'])
def test_fragment_name_accepted(name):
    check_fragment_name(name)


@pytest.mark.parametrize('name', ['', '-x', '../etc', 'a/b', 'a b', None])
def test_fragment_name_refused(name):
    with pytest.raises(DaemonConfigError, match='not valid'):
        check_fragment_name(name)


@pytest.mark.parametrize('key, type_word', [
    ('live-restore', None),
    ('debug', None),
    ('log-driver', 'string'),
    ('log-opts', 'map'),
    ('registry-mirrors', 'list'),
    ('hosts', 'list'),
    ('runtimes', 'runtime'),
    ('default-ulimits', 'ulimit'),
    ('max-concurrent-downloads', 'int'),
    ('userns-remap', 'string'),
    ('features', 'map'),
])
def test_parse_dockerd_flags(flags_20_10, key, type_word):
    assert flags_20_10[key] == type_word


def test_parse_dockerd_flags_skips_non_settings(flags_20_10):
    assert 'config-file' not in flags_20_10
    assert 'help' not in flags_20_10
    assert 'log-opt' not in flags_20_10


@pytest.mark.parametrize('settings, error', [
    ({'live-restore': True, 'log-opts': {'max-size': '10m'}, 'registry-mirrors': ['https://m']}, None),
    ({'no-such-option': True}, "unknown daemon option 'no-such-option'"),
    ({'live-restore': 'yes'}, "'live-restore' must be a bool"),
    ({'max-concurrent-downloads': True}, "'max-concurrent-downloads' must be a int"),
    ({'registry-mirrors': 'https://m'}, "'registry-mirrors' must be a list"),
    ({'log-opts': {'max-file': 3}}, "log-opts 'max-file' must be a string"),
    ({'log-opts': 'max-file=3'}, "'log-opts' must be a dict"),
    ({'default-shm-size': '64M'}, None),
])
def test_check_against_flags(flags_20_10, settings, error):
    errors = check_against_flags(settings, flags_20_10)
    if error is None:
        assert errors == []
    else:
        assert any(error in e for e in errors), errors


class FakeRun:
    def __init__(self, help_text, validate_rc=0, validate_err=''):
        self.help_text = help_text
        self.validate_rc = validate_rc
        self.validate_err = validate_err
        self.calls = []

    def __call__(self, args):
        self.calls.append(args)
        if args[1] == '--help':
            return 0, self.help_text, ''
        return self.validate_rc, '', self.validate_err


NEW_HELP = ('      --data-root string                      Root directory of persistent Docker state\n'
            '      --validate                              Validate daemon configuration and exit\n')


def test_a_binary_that_is_not_dockerd_is_named():
    run = FakeRun('Usage: true [ignored command line arguments]\n')
    with pytest.raises(DaemonConfigError, match='/bin/true is not dockerd: its --help names no daemon option'):
        Dockerd(run, '/bin/true').validate('/tmp/c.json', {'debug': True})


def test_dockerd_uses_validate_flag_when_present():
    run = FakeRun(NEW_HELP)
    assert Dockerd(run, '/usr/bin/dockerd').validate('/tmp/c.json', {}) == 'dockerd --validate'
    assert run.calls[-1] == ['/usr/bin/dockerd', '--validate', '--config-file', '/tmp/c.json']


def test_dockerd_reports_its_refusal():
    run = FakeRun(NEW_HELP, 1, 'unable to configure the Docker daemon: invalid directive foo\n')
    with pytest.raises(DaemonConfigError, match='invalid directive foo'):
        Dockerd(run, 'dockerd').validate('/tmp/c.json', {'foo': 1})


def test_dockerd_falls_back_to_option_table():
    with open(HELP_20_10) as handle:
        run = FakeRun(handle.read())
    dockerd = Dockerd(run, 'dockerd')
    assert dockerd.validate('/tmp/c.json', {'live-restore': True}) == 'dockerd --help option table'
    with pytest.raises(DaemonConfigError, match="unknown daemon option 'bogus'"):
        dockerd.validate('/tmp/c.json', {'bogus': 1})
    assert len(run.calls) == 1, 'help text is read once'


def _write(path, data):
    with open(str(path), 'w') as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data))


def test_plan_adopts_hand_written_file(tmp_path):
    _write(tmp_path / 'daemon.json', {'data-root': '/srv/docker'})
    daemon = DaemonConfig(str(tmp_path / 'daemon.json'), str(tmp_path / 'daemon.json.d'))
    plan = daemon.plan('10-defaults', {'live-restore': True})
    assert plan['adopted'] is True
    assert plan['merged'] == {'data-root': '/srv/docker', 'live-restore': True}
    assert plan['text'] == render(plan['merged'])


def test_plan_keeps_other_fragments(tmp_path):
    fragments = tmp_path / 'd'
    fragments.mkdir()
    _write(fragments / '60-nvidia.json', {'runtimes': {'nvidia': {'path': 'n'}}})
    _write(tmp_path / 'daemon.json', {'ignored': 'once fragments exist'})
    daemon = DaemonConfig(str(tmp_path / 'daemon.json'), str(fragments))
    plan = daemon.plan('10-defaults', {'live-restore': True})
    assert plan['adopted'] is False
    assert plan['merged'] == {'live-restore': True, 'runtimes': {'nvidia': {'path': 'n'}}}
    assert plan['fragment_changed'] is True


def test_plan_removes_fragment(tmp_path):
    fragments = tmp_path / 'd'
    fragments.mkdir()
    _write(fragments / '10-defaults.json', {'live-restore': True})
    _write(fragments / '60-nvidia.json', {'default-runtime': 'nvidia'})
    plan = DaemonConfig(str(tmp_path / 'daemon.json'), str(fragments)).plan('60-nvidia', None)
    assert plan['merged'] == {'live-restore': True}


def test_plan_unchanged_fragment(tmp_path):
    fragments = tmp_path / 'd'
    fragments.mkdir()
    _write(fragments / '10-defaults.json', {'live-restore': True})
    plan = DaemonConfig(str(tmp_path / 'daemon.json'), str(fragments)).plan('10-defaults', {'live-restore': True})
    assert plan['fragment_changed'] is False


@pytest.mark.parametrize('content, error', [
    ('{"a": ', 'is not valid JSON'),
    ('[1, 2]', 'must hold a JSON object'),
])
def test_plan_refuses_broken_fragment(tmp_path, content, error):
    fragments = tmp_path / 'd'
    fragments.mkdir()
    _write(fragments / '20-broken.json', content)
    with pytest.raises(DaemonConfigError, match=error):
        DaemonConfig(str(tmp_path / 'daemon.json'), str(fragments)).plan('10-defaults', {})
