# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Property-based tests of every module's options (Hypothesis).

For each option of each module (and each suboption), values of the wrong
type, out of the option's range or outside its choices must end in a clean
failure whose message names the option: never a traceback, never a success,
never work on the host. The strategies come from the modules' own
argument_spec and from the ranges the collection declares for them, so a new
option is tested as soon as it is declared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json
import re
from unittest.mock import MagicMock

import pytest
from hypothesis import given, settings, strategies as st

from ansible.errors import AnsibleError
from ansible.module_utils.testing import patch_module_args
from ansible.playbook.task import Task
from ansible_collections.aiplatform.infra.plugins.action import apt_packages as apt_packages_action
from ansible_collections.aiplatform.infra.plugins.module_utils.backup import options, pgtools, s3
from ansible_collections.aiplatform.infra.plugins.module_utils.docker_daemon import FRAGMENT_NAME_RE
from ansible_collections.aiplatform.infra.plugins.module_utils.health import limits
from ansible_collections.aiplatform.infra.plugins.modules import (
    docker_daemon_config, health_check, nvidia_gpu_info, pg_backup, pg_backup_info, pg_restore,
    postgresql_member_info)

BOOLEAN_WORDS = ('y', 'yes', 'on', '1', 'true', 't', 'n', 'no', 'off', '0', 'false', 'f')


def _parses(kind, text):
    try:
        kind(text)
    except (ValueError, OverflowError):
        return False
    return True


def _not_int():
    return st.one_of(st.text(min_size=1).filter(lambda t: not _parses(int, t) and not _parses(float, t)),
                     st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
                     st.dictionaries(st.text(max_size=3), st.integers(), min_size=1),
                     st.lists(st.integers(), min_size=1))


def _not_float():
    return st.one_of(st.text(min_size=1).filter(lambda t: not _parses(float, t)),
                     st.dictionaries(st.text(max_size=3), st.integers(), min_size=1),
                     st.lists(st.integers(), min_size=1))


def _not_bool():
    return st.one_of(st.text(min_size=1).filter(lambda t: t.lower().strip() not in BOOLEAN_WORDS),
                     st.integers().filter(lambda n: n not in (0, 1)),
                     st.dictionaries(st.text(max_size=3), st.integers(), min_size=1))


def _outside(option, low, high):
    """Values of the option's own type below low or above high (either may be None)."""
    if option['type'] == 'float':
        parts = ([st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False)]
                 if low is not None else [])
        parts += ([st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False)]
                  if high is not None else [])
    else:
        parts = [st.integers(max_value=low - 1)] if low is not None else []
        parts += [st.integers(min_value=high + 1)] if high is not None else []
    return parts


def bad_values(option, low=None, high=None, pattern=None):
    """A strategy of values the option must refuse, or None when any value of its type is valid."""
    kind = option['type']
    parts = []
    if kind == 'int':
        parts.append(_not_int())
    elif kind == 'float':
        parts.append(_not_float())
    elif kind == 'bool':
        parts.append(_not_bool())
    elif kind == 'dict':
        parts.append(st.one_of(st.integers(), st.lists(st.integers(), min_size=1)))
    elif kind == 'list':
        parts.append(st.dictionaries(st.text(max_size=3), st.integers(), min_size=1))
        if option.get('elements') == 'int':
            parts.append(st.lists(st.text(min_size=1).filter(lambda t: not _parses(int, t)), min_size=1))
        if option.get('elements') == 'dict':
            parts.append(st.lists(st.integers(), min_size=1))
    if 'choices' in option:
        parts.append(st.text(min_size=1).filter(lambda t: t not in option['choices']))
    parts += _outside(option, low, high)
    if pattern is not None:
        parts.append(st.text(min_size=1).filter(lambda t: not pattern(t)))
    return st.one_of(parts) if parts else None


SAMPLES = dict(str='x', path='/nonexistent', int=1, float=1.0, bool=True, list=[], dict={})


def _required(suboptions):
    return dict((name, SAMPLES[o['type']]) for name, o in suboptions.items() if o.get('required'))


class Case(object):
    """One entry point: its argument spec, the ranges the collection declares, and how to run it."""

    def __init__(self, name, run, spec, base, ranges=None, patterns=None):
        self.name = name
        self.run = run
        self.spec = spec
        self.base = base
        self.ranges = ranges or (lambda path: (None, None))
        self.patterns = patterns or {}

    def targets(self):
        """(path, strategy of the args that set the option at path to a bad value), options and suboptions."""
        found = []
        for name, option in sorted(self.spec.items()):
            found += self._targets((name,), option)
        return found

    def _targets(self, path, option):
        found = []
        low, high = self.ranges(path)
        values = bad_values(option, low, high, self.patterns.get(path))
        if values is not None:
            found.append((path, values.map(lambda v, p=path: self._args(p, v))))
        for name, sub in sorted(option.get('options', {}).items()):
            found += self._targets(path + (name,), sub)
        return found

    def _args(self, path, value):
        args = dict(self.base)
        if len(path) == 1:
            args[path[0]] = value
            return args
        top = self.spec[path[0]]
        item = dict(_required(top['options']), **{path[1]: value})
        args[path[0]] = [item] if top['type'] == 'list' else item
        return args


def run_module(module):
    def run(args):
        out = io.StringIO()
        with patch_module_args(dict(args, _ansible_check_mode=True)):
            with contextlib.redirect_stdout(out):
                with pytest.raises(SystemExit):
                    module.main()
        return json.loads(out.getvalue())
    return run


def run_apt_packages(args):
    task = Task()
    task.args = args
    task.check_mode = True
    action = apt_packages_action.ActionModule(task, MagicMock(), MagicMock(check_mode=True), MagicMock(),
                                              MagicMock(), MagicMock())
    action._low_level_execute_command = _reached
    action._execute_module = _reached
    try:
        return action.run(task_vars={})
    except AnsibleError as exc:
        return dict(failed=True, msg=str(exc))


def _reached(*args, **kwargs):
    raise AssertionError('a malformed value reached the host')


def _backup_ranges(entry_point):
    table = options.spec(entry_point)

    def ranges(path):
        option = table[path[0]]
        for name in path[1:]:
            option = option['options'][name]
        return option.get('min'), option.get('max')
    return ranges


def _health_ranges(path):
    if path[-1] == 'timeout':
        return 0, None  # above 0: 0 itself is refused too, below
    return limits.RANGES.get(path[0], {}).get(path[-1], (None, None)) if len(path) == 2 else (None, None)


def _backup_patterns():
    rule = options.S3['bucket']['pattern']
    return {('bucket',): lambda text: re.match(rule, text) is not None}


CASES = [
    Case('pg_backup', run_module(pg_backup), options.spec('pg_backup'), dict(bucket='bk'),
         _backup_ranges('pg_backup'), _backup_patterns()),
    Case('pg_restore', run_module(pg_restore), options.spec('pg_restore'), dict(bucket='bk'),
         _backup_ranges('pg_restore'), _backup_patterns()),
    Case('pg_backup_info', run_module(pg_backup_info), options.spec('pg_backup_info'), dict(bucket='bk'),
         _backup_ranges('pg_backup_info'), _backup_patterns()),
    Case('health_check', run_module(health_check), health_check.ARGUMENT_SPEC, dict(systemd=[dict(unit='x')]),
         _health_ranges),
    Case('docker_daemon_config', run_module(docker_daemon_config), docker_daemon_config.ARGUMENT_SPEC,
         dict(name='10-x', settings={}, path='/nonexistent/daemon.json', fragments_dir='/nonexistent/d',
              validate=False),
         patterns={('name',): lambda text: FRAGMENT_NAME_RE.match(text) is not None}),
    Case('postgresql_member_info', run_module(postgresql_member_info), postgresql_member_info.ARGUMENT_SPEC,
         dict(data_dir='/nonexistent', bin_dir='/nonexistent'),
         lambda path: (1, 65535) if path == ('port',) else (None, None)),
    Case('apt_packages', run_apt_packages, apt_packages_action.ARGUMENT_SPEC, dict(name=['chrony']),
         lambda path: (0, None) if path == ('cache_valid_time',) else (None, None)),
    Case('nvidia_gpu_info', run_module(nvidia_gpu_info), {}, {}),
]


TARGETS = [(case, path, strategy) for case in CASES for path, strategy in case.targets()]


@pytest.fixture(autouse=True)
def no_backend(monkeypatch):
    """A malformed value must fail before the module reaches S3 or PostgreSQL."""
    monkeypatch.setattr(s3, 'client', _reached)
    monkeypatch.setattr(pgtools.Server, 'connect', _reached)


def assert_refused(result, name):
    text = json.dumps(result)
    assert result.get('failed') is True, 'accepted: %s' % text
    assert name in result['msg'], result['msg']
    assert 'Traceback' not in text and 'exception' not in result, text


@pytest.mark.parametrize('case, path, strategy', TARGETS,
                         ids=['%s:%s' % (case.name, '.'.join(path)) for case, path, strategy in TARGETS])
def test_a_malformed_value_fails_cleanly_naming_the_option(case, path, strategy):
    @settings(max_examples=max(25, settings().max_examples // 4))
    @given(strategy)
    def check(args):
        assert_refused(case.run(args), path[-1])
    check()


@pytest.mark.parametrize('case', CASES, ids=[case.name for case in CASES])
@given(name=st.from_regex(r'\A[a-z][a-z_]{2,15}\Z').filter(lambda n: n not in ('name', 'pkg', 'package')))
def test_an_unknown_option_fails_naming_it(case, name):
    if name in case.spec:
        return
    assert_refused(case.run(dict(case.base, **{name: 1})), name)


def test_the_spec_declares_a_range_for_every_number_of_the_backup_options():
    unbounded = [(entry, name) for entry in options.ENTRY_POINTS for name, option in options.spec(entry).items()
                 if option['type'] == 'int' and option.get('min') is None and name != 'compression_level']
    assert unbounded == []


@given(fail=st.floats(min_value=0, max_value=99), extra=st.floats(min_value=0.001, max_value=1))
def test_a_warn_threshold_beyond_its_fail_threshold_is_refused(fail, extra):
    result = run_module(health_check)(dict(disk=[dict(path='/', space_warn_pct=fail + extra, space_fail_pct=fail)]))
    assert_refused(result, 'space_warn_pct')


@given(codec=st.sampled_from(['zstd', 'gzip']), level=st.integers())
def test_a_compression_level_outside_the_codec_range_is_refused(codec, level):
    low, high = options.COMPRESSION_LEVELS[codec]
    if low <= level <= high:
        return
    assert_refused(run_module(pg_backup)(dict(bucket='bk', compression=codec, compression_level=level)),
                   'compression_level')


@pytest.mark.parametrize('name, option', sorted(options.spec(options.PROGRAM).items()))
def test_the_scheduled_backup_refuses_a_value_of_the_wrong_json_type(name, option):
    wrong = dict(str=1, path=1, int='1', bool='yes', list='a', dict=[1])[option['type']]
    config = dict(bucket='bk')
    config[name] = wrong
    with pytest.raises(options.BackupError, match=r'^%s must be a ' % name):
        options.load(options.PROGRAM, config)
